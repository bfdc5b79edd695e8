//! Packing many prefixes that share one attribute set into the fewest whole UPDATE messages (for Adj-RIB-Out).
//!
//! Attributes are encoded once; each message then gets as many prefixes as
//! fit under `ctx.max_message_len()`: in the NLRI / Withdrawn Routes fields
//! for IPv4 unicast, inside MP_REACH_NLRI / MP_UNREACH_NLRI (written first,
//! RFC 7606 §5.1, with the Extended Length bit so its length can grow) for
//! everything else.

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::IpNet;

use super::attribute::flags::{EXTENDED_LENGTH, OPT_NON_TRANS};
use super::attribute::mp_reach::{is_prefix_family, put_reach_head, reach_head_len};
use super::attribute::{AttrType, MpNextHop, PathAttributes};
use super::context::CodecContext;
use super::header::{HEADER_LEN, Header, MessageType};
use super::nlri::Nlri;
use super::types::{Afi, Family};

/// Why prefixes cannot be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("family {0} is not packed as prefixes")]
    UnsupportedFamily(Family),
    #[error("prefix {prefix} does not belong to family {family}")]
    WrongFamily { prefix: IpNet, family: Family },
    #[error("{family} announcements need a next hop (NEXT_HOP attribute or MP_REACH next hop)")]
    MissingNextHop { family: Family },
    #[error("attributes take {len} octets, leaving no room for a prefix in {max}")]
    AttributesTooLong { len: usize, max: usize },
}

/// Size of an MP_* attribute header with Extended Length.
const MP_ATTR_HEADER: usize = 4;
/// Withdrawn Routes Length + Total Path Attribute Length.
const LENGTH_FIELDS: usize = 4;

fn check_family(family: Family, prefixes: &[Nlri]) -> Result<(), PackError> {
    if !is_prefix_family(family) {
        return Err(PackError::UnsupportedFamily(family));
    }
    let v4 = family.afi == Afi::Ipv4;
    match prefixes
        .iter()
        .find(|n| matches!(n.prefix, IpNet::V4(_)) != v4)
    {
        Some(n) => Err(PackError::WrongFamily {
            prefix: n.prefix,
            family,
        }),
        None => Ok(()),
    }
}

/// One message being filled in a shared buffer.
struct Frame {
    start: usize,
}

impl Frame {
    fn begin(out: &mut BytesMut) -> Frame {
        let start = out.len();
        out.put_bytes(0, HEADER_LEN);
        Frame { start }
    }

    fn finish(self, out: &mut BytesMut, ends: &mut Vec<usize>) {
        let len = out.len() - self.start;
        if let Ok(h) =
            <&mut [u8; HEADER_LEN]>::try_from(&mut out[self.start..self.start + HEADER_LEN])
        {
            Header::encode(MessageType::Update, len as u16, h);
        }
        ends.push(out.len());
    }
}

fn patch_u16(out: &mut BytesMut, at: usize, v: usize) {
    out[at..at + 2].copy_from_slice(&(v as u16).to_be_bytes());
}

/// Appends prefixes from `*i` while they fit in `room`; returns octets used.
#[inline]
fn fill(
    out: &mut BytesMut,
    prefixes: &[Nlri],
    i: &mut usize,
    add_path: bool,
    room: usize,
) -> usize {
    let mut used = 0;
    while let Some(n) = prefixes.get(*i) {
        let l = n.wire_len(add_path);
        if used + l > room {
            break;
        }
        n.encode(add_path, out);
        used += l;
        *i += 1;
    }
    used
}

fn split(out: BytesMut, ends: &[usize]) -> Vec<Bytes> {
    let all = out.freeze();
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let m = all.slice(start..end);
            start = end;
            m
        })
        .collect()
}

fn reserve_for(prefixes: &[Nlri], add_path: bool, room: usize, fixed: usize) -> BytesMut {
    let body: usize = prefixes.iter().map(|n| n.wire_len(add_path)).sum();
    BytesMut::with_capacity(body + (body / room.max(1) + 1) * fixed)
}

