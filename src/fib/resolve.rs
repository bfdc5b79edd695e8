//! Next-hop resolution against the kernel's own (non-podroute) routes, and a subscription to route/link changes.
//!
//! A BGP next hop learned through a route reflector in another subnet is
//! not on-link; installing it as a gateway fails (ENETUNREACH). Like BIRD's
//! `gateway recursive` and FRR's nexthop tracking, the next hop is looked
//! up (longest match) in the kernel's routes that podroute did not put
//! there (its own routes must not resolve its next hops: that loops), and
//! the route is installed via that route's on-link gateway and interface.
//! An unresolvable next hop makes the route ineligible. [`RouteWatch`]
//! tells the caller when to look again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::error::{FibError, NetlinkError};
use super::netlink::{DumpEnd, NlSocket, poll_in};
use super::types::{KernelRoute, NextHop, NextHops, RouteProtocol, RouteType};
use super::wire::{
    self, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE,
};

/// What a next hop resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Install via these on-link next hops.
    Reachable(NextHops),
    /// No usable route covers the next hop: the route is ineligible.
    Unreachable,
}

#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// Table whose routes resolve next hops (254 = main).
    pub table: u32,
    /// Routes of this protocol never resolve a next hop (podroute's own).
    pub ignore_protocol: RouteProtocol,
    /// Whether a default route may resolve a next hop (off, as in FRR's
    /// default: resolving BGP next hops via 0/0 hides unreachability).
    pub via_default: bool,
    /// Timeout for each netlink exchange of a refresh.
    pub timeout: Duration,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            table: 254,
            ignore_protocol: RouteProtocol::Podroute,
            via_default: false,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Longest-prefix match over a route snapshot: one hash map per prefix
/// length present, probed longest first.
#[derive(Debug, Default, Clone)]
pub struct RouteLookup {
    by_len: Vec<(u8, HashMap<IpNet, KernelRoute>)>,
}

/// Recursion bound; kernel routes' gateways are on-link already, so real
/// chains are one step long.
const MAX_DEPTH: usize = 4;

impl RouteLookup {
    /// Builds a lookup from routes of one table, skipping `ignore`'s.
    pub fn new(routes: impl IntoIterator<Item = KernelRoute>, cfg: &ResolverConfig) -> Self {
        let mut m: HashMap<u8, HashMap<IpNet, KernelRoute>> = HashMap::new();
        for r in routes {
            if r.table != cfg.table || r.protocol == cfg.ignore_protocol {
                continue;
            }
            if r.prefix.prefix_len() == 0 && !cfg.via_default {
                continue;
            }
            let slot = m.entry(r.prefix.prefix_len()).or_default();
            // Several routes per prefix (metrics): the lowest metric wins,
            // as in the kernel.
            match slot.get(&r.prefix) {
                Some(old) if old.metric <= r.metric => {}
                _ => {
                    slot.insert(r.prefix, r);
                }
            }
        }
        let mut by_len: Vec<_> = m.into_iter().collect();
        by_len.sort_by_key(|e| std::cmp::Reverse(e.0));
        Self { by_len }
    }

    fn longest(&self, addr: IpAddr) -> Option<&KernelRoute> {
        self.by_len.iter().find_map(|(len, map)| {
            let key = IpNet::new(addr, *len).ok()?.trunc();
            map.get(&key)
        })
    }

    /// The metric of the route that covers `addr`: the IGP cost to a BGP
    /// next hop for the decision process (RFC 4271 §9.1.2.2 e).
    pub fn metric(&self, addr: IpAddr) -> Option<u32> {
        self.longest(addr).map(|r| r.metric)
    }

    pub fn resolve(&self, addr: IpAddr) -> Resolution {
        let mut out = Vec::new();
        if self.resolve_into(addr, 0, &mut out) {
            match NextHops::new(out) {
                Ok(h) => Resolution::Reachable(h),
                Err(_) => Resolution::Unreachable,
            }
        } else {
            Resolution::Unreachable
        }
    }

    fn resolve_into(&self, addr: IpAddr, depth: usize, out: &mut Vec<NextHop>) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(r) = self.longest(addr) else {
            return false;
        };
        if r.kind != RouteType::Unicast {
            return false;
        }
        let before = out.len();
        for h in r.next_hops.iter().filter(|h| h.usable()) {
            match (h.gateway, h.ifindex) {
                // Connected or device route: the next hop itself is on-link.
                (None, Some(oif)) => out.push(NextHop::via_dev(addr, oif)),
                (Some(gw), Some(oif)) => out.push(NextHop::via_dev(gw, oif)),
                (Some(gw), None) => {
                    self.resolve_into(gw, depth + 1, out);
                }
                (None, None) => {}
            }
        }
        out.len() > before
    }
}

/// Resolves next hops against a snapshot of the kernel's routes, refreshed
/// on demand (after [`RouteWatch`] reports a change).
pub struct Resolver {
    sock: NlSocket,
    cfg: ResolverConfig,
    lookup: RouteLookup,
}

