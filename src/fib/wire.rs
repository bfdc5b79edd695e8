//! rtnetlink wire format for the subset podroute needs: route messages, ACK/error messages, multipart dumps.
//!
//! All integers are in host byte order (netlink is a local protocol);
//! addresses are in network order. Every header and attribute is padded
//! to 4 octets (`NLMSG_ALIGN`, `RTA_ALIGN`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::error::WireError;
use super::types::{KernelNextHop, KernelRoute, NextHop, RouteProtocol, RouteTarget, RouteType};

pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const RTMSG_LEN: usize = 12;

pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_NEWADDR: u16 = 20;
pub(crate) const RTM_DELADDR: u16 = 21;
pub(crate) const RTM_NEWROUTE: u16 = 24;
pub(crate) const RTM_DELROUTE: u16 = 25;
pub(crate) const RTM_GETROUTE: u16 = 26;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLM_F_REPLACE: u16 = 0x100;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;

const RT_TABLE_UNSPEC: u8 = 0;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
/// `ip route del` sends this scope: "match any scope" in fib_table_delete.
const RT_SCOPE_NOWHERE: u8 = 255;

pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn family_of(prefix: &IpNet) -> u8 {
    match prefix {
        IpNet::V4(_) => AF_INET,
        IpNet::V6(_) => AF_INET6,
    }
}

fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

/// ```text
/// struct rtattr { u16 rta_len; u16 rta_type; } + payload, padded to 4
/// ```
fn put_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    put_u16(buf, (4 + payload.len()) as u16);
    put_u16(buf, ty);
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

fn put_addr_attr(buf: &mut Vec<u8>, ty: u16, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => put_attr(buf, ty, &a.octets()),
        IpAddr::V6(a) => put_attr(buf, ty, &a.octets()),
    }
}

fn patch_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}

fn patch_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

/// The route key and contents of one RTM_NEWROUTE / RTM_DELROUTE.
pub(crate) struct RouteMsg<'a> {
    pub prefix: IpNet,
    pub table: u32,
    pub protocol: RouteProtocol,
    pub metric: u32,
    /// `None` for a delete: match on key, protocol and metric only (the
    /// kernel checks `rtm_protocol` on delete, so a delete can never
    /// remove another protocol's route).
    pub target: Option<&'a RouteTarget>,
}

/// Appends one route message.
///
/// ```text
/// struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
/// struct rtmsg    { u8 family, dst_len, src_len, tos;
///                   u8 table, protocol, scope, type; u32 flags; }
/// RTA_TABLE u32 | RTA_DST addr | RTA_PRIORITY u32 |
///   RTA_GATEWAY addr, RTA_OIF u32            (one next hop)
///   RTA_MULTIPATH { struct rtnexthop { u16 len; u8 flags; u8 hops;
///                   i32 ifindex; } RTA_GATEWAY addr }...   (ECMP)
/// ```
pub(crate) fn encode_route(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, m: &RouteMsg<'_>) {
    let start = buf.len();
    put_u32(buf, 0); // length, patched below
    put_u16(buf, ty);
    put_u16(buf, flags);
    put_u32(buf, seq);
    put_u32(buf, 0);

    let (kind, scope) = match m.target {
        None => (RouteType::Unspec, RT_SCOPE_NOWHERE),
        Some(RouteTarget::Blackhole) => (RouteType::Blackhole, RT_SCOPE_UNIVERSE),
        Some(RouteTarget::Unicast(hops)) => {
            // A route with no gateway at all is a device route: link scope,
            // as `ip route add P dev X` makes it.
            let scope = if hops.as_slice().iter().any(|h| h.gateway.is_some()) {
                RT_SCOPE_UNIVERSE
            } else {
                RT_SCOPE_LINK
            };
            (RouteType::Unicast, scope)
        }
    };
    // Tables above 255 do not fit rtm_table; RTA_TABLE carries them.
    let table8 = if m.table < 256 {
        m.table as u8
    } else {
        RT_TABLE_UNSPEC
    };
    buf.extend_from_slice(&[
        family_of(&m.prefix),
        m.prefix.prefix_len(),
        0,
        0,
        table8,
        u8::from(m.protocol),
        scope,
        u8::from(kind),
    ]);
    put_u32(buf, 0);

    put_attr(buf, RTA_TABLE, &m.table.to_ne_bytes());
    put_addr_attr(buf, RTA_DST, m.prefix.network());
    put_attr(buf, RTA_PRIORITY, &m.metric.to_ne_bytes());
    if let Some(RouteTarget::Unicast(hops)) = m.target {
        match hops.as_slice() {
            [one] => put_hop(buf, one),
            many => {
                let mp = buf.len();
                put_u16(buf, 0);
                put_u16(buf, RTA_MULTIPATH);
                for h in many {
                    let nh = buf.len();
                    put_u16(buf, 0);
                    buf.push(0); // flags
                    buf.push(0); // hops = weight - 1
                    put_u32(buf, h.ifindex.unwrap_or(0));
                    if let Some(gw) = h.gateway {
                        put_addr_attr(buf, RTA_GATEWAY, gw);
                    }
                    let len = (buf.len() - nh) as u16;
                    patch_u16(buf, nh, len);
                }
                let len = (buf.len() - mp) as u16;
                patch_u16(buf, mp, len);
            }
        }
    }
    let len = (buf.len() - start) as u32;
    patch_u32(buf, start, len);
}