/// Announces `prefixes` of `family` with `attrs`.
///
/// IPv4 unicast with `next_hop: None` goes in the NLRI field and needs
/// `attrs.next_hop`; any other case goes in MP_REACH_NLRI with `next_hop`
/// (an IPv6 next hop for IPv4 is RFC 8950). Each returned item is one whole
/// message, header included.
pub fn pack_announcements(
    ctx: &CodecContext,
    attrs: &PathAttributes,
    family: Family,
    next_hop: Option<&MpNextHop>,
    prefixes: &[Nlri],
) -> Result<Vec<Bytes>, PackError> {
    check_family(family, prefixes)?;
    let add_path = ctx.add_path(family);
    let max = ctx.max_message_len();
    let max_entry = if family.afi == Afi::Ipv4 { 5 } else { 17 } + 4 * usize::from(add_path);
    let mut base = BytesMut::new();
    attrs.encode(ctx, &mut base);
    let mut ends = Vec::new();
    let mut i = 0;
    match next_hop {
        None if family == Family::IPV4_UNICAST => {
            if attrs.next_hop.is_none() {
                return Err(PackError::MissingNextHop { family });
            }
            let fixed = HEADER_LEN + LENGTH_FIELDS + base.len();
            let room = max.saturating_sub(fixed);
            if room < max_entry {
                return Err(PackError::AttributesTooLong {
                    len: base.len(),
                    max,
                });
            }
            let mut out = reserve_for(prefixes, add_path, room, fixed);
            while i < prefixes.len() {
                let f = Frame::begin(&mut out);
                out.put_u16(0);
                out.put_u16(base.len() as u16);
                out.put_slice(&base);
                fill(&mut out, prefixes, &mut i, add_path, room);
                f.finish(&mut out, &mut ends);
            }
            Ok(split(out, &ends))
        }
        None => Err(PackError::MissingNextHop { family }),
        Some(nh) => {
            let head = reach_head_len(nh);
            let fixed = HEADER_LEN + LENGTH_FIELDS + MP_ATTR_HEADER + head + base.len();
            let room = max.saturating_sub(fixed);
            if room < max_entry {
                return Err(PackError::AttributesTooLong {
                    len: base.len() + head,
                    max,
                });
            }
            let mut out = reserve_for(prefixes, add_path, room, fixed);
            while i < prefixes.len() {
                let f = Frame::begin(&mut out);
                out.put_u16(0);
                let alen_at = out.len();
                out.put_u16(0);
                out.put_u8(OPT_NON_TRANS | EXTENDED_LENGTH);
                out.put_u8(AttrType::MpReachNlri.into());
                let mplen_at = out.len();
                out.put_u16(0);
                put_reach_head(family, nh, &mut out);
                let used = fill(&mut out, prefixes, &mut i, add_path, room);
                patch_u16(&mut out, mplen_at, head + used);
                out.put_slice(&base);
                patch_u16(&mut out, alen_at, MP_ATTR_HEADER + head + used + base.len());
                f.finish(&mut out, &mut ends);
            }
            Ok(split(out, &ends))
        }
    }
}