impl Resolver {
    /// Opens a netlink socket in the current network namespace and reads
    /// the table once.
    pub fn open(cfg: ResolverConfig) -> Result<Self, FibError> {
        let sock = NlSocket::open(&[], 4 << 20, 1 << 20)?;
        let mut r = Self {
            sock,
            cfg,
            lookup: RouteLookup::default(),
        };
        r.refresh()?;
        Ok(r)
    }

    /// Re-reads the table.
    pub fn refresh(&mut self) -> Result<(), FibError> {
        let routes = dump_table(&mut self.sock, self.cfg.table, 0, self.cfg.timeout)?;
        self.lookup = RouteLookup::new(routes, &self.cfg);
        Ok(())
    }

    pub fn resolve(&self, addr: IpAddr) -> Resolution {
        self.lookup.resolve(addr)
    }

    /// See [`RouteLookup::metric`].
    pub fn metric(&self, addr: IpAddr) -> Option<u32> {
        self.lookup.metric(addr)
    }

    pub fn lookup(&self) -> &RouteLookup {
        &self.lookup
    }
}

/// Reads every IPv4 and IPv6 route of `table` (of `protocol` if nonzero;
/// filtered again here since the kernel may ignore the filter). An
/// interrupted dump (table changed meanwhile) is retried.
pub(crate) fn dump_table(
    sock: &mut NlSocket,
    table: u32,
    protocol: u8,
    timeout: Duration,
) -> Result<Vec<KernelRoute>, NetlinkError> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let start = out.len();
            let seq = sock.reserve_seq(1);
            let mut req = Vec::with_capacity(64);
            wire::encode_dump(&mut req, seq, v6, table, protocol);
            let res = sock.dump(&req, seq, timeout, |ty, payload| {
                if ty != RTM_NEWROUTE {
                    return Ok(());
                }
                if let Some(r) = wire::decode_route(payload)?
                    && r.table == table
                    && (protocol == 0 || u8::from(r.protocol) == protocol)
                {
                    out.push(r);
                }
                Ok(())
            });
            match res {
                Ok(DumpEnd::Complete) => break,
                // A table that does not exist yet: empty (strict dumps
                // answer ENOENT for it).
                Err(NetlinkError::Kernel {
                    errno: libc::ENOENT,
                    ..
                }) => {
                    out.truncate(start);
                    break;
                }
                Ok(DumpEnd::Interrupted) | Err(NetlinkError::Overrun(_)) if attempts < 5 => {
                    out.truncate(start);
                    // Drain what is left of the interrupted reply.
                    while let Ok(Some(_)) =
                        sock.recv(Instant::now() + Duration::from_millis(50), "drain")
                    {
                    }
                }
                Ok(DumpEnd::Interrupted) => return Err(NetlinkError::DumpInterrupted),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// A change the kernel announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    RouteAdded(KernelRoute),
    RouteDeleted(KernelRoute),
    /// A link appeared, changed state or went away.
    Link {
        ifindex: u32,
        deleted: bool,
    },
    /// An address was added or removed (connected routes follow).
    Address {
        deleted: bool,
    },
    /// Notifications were lost (receive buffer overrun): re-read everything.
    Overrun,
}

// rtnetlink multicast groups (RTNLGRP_*), joined by number.
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// A subscription to the kernel's route, address and link notifications
/// in the current network namespace.
pub struct RouteWatch {
    sock: NlSocket,
    ignore: Option<RouteProtocol>,
}

impl RouteWatch {
    /// Subscribes. Route notifications of `ignore` (podroute's own
    /// protocol, whose installs would otherwise trigger a re-resolve per
    /// route) are dropped.
    pub fn open(ignore: Option<RouteProtocol>) -> Result<Self, FibError> {
        let groups = [
            RTNLGRP_LINK,
            RTNLGRP_IPV4_IFADDR,
            RTNLGRP_IPV4_ROUTE,
            RTNLGRP_IPV6_IFADDR,
            RTNLGRP_IPV6_ROUTE,
        ];
        let sock = NlSocket::open(&groups, 8 << 20, 64 << 10)?;
        if let Some(p) = ignore {
            // Dropped in the kernel too: while the FIB installs a million
            // routes, their notifications would otherwise wake this socket
            // a million times and overrun its buffer. (Filtered again in
            // `event`, in case the filter could not be attached.)
            if let Err(e) = sock.attach_filter(&drop_protocol_filter(u8::from(p))) {
                tracing::warn!("route watch: no kernel-side filter, filtering in user space: {e}");
            }
        }
        Ok(Self { sock, ignore })
    }