fn put_hop(buf: &mut Vec<u8>, h: &NextHop) {
    if let Some(gw) = h.gateway {
        put_addr_attr(buf, RTA_GATEWAY, gw);
    }
    if let Some(oif) = h.ifindex {
        put_attr(buf, RTA_OIF, &oif.to_ne_bytes());
    }
}

/// Appends an RTM_GETROUTE dump request for one family. With
/// NETLINK_GET_STRICT_CHK set, the kernel filters by table (and protocol
/// when nonzero); without it, it ignores both, so callers filter again.
pub(crate) fn encode_dump(buf: &mut Vec<u8>, seq: u32, v6: bool, table: u32, protocol: u8) {
    let start = buf.len();
    put_u32(buf, 0);
    put_u16(buf, RTM_GETROUTE);
    put_u16(buf, NLM_F_REQUEST | NLM_F_DUMP);
    put_u32(buf, seq);
    put_u32(buf, 0);
    let table8 = if table < 256 {
        table as u8
    } else {
        RT_TABLE_UNSPEC
    };
    buf.extend_from_slice(&[
        if v6 { AF_INET6 } else { AF_INET },
        0,
        0,
        0,
        table8,
        protocol,
        0,
        0,
    ]);
    put_u32(buf, 0);
    put_attr(buf, RTA_TABLE, &table.to_ne_bytes());
    let len = (buf.len() - start) as u32;
    patch_u32(buf, start, len);
}

/// One netlink message inside a received datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// Iterates the netlink messages of one datagram.
pub(crate) struct NlMsgs<'a> {
    rest: &'a [u8],
}

pub(crate) fn messages(buf: &[u8]) -> NlMsgs<'_> {
    NlMsgs { rest: buf }
}

impl<'a> Iterator for NlMsgs<'a> {
    type Item = Result<NlMsg<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < NLMSG_HDRLEN {
            self.rest = &[];
            return Some(Err(WireError::Truncated("nlmsghdr")));
        }
        let len = ne_u32(&self.rest[0..4]) as usize;
        if len < NLMSG_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(WireError::BadLength(len)));
        }
        let msg = NlMsg {
            ty: ne_u16(&self.rest[4..6]),
            flags: ne_u16(&self.rest[6..8]),
            seq: ne_u32(&self.rest[8..12]),
            payload: &self.rest[NLMSG_HDRLEN..len],
        };
        self.rest = &self.rest[align4(len).min(self.rest.len())..];
        Some(Ok(msg))
    }
}

/// The error code of an NLMSG_ERROR payload (`struct nlmsgerr { int
/// error; struct nlmsghdr msg; ... }`): 0 is an ACK, else -errno.
pub(crate) fn error_code(payload: &[u8]) -> Result<i32, WireError> {
    if payload.len() < 4 {
        return Err(WireError::Truncated("nlmsgerr"));
    }
    Ok(i32::from_ne_bytes([
        payload[0], payload[1], payload[2], payload[3],
    ]))
}

