//! Path attributes (RFC 4271 §4.3, §5): the typed set, its decoder with RFC 7606 outcomes, and its encoder.
//!
//! ```text
//! Path Attributes field: a sequence of
//! +---------------+---------------+------------------+-----------------+
//! | Attr. Flags   | Attr. Type    | Length (1 or 2)  | Value           |
//! +---------------+---------------+------------------+-----------------+
//! ```
//! Decoding never fails on a single attribute: each attribute body is a nom
//! parser whose error, [`parser::AttrError`], carries the RFC 7606 outcome
//! (its `decode` wrapper hands that out as an [`AttrResult`]), the header is
//! one too (`flags::attribute`), and the field decoder behind
//! [`Update::decode`](crate::bgp::update::Update::decode) combines them per RFC 7606 §3(h) (the
//! strongest approach wins; "session reset" returns the NOTIFICATION).

pub mod aggregator;
pub mod as_path;
pub mod communities;
pub mod error;
pub mod extended_communities;
pub mod flags;
pub mod large_communities;
pub mod med_local_pref;
pub mod mp_reach;
pub mod next_hop;
pub mod origin;
pub mod parser;
pub mod reflection;
pub mod unknown;

use std::net::Ipv4Addr;

use bytes::BytesMut;

pub use aggregator::Aggregator;
pub use as_path::{AsPath, AsSegment, SegmentType};
pub use communities::{Community, WellKnownCommunity};
pub use error::{Action, AttributeError, Reason};
pub use extended_communities::ExtendedCommunity;
pub use large_communities::LargeCommunity;
pub use mp_reach::{MpNextHop, MpNlri, MpReach, MpUnreach};
pub use origin::Origin;
pub use unknown::RawAttribute;

use error::{AttrFailure, AttrResult};
use flags::{CutError, OPT_NON_TRANS, OPT_TRANS, OPTIONAL, RawSlice, TRANSITIVE, WELL_KNOWN};
use parser::finish;

use super::context::{CodecContext, PeerRelation};
use super::notification::{Notification, UpdateError};
use super::open_enum::open_enum;
use super::types::{Asn, RouterId};

open_enum! {
    /// Path attribute type codes (IANA "BGP Path Attributes").
    pub enum AttrType: u8 {
        Origin = 1,
        AsPath = 2,
        NextHop = 3,
        MultiExitDisc = 4,
        LocalPref = 5,
        AtomicAggregate = 6,
        Aggregator = 7,
        Communities = 8,
        OriginatorId = 9,
        ClusterList = 10,
        MpReachNlri = 14,
        MpUnreachNlri = 15,
        ExtendedCommunities = 16,
        As4Path = 17,
        As4Aggregator = 18,
        LargeCommunity = 32,
    }
}

impl AttrType {
    /// The Optional and Transitive bits each known attribute must carry
    /// (RFC 4271 §5, RFC 4760, RFC 4456, RFC 1997, RFC 4360, RFC 6793, RFC 8092).
    pub fn expected_flags(self) -> Option<u8> {
        use AttrType::*;
        Some(match self {
            Origin | AsPath | NextHop | LocalPref | AtomicAggregate => WELL_KNOWN,
            MultiExitDisc | OriginatorId | ClusterList | MpReachNlri | MpUnreachNlri => {
                OPT_NON_TRANS
            }
            Aggregator | Communities | ExtendedCommunities | As4Path | As4Aggregator
            | LargeCommunity => OPT_TRANS,
            Unknown(_) => return None,
        })
    }
}

/// Every path attribute of an UPDATE except MP_REACH_NLRI/MP_UNREACH_NLRI
/// (which carry NLRI and live in the Update itself).
///
/// AS numbers are always 4-octet: on a 2-octet session the decoder merges
/// AS4_PATH/AS4_AGGREGATOR in (RFC 6793 §4.2.3) and the encoder splits them
/// out again (§4.2.2), so those two attributes have no field here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Option<Vec<Community>>,
    pub originator_id: Option<RouterId>,
    pub cluster_list: Option<Vec<Ipv4Addr>>,
    pub extended_communities: Option<Vec<ExtendedCommunity>>,
    pub large_communities: Option<Vec<LargeCommunity>>,
    /// Unrecognized optional transitive attributes, in received order.
    pub unknown: Vec<RawAttribute>,
    /// Recognized optional transitive attributes received with the Partial
    /// bit set (some speaker on the path did not know them); sent on with it
    /// set (RFC 4271 §5).
    pub partial: AttrTypeSet,
}