    /// The socket, for the caller's own poll loop.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.fd()
    }

    /// Waits up to `timeout` for notifications and returns all that have
    /// arrived (empty on timeout).
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<WatchEvent>, FibError> {
        let mut out = Vec::new();
        let mut deadline = Instant::now() + timeout;
        loop {
            match self.sock.recv(deadline, "watch") {
                Ok(Some(n)) => {
                    let ignore = self.ignore;
                    for m in wire::messages(self.sock.received(n)) {
                        let m = m.map_err(NetlinkError::from)?;
                        if let Some(ev) = event(m.ty, m.payload, ignore)? {
                            out.push(ev);
                        }
                    }
                }
                Ok(None) => return Ok(out),
                Err(NetlinkError::Overrun(_)) => out.push(WatchEvent::Overrun),
                Err(e) => return Err(e.into()),
            }
            if !out.is_empty() {
                // Drain what is already queued, without waiting.
                deadline = Instant::now();
            }
        }
    }

    /// Whether a notification is waiting.
    pub fn ready(&self) -> bool {
        poll_in(self.sock.fd(), Duration::ZERO).unwrap_or(false)
    }
}

/// Classic BPF: drop RTM_NEWROUTE/RTM_DELROUTE notifications whose
/// `rtm_protocol` is `proto`, accept everything else. A notification skb
/// holds one message: `nlmsghdr` (16 octets, `nlmsg_type` at 4 in host
/// order) then `rtmsg` (`rtm_protocol` at 16 + 5).
fn drop_protocol_filter(proto: u8) -> [libc::sock_filter; 7] {
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let type_low = if cfg!(target_endian = "little") { 4 } else { 5 };
    let f = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    [
        f(LD_B_ABS, 0, 0, type_low),
        f(JEQ_K, 1, 0, u32::from(RTM_NEWROUTE)),
        f(JEQ_K, 0, 2, u32::from(RTM_DELROUTE)),
        f(LD_B_ABS, 0, 0, 16 + 5),
        f(JEQ_K, 1, 0, u32::from(proto)),
        f(RET_K, 0, 0, u32::MAX),
        f(RET_K, 0, 0, 0),
    ]
}

fn event(
    ty: u16,
    payload: &[u8],
    ignore: Option<RouteProtocol>,
) -> Result<Option<WatchEvent>, NetlinkError> {
    Ok(match ty {
        RTM_NEWROUTE | RTM_DELROUTE => match wire::decode_route(payload)? {
            Some(r) if Some(r.protocol) != ignore => Some(if ty == RTM_NEWROUTE {
                WatchEvent::RouteAdded(r)
            } else {
                WatchEvent::RouteDeleted(r)
            }),
            _ => None,
        },
        RTM_NEWLINK | RTM_DELLINK if payload.len() >= 8 => Some(WatchEvent::Link {
            // struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; ... }
            ifindex: u32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]),
            deleted: ty == RTM_DELLINK,
        }),
        RTM_NEWADDR | RTM_DELADDR => Some(WatchEvent::Address {
            deleted: ty == RTM_DELADDR,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::types::KernelNextHop;

    fn route(prefix: &str, proto: RouteProtocol, gw: Option<&str>, oif: u32) -> KernelRoute {
        KernelRoute {
            prefix: prefix.parse().unwrap(),
            table: 254,
            protocol: proto,
            kind: RouteType::Unicast,
            scope: 0,
            metric: 0,
            next_hops: vec![KernelNextHop {
                gateway: gw.map(|g| g.parse().unwrap()),
                ifindex: Some(oif),
                flags: 0,
            }],
        }
    }

    #[test]
    fn resolves_through_static_route_not_own_or_default() {
        let cfg = ResolverConfig::default();
        let l = RouteLookup::new(
            vec![
                route("198.18.0.0/24", RouteProtocol::Kernel, None, 2),
                route(
                    "192.0.2.0/24",
                    RouteProtocol::Static,
                    Some("198.18.0.254"),
                    2,
                ),
                route(
                    "192.0.2.128/25",
                    RouteProtocol::Podroute,
                    Some("198.18.0.253"),
                    2,
                ),
                route("0.0.0.0/0", RouteProtocol::Static, Some("198.18.0.1"), 2),
            ],
            &cfg,
        );
        let gw = |s: &str| {
            Resolution::Reachable(
                NextHops::single(NextHop::via_dev(s.parse().unwrap(), 2)).unwrap(),
            )
        };
        assert_eq!(
            l.resolve("192.0.2.200".parse().unwrap()),
            gw("198.18.0.254")
        );
        assert_eq!(l.resolve("198.18.0.7".parse().unwrap()), gw("198.18.0.7"));
        assert_eq!(
            l.resolve("203.0.113.1".parse().unwrap()),
            Resolution::Unreachable
        );
    }

    #[test]
    fn dead_next_hops_and_blackholes_do_not_resolve() {
        let cfg = ResolverConfig::default();
        let mut dead = route(
            "192.0.2.0/24",
            RouteProtocol::Static,
            Some("198.18.0.254"),
            2,
        );
        dead.next_hops[0].flags = 0x10;
        let mut bh = route("198.51.100.0/24", RouteProtocol::Static, None, 1);
        bh.kind = RouteType::Blackhole;
        let l = RouteLookup::new(vec![dead, bh], &cfg);
        assert_eq!(
            l.resolve("192.0.2.1".parse().unwrap()),
            Resolution::Unreachable
        );
        assert_eq!(
            l.resolve("198.51.100.1".parse().unwrap()),
            Resolution::Unreachable
        );
    }
}
