//! What the Loc-RIB stores per prefix: every accepted path, each pointing at shared attributes.

use std::net::IpAddr;
use std::sync::Arc;

use crate::bgp::attribute::PathAttributes;

/// Attributes and next hop shared by every prefix of one UPDATE: one
/// allocation per UPDATE, not per prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAttrs {
    pub attrs: Arc<PathAttributes>,
    pub next_hop: IpAddr,
    /// `[next_hop]`, ready to hand to the FIB without an allocation per prefix.
    pub hops: Arc<[IpAddr]>,
}

impl RouteAttrs {
    pub fn new(attrs: Arc<PathAttributes>, next_hop: IpAddr) -> Self {
        RouteAttrs {
            attrs,
            next_hop,
            hops: Arc::from([next_hop]),
        }
    }
}

/// One path to a prefix, as learned from one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Index of the peer's slot in the RIB.
    pub peer: u16,
    /// ADD-PATH path identifier (RFC 7911), 0 without ADD-PATH.
    pub path_id: u32,
    /// Kept from a restarting peer until it re-announces (RFC 4724 §4.2).
    pub stale: bool,
    pub attrs: Arc<RouteAttrs>,
}

/// A prefix in the Loc-RIB: its candidate paths. The best one is computed
/// when needed, so nothing can go stale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dest {
    pub paths: Vec<Path>,
}