impl PathAttributes {
    pub fn is_empty(&self) -> bool {
        *self == PathAttributes::default()
    }

    fn mark_partial(&self, code: AttrType, at: usize, buf: &mut BytesMut) {
        if self.partial.contains(code.into()) {
            buf[at] |= flags::PARTIAL;
        }
    }

    /// Appends every attribute in type-code order (unknown ones merged in by
    /// type code). MP_* attributes are written by the caller, first
    /// (RFC 7606 §5.1).
    pub fn encode(&self, ctx: &CodecContext, buf: &mut BytesMut) {
        let mut unknown: Vec<&RawAttribute> = self.unknown.iter().collect();
        unknown.sort_by_key(|a| a.type_code);
        let mut unknown = unknown.into_iter().peekable();
        let mut upto = |code: AttrType, buf: &mut BytesMut| {
            while let Some(u) = unknown.next_if(|u| u.type_code < u8::from(code)) {
                u.encode(buf);
            }
        };
        let four = ctx.four_octet_as;
        upto(AttrType::Origin, buf);
        if let Some(o) = self.origin {
            origin::encode(o, buf);
        }
        upto(AttrType::AsPath, buf);
        if let Some(p) = &self.as_path {
            as_path::encode(p, four, buf);
        }
        upto(AttrType::NextHop, buf);
        if let Some(nh) = self.next_hop {
            next_hop::encode(nh, buf);
        }
        upto(AttrType::MultiExitDisc, buf);
        if let Some(m) = self.med {
            med_local_pref::encode_med(m, buf);
        }
        upto(AttrType::LocalPref, buf);
        if let Some(l) = self.local_pref {
            med_local_pref::encode_local_pref(l, buf);
        }
        upto(AttrType::AtomicAggregate, buf);
        if self.atomic_aggregate {
            aggregator::encode_atomic(buf);
        }
        upto(AttrType::Aggregator, buf);
        if let Some(a) = &self.aggregator {
            let at = buf.len();
            aggregator::encode(a, four, buf);
            self.mark_partial(AttrType::Aggregator, at, buf);
        }
        upto(AttrType::Communities, buf);
        if let Some(c) = &self.communities {
            let at = buf.len();
            communities::encode(c, buf);
            self.mark_partial(AttrType::Communities, at, buf);
        }
        upto(AttrType::OriginatorId, buf);
        if let Some(o) = self.originator_id {
            reflection::encode_originator(o, buf);
        }
        upto(AttrType::ClusterList, buf);
        if let Some(c) = &self.cluster_list {
            reflection::encode_cluster_list(c, buf);
        }
        upto(AttrType::ExtendedCommunities, buf);
        if let Some(c) = &self.extended_communities {
            let at = buf.len();
            extended_communities::encode(c, buf);
            self.mark_partial(AttrType::ExtendedCommunities, at, buf);
        }
        upto(AttrType::As4Path, buf);
        if !four && let Some(p4) = self.as_path.as_ref().and_then(AsPath::as4_path) {
            as_path::encode_as4(&p4, buf);
        }
        upto(AttrType::As4Aggregator, buf);
        if !four && let Some(a) = self.aggregator.filter(|a| !a.asn.is_two_octet()) {
            aggregator::encode_as4(&a, buf);
        }
        upto(AttrType::LargeCommunity, buf);
        if let Some(c) = &self.large_communities {
            let at = buf.len();
            large_communities::encode(c, buf);
            self.mark_partial(AttrType::LargeCommunity, at, buf);
        }
        upto(AttrType::Unknown(255), buf);
        for u in unknown {
            u.encode(buf);
        }
    }
}

/// A set of attribute type codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AttrTypeSet([u64; 4]);

impl AttrTypeSet {
    pub fn contains(&self, t: u8) -> bool {
        self.0[usize::from(t >> 6)] & (1 << (t & 63)) != 0
    }

    pub fn insert(&mut self, t: u8) {
        self.0[usize::from(t >> 6)] |= 1 << (t & 63);
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
}

/// The decoded Path Attributes field.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub attrs: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub errors: Vec<AttributeError>,
    pub seen: AttrTypeSet,
}

