//! Route data the FIB programs and reads back: next hops, targets, kernel routes, route protocol numbers.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::error::FibError;
use crate::bgp::open_enum::open_enum;

open_enum! {
    /// `rtm_protocol`: who installed a route (linux/rtnetlink.h `RTPROT_*`,
    /// plus the numbers iproute2's rt_protos and FRR's rt_protos.d assign).
    /// podroute's own number is shipped in `dist/rt_protos.d/podroute.conf`.
    pub enum RouteProtocol: u8 {
        Unspec = 0,
        Redirect = 1,
        Kernel = 2,
        Boot = 3,
        Static = 4,
        Ra = 9,
        Zebra = 11,
        Bird = 12,
        Dhcp = 16,
        Keepalived = 18,
        Babel = 42,
        Openr = 99,
        Bgp = 186,
        Isis = 187,
        Ospf = 188,
        Rip = 189,
        Eigrp = 192,
        // 186..=197 are FRR's (rt_protos.d/frr.conf); 202 is free in both
        // iproute2's list and FRR's, and far from either's growth.
        Podroute = 202,
    }
}

open_enum! {
    /// `rtm_type` (linux/rtnetlink.h `RTN_*`).
    pub enum RouteType: u8 {
        Unspec = 0,
        Unicast = 1,
        Local = 2,
        Broadcast = 3,
        Anycast = 4,
        Multicast = 5,
        Blackhole = 6,
        Unreachable = 7,
        Prohibit = 8,
        Throw = 9,
        Nat = 10,
        Xresolve = 11,
    }
}

/// One way to forward: an on-link gateway, an interface, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHop {
    /// The gateway; must be reachable on-link (resolve BGP next hops first,
    /// see [`super::Resolver`]). `None` for a device route.
    pub gateway: Option<IpAddr>,
    /// The outgoing interface index; `None` lets the kernel pick it from the
    /// gateway's connected route.
    pub ifindex: Option<u32>,
}

impl NextHop {
    pub fn via(gateway: IpAddr) -> Self {
        Self {
            gateway: Some(gateway),
            ifindex: None,
        }
    }

    pub fn via_dev(gateway: IpAddr, ifindex: u32) -> Self {
        Self {
            gateway: Some(gateway),
            ifindex: Some(ifindex),
        }
    }

    pub fn dev(ifindex: u32) -> Self {
        Self {
            gateway: None,
            ifindex: Some(ifindex),
        }
    }
}

/// A non-empty, sorted, duplicate-free set of next hops (ECMP when more
/// than one). Non-empty by construction: the kernel rejects a route whose
/// multipath list is empty (ERANGE). Shared (`Arc`) because a million
/// routes usually share a handful of next-hop sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NextHops(Arc<[NextHop]>);

impl NextHops {
    /// Sorts and de-duplicates `hops`; a hop must name a gateway or an
    /// interface.
    pub fn new(mut hops: Vec<NextHop>) -> Result<Self, FibError> {
        if hops.is_empty() {
            return Err(FibError::NoNextHop);
        }
        if hops
            .iter()
            .any(|h| h.gateway.is_none() && h.ifindex.is_none())
        {
            return Err(FibError::EmptyNextHop);
        }
        hops.sort_unstable();
        hops.dedup();
        Ok(Self(hops.into()))
    }

    pub fn single(hop: NextHop) -> Result<Self, FibError> {
        Self::new(vec![hop])
    }

    pub fn as_slice(&self) -> &[NextHop] {
        &self.0
    }

    /// Whether both share one allocation (a cheap equality fast path).
    pub fn ptr_eq(&self, other: &NextHops) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a prefix should do in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// Forward via these next hops (ECMP when several).
    Unicast(NextHops),
    /// Drop silently: used for the node's own pod CIDRs, so that traffic to
    /// an unused pod address dies here instead of following the default
    /// route back out.
    Blackhole,
}

/// One change the RIB asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChange {
    /// Install or replace the route for the prefix.
    Set(IpNet, RouteTarget),
    /// Remove podroute's route for the prefix.
    Remove(IpNet),
}

impl RouteChange {
    pub fn prefix(&self) -> IpNet {
        match self {
            RouteChange::Set(p, _) | RouteChange::Remove(p) => *p,
        }
    }

    /// Checks what the kernel would reject or misread: host bits in the
    /// prefix, gateways of the other address family.
    pub fn validate(&self) -> Result<(), FibError> {
        let prefix = self.prefix();
        if prefix != prefix.trunc() {
            return Err(FibError::HostBits(prefix));
        }
        if let RouteChange::Set(_, RouteTarget::Unicast(hops)) = self {
            let v4 = matches!(prefix, IpNet::V4(_));
            if hops
                .as_slice()
                .iter()
                .filter_map(|h| h.gateway)
                .any(|g| g.is_ipv4() != v4)
            {
                return Err(FibError::FamilyMismatch(prefix));
            }
        }
        Ok(())
    }
}

/// A next hop as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelNextHop {
    pub gateway: Option<IpAddr>,
    pub ifindex: Option<u32>,
    /// `RTNH_F_*` flags (dead, link down, onlink, ...).
    pub flags: u8,
}

