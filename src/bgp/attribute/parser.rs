//! The nom error type of the attribute parsers, carrying the RFC 7606 outcome, and the combinators they share.
//!
//! nom's own errors only say that a primitive (`be_u32`, `take`, ...) ran
//! out of octets; what RFC 7606 cares about is the approach that follows,
//! and that depends on the attribute (§7.1-7.14 give each its own). So every
//! attribute parser ends in `whole`, which turns "the value is not exactly
//! what this attribute needs" into that attribute's [`AttrFailure`], and
//! raises its other checks with `fail`. Outcomes travel as
//! `nom::Err::Failure` so that no combinator backtracks past them.

use nom::error::{ErrorKind, ParseError};
use nom::multi::count;
use nom::{IResult, Parser};

use super::error::{Action, AttrFailure, AttrResult, Reason};

/// Error of the attribute parsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrError {
    /// A nom primitive failed (too few octets, octets left over); the
    /// enclosing `whole` turns it into the attribute's outcome.
    Syntax(ErrorKind),
    /// The RFC 7606 outcome of the attribute.
    Outcome(AttrFailure),
}

impl ParseError<&[u8]> for AttrError {
    fn from_error_kind(_: &[u8], kind: ErrorKind) -> Self {
        AttrError::Syntax(kind)
    }

    /// An outcome already decided is kept; nom's wrapping adds nothing to it.
    fn append(_: &[u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of the attribute parsers.
pub type AttrIResult<'a, T> = IResult<&'a [u8], T, AttrError>;

/// Stops the parse with `failure`.
pub(crate) fn fail<'a, T>(failure: AttrFailure) -> AttrIResult<'a, T> {
    Err(nom::Err::Failure(AttrError::Outcome(failure)))
}

/// Stops the parse with a soft outcome.
pub(crate) fn fail_soft<'a, T>(action: Action, reason: Reason) -> AttrIResult<'a, T> {
    fail(AttrFailure::Soft(action, reason))
}

/// Runs `parser` over all of `value`: a syntax error, or octets left over,
/// become `on_syntax(value.len())`; outcomes pass through.
pub(crate) fn whole<'a, T>(
    mut parser: impl Parser<&'a [u8], Output = T, Error = AttrError>,
    on_syntax: impl Fn(usize) -> AttrFailure,
) -> impl FnMut(&'a [u8]) -> AttrIResult<'a, T> {
    move |value: &'a [u8]| {
        let syntax = || nom::Err::Failure(AttrError::Outcome(on_syntax(value.len())));
        match parser.parse(value) {
            Ok((rest, out)) if rest.is_empty() => Ok((rest, out)),
            Ok(_) => Err(syntax()),
            Err(
                nom::Err::Error(AttrError::Syntax(_)) | nom::Err::Failure(AttrError::Syntax(_)),
            ) => Err(syntax()),
            // `complete` primitives never ask for more input; should one,
            // the value is as short as if it had failed.
            Err(nom::Err::Incomplete(_)) => Err(syntax()),
            Err(e) => Err(e),
        }
    }
}

/// A non-empty run of `size`-octet items, the shape RFC 7606 §7.8, §7.10,
/// §7.14 and RFC 8092 §6 require ("a non-zero multiple of" the item size).
/// Leftover octets are left for `whole` to reject; the vector is sized
/// from the octets present.
pub(crate) fn items<'a, T>(
    size: usize,
    mut item: impl Parser<&'a [u8], Output = T, Error = AttrError>,
) -> impl Parser<&'a [u8], Output = Vec<T>, Error = AttrError> {
    move |input: &'a [u8]| {
        let n = input.len() / size;
        if n == 0 {
            return Err(nom::Err::Error(AttrError::Syntax(ErrorKind::Count)));
        }
        count(|i| item.parse(i), n).parse(input)
    }
}

