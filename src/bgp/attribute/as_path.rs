//! AS_PATH (type 2, well-known mandatory) and AS4_PATH (type 17, optional transitive; RFC 4271 §4.3 b, RFC 5065, RFC 6793).
//!
//! ```text
//! one segment, repeated:
//! +--------------+----------------+------------------------------------+
//! | Segment Type | Segment Length | Segment Value: Length ASes of 2 or |
//! |   (1 octet)  | (1 octet, #AS) | 4 octets (4 for AS4_PATH, and for  |
//! |              |                | AS_PATH when both sides are NEW)   |
//! +--------------+----------------+------------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::bytes::complete::take;
use nom::combinator::{all_consuming, map};
use nom::multi::{count, many0};
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::AttrType;
use super::error::{Action, Reason};
use super::flags::{OPT_TRANS, WELL_KNOWN, put_with};
use super::parser::{AttrError, AttrIResult, fail_soft};
use crate::bgp::open_enum::open_enum;
use crate::bgp::types::Asn;

open_enum! {
    /// Path segment types (RFC 4271 §4.3, RFC 5065 §3).
    pub enum SegmentType: u8 {
        AsSet = 1,
        AsSequence = 2,
        AsConfedSequence = 3,
        AsConfedSet = 4,
    }
}

impl SegmentType {
    pub fn is_confed(self) -> bool {
        matches!(
            self,
            SegmentType::AsConfedSequence | SegmentType::AsConfedSet
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    /// Never empty in a decoded path (RFC 7606 §7.2).
    pub asns: Vec<Asn>,
}

/// An AS path, always held with 4-octet AS numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty path for no ASes).
    pub fn sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<Asn> = asns.into_iter().map(Asn).collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::AsSequence,
                asns,
            }],
        }
    }

    /// Path length for route selection and for RFC 6793 §4.2.3: an AS_SET
    /// counts 1 whatever its size (RFC 4271 §9.1.2.2 a), confederation
    /// segments count 0 (RFC 5065 §5.3).
    pub fn count(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::AsSequence => s.asns.len(),
                SegmentType::AsSet => 1,
                _ => 0,
            })
            .sum()
    }

    /// The leftmost AS, if the path starts with an AS_SEQUENCE.
    pub fn first_as(&self) -> Option<Asn> {
        match self.segments.first() {
            Some(AsSegment {
                kind: SegmentType::AsSequence,
                asns,
            }) => asns.first().copied(),
            _ => None,
        }
    }

    pub fn has_confed(&self) -> bool {
        self.segments.iter().any(|s| s.kind.is_confed())
    }

    /// Every AS number in the path, in order.
    pub fn asns(&self) -> impl Iterator<Item = Asn> + '_ {
        self.segments.iter().flat_map(|s| s.asns.iter().copied())
    }

    /// The RFC 6793 §4.2.2 AS4_PATH for a 2-octet peer: the path without
    /// confederation segments, needed only if some AS does not fit 2 octets.
    pub fn as4_path(&self) -> Option<AsPath> {
        if self.asns().all(Asn::is_two_octet) {
            return None;
        }
        let segments: Vec<AsSegment> = self
            .segments
            .iter()
            .filter(|s| !s.kind.is_confed())
            .cloned()
            .collect();
        (!segments.is_empty()).then_some(AsPath { segments })
    }
}

/// Parses an AS_PATH or AS4_PATH value; a malformed one stops with
/// `action`.
///
/// RFC 7606 §7.2: "An AS_PATH is considered malformed if an unrecognized
/// segment type is encountered or if it contains a malformed segment. A
/// segment is considered malformed if any of the following are true: There
/// is an overrun where the Path Segment Length field of the last segment
/// encountered would cause the Attribute Length to be exceeded. There is an
/// underrun where after the last successfully parsed segment there is only a
/// single octet remaining (that is, there is not enough unconsumed data to
/// provide even an empty segment header). It has a Path Segment Length field
/// of zero." The caller picks the approach (treat-as-withdraw for AS_PATH,
/// attribute discard for AS4_PATH per RFC 6793 §6).
pub(crate) fn parse(value: &[u8], four_octet: bool, action: Action) -> AttrIResult<'_, AsPath> {
    // Each segment consumes at least its header, so `many0` ends exactly at
    // the end of the value; `all_consuming` only guards that.
    let segments = many0(|i| segment(i, four_octet, action));
    all_consuming(map(segments, |segments| AsPath { segments })).parse(value)
}

/// One segment. Only "no octets at all" is a (backtracking) nom error, which
/// ends the segment list; everything else is the RFC 7606 §7.2 outcome.
fn segment(input: &[u8], four_octet: bool, action: Action) -> AttrIResult<'_, AsSegment> {
    let malformed = |why| fail_soft(action, Reason::InvalidValue(why));
    let (input, t) = be_u8(input)?;
    let Ok((input, n)) = be_u8::<_, AttrError>(input) else {
        return malformed("AS_PATH underrun: single octet left");
    };
    let kind = SegmentType::from(t);
    if let SegmentType::Unknown(_) = kind {
        return malformed("unrecognized AS_PATH segment type");
    }
    if n == 0 {
        return malformed("AS_PATH segment of length zero");
    }
    let width = if four_octet { 4 } else { 2 };
    let Ok((input, body)) = take::<_, _, AttrError>(usize::from(n) * width).parse(input) else {
        return malformed("AS_PATH segment overruns the attribute");
    };
    // The body holds exactly `n` ASes, so these cannot run short.
    let asns: AttrIResult<'_, Vec<Asn>> = if four_octet {
        count(map(be_u32, Asn), usize::from(n)).parse(body)
    } else {
        count(map(be_u16, |a| Asn(u32::from(a))), usize::from(n)).parse(body)
    };
    match asns {
        Ok((_, asns)) => Ok((input, AsSegment { kind, asns })),
        Err(_) => malformed("AS_PATH segment overruns the attribute"),
    }
}