/// `RTNH_F_DEAD`, `RTNH_F_LINKDOWN` (linux/rtnetlink.h): a next hop the
/// kernel will not forward over.
pub(crate) const RTNH_F_UNUSABLE: u8 = 0x01 | 0x10;

impl KernelNextHop {
    pub fn usable(&self) -> bool {
        self.flags & RTNH_F_UNUSABLE == 0
    }

    pub fn hop(&self) -> NextHop {
        NextHop {
            gateway: self.gateway,
            ifindex: self.ifindex,
        }
    }
}

/// A route read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: IpNet,
    pub table: u32,
    pub protocol: RouteProtocol,
    pub kind: RouteType,
    pub scope: u8,
    /// `RTA_PRIORITY`, the route's metric; part of the kernel's route key.
    pub metric: u32,
    pub next_hops: Vec<KernelNextHop>,
}

impl KernelRoute {
    /// The route as a [`RouteTarget`], if it is one podroute could have
    /// installed (unicast with next hops, or blackhole).
    pub fn target(&self) -> Option<RouteTarget> {
        match self.kind {
            RouteType::Blackhole => Some(RouteTarget::Blackhole),
            RouteType::Unicast => {
                NextHops::new(self.next_hops.iter().map(KernelNextHop::hop).collect())
                    .ok()
                    .map(RouteTarget::Unicast)
            }
            _ => None,
        }
    }

    /// Whether the kernel holds what `want` asks for. An interface left
    /// open in `want` matches any the kernel chose. Allocation-free: a
    /// reconcile calls this once per route.
    pub fn matches(&self, want: &RouteTarget) -> bool {
        match want {
            RouteTarget::Blackhole => self.kind == RouteType::Blackhole,
            RouteTarget::Unicast(want) => {
                let want = want.as_slice();
                if self.kind != RouteType::Unicast
                    || self.next_hops.len() != want.len()
                    || want.len() > 64
                {
                    return false;
                }
                let mut used = 0u64;
                want.iter().all(|w| {
                    let found = self.next_hops.iter().enumerate().position(|(i, h)| {
                        used & (1 << i) == 0
                            && h.gateway == w.gateway
                            && (w.ifindex.is_none() || w.ifindex == h.ifindex)
                    });
                    found.map(|i| used |= 1 << i).is_some()
                })
            }
        }
    }
}

impl RouteTarget {
    /// Whether a route doing `self` does what `want` asks: same kind, same
    /// gateways, and the same interfaces where `want` names them (the
    /// kernel fills in the interface a request left open).
    pub fn satisfies(&self, want: &RouteTarget) -> bool {
        match (self, want) {
            (RouteTarget::Blackhole, RouteTarget::Blackhole) => true,
            (RouteTarget::Unicast(have), RouteTarget::Unicast(want)) => {
                let (have, want) = (have.as_slice(), want.as_slice());
                if have.len() != want.len() {
                    return false;
                }
                // Greedy: each wanted hop takes the first unused held hop
                // with its gateway and a compatible interface.
                let mut used = vec![false; have.len()];
                want.iter().all(|w| {
                    let found = have.iter().enumerate().position(|(i, h)| {
                        !used[i]
                            && h.gateway == w.gateway
                            && (w.ifindex.is_none() || w.ifindex == h.ifindex)
                    });
                    found.map(|i| used[i] = true).is_some()
                })
            }
            _ => false,
        }
    }
}

/// How the FIB asks the kernel to acknowledge a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// `NLM_F_ACK` on the last message only. The kernel handles the
    /// messages of one `sendmsg` in order and always reports failures, so
    /// the final ACK proves every earlier message was processed and any
    /// error for them was already queued. One ACK per batch.
    BatchEnd,
    /// `NLM_F_ACK` on every message (one ACK skb each: slower, needs a
    /// receive buffer sized for the whole batch's ACKs).
    EachMessage,
}

/// How the FIB programs the kernel.
#[derive(Debug, Clone)]
pub struct FibConfig {
    /// Routing table id (254 = main).
    pub table: u32,
    /// The protocol number every podroute route carries.
    pub protocol: RouteProtocol,
    /// Metric (`RTA_PRIORITY`) of podroute's routes.
    pub metric: u32,
    /// Most route messages in one `sendmsg`.
    pub batch_size: usize,
    /// Most bytes in one `sendmsg` (bounded by the socket's send buffer).
    pub batch_bytes: usize,
    /// Deadline for every netlink exchange (a batch and its ACK, or the
    /// silence between two parts of a dump).
    pub timeout: std::time::Duration,
    /// Socket receive buffer to ask for (SO_RCVBUFFORCE, falling back to
    /// SO_RCVBUF); must hold a batch's worth of ACK/error messages.
    pub rcvbuf: usize,
    pub ack: AckMode,
}

impl Default for FibConfig {
    fn default() -> Self {
        Self {
            table: 254,
            protocol: RouteProtocol::Podroute,
            metric: 20,
            batch_size: 1024,
            batch_bytes: 256 * 1024,
            timeout: std::time::Duration::from_secs(5),
            rcvbuf: 4 * 1024 * 1024,
            ack: AckMode::BatchEnd,
        }
    }
}
