//! RFC 6793 §4.2.3: rebuilding the 4-octet AS path and aggregator from what a 2-octet (OLD) speaker sent.
//!
//! The encoding direction (§4.2.2: AS_TRANS in AS_PATH/AGGREGATOR plus
//! AS4_PATH/AS4_AGGREGATOR) is done by the attribute encoders, see
//! [`AsPath::as4_path`].

use super::attribute::error::{Action, AttributeError, Reason};
use super::attribute::{Aggregator, AsPath, AsSegment, AttrType, PathAttributes, SegmentType};
use super::types::Asn;

/// Merges AS_PATH with AS4_PATH: RFC 6793 §4.2.3, "the leading AS numbers
/// taken from AS_PATH then followed by all of AS4_PATH", where the number of
/// leading ASes is the difference of the two path lengths counted as in
/// RFC 4271 §9.1.2.2 (an AS_SET counts 1; confederation segments count 0 and
/// always come from AS_PATH, since AS4_PATH never holds them).
///
/// `None` when AS_PATH holds fewer ASes than AS4_PATH: "the AS4_PATH
/// attribute SHALL be ignored, and the AS_PATH attribute SHALL be taken as
/// the AS path information."
pub fn merge_paths(as_path: &AsPath, as4_path: &AsPath) -> Option<AsPath> {
    let mut keep = as_path.count().checked_sub(as4_path.count())?;
    let mut segments: Vec<AsSegment> = Vec::new();
    for seg in &as_path.segments {
        match seg.kind {
            k if k.is_confed() => segments.push(seg.clone()),
            _ if keep == 0 => break,
            SegmentType::AsSequence => {
                let take = keep.min(seg.asns.len());
                segments.push(AsSegment {
                    kind: seg.kind,
                    asns: seg.asns[..take].to_vec(),
                });
                keep -= take;
            }
            _ => {
                segments.push(seg.clone());
                keep -= 1;
            }
        }
    }
    let mut rest = as4_path.segments.iter().cloned();
    // Join a leading-AS run and the AS4_PATH's first sequence into one
    // sequence, as they were one on the wire.
    if let (Some(last), Some(first)) = (segments.last_mut(), as4_path.segments.first())
        && last.kind == SegmentType::AsSequence
        && first.kind == SegmentType::AsSequence
    {
        last.asns.extend_from_slice(&first.asns);
        rest.next();
    }
    segments.extend(rest);
    Some(AsPath { segments })
}