/// [`parse`] outside nom, for tests: the reason a value is malformed.
#[cfg(test)]
pub(crate) fn decode(value: &[u8], four_octet: bool) -> Result<AsPath, Reason> {
    match parse(value, four_octet, Action::TreatAsWithdraw) {
        Ok((_, path)) => Ok(path),
        Err(nom::Err::Failure(AttrError::Outcome(super::error::AttrFailure::Soft(_, reason)))) => {
            Err(reason)
        }
        // Not produced by `parse`: every error of a segment is an outcome.
        Err(_) => Err(Reason::InvalidValue("AS_PATH does not parse")),
    }
}

fn put_segments(path: &AsPath, four_octet: bool, b: &mut BytesMut) {
    for seg in &path.segments {
        // Segment Length is one octet: longer runs go as several segments.
        for chunk in seg.asns.chunks(255) {
            b.put_u8(seg.kind.into());
            b.put_u8(chunk.len() as u8);
            for asn in chunk {
                if four_octet {
                    b.put_u32(asn.0);
                } else {
                    b.put_u16(asn.to_two_octet());
                }
            }
        }
    }
}

/// Appends AS_PATH, and for a 2-octet peer also AS4_PATH when needed
/// (RFC 6793 §4.2.2).
pub(crate) fn encode(path: &AsPath, four_octet: bool, buf: &mut BytesMut) {
    put_with(buf, WELL_KNOWN, AttrType::AsPath.into(), |b| {
        put_segments(path, four_octet, b)
    });
}

pub(crate) fn encode_as4(path: &AsPath, buf: &mut BytesMut) {
    put_with(buf, OPT_TRANS, AttrType::As4Path.into(), |b| {
        put_segments(path, true, b)
    });
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use proptest::prelude::*;

    /// Canonical paths: no empty segments, no segment over 255 ASes, known
    /// segment types; confederation segments only at the front (RFC 5065 §4).
    pub fn as_path() -> impl Strategy<Value = AsPath> {
        let asn = prop_oneof![1u32..70000, any::<u32>()].prop_map(Asn);
        let seg = |kinds: Vec<SegmentType>| {
            (
                proptest::sample::select(kinds),
                proptest::collection::vec(asn.clone(), 1..8),
            )
                .prop_map(|(kind, asns)| AsSegment { kind, asns })
        };
        (
            proptest::collection::vec(
                seg(vec![
                    SegmentType::AsConfedSequence,
                    SegmentType::AsConfedSet,
                ]),
                0..2,
            ),
            proptest::collection::vec(seg(vec![SegmentType::AsSequence, SegmentType::AsSet]), 0..4),
        )
            .prop_map(|(mut c, s)| {
                c.extend(s);
                AsPath { segments: c }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn two_octet_sequence_and_set() {
        // AS_SEQUENCE 65001 65002, AS_SET {1, 2}
        let v = [2, 2, 0xfd, 0xe9, 0xfd, 0xea, 1, 2, 0, 1, 0, 2];
        let p = decode(&v, false).unwrap();
        assert_eq!(p.count(), 3);
        assert_eq!(p.first_as(), Some(Asn(65001)));
        let mut b = BytesMut::new();
        encode(&p, false, &mut b);
        assert_eq!(&b[3..], &v[..]);
    }

    #[test]
    fn four_octet_and_trans() {
        let p = AsPath::sequence([4_200_000_000, 65001]);
        let mut b = BytesMut::new();
        encode(&p, false, &mut b);
        assert_eq!(&b[..], &[0x40, 2, 6, 2, 2, 0x5b, 0xa0, 0xfd, 0xe9]);
        assert_eq!(p.as4_path(), Some(p.clone()));
        let mut b = BytesMut::new();
        encode(&p, true, &mut b);
        assert_eq!(decode(&b[3..], true).unwrap(), p);
    }

    #[test]
    fn malformed_segments() {
        assert!(decode(&[5, 1, 0, 1], false).is_err());
        assert!(decode(&[2, 0], false).is_err());
        assert!(decode(&[2, 2, 0, 1], false).is_err());
        assert!(decode(&[2, 1, 0, 1, 2], false).is_err());
        assert_eq!(decode(&[], false), Ok(AsPath::default()));
    }

    #[test]
    fn long_sequences_split() {
        let p = AsPath::sequence(1..=300);
        let mut b = BytesMut::new();
        encode(&p, true, &mut b);
        let (raw, _) = super::super::flags::cut(&b).unwrap();
        let back = decode(raw.value, true).unwrap();
        assert_eq!(back.segments.len(), 2);
        assert_eq!(back.count(), 300);
    }

    proptest! {
        #[test]
        fn round_trip_four_octet(p in strategy::as_path()) {
            let mut b = BytesMut::new();
            encode(&p, true, &mut b);
            let (raw, _) = super::super::flags::cut(&b).unwrap();
            prop_assert_eq!(decode(raw.value, true).unwrap(), p);
        }

        #[test]
        fn random_never_panics(v in proptest::collection::vec(any::<u8>(), 0..64), f: bool) {
            let _ = decode(&v, f);
        }
    }
}
