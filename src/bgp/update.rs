//! UPDATE messages (RFC 4271 §4.3) with RFC 7606 revised error handling and End-of-RIB (RFC 4724 §2).
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```
//!
//! [`Update::decode`] returns only validated updates: "session reset" is
//! `Err(Notification)`, "treat-as-withdraw" has already turned every
//! announcement into a withdrawal, and discarded attributes are gone; both
//! are listed in [`Update::errors`] for logging.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::be_u16;

use super::attribute::{
    self, Action, AttrType, AttributeError, MpNlri, MpReach, MpUnreach, PathAttributes, Reason,
    mp_reach,
};
use super::context::CodecContext;
use super::nlri::{self, Nlri};
use super::notification::{Notification, UpdateError};
use super::types::{Afi, Family};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// IPv4 unicast prefixes of the Withdrawn Routes field.
    pub withdrawn: Vec<Nlri>,
    /// Shared: a RIB keeps one copy per attribute set, not per prefix.
    pub attributes: Arc<PathAttributes>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// IPv4 unicast prefixes of the NLRI field.
    pub nlri: Vec<Nlri>,
    /// Non-fatal errors found on decode (always empty for updates built
    /// locally). If any has [`Action::TreatAsWithdraw`], the announcements
    /// have been moved to the withdrawals already.
    pub errors: Vec<AttributeError>,
}

fn malformed_list() -> Notification {
    Notification::update(UpdateError::MalformedAttributeList, [])
}

/// The three fields of the body: Withdrawn Routes and Path Attributes, each
/// behind its 2-octet length, then the NLRI as the rest. The error carries
/// nothing: any failure is the one RFC 7606 §3(b) outcome.
fn fields(body: &[u8]) -> nom::IResult<&[u8], (&[u8], &[u8]), ()> {
    let field = || be_u16.flat_map(take);
    (field(), field()).parse(body)
}

impl Update {
    /// The End-of-RIB marker of `family` (RFC 4724 §2): an empty UPDATE for
    /// IPv4 unicast, otherwise an UPDATE holding only an empty
    /// MP_UNREACH_NLRI.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            return Update::default();
        }
        Update {
            mp_unreach: Some(MpUnreach {
                family,
                withdrawn: MpNlri::empty_for(family),
            }),
            ..Update::default()
        }
    }

    /// The family this UPDATE marks the End-of-RIB of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty()
            || !self.nlri.is_empty()
            || self.mp_reach.is_some()
            || !self.attributes.is_empty()
        {
            return None;
        }
        match &self.mp_unreach {
            None => Some(Family::IPV4_UNICAST),
            Some(u) if u.withdrawn.is_empty() => Some(u.family),
            Some(_) => None,
        }
    }

    /// Whether RFC 7606 treat-as-withdraw was applied on decode.
    pub fn treated_as_withdraw(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.action == Action::TreatAsWithdraw)
    }

    /// Every announced prefix with its family: the NLRI field, then
    /// MP_REACH_NLRI.
    pub fn announced(&self) -> impl Iterator<Item = (Family, &Nlri)> + '_ {
        let mp = self
            .mp_reach
            .iter()
            .flat_map(|r| r.nlri.prefixes().iter().map(|n| (r.family, n)));
        self.nlri
            .iter()
            .map(|n| (Family::IPV4_UNICAST, n))
            .chain(mp)
    }

    /// Every withdrawn prefix with its family: the Withdrawn Routes field,
    /// then MP_UNREACH_NLRI.
    pub fn withdrawals(&self) -> impl Iterator<Item = (Family, &Nlri)> + '_ {
        let mp = self
            .mp_unreach
            .iter()
            .flat_map(|u| u.withdrawn.prefixes().iter().map(|n| (u.family, n)));
        self.withdrawn
            .iter()
            .map(|n| (Family::IPV4_UNICAST, n))
            .chain(mp)
    }

    /// Decodes an UPDATE body (after the 19-octet header).
    pub fn decode(body: &[u8], ctx: &CodecContext) -> Result<Update, Notification> {
        // RFC 7606 §3(b): "If the Withdrawn Routes Length or Total Attribute
        // Length is too large (i.e., if Withdrawn Routes Length + Total
        // Attribute Length + 23 exceeds the message Length), then the Error
        // Subcode MUST be set to Malformed Attribute List." (session reset:
        // the NLRI field cannot be located, RFC 7606 §4.)
        let (nlri_field, (withdrawn_field, attr_field)) =
            fields(body).map_err(|_| malformed_list())?;

        // RFC 7606 §3(i): "The Withdrawn Routes field MUST be checked for
        // syntactic correctness in the same manner as the NLRI field." and
        // §5.3: syntactically incorrect NLRI leaves "session reset"; RFC 4271
        // §6.3 names the subcode: Invalid Network Field.
        let v4_add_path = ctx.add_path(Family::IPV4_UNICAST);
        let invalid_network = |_| Notification::update(UpdateError::InvalidNetworkField, []);
        let withdrawn =
            nlri::decode(Afi::Ipv4, v4_add_path, withdrawn_field).map_err(invalid_network)?;
        let d = attribute::decode(attr_field, ctx)?;
        let nlri = nlri::decode(Afi::Ipv4, v4_add_path, nlri_field).map_err(invalid_network)?;

        let has_nlri = !nlri.is_empty() || d.mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
        let mut errors = d.errors;
        if has_nlri {
            // RFC 7606 §3(d): "If any of the well-known mandatory attributes
            // are not present in an UPDATE message, then 'treat-as-withdraw'
            // MUST be used. (Note that [RFC4760] reclassifies NEXT_HOP as
            // what is effectively discretionary.)" NEXT_HOP is mandatory only
            // for the NLRI field (RFC 4760 §3). An attribute that was present
            // but malformed is already recorded, so only absent ones count.
            let mut mandatory = vec![AttrType::Origin, AttrType::AsPath];
            if !nlri.is_empty() {
                mandatory.push(AttrType::NextHop);
            }
            for t in mandatory {
                if !d.seen.contains(t.into()) {
                    errors.push(AttributeError {
                        type_code: t.into(),
                        action: Action::TreatAsWithdraw,
                        reason: Reason::MissingWellKnown {
                            type_code: t.into(),
                        },
                    });
                }
            }
        }
        if !has_nlri && let Some(first) = errors.first() {
            // RFC 7606 §5.2: "if an UPDATE message is encountered that does
            // contain path attributes other than MP_UNREACH_NLRI and doesn't
            // encode any reachable NLRI, we cannot be confident that the NLRI
            // have been successfully parsed as Section 5.3 requires. For this
            // reason, if any path attribute errors are encountered in such an
            // UPDATE message and if any encountered error specifies an error
            // handling approach other than 'session reset', then the error
            // handling approach MUST be 'treat-as-withdraw'."
            let type_code = first.type_code;
            errors.push(AttributeError {
                type_code,
                action: Action::TreatAsWithdraw,
                reason: Reason::ErrorWithoutNlri,
            });
        }
        let mut u = Update {
            withdrawn,
            attributes: Arc::new(d.attrs),
            mp_reach: d.mp_reach,
            mp_unreach: d.mp_unreach,
            nlri,
            errors,
        };
        if u.treated_as_withdraw() {
            u.apply_treat_as_withdraw();
        }
        Ok(u)
    }

    /// RFC 7606 §2: "treat-as-withdraw": "the UPDATE message containing the
    /// path attribute in question MUST be treated as though all contained
    /// routes had been withdrawn just as if they had been listed in the
    /// WITHDRAWN ROUTES field (or in the MP_UNREACH_NLRI attribute if
    /// appropriate) of the UPDATE message".
    fn apply_treat_as_withdraw(&mut self) {
        self.attributes = Arc::default();
        self.withdrawn.append(&mut self.nlri);
        let Some(reach) = self.mp_reach.take() else {
            return;
        };
        let MpNlri::Prefixes(mut prefixes) = reach.nlri else {
            self.errors.push(AttributeError {
                type_code: AttrType::MpReachNlri.into(),
                action: Action::Discard,
                reason: Reason::RawMpReachDropped,
            });
            return;
        };
        if reach.family == Family::IPV4_UNICAST {
            self.withdrawn.append(&mut prefixes);
            return;
        }
        match &mut self.mp_unreach {
            Some(MpUnreach {
                family,
                withdrawn: MpNlri::Prefixes(w),
            }) if *family == reach.family => {
                w.append(&mut prefixes);
            }
            other => {
                // Only one MP_UNREACH_NLRI fits an UPDATE: an IPv4 one goes
                // to the Withdrawn Routes field, which means the same.
                if let Some(MpUnreach {
                    family,
                    withdrawn: MpNlri::Prefixes(w),
                }) = other
                    && *family == Family::IPV4_UNICAST
                {
                    self.withdrawn.append(w);
                }
                *other = Some(MpUnreach {
                    family: reach.family,
                    withdrawn: MpNlri::Prefixes(prefixes),
                });
            }
        }
    }

    /// Appends the body: MP_REACH_NLRI and MP_UNREACH_NLRI first among the
    /// attributes (RFC 7606 §5.1: they "SHALL be encoded as the very first
    /// path attribute"), the rest in type-code order.
    pub fn encode_body(&self, ctx: &CodecContext, buf: &mut BytesMut) {
        let v4_add_path = ctx.add_path(Family::IPV4_UNICAST);
        let wpos = buf.len();
        buf.put_u16(0);
        nlri::encode_all(&self.withdrawn, v4_add_path, buf);
        let wlen = buf.len() - wpos - 2;
        buf[wpos..wpos + 2].copy_from_slice(&(wlen as u16).to_be_bytes());
        let apos = buf.len();
        buf.put_u16(0);
        if let Some(r) = &self.mp_reach {
            mp_reach::encode_reach(r, ctx, buf);
        }
        if let Some(u) = &self.mp_unreach {
            mp_reach::encode_unreach(u, ctx, buf);
        }
        self.attributes.encode(ctx, buf);
        let alen = buf.len() - apos - 2;
        buf[apos..apos + 2].copy_from_slice(&(alen as u16).to_be_bytes());
        nlri::encode_all(&self.nlri, v4_add_path, buf);
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use crate::bgp::attribute::as_path::strategy::as_path;
    use crate::bgp::attribute::{
        Aggregator, Community, ExtendedCommunity, LargeCommunity, MpNextHop, Origin, RawAttribute,
    };
    use crate::bgp::nlri::strategy::nlri;
    use crate::bgp::types::{Asn, RouterId};
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn host_v4() -> impl Strategy<Value = Ipv4Addr> {
        (1u8..224, any::<[u8; 3]>()).prop_map(|(a, r)| Ipv4Addr::new(a, r[0], r[1], r[2]))
    }

    pub fn attributes() -> impl Strategy<Value = PathAttributes> {
        let origin = proptest::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]);
        let agg = (any::<u32>(), any::<[u8; 4]>()).prop_map(|(a, ip)| Aggregator {
            asn: Asn(a),
            address: Ipv4Addr::from(ip),
        });
        let unknown = btree_map(100u8..=200, vec(any::<u8>(), 0..10), 0..3).prop_map(|m| {
            m.into_iter()
                .map(|(t, v)| RawAttribute {
                    flags: 0xe0,
                    type_code: t,
                    value: v,
                })
                .collect::<Vec<_>>()
        });
        (
            (
                proptest::option::of(origin),
                proptest::option::of(as_path()),
                proptest::option::of(host_v4()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
                any::<bool>(),
                proptest::option::of(agg),
            ),
            (
                proptest::option::of(vec(any::<u32>().prop_map(Community), 1..5)),
                proptest::option::of(any::<u32>().prop_map(RouterId::from)),
                proptest::option::of(vec(any::<[u8; 4]>().prop_map(Ipv4Addr::from), 1..4)),
                proptest::option::of(vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..4)),
                proptest::option::of(vec(
                    any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity {
                        global_admin: a,
                        local1: b,
                        local2: c,
                    }),
                    1..4,
                )),
                unknown,
            ),
        )
            .prop_map(
                |((o, p, nh, med, lp, aa, agg), (c, oid, cl, ec, lc, unknown))| PathAttributes {
                    partial: partial_for(&agg, &c, &lc),
                    origin: o,
                    as_path: p,
                    next_hop: nh,
                    med,
                    local_pref: lp,
                    atomic_aggregate: aa,
                    aggregator: agg,
                    communities: c,
                    originator_id: oid,
                    cluster_list: cl,
                    extended_communities: ec,
                    large_communities: lc,
                    unknown,
                },
            )
    }

    /// Canonical Partial bits: only on optional transitive attributes that
    /// are present, chosen by a bit of their own value.
    fn partial_for(
        agg: &Option<Aggregator>,
        c: &Option<Vec<Community>>,
        lc: &Option<Vec<LargeCommunity>>,
    ) -> crate::bgp::attribute::AttrTypeSet {
        let mut set = crate::bgp::attribute::AttrTypeSet::default();
        if agg.is_some_and(|a| a.asn.0 & 1 == 1) {
            set.insert(7);
        }
        if c.as_ref().is_some_and(|c| c[0].0 & 1 == 1) {
            set.insert(8);
        }
        if lc.as_ref().is_some_and(|l| l[0].local2 & 1 == 1) {
            set.insert(32);
        }
        set
    }

    /// Canonical updates for an iBGP session without ADD-PATH: whenever
    /// something is announced, the mandatory attributes are there.
    pub fn update() -> impl Strategy<Value = Update> {
        let v6nh =
            (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, l)| MpNextHop::V6 {
                global: Ipv6Addr::from(g),
                link_local: l.map(Ipv6Addr::from),
            });
        let reach = proptest::option::of((v6nh, vec(nlri(Afi::Ipv6, false), 0..10)).prop_map(
            |(nh, p)| MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: nh,
                nlri: MpNlri::Prefixes(p),
            },
        ));
        let unreach =
            proptest::option::of(vec(nlri(Afi::Ipv6, false), 0..10).prop_map(|p| MpUnreach {
                family: Family::IPV6_UNICAST,
                withdrawn: MpNlri::Prefixes(p),
            }));
        (
            vec(nlri(Afi::Ipv4, false), 0..20),
            attributes(),
            reach,
            unreach,
            vec(nlri(Afi::Ipv4, false), 0..20),
        )
            .prop_map(|(withdrawn, mut attributes, mp_reach, mp_unreach, nlri)| {
                let announces =
                    !nlri.is_empty() || mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
                if announces {
                    attributes.origin.get_or_insert(Origin::Igp);
                    attributes.as_path.get_or_insert_with(AsPath::default);
                }
                if !nlri.is_empty() {
                    attributes
                        .next_hop
                        .get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
                }
                Update {
                    withdrawn,
                    attributes: Arc::new(attributes),
                    mp_reach,
                    mp_unreach,
                    nlri,
                    errors: vec![],
                }
            })
    }

    use crate::bgp::attribute::AsPath;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::attribute::{
        AsPath, AsSegment, Community, MpNextHop, Origin, RawAttribute, SegmentType,
        WellKnownCommunity,
    };
    use crate::bgp::context::PeerRelation;
    use crate::bgp::notification::ErrorCode;
    use crate::bgp::types::{Asn, Safi};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn attr(flags: u8, t: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![flags, t];
        if flags & 0x10 != 0 {
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        } else {
            out.push(v.len() as u8);
        }
        out.extend_from_slice(v);
        out
    }

    fn body(w: &[u8], a: &[u8], n: &[u8]) -> Vec<u8> {
        let mut out = (w.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(w);
        out.extend_from_slice(&(a.len() as u16).to_be_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(n);
        out
    }

    const ORIGIN: [u8; 4] = [0x40, 1, 1, 0];
    /// AS_PATH: AS_SEQUENCE 65001, 4-octet.
    const AS_PATH: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
    const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 1];
    /// 198.18.0.0/24
    const NLRI: [u8; 4] = [24, 198, 18, 0];

    fn base() -> Vec<u8> {
        [&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat()
    }

    fn with(extra: &[u8]) -> Vec<u8> {
        body(&[], &[base(), extra.to_vec()].concat(), &NLRI)
    }

    fn ibgp() -> CodecContext {
        CodecContext {
            four_octet_as: true,
            ..Default::default()
        }
    }

    fn ebgp() -> CodecContext {
        CodecContext {
            four_octet_as: true,
            peer: PeerRelation::External {
                peer_asn: Asn(65001),
            },
            ..Default::default()
        }
    }

    fn prefix() -> Nlri {
        Nlri::new("198.18.0.0/24".parse().unwrap())
    }

    #[track_caller]
    fn assert_withdraw(b: &[u8], ctx: &CodecContext, type_code: u8) -> Update {
        let u = Update::decode(b, ctx).unwrap();
        assert!(u.treated_as_withdraw(), "{u:?}");
        assert!(u.nlri.is_empty() && u.mp_reach.is_none());
        assert!(u.attributes.is_empty());
        assert!(
            u.errors
                .iter()
                .any(|e| e.type_code == type_code && e.action == Action::TreatAsWithdraw),
            "{:?}",
            u.errors
        );
        u
    }

    #[track_caller]
    fn assert_discard(b: &[u8], ctx: &CodecContext, type_code: u8) -> Update {
        let u = Update::decode(b, ctx).unwrap();
        assert!(!u.treated_as_withdraw(), "{:?}", u.errors);
        assert_eq!(u.nlri, vec![prefix()]);
        assert!(
            u.errors
                .iter()
                .any(|e| e.type_code == type_code && e.action == Action::Discard),
            "{:?}",
            u.errors
        );
        u
    }

    #[track_caller]
    fn assert_reset(b: &[u8], ctx: &CodecContext, sub: UpdateError, data: &[u8]) {
        let n = Update::decode(b, ctx).unwrap_err();
        assert_eq!(n.error, ErrorCode::Update(sub));
        assert_eq!(n.data, data);
    }

    // ---- RFC 4271 §4.3 and typical updates ----

    #[test]
    fn bird_style_ipv4_update() {
        // ORIGIN IGP, AS_PATH 65001, NEXT_HOP 192.0.2.1, MED 0, COMMUNITIES
        // 65001:100 + NO_EXPORT, two prefixes; one withdrawn.
        let comm = attr(0xc0, 8, &[0xfd, 0xe9, 0, 100, 0xff, 0xff, 0xff, 0x01]);
        let med = attr(0x80, 4, &[0, 0, 0, 0]);
        let a = [base(), med, comm].concat();
        let b = body(&[16, 10, 1], &a, &[24, 198, 18, 0, 32, 198, 18, 1, 1]);
        let u = Update::decode(&b, &ebgp()).unwrap();
        assert!(u.errors.is_empty(), "{:?}", u.errors);
        assert_eq!(u.withdrawn, vec![Nlri::new("10.1.0.0/16".parse().unwrap())]);
        assert_eq!(u.attributes.origin, Some(Origin::Igp));
        assert_eq!(u.attributes.as_path, Some(AsPath::sequence([65001])));
        assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(u.attributes.med, Some(0));
        let c = u.attributes.communities.as_ref().unwrap();
        assert_eq!(c[0], Community::new(65001, 100));
        assert_eq!(c[1].well_known(), Some(WellKnownCommunity::NoExport));
        assert_eq!(u.announced().count(), 2);
        assert_eq!(
            u.withdrawals().next(),
            Some((Family::IPV4_UNICAST, &u.withdrawn[0]))
        );
        let mut out = BytesMut::new();
        u.encode_body(&ebgp(), &mut out);
        assert_eq!(&out[..], &b[..]);
    }

    #[test]
    fn frr_style_ipv6_update_with_add_path() {
        let mut mp = vec![0, 2, 1, 32];
        mp.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        mp.extend_from_slice(&"fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        mp.extend_from_slice(&[0, 0, 0, 0, 1, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
        let a = [attr(0x90, 14, &mp), ORIGIN.to_vec(), AS_PATH.to_vec()].concat();
        let ctx = CodecContext {
            add_path: vec![Family::IPV6_UNICAST],
            ..ibgp()
        };
        let u = Update::decode(&body(&[], &a, &[]), &ctx).unwrap();
        assert!(u.errors.is_empty());
        let (fam, n) = u.announced().next().unwrap();
        assert_eq!(fam, Family::IPV6_UNICAST);
        assert_eq!(
            *n,
            Nlri::with_path_id("2001:db8:1::/64".parse().unwrap(), 1)
        );
    }

    #[test]
    fn end_of_rib_markers() {
        let v4 = Update::end_of_rib(Family::IPV4_UNICAST);
        let mut b = BytesMut::new();
        v4.encode_body(&ibgp(), &mut b);
        assert_eq!(&b[..], &[0, 0, 0, 0]);
        assert_eq!(
            Update::decode(&b, &ibgp()).unwrap().end_of_rib_family(),
            Some(Family::IPV4_UNICAST)
        );
        for fam in [
            Family::IPV6_UNICAST,
            Family::new(Afi::Ipv4, Safi::Unknown(4)),
        ] {
            let eor = Update::end_of_rib(fam);
            let mut b = BytesMut::new();
            eor.encode_body(&ibgp(), &mut b);
            let back = Update::decode(&b, &ibgp()).unwrap();
            assert_eq!(back, eor);
            assert_eq!(back.end_of_rib_family(), Some(fam));
        }
        let u = Update::decode(&with(&[]), &ibgp()).unwrap();
        assert_eq!(u.end_of_rib_family(), None);
    }

    #[test]
    fn end_of_rib_through_message_framing() {
        use crate::bgp::message::Message;
        let eor = Update::end_of_rib(Family::IPV6_UNICAST);
        let frame = Message::Update(eor.clone()).to_bytes(&ibgp()).unwrap();
        // 19 header + 2 + 2 + MP_UNREACH_NLRI (3 header + AFI/SAFI)
        assert_eq!(frame.len(), 29);
        assert_eq!(&frame[19..], &[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1]);
        match Message::decode(&frame, &ibgp()).unwrap() {
            Message::Update(u) => assert_eq!(u.end_of_rib_family(), Some(Family::IPV6_UNICAST)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_octet_session_confed_path_encoding() {
        let v = [3, 1, 0xfc, 0x00, 2, 1, 0xfd, 0xe9];
        let u = with_as_path_ctx(&v, &two_octet());
        assert!(u.errors.is_empty());
        let p = u.attributes.as_path.as_ref().unwrap();
        assert_eq!(p.segments[0].kind, SegmentType::AsConfedSequence);
        assert_eq!(p.count(), 1);
        let mut b = BytesMut::new();
        u.encode_body(&two_octet(), &mut b);
        assert!(
            b.windows(11)
                .any(|w| w == [0x40, 2, 8, 3, 1, 0xfc, 0x00, 2, 1, 0xfd, 0xe9])
        );
    }

    fn with_as_path_ctx(v: &[u8], ctx: &CodecContext) -> Update {
        let a = [ORIGIN.to_vec(), attr(0x40, 2, v), NEXT_HOP.to_vec()].concat();
        Update::decode(&body(&[], &a, &NLRI), ctx).unwrap()
    }

    #[test]
    fn rfc4271_9_unknown_optional_transitive_kept_and_partial_on_resend() {
        let u = Update::decode(&with(&attr(0xc0, 99, &[1, 2, 3])), &ibgp()).unwrap();
        assert_eq!(
            u.attributes.unknown,
            vec![RawAttribute {
                flags: 0xc0,
                type_code: 99,
                value: vec![1, 2, 3]
            }]
        );
        let mut b = BytesMut::new();
        u.encode_body(&ibgp(), &mut b);
        assert!(b.windows(6).any(|w| w == [0xe0, 99, 3, 1, 2, 3]));
    }

    #[test]
    fn rfc4271_5_partial_bit_of_known_optional_transitive_kept() {
        let u = Update::decode(&with(&attr(0xe0, 8, &[0xfd, 0xe9, 0, 1])), &ibgp()).unwrap();
        assert!(u.attributes.partial.contains(8));
        let mut b = BytesMut::new();
        u.encode_body(&ibgp(), &mut b);
        assert!(b.windows(7).any(|w| w == [0xe0, 8, 4, 0xfd, 0xe9, 0, 1]));
        // Not kept on well-known attributes (their Partial bit must be 0).
        let a = [vec![0x60, 1, 1, 0], AS_PATH.to_vec(), NEXT_HOP.to_vec()].concat();
        let u = Update::decode(&body(&[], &a, &NLRI), &ibgp()).unwrap();
        assert!(u.attributes.partial.is_empty());
    }

    #[test]
    fn rfc4271_9_unknown_optional_non_transitive_quietly_ignored() {
        let u = Update::decode(&with(&attr(0x80, 99, &[1])), &ibgp()).unwrap();
        assert!(u.attributes.unknown.is_empty());
        assert!(u.errors.is_empty());
    }

    #[test]
    fn rfc4271_6_3_unrecognized_well_known_is_session_reset_with_attribute_as_data() {
        let a = attr(0x40, 99, &[1, 2]);
        assert_reset(
            &with(&a),
            &ibgp(),
            UpdateError::UnrecognizedWellKnownAttribute,
            &a,
        );
    }

    // ---- RFC 7606 §3 ----

    #[test]
    fn rfc7606_3b_withdrawn_routes_length_too_large_is_session_reset() {
        assert_reset(
            &[0, 10, 24, 1, 2, 0, 0],
            &ibgp(),
            UpdateError::MalformedAttributeList,
            &[],
        );
    }

    #[test]
    fn rfc7606_3b_total_attribute_length_too_large_is_session_reset() {
        let mut b = with(&[]);
        b[3] += 50;
        assert_reset(&b, &ibgp(), UpdateError::MalformedAttributeList, &[]);
        assert_reset(
            &[0, 0, 0],
            &ibgp(),
            UpdateError::MalformedAttributeList,
            &[],
        );
    }

    #[test]
    fn rfc7606_3c_attribute_flags_conflict_is_treat_as_withdraw() {
        let a = [attr(0xc0, 1, &[0]), AS_PATH.to_vec(), NEXT_HOP.to_vec()].concat();
        assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 1);
        // Optional attributes too (MED sent as well-known, AGGREGATOR as non-transitive).
        assert_withdraw(&with(&attr(0x40, 4, &[0, 0, 0, 1])), &ibgp(), 4);
        assert_withdraw(&with(&attr(0x80, 7, &[0, 0, 0, 1, 1, 2, 3, 4])), &ibgp(), 7);
    }

    #[test]
    fn rfc7606_3c_mp_reach_flags_conflict_withdraws_its_nlri() {
        let mp = [
            0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1,
            0xd, 0xb8,
        ];
        let a = [attr(0xc0, 14, &mp), ORIGIN.to_vec(), AS_PATH.to_vec()].concat();
        let u = Update::decode(&body(&[], &a, &[]), &ibgp()).unwrap();
        assert!(u.treated_as_withdraw());
        let w: Vec<_> = u.withdrawals().collect();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, Family::IPV6_UNICAST);
        assert_eq!(w[0].1.prefix, "2001:db8::/32".parse().unwrap());
    }

    #[test]
    fn rfc7606_3d_missing_well_known_mandatory_is_treat_as_withdraw() {
        let no_origin = [AS_PATH.to_vec(), NEXT_HOP.to_vec()].concat();
        let u = assert_withdraw(&body(&[], &no_origin, &NLRI), &ibgp(), 1);
        assert_eq!(u.withdrawn, vec![prefix()]);
        let no_as_path = [ORIGIN.to_vec(), NEXT_HOP.to_vec()].concat();
        assert_withdraw(&body(&[], &no_as_path, &NLRI), &ibgp(), 2);
        let no_next_hop = [ORIGIN.to_vec(), AS_PATH.to_vec()].concat();
        assert_withdraw(&body(&[], &no_next_hop, &NLRI), &ibgp(), 3);
    }

    #[test]
    fn rfc7606_3d_mandatory_attributes_needed_only_with_nlri() {
        // Pure withdrawal: nothing mandatory.
        let u = Update::decode(&body(&NLRI, &[], &[]), &ibgp()).unwrap();
        assert!(u.errors.is_empty());
        assert_eq!(u.withdrawn, vec![prefix()]);
        // MP_REACH only: NEXT_HOP is not needed (RFC 4760).
        let mp = [
            0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1,
            0xd, 0xb8,
        ];
        let a = [attr(0x80, 14, &mp), ORIGIN.to_vec(), AS_PATH.to_vec()].concat();
        let u = Update::decode(&body(&[], &a, &[]), &ibgp()).unwrap();
        assert!(u.errors.is_empty(), "{:?}", u.errors);
    }

    #[test]
    fn rfc7606_3g_duplicate_attribute_all_but_first_discarded() {
        let u = assert_discard(&with(&attr(0x40, 1, &[2])), &ibgp(), 1);
        assert_eq!(u.attributes.origin, Some(Origin::Igp));
        assert_eq!(u.errors[0].reason, Reason::Duplicate);
    }

    #[test]
    fn rfc7606_3g_duplicate_mp_reach_or_unreach_is_malformed_attribute_list() {
        let un = attr(0x80, 15, &[0, 2, 1]);
        let a = [un.clone(), un].concat();
        assert_reset(
            &body(&[], &a, &[]),
            &ibgp(),
            UpdateError::MalformedAttributeList,
            &[],
        );
    }

    #[test]
    fn rfc7606_3h_strongest_approach_wins() {
        // attribute discard (ATOMIC_AGGREGATE length 1) + treat-as-withdraw (MED length 3)
        let extra = [attr(0x40, 6, &[0]), attr(0x80, 4, &[0, 0, 1])].concat();
        let u = assert_withdraw(&with(&extra), &ibgp(), 4);
        assert!(
            u.errors
                .iter()
                .any(|e| e.type_code == 6 && e.action == Action::Discard)
        );
        // treat-as-withdraw + session reset: reset.
        let extra = [attr(0x80, 4, &[0, 0, 1]), attr(0x40, 99, &[])].concat();
        assert!(Update::decode(&with(&extra), &ibgp()).is_err());
    }

    #[test]
    fn rfc7606_3i_withdrawn_routes_syntax_error_is_session_reset() {
        assert_reset(
            &body(&[33, 1, 2, 3, 4, 5], &[], &[]),
            &ibgp(),
            UpdateError::InvalidNetworkField,
            &[],
        );
        assert_reset(
            &body(&[24, 1], &[], &[]),
            &ibgp(),
            UpdateError::InvalidNetworkField,
            &[],
        );
    }

    #[test]
    fn rfc7606_3j_cut_off_mp_reach_is_session_reset() {
        // MP_REACH claims 30 octets, only 5 follow inside the attribute field.
        let a = [base(), vec![0x80, 14, 30, 0, 2, 1, 16, 0]].concat();
        let n = Update::decode(&body(&[], &a, &[]), &ibgp()).unwrap_err();
        assert_eq!(
            n.error,
            ErrorCode::Update(UpdateError::AttributeLengthError)
        );
    }

    // ---- RFC 7606 §4, §5 ----

    #[test]
    fn rfc7606_4_attribute_overrunning_total_length_is_treat_as_withdraw() {
        let a = [base(), vec![0x80, 4, 10, 0, 0]].concat();
        let u = assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 4);
        // The NLRI field was still located by the Total Attribute Length.
        assert_eq!(u.withdrawn, vec![prefix()]);
        assert_eq!(u.errors[0].reason, Reason::AttributeOverrun);
    }

    #[test]
    fn rfc7606_4_fewer_octets_than_a_header_is_treat_as_withdraw() {
        let a = [base(), vec![0x80, 4]].concat();
        let u = assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 4);
        assert_eq!(u.errors[0].reason, Reason::AttributeHeaderTruncated);
        let a = [base(), vec![0x90, 4, 0]].concat();
        assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 4);
    }

    #[test]
    fn rfc7606_4_zero_length_only_for_as_path_and_atomic_aggregate() {
        // Zero-length AS_PATH (iBGP, locally originated) and ATOMIC_AGGREGATE are valid.
        let a = [
            ORIGIN.to_vec(),
            vec![0x40, 2, 0],
            NEXT_HOP.to_vec(),
            vec![0x40, 6, 0],
        ]
        .concat();
        let u = Update::decode(&body(&[], &a, &NLRI), &ibgp()).unwrap();
        assert!(u.errors.is_empty());
        assert!(u.attributes.atomic_aggregate);
        assert_eq!(u.attributes.as_path, Some(AsPath::default()));
        // Zero-length MED, LOCAL_PREF, COMMUNITIES: syntax errors.
        assert_withdraw(&with(&[0x80, 4, 0]), &ibgp(), 4);
        assert_withdraw(&with(&[0x40, 5, 0]), &ibgp(), 5);
        assert_withdraw(&with(&[0xc0, 8, 0]), &ibgp(), 8);
    }

    #[test]
    fn rfc7606_5_1_mp_attributes_accepted_in_any_position() {
        let mp = [
            0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1,
            0xd, 0xb8,
        ];
        let a = [ORIGIN.to_vec(), AS_PATH.to_vec(), attr(0x80, 14, &mp)].concat();
        let u = Update::decode(&body(&[], &a, &[]), &ibgp()).unwrap();
        assert!(u.errors.is_empty());
        assert_eq!(u.announced().count(), 1);
    }

    #[test]
    fn rfc7606_5_2_attribute_error_without_reachable_nlri_is_treat_as_withdraw() {
        // A withdrawal carrying a malformed ATOMIC_AGGREGATE: discard becomes
        // treat-as-withdraw; the withdrawal itself stands.
        let a = [base(), attr(0x40, 6, &[1])].concat();
        let u = Update::decode(&body(&NLRI, &a, &[]), &ibgp()).unwrap();
        assert!(u.treated_as_withdraw());
        assert_eq!(u.errors.last().unwrap().reason, Reason::ErrorWithoutNlri);
        assert_eq!(u.withdrawn, vec![prefix()]);
        assert!(u.attributes.is_empty());
    }

    #[test]
    fn rfc7606_5_3_nlri_prefix_length_too_long_is_invalid_network_field() {
        let b = body(&[], &base(), &[33, 198, 18, 0, 0, 0]);
        assert_reset(&b, &ibgp(), UpdateError::InvalidNetworkField, &[]);
    }

    #[test]
    fn rfc7606_5_3_nlri_overrunning_the_field_is_invalid_network_field() {
        let b = body(&[], &base(), &[24, 198, 18]);
        assert_reset(&b, &ibgp(), UpdateError::InvalidNetworkField, &[]);
    }

    #[test]
    fn rfc7606_5_3_mp_reach_nlri_syntax_error_is_session_reset() {
        let mp = [
            0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 129, 0x20,
        ];
        let a = attr(0x80, 14, &mp);
        let b = body(
            &[],
            &[ORIGIN.to_vec(), AS_PATH.to_vec(), a.clone()].concat(),
            &[],
        );
        assert_reset(&b, &ibgp(), UpdateError::OptionalAttributeError, &a);
        let un = attr(0x80, 15, &[0, 2, 1, 64, 0x20]);
        assert_reset(
            &body(&[], &un, &[]),
            &ibgp(),
            UpdateError::OptionalAttributeError,
            &un,
        );
    }

    // ---- RFC 7606 §7 ----

    #[test]
    fn rfc7606_7_1_origin_bad_length_is_treat_as_withdraw() {
        let a = [vec![0x40, 1, 2, 0, 0], AS_PATH.to_vec(), NEXT_HOP.to_vec()].concat();
        assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 1);
    }

    #[test]
    fn rfc7606_7_1_origin_undefined_value_is_treat_as_withdraw() {
        let a = [vec![0x40, 1, 1, 3], AS_PATH.to_vec(), NEXT_HOP.to_vec()].concat();
        assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 1);
    }

    fn with_as_path(v: &[u8], ctx: &CodecContext) -> Update {
        let a = [ORIGIN.to_vec(), attr(0x40, 2, v), NEXT_HOP.to_vec()].concat();
        Update::decode(&body(&[], &a, &NLRI), ctx).unwrap()
    }

    #[test]
    fn rfc7606_7_2_as_path_unrecognized_segment_type_is_treat_as_withdraw() {
        assert!(with_as_path(&[7, 1, 0, 0, 0xfd, 0xe9], &ibgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_2_as_path_segment_overrun_is_treat_as_withdraw() {
        assert!(with_as_path(&[2, 2, 0, 0, 0xfd, 0xe9], &ibgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_2_as_path_single_octet_underrun_is_treat_as_withdraw() {
        assert!(with_as_path(&[2, 1, 0, 0, 0xfd, 0xe9, 2], &ibgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_2_as_path_zero_segment_length_is_treat_as_withdraw() {
        assert!(with_as_path(&[2, 0], &ibgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_2_ebgp_first_as_not_peer_is_treat_as_withdraw() {
        let u = with_as_path(&[2, 1, 0, 0, 0xfd, 0xea], &ebgp());
        assert!(u.treated_as_withdraw());
        assert_eq!(
            u.errors[0].reason,
            Reason::FirstAsNotPeer {
                first: Some(65002),
                peer: 65001
            }
        );
        assert!(!with_as_path(&[2, 1, 0, 0, 0xfd, 0xe9], &ebgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_2_ebgp_first_as_on_two_octet_session_is_as_trans() {
        // A NEW peer with a 4-octet AS over a 2-octet session: AS_PATH starts
        // with AS_TRANS (RFC 6793 §4.2.2), AS4_PATH with the real AS.
        let ctx = CodecContext {
            peer: PeerRelation::External {
                peer_asn: Asn(4_200_000_000),
            },
            ..Default::default()
        };
        let as4 = attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0x00]);
        let a = [
            ORIGIN.to_vec(),
            attr(0x40, 2, &[2, 1, 0x5b, 0xa0]),
            NEXT_HOP.to_vec(),
            as4,
        ]
        .concat();
        let u = Update::decode(&body(&[], &a, &NLRI), &ctx).unwrap();
        assert!(u.errors.is_empty(), "{:?}", u.errors);
        assert_eq!(
            u.attributes.as_path,
            Some(AsPath::sequence([4_200_000_000]))
        );
        // Anything else first is still refused.
        let a = [
            ORIGIN.to_vec(),
            attr(0x40, 2, &[2, 1, 0xfd, 0xe9]),
            NEXT_HOP.to_vec(),
        ]
        .concat();
        assert!(
            Update::decode(&body(&[], &a, &NLRI), &ctx)
                .unwrap()
                .treated_as_withdraw()
        );
    }

    #[test]
    fn rfc7606_7_2_confed_segment_from_ebgp_peer_is_treat_as_withdraw() {
        let v = [3, 1, 0, 0, 0xfc, 0, 2, 1, 0, 0, 0xfd, 0xe9];
        let u = with_as_path(&v, &ebgp());
        assert!(u.treated_as_withdraw());
        assert_eq!(u.errors[0].reason, Reason::ConfedSegmentFromExternal);
        // Within the AS (confederation peers are configured as internal here) it is fine.
        assert!(!with_as_path(&v, &ibgp()).treated_as_withdraw());
    }

    #[test]
    fn rfc7606_7_3_next_hop_bad_length_is_treat_as_withdraw() {
        let a = [
            ORIGIN.to_vec(),
            AS_PATH.to_vec(),
            vec![0x40, 3, 5, 192, 0, 2, 1, 0],
        ]
        .concat();
        assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 3);
    }

    #[test]
    fn rfc7606_7_3_next_hop_not_a_host_address_is_treat_as_withdraw() {
        for nh in [[0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255]] {
            let a = [ORIGIN.to_vec(), AS_PATH.to_vec(), attr(0x40, 3, &nh)].concat();
            assert_withdraw(&body(&[], &a, &NLRI), &ibgp(), 3);
        }
    }

    #[test]
    fn rfc7606_7_4_med_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0x80, 4, &[0, 0, 0, 0, 1])), &ibgp(), 4);
    }

    #[test]
    fn rfc7606_7_5_local_pref_from_external_peer_is_discarded() {
        let u = assert_discard(&with(&attr(0x40, 5, &[0, 0, 0, 100])), &ebgp(), 5);
        assert_eq!(u.attributes.local_pref, None);
        // Even malformed: from an external peer it is discarded, not withdrawn.
        assert_discard(&with(&attr(0x40, 5, &[0, 0, 100])), &ebgp(), 5);
    }

    #[test]
    fn rfc7606_7_5_local_pref_bad_length_from_internal_peer_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0x40, 5, &[0, 0, 100])), &ibgp(), 5);
        let u = Update::decode(&with(&attr(0x40, 5, &[0, 0, 0, 100])), &ibgp()).unwrap();
        assert_eq!(u.attributes.local_pref, Some(100));
    }

    #[test]
    fn rfc7606_7_6_atomic_aggregate_bad_length_is_attribute_discard() {
        let u = assert_discard(&with(&attr(0x40, 6, &[1])), &ibgp(), 6);
        assert!(!u.attributes.atomic_aggregate);
    }

    #[test]
    fn rfc7606_7_7_aggregator_bad_length_is_attribute_discard() {
        // 6 octets on a 4-octet session, 8 on a 2-octet one.
        let u = assert_discard(&with(&attr(0xc0, 7, &[0xfd, 0xe9, 1, 2, 3, 4])), &ibgp(), 7);
        assert_eq!(u.attributes.aggregator, None);
        let two = CodecContext::default();
        let a = [
            ORIGIN.to_vec(),
            vec![0x40, 2, 4, 2, 1, 0xfd, 0xe9],
            NEXT_HOP.to_vec(),
        ]
        .concat();
        let a = [a, attr(0xc0, 7, &[0, 0, 0xfd, 0xe9, 1, 2, 3, 4])].concat();
        assert_discard(&body(&[], &a, &NLRI), &two, 7);
    }

    #[test]
    fn rfc7606_7_8_communities_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0xc0, 8, &[0, 1, 0, 1, 0, 2])), &ibgp(), 8);
    }

    #[test]
    fn rfc7606_7_9_originator_id_from_external_peer_is_discarded() {
        assert_discard(&with(&attr(0x80, 9, &[10, 0, 0, 1])), &ebgp(), 9);
    }

    #[test]
    fn rfc7606_7_9_originator_id_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0x80, 9, &[10, 0, 0])), &ibgp(), 9);
    }

    #[test]
    fn rfc7606_7_10_cluster_list_from_external_peer_is_discarded() {
        assert_discard(&with(&attr(0x80, 10, &[10, 0, 0, 1])), &ebgp(), 10);
    }

    #[test]
    fn rfc7606_7_10_cluster_list_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0x80, 10, &[10, 0, 0, 1, 2])), &ibgp(), 10);
    }

    #[test]
    fn rfc7606_7_11_mp_reach_inconsistent_next_hop_length_is_session_reset() {
        // IPv6 unicast with a 4-octet next hop.
        let a = attr(
            0x80,
            14,
            &[0, 2, 1, 4, 192, 0, 2, 1, 0, 32, 0x20, 1, 0xd, 0xb8],
        );
        let b = body(
            &[],
            &[ORIGIN.to_vec(), AS_PATH.to_vec(), a.clone()].concat(),
            &[],
        );
        assert_reset(&b, &ibgp(), UpdateError::OptionalAttributeError, &a);
        // Next hop length running past the attribute.
        let a = attr(0x80, 14, &[0, 2, 1, 32, 1, 2]);
        assert_reset(
            &body(&[], &a, &[]),
            &ibgp(),
            UpdateError::OptionalAttributeError,
            &a,
        );
    }

    #[test]
    fn rfc7606_7_14_extended_communities_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0xc0, 16, &[0, 2, 0, 1, 0, 0, 0])), &ibgp(), 16);
    }

    #[test]
    fn rfc8092_6_large_community_bad_length_is_treat_as_withdraw() {
        assert_withdraw(&with(&attr(0xc0, 32, &[0; 13])), &ibgp(), 32);
        // Duplicates inside the attribute are not an error.
        let u = Update::decode(&with(&attr(0xc0, 32, &[1; 24])), &ibgp()).unwrap();
        assert!(u.errors.is_empty());
        assert_eq!(u.attributes.large_communities.as_ref().unwrap().len(), 2);
    }

    // ---- RFC 6793 ----

    fn two_octet() -> CodecContext {
        CodecContext::default()
    }

    fn two_octet_update(as_path: &[u8], extra: &[u8]) -> Update {
        let a = [
            ORIGIN.to_vec(),
            attr(0x40, 2, as_path),
            NEXT_HOP.to_vec(),
            extra.to_vec(),
        ]
        .concat();
        Update::decode(&body(&[], &a, &NLRI), &two_octet()).unwrap()
    }

    #[test]
    fn rfc6793_4_2_3_as4_path_merged_for_two_octet_peer() {
        // AS_PATH: 65001 AS_TRANS; AS4_PATH: 4200000000
        let u = two_octet_update(
            &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0],
            &attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0x00]),
        );
        assert!(u.errors.is_empty(), "{:?}", u.errors);
        assert_eq!(
            u.attributes.as_path,
            Some(AsPath::sequence([65001, 4_200_000_000]))
        );
    }

    #[test]
    fn rfc6793_6_malformed_as4_path_is_attribute_discard() {
        let u = two_octet_update(&[2, 1, 0x5b, 0xa0], &attr(0xc0, 17, &[2, 2, 0, 0, 0, 1]));
        assert!(!u.treated_as_withdraw());
        assert_eq!(u.errors[0].type_code, 17);
        assert_eq!(u.attributes.as_path, Some(AsPath::sequence([23456])));
        // Confederation segments may not appear in AS4_PATH.
        let u = two_octet_update(&[2, 1, 0x5b, 0xa0], &attr(0xc0, 17, &[3, 1, 0, 0, 0, 1]));
        assert_eq!(u.errors[0].action, Action::Discard);
    }

    #[test]
    fn rfc6793_6_malformed_as4_aggregator_is_attribute_discard() {
        let u = two_octet_update(&[2, 1, 0xfd, 0xe9], &attr(0xc0, 18, &[0, 0, 1, 2, 3, 4]));
        assert_eq!(u.errors[0].type_code, 18);
        assert_eq!(u.errors[0].action, Action::Discard);
        assert_eq!(u.nlri, vec![prefix()]);
    }

    #[test]
    fn rfc6793_4_1_as4_attributes_from_new_speaker_are_discarded() {
        let u = Update::decode(&with(&attr(0xc0, 17, &[2, 1, 0, 0, 0, 1])), &ibgp()).unwrap();
        assert_eq!(u.errors[0].reason, Reason::As4FromNewSpeaker);
        assert_eq!(u.attributes.as_path, Some(AsPath::sequence([65001])));
    }

    #[test]
    fn rfc6793_4_2_2_encoding_to_two_octet_peer_adds_as4_attributes() {
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath {
                segments: vec![
                    AsSegment {
                        kind: SegmentType::AsConfedSequence,
                        asns: vec![Asn(64512)],
                    },
                    AsSegment {
                        kind: SegmentType::AsSequence,
                        asns: vec![Asn(4_200_000_000), Asn(65001)],
                    },
                ],
            }),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            aggregator: Some(crate::bgp::attribute::Aggregator {
                asn: Asn(4_200_000_001),
                address: Ipv4Addr::new(192, 0, 2, 9),
            }),
            ..Default::default()
        };
        let u = Update {
            attributes: Arc::new(attributes),
            nlri: vec![prefix()],
            ..Default::default()
        };
        let mut b = BytesMut::new();
        u.encode_body(&two_octet(), &mut b);
        // AS_PATH carries AS_TRANS; AS4_PATH has no confederation segment.
        assert!(
            b.windows(13)
                .any(|w| w == [0x40, 2, 10, 3, 1, 0xfc, 0, 2, 2, 0x5b, 0xa0, 0xfd, 0xe9])
        );
        assert!(
            b.windows(13)
                .any(|w| w == [0xc0, 17, 10, 2, 2, 0xfa, 0x56, 0xea, 0, 0, 0, 0xfd, 0xe9])
        );
        assert!(b.windows(5).any(|w| w == [0xc0, 7, 6, 0x5b, 0xa0]));
        assert!(b.windows(3).any(|w| w == [0xc0, 18, 8]));
        assert_eq!(Update::decode(&b, &two_octet()).unwrap(), u);
    }

    // ---- properties ----

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bodies_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), four: bool, ext: bool, ap: bool) {
            let mut ctx = CodecContext { four_octet_as: four, ..Default::default() };
            if ext {
                ctx.peer = PeerRelation::External { peer_asn: Asn(65001) };
            }
            if ap {
                ctx.add_path = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
            }
            let _ = Update::decode(&b, &ctx);
        }

        #[test]
        fn random_attributes_in_valid_frame_never_panic(a in proptest::collection::vec(any::<u8>(), 0..300), four: bool) {
            let ctx = CodecContext { four_octet_as: four, ..Default::default() };
            let _ = Update::decode(&body(&[], &a, &NLRI), &ctx);
        }

        #[test]
        fn update_value_round_trip_four_octet(u in strategy::update()) {
            let ctx = ibgp();
            let mut b = BytesMut::new();
            u.encode_body(&ctx, &mut b);
            let back = Update::decode(&b, &ctx).unwrap();
            prop_assert_eq!(&back, &u);
            // Canonical bytes come back byte for byte.
            let mut again = BytesMut::new();
            back.encode_body(&ctx, &mut again);
            prop_assert_eq!(again, b);
        }

        #[test]
        fn update_value_round_trip_two_octet(u in strategy::update().prop_filter("canonical for OLD peers", |u| {
            let p = &u.attributes.as_path;
            let confed_small = p.iter().flat_map(|p| &p.segments).filter(|s| s.kind.is_confed()).all(|s| s.asns.iter().all(|a| a.is_two_octet()));
            let path_small = p.iter().all(|p| p.asns().all(Asn::is_two_octet));
            let agg_ok = u.attributes.aggregator.is_none_or(|a| !a.asn.is_two_octet() || a.asn == Asn::TRANS || path_small);
            confed_small && agg_ok
        })) {
            let ctx = two_octet();
            let mut b = BytesMut::new();
            u.encode_body(&ctx, &mut b);
            let back = Update::decode(&b, &ctx).unwrap();
            prop_assert_eq!(&back, &u);
        }

        #[test]
        fn update_round_trip_with_add_path(
            w in proptest::collection::vec(crate::bgp::nlri::strategy::nlri(Afi::Ipv4, true), 0..20),
        ) {
            let ctx = CodecContext { add_path: vec![Family::IPV4_UNICAST], ..ibgp() };
            let u = Update { withdrawn: w, ..Default::default() };
            let mut b = BytesMut::new();
            u.encode_body(&ctx, &mut b);
            prop_assert_eq!(Update::decode(&b, &ctx).unwrap(), u);
        }
    }

    #[test]
    fn next_hop_v4_in_mp_reach() {
        let r = MpReach {
            family: Family::IPV4_UNICAST,
            next_hop: MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            nlri: MpNlri::Prefixes(vec![prefix()]),
        };
        let u = Update {
            mp_reach: Some(r),
            attributes: Arc::new(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut b = BytesMut::new();
        u.encode_body(&ibgp(), &mut b);
        assert_eq!(Update::decode(&b, &ibgp()).unwrap(), u);
    }
}