/// The outcome of a finished parse, for the callers outside nom.
pub(crate) fn finish<T>(r: AttrIResult<'_, T>) -> AttrResult<T> {
    match r {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Error(AttrError::Outcome(f)) | nom::Err::Failure(AttrError::Outcome(f))) => {
            Err(f)
        }
        // Every parser ends in `whole`, so this is not reached; a value no
        // parser could make sense of is malformed, and treat-as-withdraw is
        // RFC 7606 §2's default for that.
        Err(_) => Err(AttrFailure::Soft(
            Action::TreatAsWithdraw,
            Reason::InvalidValue("attribute value does not parse"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::{discard_len, withdraw_len};
    use super::super::{
        aggregator, as_path, communities, extended_communities, large_communities, med_local_pref,
        next_hop, origin, reflection,
    };
    use super::*;
    use crate::bgp::context::PeerRelation;
    use nom::number::complete::be_u16;
    use proptest::prelude::*;

    #[test]
    fn whole_turns_short_and_long_values_into_the_outcome() {
        let mut p = whole(be_u16, withdraw_len);
        assert_eq!(p(&[1, 2]), Ok((&[][..], 0x0102)));
        for v in [&[1][..], &[1, 2, 3]] {
            assert_eq!(
                p(v),
                Err(nom::Err::Failure(AttrError::Outcome(withdraw_len(v.len()))))
            );
        }
    }

    #[test]
    fn whole_passes_outcomes_through() {
        let inner = |_: &[u8]| -> AttrIResult<'_, ()> { fail(discard_len(9)) };
        let r = whole(inner, withdraw_len)(&[1]);
        assert_eq!(
            r,
            Err(nom::Err::Failure(AttrError::Outcome(discard_len(9))))
        );
    }

    #[test]
    fn items_needs_at_least_one_whole_item() {
        let mut p = whole(items(2, be_u16), withdraw_len);
        assert_eq!(p(&[0, 1, 0, 2]), Ok((&[][..], vec![1, 2])));
        assert!(p(&[]).is_err());
        assert!(p(&[0, 1, 0]).is_err());
    }

    /// Only an RFC 7606 outcome (as `Failure`) ever leaves a parser, so
    /// `finish` never needs its fallback.
    fn only_outcomes<T>(r: AttrIResult<'_, T>) -> bool {
        matches!(r, Ok(_) | Err(nom::Err::Failure(AttrError::Outcome(_))))
    }

    proptest! {
        #[test]
        fn every_parser_ends_in_an_outcome(v in proptest::collection::vec(any::<u8>(), 0..40), f: bool) {
            let i = PeerRelation::Internal;
            prop_assert!(only_outcomes(origin::parse(&v)));
            prop_assert!(only_outcomes(as_path::parse(&v, f, Action::TreatAsWithdraw)));
            prop_assert!(only_outcomes(next_hop::parse(&v)));
            prop_assert!(only_outcomes(med_local_pref::parse_med(&v)));
            prop_assert!(only_outcomes(med_local_pref::parse_local_pref(&v, i)));
            prop_assert!(only_outcomes(aggregator::parse_atomic(&v)));
            prop_assert!(only_outcomes(aggregator::parse(&v, f)));
            prop_assert!(only_outcomes(aggregator::parse_as4(&v)));
            prop_assert!(only_outcomes(communities::parse(&v)));
            prop_assert!(only_outcomes(reflection::parse_originator(&v, i)));
            prop_assert!(only_outcomes(reflection::parse_cluster_list(&v, i)));
            prop_assert!(only_outcomes(extended_communities::parse(&v)));
            prop_assert!(only_outcomes(large_communities::parse(&v)));
        }

        #[test]
        fn mp_parsers_end_in_an_outcome(
            family in proptest::sample::select(vec![[0u8, 1, 1], [0, 2, 1], [0, 25, 65]]),
            tail in proptest::collection::vec(any::<u8>(), 0..60),
            ap: bool,
        ) {
            use crate::bgp::types::Family;
            let v = [&family[..], &tail].concat();
            let mut whole = vec![0x90, 14];
            whole.extend_from_slice(&(v.len() as u16).to_be_bytes());
            whole.extend_from_slice(&v);
            let (raw, _) = super::super::flags::cut(&whole).unwrap();
            let ctx = crate::bgp::context::CodecContext {
                add_path: if ap { vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST] } else { vec![] },
                ..Default::default()
            };
            prop_assert!(only_outcomes(super::super::mp_reach::parse_reach(raw, &ctx)));
            prop_assert!(only_outcomes(super::super::mp_reach::parse_unreach(raw, &ctx)));
        }
    }
}