/// Withdraws `prefixes` of `family`: the Withdrawn Routes field for IPv4
/// unicast, MP_UNREACH_NLRI otherwise.
pub fn pack_withdrawals(
    ctx: &CodecContext,
    family: Family,
    prefixes: &[Nlri],
) -> Result<Vec<Bytes>, PackError> {
    check_family(family, prefixes)?;
    let add_path = ctx.add_path(family);
    let max = ctx.max_message_len();
    let mut ends = Vec::new();
    let mut i = 0;
    if family == Family::IPV4_UNICAST {
        let fixed = HEADER_LEN + LENGTH_FIELDS;
        let room = max - fixed;
        let mut out = reserve_for(prefixes, add_path, room, fixed);
        while i < prefixes.len() {
            let f = Frame::begin(&mut out);
            let wlen_at = out.len();
            out.put_u16(0);
            let used = fill(&mut out, prefixes, &mut i, add_path, room);
            patch_u16(&mut out, wlen_at, used);
            out.put_u16(0);
            f.finish(&mut out, &mut ends);
        }
        return Ok(split(out, &ends));
    }
    let fixed = HEADER_LEN + LENGTH_FIELDS + MP_ATTR_HEADER + 3;
    let room = max - fixed;
    let mut out = reserve_for(prefixes, add_path, room, fixed);
    while i < prefixes.len() {
        let f = Frame::begin(&mut out);
        out.put_u16(0);
        let alen_at = out.len();
        out.put_u16(0);
        out.put_u8(OPT_NON_TRANS | EXTENDED_LENGTH);
        out.put_u8(AttrType::MpUnreachNlri.into());
        let mplen_at = out.len();
        out.put_u16(0);
        out.put_u16(family.afi.into());
        out.put_u8(family.safi.into());
        let used = fill(&mut out, prefixes, &mut i, add_path, room);
        patch_u16(&mut out, mplen_at, 3 + used);
        patch_u16(&mut out, alen_at, MP_ATTR_HEADER + 3 + used);
        f.finish(&mut out, &mut ends);
    }
    Ok(split(out, &ends))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::attribute::{AsPath, Origin};
    use crate::bgp::message::Message;
    use crate::bgp::update::Update;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ctx() -> CodecContext {
        CodecContext {
            four_octet_as: true,
            ..Default::default()
        }
    }

    fn attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([65001])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Default::default()
        }
    }

    fn v4_24s(n: u32) -> Vec<Nlri> {
        (0..n)
            .map(|i| {
                let a = Ipv4Addr::from((10u32 << 24) | (i << 8));
                Nlri::new(IpNet::V4(ipnet::Ipv4Net::new(a, 24).unwrap()))
            })
            .collect()
    }

    fn v6_48s(n: u32) -> Vec<Nlri> {
        (0..n)
            .map(|i| {
                let a = Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(i) << 80));
                Nlri::new(IpNet::V6(ipnet::Ipv6Net::new(a, 48).unwrap()))
            })
            .collect()
    }

    fn decode_all(msgs: &[Bytes], ctx: &CodecContext) -> Vec<Update> {
        msgs.iter()
            .map(|m| {
                assert!(m.len() <= ctx.max_message_len());
                match Message::decode(m, ctx).unwrap() {
                    Message::Update(u) => {
                        assert!(u.errors.is_empty(), "{:?}", u.errors);
                        u
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    }

    #[test]
    fn ipv4_announcements_fill_messages_minimally() {
        let c = ctx();
        let p = v4_24s(3000);
        let msgs = pack_announcements(&c, &attrs(), Family::IPV4_UNICAST, None, &p).unwrap();
        let mut base = BytesMut::new();
        attrs().encode(&c, &mut base);
        let per = (4096 - HEADER_LEN - 4 - base.len()) / 4;
        assert_eq!(msgs.len(), p.len().div_ceil(per));
        assert!(msgs[..msgs.len() - 1].iter().all(|m| m.len() + 4 > 4096));
        let ups = decode_all(&msgs, &c);
        let got: Vec<Nlri> = ups.iter().flat_map(|u| u.nlri.iter().copied()).collect();
        assert_eq!(got, p);
        assert!(ups.iter().all(|u| *u.attributes == attrs()));
    }

    #[test]
    fn ipv6_announcements_in_mp_reach() {
        let c = CodecContext {
            add_path: vec![Family::IPV6_UNICAST],
            ..ctx()
        };
        let p: Vec<Nlri> = v6_48s(1000)
            .into_iter()
            .enumerate()
            .map(|(i, n)| Nlri {
                path_id: Some(i as u32),
                ..n
            })
            .collect();
        let nh = MpNextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        let mut a = attrs();
        a.next_hop = None;
        let msgs = pack_announcements(&c, &a, Family::IPV6_UNICAST, Some(&nh), &p).unwrap();
        let mut base = BytesMut::new();
        a.encode(&c, &mut base);
        let per = (4096 - HEADER_LEN - 4 - 4 - 5 - 32 - base.len()) / (4 + 1 + 6);
        assert_eq!(msgs.len(), p.len().div_ceil(per));
        let ups = decode_all(&msgs, &c);
        let got: Vec<Nlri> = ups
            .iter()
            .flat_map(|u| u.announced().map(|(_, n)| *n))
            .collect();
        assert_eq!(got, p);
        assert!(
            ups.iter()
                .all(|u| u.mp_reach.as_ref().unwrap().next_hop == nh)
        );
    }

    #[test]
    fn ipv4_with_ipv6_next_hop_rfc8950_and_add_path() {
        let c = CodecContext {
            add_path: vec![Family::IPV4_UNICAST],
            ..ctx()
        };
        let p: Vec<Nlri> = v4_24s(2000)
            .into_iter()
            .map(|n| Nlri {
                path_id: Some(7),
                ..n
            })
            .collect();
        let nh = MpNextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let mut a = attrs();
        a.next_hop = None;
        let msgs = pack_announcements(&c, &a, Family::IPV4_UNICAST, Some(&nh), &p).unwrap();
        let ups = decode_all(&msgs, &c);
        assert!(ups.iter().all(|u| u.nlri.is_empty()));
        let got: Vec<(Family, Nlri)> = ups
            .iter()
            .flat_map(|u| u.announced().map(|(f, n)| (f, *n)).collect::<Vec<_>>())
            .collect();
        assert_eq!(got.len(), p.len());
        assert!(
            got.iter()
                .zip(&p)
                .all(|((f, n), want)| *f == Family::IPV4_UNICAST && n == want)
        );
        let per = (4096 - HEADER_LEN - 4 - 4 - 5 - 16 - {
            let mut b = BytesMut::new();
            a.encode(&c, &mut b);
            b.len()
        }) / 8;
        assert_eq!(msgs.len(), p.len().div_ceil(per));
    }

    #[test]
    fn withdrawals_both_families_and_extended_messages() {
        for c in [
            ctx(),
            CodecContext {
                extended_message: true,
                ..ctx()
            },
        ] {
            let p = v4_24s(20000);
            let msgs = pack_withdrawals(&c, Family::IPV4_UNICAST, &p).unwrap();
            let per = (c.max_message_len() - HEADER_LEN - 4) / 4;
            assert_eq!(msgs.len(), p.len().div_ceil(per));
            let got: Vec<Nlri> = decode_all(&msgs, &c)
                .iter()
                .flat_map(|u| u.withdrawn.clone())
                .collect();
            assert_eq!(got, p);

            let p = v6_48s(5000);
            let msgs = pack_withdrawals(&c, Family::IPV6_UNICAST, &p).unwrap();
            let per = (c.max_message_len() - HEADER_LEN - 4 - 4 - 3) / 7;
            assert_eq!(msgs.len(), p.len().div_ceil(per));
            let got: Vec<Nlri> = decode_all(&msgs, &c)
                .iter()
                .flat_map(|u| u.withdrawals().map(|(_, n)| *n).collect::<Vec<_>>())
                .collect();
            assert_eq!(got, p);
        }
    }

    #[test]
    fn errors() {
        let c = ctx();
        assert!(
            pack_withdrawals(&c, Family::IPV4_UNICAST, &[])
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            pack_withdrawals(&c, Family::IPV4_UNICAST, &v6_48s(1)),
            Err(PackError::WrongFamily { .. })
        ));
        let mut a = attrs();
        a.next_hop = None;
        assert!(matches!(
            pack_announcements(&c, &a, Family::IPV4_UNICAST, None, &v4_24s(1)),
            Err(PackError::MissingNextHop { .. })
        ));
        a.unknown.push(crate::bgp::attribute::RawAttribute {
            flags: 0xc0,
            type_code: 200,
            value: vec![0; 4090],
        });
        a.next_hop = Some(Ipv4Addr::new(192, 0, 2, 1));
        assert!(matches!(
            pack_announcements(&c, &a, Family::IPV4_UNICAST, None, &v4_24s(1)),
            Err(PackError::AttributesTooLong { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn mixed_lengths_round_trip(p in proptest::collection::vec(crate::bgp::nlri::strategy::nlri(Afi::Ipv4, false), 0..3000)) {
            let c = ctx();
            let msgs = pack_announcements(&c, &attrs(), Family::IPV4_UNICAST, None, &p).unwrap();
            let ups = decode_all(&msgs, &c);
            let got: Vec<Nlri> = ups.iter().flat_map(|u| u.nlri.iter().copied()).collect();
            prop_assert_eq!(&got, &p);
            // Greedy filling: no message could have taken the next prefix.
            let mut next = 0;
            for (m, u) in msgs.iter().zip(&ups) {
                next += u.nlri.len();
                if let Some(n) = p.get(next) {
                    prop_assert!(m.len() + n.wire_len(false) > c.max_message_len());
                }
            }
        }
    }
}
