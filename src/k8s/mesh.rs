//! The node-to-node mesh: every other Node becomes a peer at its peering address, in its own AS (iBGP within one AS).

use k8s_openapi::api::core::v1::Node;

use super::node::{self, AsnPolicy};
use super::translate::ObjectError;
use crate::config::PeerConfig;

/// One peer per other node that has a peering address and an AS; a node
/// lacking one is reported and left out (it joins once it has them).
/// Nodes being deleted are left out at once, so their session closes
/// before the node's agent is gone.
pub fn peers(own: &str, nodes: &[Node], policy: &AsnPolicy) -> (Vec<PeerConfig>, Vec<ObjectError>) {
    let mut peers = Vec::new();
    let mut errors = Vec::new();
    for n in nodes {
        if n.metadata.name.as_deref() == Some(own) || n.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let addr = match node::peering_address(n) {
            Ok(a) => a,
            // A node still booting has no address: not an error worth an Event.
            Err(_) if !has_address_override(n) => continue,
            Err(e) => {
                errors.push(ObjectError::of(n, e));
                continue;
            }
        };
        match node::asn(n, policy) {
            Ok(asn) => peers.push(PeerConfig::new(addr, asn)),
            Err(e) => errors.push(ObjectError::of(n, e)),
        }
    }
    (peers, errors)
}

fn has_address_override(n: &Node) -> bool {
    let has = |m: &Option<std::collections::BTreeMap<String, String>>| {
        m.as_ref()
            .is_some_and(|m| m.contains_key(node::PEERING_ADDRESS))
    };
    has(&n.metadata.annotations) || has(&n.metadata.labels)
}
