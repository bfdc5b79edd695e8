//! MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), optional non-transitive (RFC 4760 §3-4, RFC 2545, RFC 8950).
//!
//! ```text
//! MP_REACH_NLRI                                    MP_UNREACH_NLRI
//! +---------------------------------------------+  +-------------------------------+
//! | Address Family Identifier (2 octets)        |  | AFI (2 octets)                |
//! +---------------------------------------------+  +-------------------------------+
//! | Subsequent Address Family Identifier (1)    |  | SAFI (1 octet)                |
//! +---------------------------------------------+  +-------------------------------+
//! | Length of Next Hop Network Address (1)      |  | Withdrawn Routes (variable)   |
//! +---------------------------------------------+  +-------------------------------+
//! | Network Address of Next Hop (variable)      |
//! +---------------------------------------------+
//! | Reserved (1 octet)                          |
//! +---------------------------------------------+
//! | Network Layer Reachability Information (var)|
//! +---------------------------------------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::bytes::complete::take;
use nom::combinator::{map, rest};
use nom::number::complete::{be_u8, be_u16, be_u32, be_u128};

use super::AttrType;
use super::error::{AttrFailure, AttrResult};
use super::flags::{OPT_NON_TRANS, RawSlice, put_with};
use super::parser::{AttrError, AttrIResult, fail, finish, whole};
use crate::bgp::context::CodecContext;
use crate::bgp::nlri::{self, Nlri};
use crate::bgp::notification::{Notification, UpdateError};
use crate::bgp::types::{Afi, Family, Safi};

/// The next hop of an MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpNextHop {
    /// 4 octets (IPv4 unicast in MP_REACH).
    V4(Ipv4Addr),
    /// 16 octets global, or 32 with a link-local address after it
    /// (RFC 2545 §3); also valid for IPv4 NLRI (RFC 8950 §3).
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// Families this codec does not interpret, kept as received.
    Raw(Vec<u8>),
}

impl MpNextHop {
    fn wire_len(&self) -> usize {
        match self {
            MpNextHop::V4(_) => 4,
            MpNextHop::V6 {
                link_local: None, ..
            } => 16,
            MpNextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
            MpNextHop::Raw(v) => v.len(),
        }
    }
}

/// NLRI inside an MP_* attribute: prefixes for IPv4/IPv6 unicast, raw
/// octets for any other family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpNlri {
    Prefixes(Vec<Nlri>),
    Raw(Vec<u8>),
}

impl MpNlri {
    /// The empty NLRI of the representation `family` decodes to.
    pub fn empty_for(family: Family) -> Self {
        if is_prefix_family(family) {
            MpNlri::Prefixes(Vec::new())
        } else {
            MpNlri::Raw(Vec::new())
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            MpNlri::Prefixes(v) => v.is_empty(),
            MpNlri::Raw(v) => v.is_empty(),
        }
    }

