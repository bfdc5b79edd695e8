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

use super::AttrType;
use super::error::{AttrResult, bad_len, discard};
use super::flags::{OPT_TRANS, WELL_KNOWN, put_with};
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
pub(crate) fn decode_atomic(value: &[u8]) -> AttrResult<()> {
    if value.is_empty() {
        Ok(())
    } else {
        discard(bad_len(value.len()))
    }
}

/// RFC 7606 §7.7: AGGREGATOR "SHALL be considered malformed if ... Its length
/// is not 6 (when the 4-octet AS number capability is not advertised to or
/// not received from the peer [RFC6793]) ... Its length is not 8 (when the
/// 4-octet AS number capability is both advertised to and received from the
/// peer). An UPDATE message with a malformed AGGREGATOR attribute SHALL be
/// handled using the approach of 'attribute discard'."
pub(crate) fn decode(value: &[u8], four_octet: bool) -> AttrResult<Aggregator> {
    match (four_octet, value) {
        (false, &[a, b, ref ip @ ..]) if ip.len() == 4 => Ok(Aggregator {
            asn: Asn(u32::from(u16::from_be_bytes([a, b]))),
            address: Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
        }),
        (true, _) => decode_as4(value),
        _ => discard(bad_len(value.len())),
    }
}

/// RFC 6793 §6: AS4_AGGREGATOR of a length other than 8 is malformed and
/// handled with "attribute discard" (as is AGGREGATOR of length 8 here).
pub(crate) fn decode_as4(value: &[u8]) -> AttrResult<Aggregator> {
    match value {
        &[a, b, c, d, e, f, g, h] => Ok(Aggregator {
            asn: Asn(u32::from_be_bytes([a, b, c, d])),
            address: Ipv4Addr::new(e, f, g, h),
        }),
        _ => discard(bad_len(value.len())),
    }
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
