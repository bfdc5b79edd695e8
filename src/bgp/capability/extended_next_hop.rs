//! The Extended Next Hop Encoding capability (RFC 8950 §3): NLRI families that accept a next hop of another AFI.

use bytes::{BufMut, BytesMut};
use nom::multi::many0;
use nom::number::complete::be_u16;

use super::{PResult, parse_all};
use crate::bgp::types::{Afi, Family};

/// One tuple of the capability; the value is a sequence of them.
///
/// ```text
/// +-----------------------------------------------------+
/// | NLRI AFI - 1 (2 octets)                             |
/// +-----------------------------------------------------+
/// | NLRI SAFI - 1 (2 octets)                            |
/// +-----------------------------------------------------+
/// | Nexthop AFI - 1 (2 octets)                          |
/// +-----------------------------------------------------+
/// | .....                                               |
/// ```
///
/// The NLRI SAFI field is 2 octets here but SAFIs are 1 octet everywhere
/// else (RFC 4760, IANA "SAFI Values"); a value above 255 names no SAFI and
/// makes the capability malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedNextHop {
    pub nlri: Family,
    pub next_hop_afi: Afi,
}

fn tuple(input: &[u8]) -> PResult<'_, ExtendedNextHop> {
    let (input, afi) = be_u16(input)?;
    let (input, safi) = be_u16(input)?;
    let (input, nh) = be_u16(input)?;
    let safi = u8::try_from(safi).map_err(|_| nom::Err::Error(()))?;
    Ok((
        input,
        ExtendedNextHop {
            nlri: Family::new(afi.into(), safi.into()),
            next_hop_afi: nh.into(),
        },
    ))
}

pub(super) fn decode(value: &[u8]) -> Option<Vec<ExtendedNextHop>> {
    parse_all(value, many0(tuple))
}

pub(super) fn encode(list: &[ExtendedNextHop], buf: &mut BytesMut) {
    for t in list {
        buf.put_u16(t.nlri.afi.into());
        buf.put_u16(u8::from(t.nlri.safi).into());
        buf.put_u16(t.next_hop_afi.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Capability, CapabilityCode};
    use super::*;

    #[test]
    fn ipv4_unicast_over_ipv6_rfc8950() {
        let bytes = [5, 6, 0, 1, 0, 1, 0, 2];
        let list = Capability::decode_list(&bytes).unwrap();
        assert_eq!(
            list,
            [Capability::ExtendedNextHop(vec![ExtendedNextHop {
                nlri: Family::IPV4_UNICAST,
                next_hop_afi: Afi::Ipv6
            }])]
        );
    }

    #[test]
    fn two_octet_safi_above_255_is_malformed() {
        let list = Capability::decode_list(&[5, 6, 0, 1, 1, 1, 0, 2]).unwrap();
        assert_eq!(
            list,
            [Capability::Malformed {
                code: CapabilityCode::ExtendedNextHop,
                value: vec![0, 1, 1, 1, 0, 2]
            }]
        );
    }
}