    pub fn prefixes(&self) -> &[Nlri] {
        match self {
            MpNlri::Prefixes(v) => v,
            MpNlri::Raw(_) => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub family: Family,
    pub next_hop: MpNextHop,
    pub nlri: MpNlri,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: MpNlri,
}

/// Families whose NLRI this codec parses as prefixes.
pub fn is_prefix_family(family: Family) -> bool {
    family.safi == Safi::Unicast && matches!(family.afi, Afi::Ipv4 | Afi::Ipv6)
}

/// AFI (2 octets) and SAFI (1 octet), the start of both attributes.
fn family(input: &[u8]) -> AttrIResult<'_, Family> {
    map((be_u16, be_u8), |(afi, safi)| {
        Family::new(Afi::from(afi), Safi::from(safi))
    })
    .parse(input)
}

/// The one outcome of every malformation below: "session reset" with
/// UPDATE Message Error / Optional Attribute Error and the attribute as
/// data (RFC 4760 §7, RFC 4271 §6.3).
fn reset_with(raw: RawSlice<'_>) -> impl Fn(usize) -> AttrFailure + '_ {
    move |_| {
        AttrFailure::Reset(Notification::update(
            UpdateError::OptionalAttributeError,
            raw.whole,
        ))
    }
}

/// The next hop of a prefix family, by its length (RFC 2545 §3, RFC 8950 §3).
fn next_hop(afi: Afi, nh: &[u8]) -> AttrIResult<'_, MpNextHop> {
    let v6 = |global: u128, link_local: Option<u128>| MpNextHop::V6 {
        global: Ipv6Addr::from(global),
        link_local: link_local.map(Ipv6Addr::from),
    };
    match (afi, nh.len()) {
        (Afi::Ipv4, 4) => map(be_u32, |a| MpNextHop::V4(Ipv4Addr::from(a))).parse(nh),
        (_, 16) => map(be_u128, |g| v6(g, None)).parse(nh),
        (_, 32) => map((be_u128, be_u128), |(g, l)| v6(g, Some(l))).parse(nh),
        // Leaves a syntax error for `whole` to turn into the reset.
        _ => Err(nom::Err::Error(AttrError::Syntax(
            nom::error::ErrorKind::LengthValue,
        ))),
    }
}

/// Prefix NLRI of `family` filling the rest of the value.
fn prefixes<'a>(
    family: Family,
    ctx: &CodecContext,
    raw: RawSlice<'_>,
    input: &'a [u8],
) -> AttrIResult<'a, Vec<Nlri>> {
    match nlri::decode(family.afi, ctx.add_path(family), input) {
        Ok(p) => Ok((&input[input.len()..], p)),
        Err(_) => fail(reset_with(raw)(input.len())),
    }
}

/// RFC 7606 §7.11: "If the Length of Next Hop Network Address field of the
/// MP_REACH attribute is inconsistent with that which was expected, the
/// attribute is considered malformed. Since the next hop precedes the NLRI
/// field in the attribute, in this case it will not be possible to reliably
/// locate the NLRI; thus, the 'session reset' or 'AFI/SAFI disable'
/// approach MUST be used." NLRI that cannot be parsed likewise
/// (RFC 7606 §3(j), §5.3). The NOTIFICATION is UPDATE Message Error /
/// Optional Attribute Error with the attribute as data (RFC 4760 §7,
/// RFC 4271 §6.3).
pub(crate) fn parse_reach<'a>(raw: RawSlice<'a>, ctx: &CodecContext) -> AttrIResult<'a, MpReach> {
    let reach = |input: &'a [u8]| {
        let (input, family) = family(input)?;
        let (input, nh) = be_u8.flat_map(take).parse(input)?;
        // The Reserved octet "MUST be ignored upon receipt" (RFC 4760 §3).
        let (input, _reserved) = be_u8(input)?;
        if !is_prefix_family(family) {
            let (input, body) = rest(input)?;
            let reach = MpReach {
                family,
                next_hop: MpNextHop::Raw(nh.to_vec()),
                nlri: MpNlri::Raw(body.to_vec()),
            };
            return Ok((input, reach));
        }
        let (_, next_hop) = whole(|nh| next_hop(family.afi, nh), reset_with(raw)).parse(nh)?;
        let (input, p) = prefixes(family, ctx, raw, input)?;
        let reach = MpReach {
            family,
            next_hop,
            nlri: MpNlri::Prefixes(p),
        };
        Ok((input, reach))
    };
    whole(reach, reset_with(raw)).parse(raw.value)
}

pub(crate) fn decode_reach(raw: RawSlice<'_>, ctx: &CodecContext) -> AttrResult<MpReach> {
    finish(parse_reach(raw, ctx))
}