/// Applies §4.2.3 to decoded attributes of a 2-octet session, returning
/// what was ignored (for logging).
///
/// "If the AGGREGATOR attribute is present and its AS is not AS_TRANS, then
/// the AS4_AGGREGATOR attribute and the AS4_PATH attribute SHALL be ignored
/// ... If the AS is AS_TRANS and AS4_AGGREGATOR is present, the AS4_AGGREGATOR
/// is taken as the aggregator."
pub(crate) fn reconcile(
    attrs: &mut PathAttributes,
    as4_path: Option<AsPath>,
    as4_aggregator: Option<Aggregator>,
) -> Vec<AttributeError> {
    let mut errors = Vec::new();
    if let Some(agg) = &mut attrs.aggregator {
        // RFC 6793 §4.2.3: "When both of the attributes are received, if the
        // AS number in the AGGREGATOR attribute is not AS_TRANS, then: the
        // AS4_AGGREGATOR attribute and the AS4_PATH attribute SHALL be
        // ignored". Both: an AGGREGATOR alone (a 2-octet aggregator on a path
        // that later crossed 4-octet ASes) leaves AS4_PATH in force.
        if agg.asn != Asn::TRANS && as4_aggregator.is_some() {
            errors.push(AttributeError {
                type_code: AttrType::As4Path.into(),
                action: Action::Discard,
                reason: Reason::As4IgnoredAggregatorNotTrans,
            });
            return errors;
        }
        if let Some(a4) = as4_aggregator {
            *agg = a4;
        }
    }
    if let (Some(path), Some(p4)) = (&mut attrs.as_path, as4_path) {
        match merge_paths(path, &p4) {
            Some(merged) => *path = merged,
            None => errors.push(AttributeError {
                type_code: AttrType::As4Path.into(),
                action: Action::Discard,
                reason: Reason::As4PathLonger,
            }),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn seq(a: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentType::AsSequence,
            asns: a.iter().copied().map(Asn).collect(),
        }
    }

    fn set(a: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentType::AsSet,
            asns: a.iter().copied().map(Asn).collect(),
        }
    }

    fn path(s: Vec<AsSegment>) -> AsPath {
        AsPath { segments: s }
    }

    const T: u32 = 23456;

    #[test]
    fn equal_lengths_take_as4_path() {
        let p = path(vec![seq(&[65001, T, 65002])]);
        let p4 = path(vec![seq(&[65001, 4_200_000_000, 65002])]);
        assert_eq!(merge_paths(&p, &p4), Some(p4));
    }

    #[test]
    fn old_speakers_prepended_leading_ases() {
        // Two OLD speakers (1, 2) prepended after the AS4_PATH was formed.
        let p = path(vec![seq(&[1, 2, T, 65002])]);
        let p4 = path(vec![seq(&[4_200_000_000, 65002])]);
        assert_eq!(
            merge_paths(&p, &p4),
            Some(path(vec![seq(&[1, 2, 4_200_000_000, 65002])]))
        );
    }

    #[test]
    fn as4_path_longer_is_ignored() {
        let p = path(vec![seq(&[T])]);
        let p4 = path(vec![seq(&[4_200_000_000, 65002])]);
        assert_eq!(merge_paths(&p, &p4), None);
        let mut attrs = PathAttributes {
            as_path: Some(p.clone()),
            ..Default::default()
        };
        let errs = reconcile(&mut attrs, Some(p4), None);
        assert_eq!(attrs.as_path, Some(p));
        assert_eq!(errs[0].reason, Reason::As4PathLonger);
    }

    #[test]
    fn sets_count_one_and_confed_zero() {
        let p = path(vec![
            AsSegment {
                kind: SegmentType::AsConfedSequence,
                asns: vec![Asn(64512)],
            },
            seq(&[7]),
            set(&[T, 8, 9]),
        ]);
        let p4 = path(vec![set(&[4_200_000_000, 8, 9])]);
        assert_eq!(
            merge_paths(&p, &p4),
            Some(path(vec![
                AsSegment {
                    kind: SegmentType::AsConfedSequence,
                    asns: vec![Asn(64512)]
                },
                seq(&[7]),
                set(&[4_200_000_000, 8, 9]),
            ]))
        );
    }

    #[test]
    fn aggregator_rules() {
        let addr = Ipv4Addr::new(192, 0, 2, 1);
        let big = Aggregator {
            asn: Asn(4_200_000_000),
            address: addr,
        };
        // AGGREGATOR AS is AS_TRANS: AS4_AGGREGATOR and AS4_PATH are used.
        let mut attrs = PathAttributes {
            aggregator: Some(Aggregator {
                asn: Asn::TRANS,
                address: addr,
            }),
            as_path: Some(path(vec![seq(&[T])])),
            ..Default::default()
        };
        let errs = reconcile(
            &mut attrs,
            Some(path(vec![seq(&[4_200_000_000])])),
            Some(big),
        );
        assert!(errs.is_empty());
        assert_eq!(attrs.aggregator, Some(big));
        assert_eq!(attrs.as_path, Some(path(vec![seq(&[4_200_000_000])])));
        // AGGREGATOR AS is a real 2-octet AS: both AS4 attributes ignored.
        let small = Aggregator {
            asn: Asn(65001),
            address: addr,
        };
        let mut attrs = PathAttributes {
            aggregator: Some(small),
            as_path: Some(path(vec![seq(&[T])])),
            ..Default::default()
        };
        let errs = reconcile(
            &mut attrs,
            Some(path(vec![seq(&[4_200_000_000])])),
            Some(big),
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(attrs.aggregator, Some(small));
        assert_eq!(attrs.as_path, Some(path(vec![seq(&[T])])));
    }

    /// Found by the fuzzer: a 2-octet AGGREGATOR without AS4_AGGREGATOR
    /// must not make the AS4_PATH be ignored ("when both ... are received").
    #[test]
    fn aggregator_alone_keeps_as4_path() {
        let small = Aggregator {
            asn: Asn(65001),
            address: Ipv4Addr::new(192, 0, 2, 1),
        };
        let mut attrs = PathAttributes {
            aggregator: Some(small),
            as_path: Some(path(vec![seq(&[T, 65001])])),
            ..Default::default()
        };
        let errs = reconcile(
            &mut attrs,
            Some(path(vec![seq(&[4_200_000_000, 65001])])),
            None,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            attrs.as_path,
            Some(path(vec![seq(&[4_200_000_000, 65001])]))
        );
        assert_eq!(attrs.aggregator, Some(small));
    }
}