impl Decoded {
    fn record(&mut self, type_code: u8, action: Action, reason: Reason) {
        self.errors.push(AttributeError {
            type_code,
            action,
            reason,
        });
    }
}

/// Decodes the Path Attributes field. `Err` is "session reset".
pub(crate) fn decode(mut buf: &[u8], ctx: &CodecContext) -> Result<Decoded, Notification> {
    let mut d = Decoded::default();
    let mut as4_path: Option<AsPath> = None;
    let mut as4_aggregator: Option<Aggregator> = None;
    while !buf.is_empty() {
        let (raw, rest) = match flags::cut(buf) {
            Ok(x) => x,
            // RFC 7606 §4: "fewer than three octets remain (or fewer than
            // four octets, if the Attribute Flags field has the Extended
            // Length bit set) when beginning to parse the attribute ... an
            // error condition exists and the 'treat-as-withdraw' approach
            // MUST be used ... and the Total Attribute Length MUST be relied
            // upon to enable the beginning of the NLRI field to be located."
            Err(CutError::HeaderTruncated) => {
                let t = buf.get(1).copied().unwrap_or(0);
                d.record(t, Action::TreatAsWithdraw, Reason::AttributeHeaderTruncated);
                break;
            }
            Err(CutError::Overrun { type_code }) => {
                // RFC 7606 §3(j): to use treat-as-withdraw "the entire NLRI
                // field and/or the MP_REACH_NLRI and MP_UNREACH_NLRI
                // attributes need to be successfully parsed ... If this is
                // not possible ... the 'session reset' approach ... MUST be
                // followed." A cut-off MP_* attribute is exactly that.
                if matches!(
                    AttrType::from(type_code),
                    AttrType::MpReachNlri | AttrType::MpUnreachNlri
                ) {
                    return Err(Notification::update(UpdateError::AttributeLengthError, buf));
                }
                // RFC 7606 §4: "the length of the last encountered path
                // attribute would cause the Total Attribute Length to be
                // exceeded" -> treat-as-withdraw.
                d.record(type_code, Action::TreatAsWithdraw, Reason::AttributeOverrun);
                break;
            }
        };
        buf = rest;
        let code = AttrType::from(raw.type_code);
        if d.seen.contains(raw.type_code) {
            // RFC 7606 §3(g): "If the MP_REACH_NLRI attribute or the
            // MP_UNREACH_NLRI [RFC4760] attribute appears more than once in
            // the UPDATE message, then a NOTIFICATION message MUST be sent
            // with the Error Subcode 'Malformed Attribute List'. If any other
            // attribute (whether recognized or unrecognized) appears more
            // than once in an UPDATE message, then all the occurrences of the
            // attribute other than the first one SHALL be discarded and the
            // UPDATE message will continue to be processed."
            if matches!(code, AttrType::MpReachNlri | AttrType::MpUnreachNlri) {
                return Err(Notification::update(
                    UpdateError::MalformedAttributeList,
                    [],
                ));
            }
            d.record(raw.type_code, Action::Discard, Reason::Duplicate);
            continue;
        }
        d.seen.insert(raw.type_code);
        let Some(expected) = code.expected_flags() else {
            unknown_attribute(raw, &mut d)?;
            continue;
        };
        // RFC 7606 §3(c): "If the value of either the Optional or Transitive
        // bits in the Attribute Flags is in conflict with their specified
        // values, then the attribute MUST be treated as malformed and the
        // 'treat-as-withdraw' approach used". MP_* are still parsed so their
        // NLRI can be withdrawn (§3(j)).
        let flags_ok = raw.flags & (OPTIONAL | TRANSITIVE) == expected;
        if !flags_ok {
            d.record(
                raw.type_code,
                Action::TreatAsWithdraw,
                Reason::FlagsConflict { flags: raw.flags },
            );
            if !matches!(code, AttrType::MpReachNlri | AttrType::MpUnreachNlri) {
                continue;
            }
        }
        let outcome = known_attribute(code, raw, ctx, &mut d, &mut as4_path, &mut as4_aggregator);
        match outcome {
            // RFC 4271 §5: the Partial bit of an optional transitive
            // attribute, once set, stays set as the attribute travels on.
            // AS4_* are rebuilt on encode, so theirs is not kept.
            Ok(())
                if raw.flags & flags::PARTIAL != 0
                    && expected == OPT_TRANS
                    && !matches!(code, AttrType::As4Path | AttrType::As4Aggregator) =>
            {
                d.attrs.partial.insert(raw.type_code);
            }
            Ok(()) => {}
            Err(AttrFailure::Soft(action, reason)) => d.record(raw.type_code, action, reason),
            Err(AttrFailure::Reset(n)) => return Err(n),
        }
    }
    // Before the AS4 merge: the first AS must be checked as the peer sent
    // it, where a 2-octet peer writes AS_TRANS for a 4-octet AS.
    check_ebgp_path(ctx, &mut d);
    if ctx.four_octet_as {
        // RFC 6793 §4.1: "A NEW BGP speaker ... that receives the AS4_PATH
        // attribute or the AS4_AGGREGATOR attribute in an UPDATE message from
        // a NEW BGP speaker MUST discard these attributes and continue
        // processing the UPDATE message."
        if as4_path.is_some() {
            d.record(
                AttrType::As4Path.into(),
                Action::Discard,
                Reason::As4FromNewSpeaker,
            );
        }
        if as4_aggregator.is_some() {
            d.record(
                AttrType::As4Aggregator.into(),
                Action::Discard,
                Reason::As4FromNewSpeaker,
            );
        }
    } else {
        let errs = super::as4::reconcile(&mut d.attrs, as4_path, as4_aggregator);
        d.errors.extend(errs);
    }
    Ok(d)
}