/// Iterates `struct rtattr`s: (type, payload).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), WireError>> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = ne_u16(&b[0..2]) as usize;
        let ty = ne_u16(&b[2..4]) & 0x3fff; // strip NLA_F_NESTED / NET_BYTEORDER
        if len < 4 || len > b.len() {
            b = &[];
            return Some(Err(WireError::BadLength(len)));
        }
        let payload = &b[4..len];
        b = &b[align4(len).min(b.len())..];
        Some(Ok((ty, payload)))
    })
}

fn parse_addr(family: u8, b: &[u8]) -> Result<IpAddr, WireError> {
    match (family, b.len()) {
        (AF_INET, 4) => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        (AF_INET6, 16) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
        (family, len) => Err(WireError::BadAddress { family, len }),
    }
}

/// `RTA_VIA`: `struct rtvia { u16 family; u8 addr[]; }` (RFC 5549 style
/// IPv4-over-IPv6 next hops).
fn parse_via(b: &[u8]) -> Result<IpAddr, WireError> {
    if b.len() < 2 {
        return Err(WireError::Truncated("rtvia"));
    }
    parse_addr(ne_u16(&b[0..2]) as u8, &b[2..])
}

/// Decodes an RTM_NEWROUTE/RTM_DELROUTE payload. `Ok(None)` for families
/// other than IPv4/IPv6 and for routes with a source prefix or TOS, which
/// podroute never installs.
pub(crate) fn decode_route(payload: &[u8]) -> Result<Option<KernelRoute>, WireError> {
    if payload.len() < RTMSG_LEN {
        return Err(WireError::Truncated("rtmsg"));
    }
    let family = payload[0];
    let dst_len = payload[1];
    let src_len = payload[2];
    let tos = payload[3];
    if (family != AF_INET && family != AF_INET6) || src_len != 0 || tos != 0 {
        return Ok(None);
    }
    let rtm_flags = ne_u32(&payload[8..12]);
    let mut table = u32::from(payload[4]);
    let mut dst: Option<IpAddr> = None;
    let mut metric = 0;
    let mut single = KernelNextHop {
        gateway: None,
        ifindex: None,
        flags: (rtm_flags & 0xff) as u8,
    };
    let mut multi: Vec<KernelNextHop> = Vec::new();
    for a in attrs(&payload[RTMSG_LEN..]) {
        let (ty, v) = a?;
        match ty {
            RTA_DST => dst = Some(parse_addr(family, v)?),
            RTA_TABLE if v.len() >= 4 => table = ne_u32(v),
            RTA_PRIORITY if v.len() >= 4 => metric = ne_u32(v),
            RTA_OIF if v.len() >= 4 => single.ifindex = Some(ne_u32(v)),
            RTA_GATEWAY => single.gateway = Some(parse_addr(family, v)?),
            RTA_VIA => single.gateway = Some(parse_via(v)?),
            RTA_MULTIPATH => multi = decode_multipath(family, v)?,
            _ => {}
        }
    }
    let unspecified = if family == AF_INET {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    let prefix = make_prefix(dst.unwrap_or(unspecified), dst_len, family)?;
    let kind = RouteType::from(payload[7]);
    let next_hops = if !multi.is_empty() {
        multi
    } else if single.gateway.is_some() || single.ifindex.is_some() {
        vec![single]
    } else {
        Vec::new()
    };
    Ok(Some(KernelRoute {
        prefix,
        table,
        protocol: RouteProtocol::from(payload[5]),
        kind,
        scope: payload[6],
        metric,
        next_hops,
    }))
}

fn make_prefix(addr: IpAddr, len: u8, family: u8) -> Result<IpNet, WireError> {
    let bad = WireError::BadPrefixLen { family, len };
    Ok(match addr {
        IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, len).map_err(|_| bad)?.trunc()),
        IpAddr::V6(a) => IpNet::V6(Ipv6Net::new(a, len).map_err(|_| bad)?.trunc()),
    })
}

