//! Import policy: which received routes enter the Loc-RIB (pod pools and filters, AS-path and reflection loops).

use std::sync::Arc;

use ipnet::IpNet;

use super::{PeerInfo, RibConfig, RouteAttrs};
use crate::config::Config;

/// Why a received route was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The prefix filters (or, without filters, the pod pools) refuse it,
    /// or it is one of the node's own pod CIDRs.
    Prefix,
    /// Our AS is in the AS_PATH more often than `allow_own_as` permits
    /// (RFC 4271 §9.1.2).
    AsPathLoop,
    /// ORIGINATOR_ID is our router ID (RFC 4456 §8).
    OriginatorIsUs,
    /// Our cluster ID is in CLUSTER_LIST (RFC 4456 §8).
    ClusterLoop,
}

/// The import policy, built from the agent config.
#[derive(Debug, Clone)]
pub struct ImportPolicy {
    config: Arc<Config>,
}

impl ImportPolicy {
    pub fn new(config: Arc<Config>) -> Self {
        ImportPolicy { config }
    }

    /// Checks one received route.
    pub fn check(
        &self,
        rib: &RibConfig,
        peer: &PeerInfo,
        prefix: &IpNet,
        route: &RouteAttrs,
    ) -> Result<(), Rejection> {
        if !self.config.import_accepts(prefix) {
            return Err(Rejection::Prefix);
        }
        let attrs = &route.attrs;
        if let Some(path) = &attrs.as_path {
            let own = path.asns().filter(|a| *a == rib.local_asn).count();
            if own > usize::from(peer.allow_own_as) {
                return Err(Rejection::AsPathLoop);
            }
        }
        if attrs.originator_id == Some(rib.router_id) {
            return Err(Rejection::OriginatorIsUs);
        }
        if attrs
            .cluster_list
            .as_ref()
            .is_some_and(|list| list.contains(&rib.cluster_id))
        {
            return Err(Rejection::ClusterLoop);
        }
        Ok(())
    }
}