/// MP_UNREACH_NLRI: as for MP_REACH_NLRI, withdrawn routes that cannot be
/// parsed leave "session reset" (RFC 7606 §3(j), §5.3).
pub(crate) fn parse_unreach<'a>(
    raw: RawSlice<'a>,
    ctx: &CodecContext,
) -> AttrIResult<'a, MpUnreach> {
    let unreach = |input: &'a [u8]| {
        let (input, family) = family(input)?;
        if !is_prefix_family(family) {
            let (input, body) = rest(input)?;
            let withdrawn = MpNlri::Raw(body.to_vec());
            return Ok((input, MpUnreach { family, withdrawn }));
        }
        let (input, p) = prefixes(family, ctx, raw, input)?;
        let withdrawn = MpNlri::Prefixes(p);
        Ok((input, MpUnreach { family, withdrawn }))
    };
    whole(unreach, reset_with(raw)).parse(raw.value)
}

pub(crate) fn decode_unreach(raw: RawSlice<'_>, ctx: &CodecContext) -> AttrResult<MpUnreach> {
    finish(parse_unreach(raw, ctx))
}

/// AFI, SAFI, next hop length, next hop and the Reserved octet: everything
/// in MP_REACH_NLRI before the NLRI.
pub(crate) fn put_reach_head(family: Family, next_hop: &MpNextHop, b: &mut impl BufMut) {
    b.put_u16(family.afi.into());
    b.put_u8(family.safi.into());
    b.put_u8(next_hop.wire_len() as u8);
    match next_hop {
        MpNextHop::V4(a) => b.put_slice(&a.octets()),
        MpNextHop::V6 { global, link_local } => {
            b.put_slice(&global.octets());
            if let Some(ll) = link_local {
                b.put_slice(&ll.octets());
            }
        }
        MpNextHop::Raw(v) => b.put_slice(v),
    }
    b.put_u8(0);
}

/// Octets of [`put_reach_head`].
pub(crate) fn reach_head_len(next_hop: &MpNextHop) -> usize {
    5 + next_hop.wire_len()
}

fn put_nlri(n: &MpNlri, family: Family, ctx: &CodecContext, b: &mut BytesMut) {
    match n {
        MpNlri::Prefixes(p) => nlri::encode_all(p, ctx.add_path(family), b),
        MpNlri::Raw(v) => b.put_slice(v),
    }
}

pub(crate) fn encode_reach(r: &MpReach, ctx: &CodecContext, buf: &mut BytesMut) {
    put_with(buf, OPT_NON_TRANS, AttrType::MpReachNlri.into(), |b| {
        put_reach_head(r.family, &r.next_hop, b);
        put_nlri(&r.nlri, r.family, ctx, b);
    });
}