/// RFC 4271 §6.3: an external peer's AS_PATH must start with its AS; with
/// RFC 7606 §3(e) ("'Treat-as-withdraw' MUST be used for the cases that
/// specify a session reset and involve any of the attributes ORIGIN,
/// AS_PATH, ...") the Malformed AS_PATH reset becomes treat-as-withdraw.
/// RFC 5065 §5: confederation segments must not come from outside the
/// confederation; a peer known only as External is outside it.
fn check_ebgp_path(ctx: &CodecContext, d: &mut Decoded) {
    let PeerRelation::External { peer_asn } = ctx.peer else {
        return;
    };
    let Some(path) = &d.attrs.as_path else { return };
    let code = AttrType::AsPath.into();
    if path.has_confed() {
        d.record(
            code,
            Action::TreatAsWithdraw,
            Reason::ConfedSegmentFromExternal,
        );
    } else if path.first_as() != Some(expected_first_as(ctx, peer_asn)) {
        let first = path.first_as().map(|a: Asn| a.0);
        d.record(
            code,
            Action::TreatAsWithdraw,
            Reason::FirstAsNotPeer {
                first,
                peer: peer_asn.0,
            },
        );
    }
}

/// The AS a peer's AS_PATH must start with on the wire: its own, or
/// AS_TRANS when a 2-octet session carries a 4-octet AS (RFC 6793 §4.2.2).
fn expected_first_as(ctx: &CodecContext, peer_asn: Asn) -> Asn {
    if ctx.four_octet_as || peer_asn.is_two_octet() {
        peer_asn
    } else {
        Asn::TRANS
    }
}

/// RFC 4271 §6.3: "If any of the well-known attributes are not recognized,
/// then the Error Subcode MUST be set to Unrecognized Well-known Attribute.
/// The Data field MUST contain the unrecognized attribute (type, length, and
/// value)." RFC 7606 does not revise this: session reset.
/// RFC 4271 §9: unrecognized optional non-transitive attributes "MUST be
/// quietly ignored"; optional transitive ones are kept for propagation.
fn unknown_attribute(raw: RawSlice<'_>, d: &mut Decoded) -> Result<(), Notification> {
    if raw.flags & OPTIONAL == 0 {
        return Err(Notification::update(
            UpdateError::UnrecognizedWellKnownAttribute,
            raw.whole,
        ));
    }
    if raw.flags & TRANSITIVE != 0 {
        d.attrs.unknown.push(RawAttribute {
            flags: raw.flags & !flags::EXTENDED_LENGTH,
            type_code: raw.type_code,
            value: raw.value.to_vec(),
        });
    }
    Ok(())
}

