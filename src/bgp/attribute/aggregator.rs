//! ATOMIC_AGGREGATE (type 6), AGGREGATOR (type 7) and AS4_AGGREGATOR (type 18; RFC 4271 §5.1.6-7, RFC 6793).
//!
//! ```text
//! AGGREGATOR, 2-octet AS session     AGGREGATOR (4-octet AS session) / AS4_AGGREGATOR
//! +--------------+----------------+  +-------------------+----------------+
//! | AS (2)       | IPv4 address(4)|  | AS (4)            | IPv4 address(4)|
//! +--------------+----------------+  +-------------------+----------------+
//! ATOMIC_AGGREGATE has length 0.
//! ```

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::{eof, map};
use nom::number::complete::{be_u16, be_u32};

use super::AttrType;
use super::error::{AttrResult, discard_len};
use super::flags::{OPT_TRANS, WELL_KNOWN, put_with};
use super::parser::{AttrIResult, finish, whole};
use crate::bgp::types::Asn;

/// The AS and BGP Identifier of the speaker that formed an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: Asn,
    pub address: Ipv4Addr,
}

/// RFC 7606 §7.6: "The attribute SHALL be considered malformed if its length
/// is not 0 [RFC4271]. An UPDATE message with a malformed ATOMIC_AGGREGATE
/// attribute SHALL be handled using the approach of 'attribute discard'."
pub(crate) fn parse_atomic(value: &[u8]) -> AttrIResult<'_, ()> {
    whole(map(eof, |_| ()), discard_len).parse(value)
}

pub(crate) fn decode_atomic(value: &[u8]) -> AttrResult<()> {
    finish(parse_atomic(value))
}

/// RFC 7606 §7.7: AGGREGATOR "SHALL be considered malformed if ... Its length
/// is not 6 (when the 4-octet AS number capability is not advertised to or
/// not received from the peer [RFC6793]) ... Its length is not 8 (when the
/// 4-octet AS number capability is both advertised to and received from the
/// peer). An UPDATE message with a malformed AGGREGATOR attribute SHALL be
/// handled using the approach of 'attribute discard'."
pub(crate) fn parse(value: &[u8], four_octet: bool) -> AttrIResult<'_, Aggregator> {
    if four_octet {
        return parse_as4(value);
    }
    let two = map((be_u16, be_u32), |(asn, address)| Aggregator {
        asn: Asn(u32::from(asn)),
        address: Ipv4Addr::from(address),
    });
    whole(two, discard_len).parse(value)
}

pub(crate) fn decode(value: &[u8], four_octet: bool) -> AttrResult<Aggregator> {
    finish(parse(value, four_octet))
}

/// RFC 6793 §6: AS4_AGGREGATOR of a length other than 8 is malformed and
/// handled with "attribute discard" (as is AGGREGATOR of length 8 here).
pub(crate) fn parse_as4(value: &[u8]) -> AttrIResult<'_, Aggregator> {
    let four = map((be_u32, be_u32), |(asn, address)| Aggregator {
        asn: Asn(asn),
        address: Ipv4Addr::from(address),
    });
    whole(four, discard_len).parse(value)
}

pub(crate) fn decode_as4(value: &[u8]) -> AttrResult<Aggregator> {
    finish(parse_as4(value))
}

pub(crate) fn encode_atomic(buf: &mut BytesMut) {
    put_with(buf, WELL_KNOWN, AttrType::AtomicAggregate.into(), |_| {});
}

/// AGGREGATOR, plus AS4_AGGREGATOR when a 2-octet session needs it
/// (RFC 6793 §4.2.2: the AS goes as AS_TRANS and the real one in
/// AS4_AGGREGATOR).
pub(crate) fn encode(agg: &Aggregator, four_octet: bool, buf: &mut BytesMut) {
    if four_octet {
        put_with(buf, OPT_TRANS, AttrType::Aggregator.into(), |b| {
            b.put_u32(agg.asn.0);
            b.put_slice(&agg.address.octets());
        });
    } else {
        put_with(buf, OPT_TRANS, AttrType::Aggregator.into(), |b| {
            b.put_u16(agg.asn.to_two_octet());
            b.put_slice(&agg.address.octets());
        });
    }
}

pub(crate) fn encode_as4(agg: &Aggregator, buf: &mut BytesMut) {
    put_with(buf, OPT_TRANS, AttrType::As4Aggregator.into(), |b| {
        b.put_u32(agg.asn.0);
        b.put_slice(&agg.address.octets());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_octet() {
        let a = Aggregator {
            asn: Asn(65001),
            address: Ipv4Addr::new(192, 0, 2, 1),
        };
        assert_eq!(decode(&[0xfd, 0xe9, 192, 0, 2, 1], false), Ok(a));
        assert_eq!(decode(&[0, 0, 0xfd, 0xe9, 192, 0, 2, 1], true), Ok(a));
        assert!(decode(&[0, 0, 0xfd, 0xe9, 192, 0, 2, 1], false).is_err());
        assert!(decode(&[0xfd, 0xe9, 192, 0, 2, 1], true).is_err());
        let mut b = BytesMut::new();
        encode(
            &Aggregator {
                asn: Asn(4_200_000_000),
                ..a
            },
            false,
            &mut b,
        );
        assert_eq!(&b[..], &[0xc0, 7, 6, 0x5b, 0xa0, 192, 0, 2, 1]);
        assert_eq!(decode_atomic(&[]), Ok(()));
        assert!(decode_atomic(&[0]).is_err());
    }
}