pub(crate) fn encode_unreach(u: &MpUnreach, ctx: &CodecContext, buf: &mut BytesMut) {
    put_with(buf, OPT_NON_TRANS, AttrType::MpUnreachNlri.into(), |b| {
        b.put_u16(u.family.afi.into());
        b.put_u8(u.family.safi.into());
        put_nlri(&u.withdrawn, u.family, ctx, b);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::attribute::error::AttrFailure;
    use crate::bgp::attribute::flags::cut;

    fn ctx() -> CodecContext {
        CodecContext::default()
    }

    #[test]
    fn ipv6_with_link_local() {
        // FRR-style: AFI 2 SAFI 1, NH len 32 (2001:db8::1, fe80::1), reserved, 2001:db8:1::/48
        let mut v = vec![0x80, 14, 0, 0, 2, 1, 32];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        v[2] = (v.len() - 3) as u8;
        let (raw, _) = cut(&v).unwrap();
        let r = decode_reach(raw, &ctx()).unwrap();
        assert_eq!(r.family, Family::IPV6_UNICAST);
        assert_eq!(
            r.next_hop,
            MpNextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: Some("fe80::1".parse().unwrap())
            }
        );
        assert_eq!(
            r.nlri.prefixes()[0].prefix,
            "2001:db8:1::/48".parse().unwrap()
        );
        let mut b = BytesMut::new();
        encode_reach(&r, &ctx(), &mut b);
        assert_eq!(&b[..], &v[..]);
    }

    #[test]
    fn ipv4_nlri_with_ipv6_next_hop_rfc8950() {
        let mut v = vec![0x80, 14, 0, 0, 1, 1, 16];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[0, 24, 192, 0, 2]);
        v[2] = (v.len() - 3) as u8;
        let (raw, _) = cut(&v).unwrap();
        let r = decode_reach(raw, &ctx()).unwrap();
        assert_eq!(r.family, Family::IPV4_UNICAST);
        assert!(matches!(
            r.next_hop,
            MpNextHop::V6 {
                link_local: None,
                ..
            }
        ));
    }

    #[test]
    fn unknown_family_kept_raw_and_bad_next_hop_len_resets() {
        let v = [0x80, 14, 9, 0, 25, 65, 2, 1, 2, 0, 9, 9];
        let (raw, _) = cut(&v).unwrap();
        let r = decode_reach(raw, &ctx()).unwrap();
        assert_eq!(r.next_hop, MpNextHop::Raw(vec![1, 2]));
        assert_eq!(r.nlri, MpNlri::Raw(vec![9, 9]));
        let v = [0x80, 14, 8, 0, 2, 1, 2, 1, 2, 0, 0];
        let (raw, _) = cut(&v).unwrap();
        assert!(matches!(
            decode_reach(raw, &ctx()),
            Err(AttrFailure::Reset(_))
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::bgp::attribute::flags::cut;
    use crate::bgp::nlri::strategy::nlri;
    use proptest::prelude::*;

    fn next_hop(afi: Afi) -> BoxedStrategy<MpNextHop> {
        let v6 =
            (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, l)| MpNextHop::V6 {
                global: Ipv6Addr::from(g),
                link_local: l.map(Ipv6Addr::from),
            });
        if afi == Afi::Ipv4 {
            prop_oneof![
                any::<u32>().prop_map(|a| MpNextHop::V4(Ipv4Addr::from(a))),
                v6
            ]
            .boxed()
        } else {
            v6.boxed()
        }
    }

    fn reach() -> impl Strategy<Value = (MpReach, bool)> {
        (
            proptest::sample::select(vec![Afi::Ipv4, Afi::Ipv6]),
            any::<bool>(),
        )
            .prop_flat_map(|(afi, ap)| {
                (
                    next_hop(afi),
                    proptest::collection::vec(nlri(afi, ap), 0..20),
                )
                    .prop_map(move |(nh, p)| {
                        let family = Family::new(afi, Safi::Unicast);
                        (
                            MpReach {
                                family,
                                next_hop: nh,
                                nlri: MpNlri::Prefixes(p),
                            },
                            ap,
                        )
                    })
            })
    }

    proptest! {
        #[test]
        fn mp_reach_and_unreach_round_trip((r, ap) in reach()) {
            let ctx = CodecContext { add_path: if ap { vec![r.family] } else { vec![] }, ..Default::default() };
            let mut b = BytesMut::new();
            encode_reach(&r, &ctx, &mut b);
            let (raw, _) = cut(&b).unwrap();
            prop_assert_eq!(decode_reach(raw, &ctx).unwrap(), r.clone());
            let u = MpUnreach { family: r.family, withdrawn: r.nlri.clone() };
            let mut b = BytesMut::new();
            encode_unreach(&u, &ctx, &mut b);
            let (raw, _) = cut(&b).unwrap();
            prop_assert_eq!(decode_unreach(raw, &ctx).unwrap(), u);
        }

        #[test]
        fn raw_families_round_trip(nh in proptest::collection::vec(any::<u8>(), 0..40), body in proptest::collection::vec(any::<u8>(), 0..40)) {
            let r = MpReach { family: Family::new(Afi::Unknown(25), Safi::Unknown(65)), next_hop: MpNextHop::Raw(nh), nlri: MpNlri::Raw(body) };
            let ctx = CodecContext::default();
            let mut b = BytesMut::new();
            encode_reach(&r, &ctx, &mut b);
            let (raw, _) = cut(&b).unwrap();
            prop_assert_eq!(decode_reach(raw, &ctx).unwrap(), r);
        }
    }
}