fn decode_multipath(family: u8, mut b: &[u8]) -> Result<Vec<KernelNextHop>, WireError> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let len = ne_u16(&b[0..2]) as usize;
        if len < 8 || len > b.len() {
            return Err(WireError::BadLength(len));
        }
        let ifindex = ne_u32(&b[4..8]);
        let mut hop = KernelNextHop {
            gateway: None,
            ifindex: (ifindex != 0).then_some(ifindex),
            flags: b[2],
        };
        for a in attrs(&b[8..len]) {
            let (ty, v) = a?;
            match ty {
                RTA_GATEWAY => hop.gateway = Some(parse_addr(family, v)?),
                RTA_VIA => hop.gateway = Some(parse_via(v)?),
                _ => {}
            }
        }
        out.push(hop);
        b = &b[align4(len).min(b.len())..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::types::NextHops;

    fn roundtrip(target: RouteTarget, prefix: &str) -> KernelRoute {
        let prefix: IpNet = prefix.parse().unwrap();
        let mut buf = Vec::new();
        let m = RouteMsg {
            prefix,
            table: 1000,
            protocol: RouteProtocol::Podroute,
            metric: 20,
            target: Some(&target),
        };
        encode_route(&mut buf, RTM_NEWROUTE, NLM_F_REQUEST, 7, &m);
        let msgs: Vec<_> = messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].ty, RTM_NEWROUTE);
        assert_eq!(msgs[0].seq, 7);
        let r = decode_route(msgs[0].payload).unwrap().unwrap();
        assert_eq!(r.prefix, prefix);
        assert_eq!(r.table, 1000);
        assert_eq!(r.metric, 20);
        assert_eq!(r.protocol, RouteProtocol::Podroute);
        assert!(r.matches(&target), "{r:?} vs {target:?}");
        r
    }

    #[test]
    fn single_next_hop_round_trips() {
        let t = RouteTarget::Unicast(
            NextHops::single(NextHop::via_dev("198.18.0.2".parse().unwrap(), 3)).unwrap(),
        );
        let r = roundtrip(t, "198.19.1.0/24");
        assert_eq!(r.kind, RouteType::Unicast);
    }

    #[test]
    fn multipath_v6_round_trips() {
        let t = RouteTarget::Unicast(
            NextHops::new(vec![
                NextHop::via("2001:db8::2".parse().unwrap()),
                NextHop::via_dev("2001:db8::3".parse().unwrap(), 4),
            ])
            .unwrap(),
        );
        let r = roundtrip(t, "2001:db8:1::/48");
        assert_eq!(r.next_hops.len(), 2);
    }

    #[test]
    fn blackhole_round_trips() {
        let r = roundtrip(RouteTarget::Blackhole, "198.18.64.0/18");
        assert_eq!(r.kind, RouteType::Blackhole);
        assert!(r.next_hops.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(messages(&[1, 2, 3]).next().unwrap().is_err());
        let mut m = vec![0u8; 16];
        m[0] = 200;
        assert!(messages(&m).next().unwrap().is_err());
        assert!(decode_route(&[2, 24]).is_err());
        // rtmsg for AF_INET with a /40 destination.
        let mut p = vec![2u8, 40, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[8, 0, 1, 0, 10, 0, 0, 0]);
        assert!(decode_route(&p).is_err());
        // attribute whose length overruns the message
        let mut p = vec![2u8, 24, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[200, 0, 1, 0, 10, 0, 0, 0]);
        assert!(decode_route(&p).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            for m in messages(&bytes).flatten() {
                let _ = error_code(m.payload);
                let _ = decode_route(m.payload);
            }
            let _ = decode_route(&bytes);
        }

        #[test]
        fn mutated_route_messages_never_panic(flip in 0usize..200, val in proptest::num::u8::ANY) {
            let t = RouteTarget::Unicast(
                NextHops::new(vec![
                    NextHop::via("2001:db8::2".parse().unwrap()),
                    NextHop::via_dev("2001:db8::3".parse().unwrap(), 4),
                ])
                .unwrap(),
            );
            let m = RouteMsg {
                prefix: "2001:db8:1::/48".parse().unwrap(),
                table: 254,
                protocol: RouteProtocol::Podroute,
                metric: 20,
                target: Some(&t),
            };
            let mut buf = Vec::new();
            encode_route(&mut buf, RTM_NEWROUTE, NLM_F_REQUEST, 1, &m);
            let i = flip % buf.len();
            buf[i] = val;
            for m in messages(&buf).flatten() {
                let _ = decode_route(m.payload);
            }
        }
    }
}
