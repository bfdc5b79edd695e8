//! What the Loc-RIB stores per prefix: every accepted path, each pointing at shared attributes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::paths::Paths;
use crate::bgp::attribute::PathAttributes;
use crate::prefix_table::{Sharded, v4_hash};

/// Whether a BGP next hop resolves in the kernel, and at what IGP cost,
/// shared by every path through it: one update makes all of them eligible
/// or not (RFC 4271 §9.1.2: a route whose NEXT_HOP cannot be resolved is
/// not eligible) and re-costs them (§9.1.2.2 e).
#[derive(Debug, Clone)]
pub struct Reachability(Arc<AtomicU64>);

/// Bit 32 of the packed state: unreachable. The low 32 bits: the metric.
const UNREACHABLE: u64 = 1 << 32;

impl Reachability {
    /// Until the FIB has looked, a next hop counts as reachable at cost 0,
    /// so a new route is never held back waiting for the answer.
    pub fn new() -> Self {
        Reachability(Arc::new(AtomicU64::new(0)))
    }

    pub fn get(&self) -> bool {
        // The RIB is single-threaded; the atomic only makes the shared state Sync.
        self.0.load(Ordering::Relaxed) & UNREACHABLE == 0
    }

    /// The IGP cost to the next hop.
    pub fn metric(&self) -> u32 {
        self.0.load(Ordering::Relaxed) as u32
    }

    pub fn set(&self, reachable: bool, metric: u32) {
        let state = u64::from(metric) | if reachable { 0 } else { UNREACHABLE };
        self.0.store(state, Ordering::Relaxed);
    }
}

impl Default for Reachability {
    fn default() -> Self {
        Self::new()
    }
}

/// Attributes and next hop shared by every prefix of one UPDATE: one
/// allocation per UPDATE, not per prefix.
#[derive(Debug, Clone)]
pub struct RouteAttrs {
    pub attrs: Arc<PathAttributes>,
    pub next_hop: IpAddr,
    /// `[next_hop]`, ready to hand to the FIB without an allocation per prefix.
    pub hops: Arc<[IpAddr]>,
    pub reachable: Reachability,
}

impl PartialEq for RouteAttrs {
    fn eq(&self, other: &Self) -> bool {
        self.attrs == other.attrs && self.next_hop == other.next_hop
    }
}

impl Eq for RouteAttrs {}

impl RouteAttrs {
    pub fn new(attrs: Arc<PathAttributes>, next_hop: IpAddr, reachable: Reachability) -> Self {
        RouteAttrs {
            attrs,
            next_hop,
            hops: Arc::from([next_hop]),
            reachable,
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
    pub paths: Paths,
}

/// An IPv4 destination with its key: 24 octets a slot.
#[derive(Debug)]
struct V4Dest {
    dest: Dest,
    addr: u32,
    len: u8,
}

const _: () = assert!(std::mem::size_of::<V4Dest>() == 24);

fn v4_key(p: &Ipv4Net) -> (u32, u8) {
    (u32::from(p.addr()), p.prefix_len())
}

fn slot_hash(s: &V4Dest) -> u64 {
    v4_hash(s.addr, s.len)
}

fn net4(s: &V4Dest) -> IpNet {
    // The slot was built from a valid prefix.
    IpNet::V4(Ipv4Net::new(s.addr.into(), s.len).unwrap_or_default())
}

/// The Loc-RIB's prefix table, one map per family. IPv4, the million-prefix
/// case, is a [`Sharded`] table of 24-octet slots (a
/// `HashMap<Ipv4Net, Dest>` slot was 32) hashed so a sorted load walks
/// memory in order.
#[derive(Debug, Default)]
pub struct LocRib {
    v4: Sharded<V4Dest>,
    v6: HashMap<Ipv6Net, Dest>,
}

impl LocRib {
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&Dest> {
        match prefix {
            IpNet::V4(p) => {
                let (a, l) = v4_key(p);
                let s = self.v4.find(v4_hash(a, l), |s| s.addr == a && s.len == l)?;
                Some(&s.dest)
            }
            IpNet::V6(p) => self.v6.get(p),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut Dest> {
        match prefix {
            IpNet::V4(p) => {
                let (a, l) = v4_key(p);
                let s = self
                    .v4
                    .find_mut(v4_hash(a, l), |s| s.addr == a && s.len == l)?;
                Some(&mut s.dest)
            }
            IpNet::V6(p) => self.v6.get_mut(p),
        }
    }

    /// The destination of `prefix`, created empty if missing.
    pub fn entry(&mut self, prefix: IpNet) -> &mut Dest {
        match prefix {
            IpNet::V4(p) => {
                let (a, l) = v4_key(&p);
                let s = self.v4.find_or_insert(
                    v4_hash(a, l),
                    |s| s.addr == a && s.len == l,
                    slot_hash,
                    || V4Dest {
                        dest: Dest::default(),
                        addr: a,
                        len: l,
                    },
                );
                &mut s.dest
            }
            IpNet::V6(p) => self.v6.entry(p).or_default(),
        }
    }

    pub fn remove(&mut self, prefix: &IpNet) {
        match prefix {
            IpNet::V4(p) => {
                let (a, l) = v4_key(p);
                self.v4.remove(v4_hash(a, l), |s| s.addr == a && s.len == l);
            }
            IpNet::V6(p) => {
                self.v6.remove(p);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &Dest)> {
        let v4 = self.v4.iter().map(|s| (net4(s), &s.dest));
        let v6 = self.v6.iter().map(|(p, d)| (IpNet::V6(*p), d));
        v4.chain(v6)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut Dest)> {
        let v4 = self.v4.iter_mut().map(|s| (net4(s), &mut s.dest));
        let v6 = self.v6.iter_mut().map(|(p, d)| (IpNet::V6(*p), d));
        v4.chain(v6)
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(p, _)| p)
    }
}