fn known_attribute(
    code: AttrType,
    raw: RawSlice<'_>,
    ctx: &CodecContext,
    d: &mut Decoded,
    as4_path: &mut Option<AsPath>,
    as4_aggregator: &mut Option<Aggregator>,
) -> AttrResult<()> {
    let v = raw.value;
    let a = &mut d.attrs;
    match code {
        AttrType::Origin => a.origin = Some(origin::decode(v)?),
        // RFC 7606 §7.2: "An UPDATE message with a malformed AS_PATH
        // attribute SHALL be handled using the approach of
        // 'treat-as-withdraw'."
        AttrType::AsPath => {
            let path = as_path::parse(v, ctx.four_octet_as, Action::TreatAsWithdraw);
            a.as_path = Some(finish(path)?);
        }
        AttrType::NextHop => a.next_hop = Some(next_hop::decode(v)?),
        AttrType::MultiExitDisc => a.med = Some(med_local_pref::decode_med(v)?),
        AttrType::LocalPref => a.local_pref = Some(med_local_pref::decode_local_pref(v, ctx.peer)?),
        AttrType::AtomicAggregate => {
            aggregator::decode_atomic(v)?;
            a.atomic_aggregate = true;
        }
        AttrType::Aggregator => a.aggregator = Some(aggregator::decode(v, ctx.four_octet_as)?),
        AttrType::Communities => a.communities = Some(communities::decode(v)?),
        AttrType::OriginatorId => {
            a.originator_id = Some(reflection::decode_originator(v, ctx.peer)?)
        }
        AttrType::ClusterList => {
            a.cluster_list = Some(reflection::decode_cluster_list(v, ctx.peer)?)
        }
        AttrType::MpReachNlri => d.mp_reach = Some(mp_reach::decode_reach(raw, ctx)?),
        AttrType::MpUnreachNlri => d.mp_unreach = Some(mp_reach::decode_unreach(raw, ctx)?),
        AttrType::ExtendedCommunities => {
            a.extended_communities = Some(extended_communities::decode(v)?)
        }
        AttrType::As4Path => {
            // RFC 6793 §6: a NEW speaker "MUST use the 'attribute discard'
            // approach" for a malformed AS4_PATH.
            let p = finish(as_path::parse(v, true, Action::Discard))?;
            // RFC 6793 §5: confederation segments "MUST NOT be included in
            // the AS4_PATH"; one that has them is malformed.
            if p.has_confed() {
                return error::discard(Reason::InvalidValue("confederation segment in AS4_PATH"));
            }
            *as4_path = Some(p);
        }
        AttrType::As4Aggregator => *as4_aggregator = Some(aggregator::decode_as4(v)?),
        AttrType::LargeCommunity => a.large_communities = Some(large_communities::decode(v)?),
        AttrType::Unknown(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx(four: bool) -> CodecContext {
        CodecContext {
            four_octet_as: four,
            ..Default::default()
        }
    }

    #[test]
    fn expected_flags_cover_every_known_type() {
        for t in 0..=255u8 {
            let known = !matches!(AttrType::from(t), AttrType::Unknown(_));
            assert_eq!(AttrType::from(t).expected_flags().is_some(), known);
        }
    }

    #[test]
    fn unknown_attributes_merge_in_by_type_code() {
        let a = PathAttributes {
            origin: Some(Origin::Igp),
            unknown: vec![
                RawAttribute {
                    flags: 0xe0,
                    type_code: 40,
                    value: vec![],
                },
                RawAttribute {
                    flags: 0xe0,
                    type_code: 3,
                    value: vec![],
                },
            ],
            ..Default::default()
        };
        let mut b = BytesMut::new();
        a.encode(&ctx(true), &mut b);
        assert_eq!(&b[..], &[0x40, 1, 1, 0, 0xe0, 3, 0, 0xe0, 40, 0]);
    }

    proptest! {
        /// Every attribute, alone and together: value -> encode -> decode.
        #[test]
        fn every_attribute_round_trips(a in crate::bgp::update::strategy::attributes()) {
            let ctx = ctx(true);
            let mut b = BytesMut::new();
            a.encode(&ctx, &mut b);
            let d = decode(&b, &ctx).unwrap();
            prop_assert!(d.errors.is_empty(), "{:?}", d.errors);
            prop_assert_eq!(&d.attrs, &a);
            let mut again = BytesMut::new();
            d.attrs.encode(&ctx, &mut again);
            prop_assert_eq!(again, b);
        }
    }
}
