//! BGP capabilities (RFC 5492): the TLVs an OPEN's Capabilities optional parameter carries.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! ~                              ~
//! +------------------------------+
//! ```
//!
//! Malformed values of a known code are kept raw as [`Capability::Malformed`]
//! and never fail the OPEN: RFC 5492 §5 says "If a BGP speaker receives from
//! its peer a capability that it does not itself support or recognize, it
//! MUST ignore that capability", and RFC 7911 §4 applies the same to ADD-PATH
//! ("the capability SHOULD be treated as not understood and ignored"); none
//! of the capability RFCs implemented here prescribes a NOTIFICATION for a bad
//! value. Only a TLV that overruns its parameter fails the OPEN, because then
//! the parameter itself is malformed (RFC 4271 §6.2, see `open.rs`).

mod add_path;
mod extended_next_hop;
mod fqdn;
mod graceful_restart;

pub use add_path::{AddPathFamily, AddPathMode};
pub use extended_next_hop::ExtendedNextHop;
pub use fqdn::Fqdn;
pub use graceful_restart::{
    GracefulRestart, GracefulRestartFamily, LlgrFamily, MAX_LLGR_STALE_TIME, MAX_RESTART_TIME,
};

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::all_consuming;
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::open_enum::open_enum;
use super::types::{Asn, Family};

open_enum! {
    /// Capability Code (IANA "Capability Codes").
    pub enum CapabilityCode: u8 {
        /// RFC 4760.
        Multiprotocol = 1,
        /// RFC 2918.
        RouteRefresh = 2,
        /// RFC 8950.
        ExtendedNextHop = 5,
        /// RFC 8654.
        ExtendedMessage = 6,
        /// RFC 4724.
        GracefulRestart = 64,
        /// RFC 6793.
        FourOctetAs = 65,
        /// RFC 7911.
        AddPath = 69,
        /// RFC 7313.
        EnhancedRouteRefresh = 70,
        /// RFC 9494.
        LongLivedGracefulRestart = 71,
        /// draft-walton-bgp-hostname-capability.
        Fqdn = 73,
    }
}

/// Most octets a capability value can hold: its Length field is one octet
/// (RFC 5492 §4), also inside RFC 9072 extended optional parameters.
pub const MAX_VALUE_LEN: usize = 255;

/// Parser result type for capability values; the error carries nothing
/// because any failure makes the whole value [`Capability::Malformed`].
pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, ()>;

/// One capability, as the TLV RFC 5492 §4 defines:
///
/// ```text
/// +------------------------------+
/// | Capability Code (1 octet)    |
/// +------------------------------+
/// | Capability Length (1 octet)  |
/// +------------------------------+
/// | Capability Value (variable)  |
/// ~                              ~
/// +------------------------------+
/// ```
///
/// Value layouts of the variants without their own type:
///
/// ```text
/// Multiprotocol (RFC 4760 §8), length 4:
///  0       7      15      23      31
///  +-------+-------+-------+-------+
///  |      AFI      | Res.  | SAFI  |
///  +-------+-------+-------+-------+
///
/// 4-octet AS (RFC 6793 §3), length 4:
///  +-------+-------+-------+-------+
///  |      AS number (4 octets)     |
///  +-------+-------+-------+-------+
///
/// Route Refresh (RFC 2918 §2), Enhanced Route Refresh (RFC 7313 §3),
/// Extended Message (RFC 8654 §3): length 0, no value.
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Code 1: the speaker handles this family (RFC 4760 §8).
    Multiprotocol(Family),
    /// Code 2 (RFC 2918).
    RouteRefresh,
    /// Code 5: NLRI families that may carry a next hop of another AFI (RFC 8950 §3).
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// Code 6: messages up to 65535 octets (RFC 8654).
    ExtendedMessage,
    /// Code 64 (RFC 4724, RFC 8538).
    GracefulRestart(GracefulRestart),
    /// Code 65: the speaker's real AS (RFC 6793).
    FourOctetAs(Asn),
    /// Code 69: per-family path identifier support (RFC 7911 §4).
    AddPath(Vec<AddPathFamily>),
    /// Code 70 (RFC 7313).
    EnhancedRouteRefresh,
    /// Code 71 (RFC 9494).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// Code 73: host and domain name (draft-walton-bgp-hostname-capability).
    Fqdn(Fqdn),
    /// A known code whose value does not parse; kept raw and ignored by
    /// negotiation (RFC 5492 §5).
    Malformed {
        code: CapabilityCode,
        value: Vec<u8>,
    },
    /// A code without a typed variant, kept raw. Decoding never produces
    /// this with a code that has a typed variant.
    Unknown { code: u8, value: Vec<u8> },
}

/// A capability that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityEncodeError {
    #[error("capability {code:?} value of {len} octets exceeds the 255-octet limit")]
    TooLong { code: CapabilityCode, len: usize },
}

/// A capability TLV runs past the end of its optional parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capability at offset {offset} declares {declared} octets, {available} remain")]
pub struct CapabilityOverrun {
    pub offset: usize,
    pub declared: usize,
    pub available: usize,
}

/// Runs `parser` over the whole of `value`; `None` if it fails or leaves octets.
pub(crate) fn parse_all<'a, T>(
    value: &'a [u8],
    parser: impl Parser<&'a [u8], Output = T, Error = ()>,
) -> Option<T> {
    all_consuming(parser).parse(value).ok().map(|(_, v)| v)
}

/// AFI (2 octets) and SAFI (1 octet), the order every per-family list uses.
pub(crate) fn family(input: &[u8]) -> PResult<'_, Family> {
    let (input, afi) = be_u16(input)?;
    let (input, safi) = be_u8(input)?;
    Ok((input, Family::new(afi.into(), safi.into())))
}

pub(crate) fn put_family(buf: &mut BytesMut, family: Family) {
    buf.put_u16(family.afi.into());
    buf.put_u8(family.safi.into());
}

fn multiprotocol(input: &[u8]) -> PResult<'_, Family> {
    let (input, afi) = be_u16(input)?;
    // RFC 4760 §8: "Res. - Reserved (8 bit) field. SHOULD be set to 0 by the
    // sender and ignored by the receiver."
    let (input, _reserved) = be_u8(input)?;
    let (input, safi) = be_u8(input)?;
    Ok((input, Family::new(afi.into(), safi.into())))
}

impl Capability {
    /// The Capability Code.
    pub fn code(&self) -> CapabilityCode {
        match self {
            Capability::Multiprotocol(_) => CapabilityCode::Multiprotocol,
            Capability::RouteRefresh => CapabilityCode::RouteRefresh,
            Capability::ExtendedNextHop(_) => CapabilityCode::ExtendedNextHop,
            Capability::ExtendedMessage => CapabilityCode::ExtendedMessage,
            Capability::GracefulRestart(_) => CapabilityCode::GracefulRestart,
            Capability::FourOctetAs(_) => CapabilityCode::FourOctetAs,
            Capability::AddPath(_) => CapabilityCode::AddPath,
            Capability::EnhancedRouteRefresh => CapabilityCode::EnhancedRouteRefresh,
            Capability::LongLivedGracefulRestart(_) => CapabilityCode::LongLivedGracefulRestart,
            Capability::Fqdn(_) => CapabilityCode::Fqdn,
            Capability::Malformed { code, .. } => *code,
            Capability::Unknown { code, .. } => CapabilityCode::from(*code),
        }
    }

    /// Interprets one capability value. Never fails: a value that does not
    /// parse becomes [`Capability::Malformed`] (see the module doc).
    pub fn decode_value(code: u8, value: &[u8]) -> Capability {
        let empty = |c: Capability| value.is_empty().then_some(c);
        let typed = match CapabilityCode::from(code) {
            CapabilityCode::Multiprotocol => {
                parse_all(value, multiprotocol).map(Capability::Multiprotocol)
            }
            CapabilityCode::RouteRefresh => empty(Capability::RouteRefresh),
            CapabilityCode::ExtendedNextHop => {
                extended_next_hop::decode(value).map(Capability::ExtendedNextHop)
            }
            CapabilityCode::ExtendedMessage => empty(Capability::ExtendedMessage),
            CapabilityCode::GracefulRestart => {
                graceful_restart::decode_gr(value).map(Capability::GracefulRestart)
            }
            CapabilityCode::FourOctetAs => {
                parse_all(value, be_u32).map(|asn| Capability::FourOctetAs(Asn(asn)))
            }
            CapabilityCode::AddPath => add_path::decode(value).map(Capability::AddPath),
            CapabilityCode::EnhancedRouteRefresh => empty(Capability::EnhancedRouteRefresh),
            CapabilityCode::LongLivedGracefulRestart => {
                graceful_restart::decode_llgr(value).map(Capability::LongLivedGracefulRestart)
            }
            CapabilityCode::Fqdn => fqdn::decode(value).map(Capability::Fqdn),
            CapabilityCode::Unknown(code) => {
                return Capability::Unknown {
                    code,
                    value: value.to_vec(),
                };
            }
        };
        typed.unwrap_or_else(|| Capability::Malformed {
            code: code.into(),
            value: value.to_vec(),
        })
    }

    fn encode_value(&self, buf: &mut BytesMut) {
        match self {
            Capability::Multiprotocol(f) => {
                buf.put_u16(f.afi.into());
                buf.put_u8(0);
                buf.put_u8(f.safi.into());
            }
            Capability::RouteRefresh
            | Capability::ExtendedMessage
            | Capability::EnhancedRouteRefresh => {}
            Capability::ExtendedNextHop(list) => extended_next_hop::encode(list, buf),
            Capability::GracefulRestart(gr) => gr.encode(buf),
            Capability::FourOctetAs(asn) => buf.put_u32(asn.0),
            Capability::AddPath(list) => add_path::encode(list, buf),
            Capability::LongLivedGracefulRestart(list) => graceful_restart::encode_llgr(list, buf),
            Capability::Fqdn(f) => f.encode(buf),
            Capability::Malformed { value, .. } | Capability::Unknown { value, .. } => {
                buf.put_slice(value)
            }
        }
    }

    /// Octets of the value (without code and length).
    pub fn value_len(&self) -> usize {
        let mut buf = BytesMut::new();
        self.encode_value(&mut buf);
        buf.len()
    }

    /// Appends the TLV. On error nothing is appended.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), CapabilityEncodeError> {
        let start = buf.len();
        buf.put_u8(self.code().into());
        buf.put_u8(0);
        self.encode_value(buf);
        let len = buf.len() - start - 2;
        match u8::try_from(len) {
            Ok(len) => {
                buf[start + 1] = len;
                Ok(())
            }
            Err(_) => {
                buf.truncate(start);
                Err(CapabilityEncodeError::TooLong {
                    code: self.code(),
                    len,
                })
            }
        }
    }

    /// Decodes the value of one Capabilities optional parameter: a sequence
    /// of TLVs (RFC 5492 §4), possibly empty.
    pub fn decode_list(mut param: &[u8]) -> Result<Vec<Capability>, CapabilityOverrun> {
        let total = param.len();
        let mut out = Vec::new();
        while !param.is_empty() {
            let offset = total - param.len();
            let overrun = |declared| CapabilityOverrun {
                offset,
                declared,
                available: param.len().saturating_sub(2),
            };
            let [code, len, rest @ ..] = param else {
                return Err(overrun(2));
            };
            let len = usize::from(*len);
            let Some(value) = rest.get(..len) else {
                return Err(overrun(len));
            };
            out.push(Capability::decode_value(*code, value));
            param = &rest[len..];
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    //! proptest strategies producing capabilities in canonical form.
    use super::*;
    use proptest::prelude::*;

    pub fn family() -> impl Strategy<Value = Family> {
        (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Family::new(a.into(), s.into()))
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9.-]{0,60}"
    }

    fn typed() -> impl Strategy<Value = Capability> {
        prop_oneof![
            family().prop_map(Capability::Multiprotocol),
            Just(Capability::RouteRefresh),
            Just(Capability::EnhancedRouteRefresh),
            Just(Capability::ExtendedMessage),
            any::<u32>().prop_map(|a| Capability::FourOctetAs(Asn(a))),
            prop::collection::vec(
                (family(), any::<u16>()).prop_map(|(nlri, nh)| ExtendedNextHop {
                    nlri,
                    next_hop_afi: nh.into()
                }),
                0..10
            )
            .prop_map(Capability::ExtendedNextHop),
            (
                any::<bool>(),
                any::<bool>(),
                0..=MAX_RESTART_TIME,
                prop::collection::vec(
                    (family(), any::<bool>()).prop_map(|(family, forwarding_preserved)| {
                        GracefulRestartFamily {
                            family,
                            forwarding_preserved,
                        }
                    }),
                    0..10
                )
            )
                .prop_map(|(restart_state, notification, restart_time, families)| {
                    Capability::GracefulRestart(GracefulRestart {
                        restart_state,
                        notification,
                        restart_time,
                        families,
                    })
                }),
            prop::collection::vec(
                (family(), any::<u8>()).prop_map(|(family, m)| AddPathFamily {
                    family,
                    mode: m.into()
                }),
                0..10
            )
            .prop_map(Capability::AddPath),
            prop::collection::vec(
                (family(), any::<bool>(), 0..=MAX_LLGR_STALE_TIME).prop_map(
                    |(family, forwarding_preserved, stale_time)| LlgrFamily {
                        family,
                        forwarding_preserved,
                        stale_time
                    }
                ),
                0..10
            )
            .prop_map(Capability::LongLivedGracefulRestart),
            (label(), label())
                .prop_map(|(hostname, domain)| Capability::Fqdn(Fqdn { hostname, domain })),
        ]
    }

    /// Any capability, including raw ones, with a value that fits its TLV.
    pub fn capability() -> impl Strategy<Value = Capability> {
        prop_oneof![
            4 => typed(),
            1 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)).prop_filter_map(
                "typed code",
                |(code, value)| match CapabilityCode::from(code) {
                    CapabilityCode::Unknown(code) => Some(Capability::Unknown { code, value }),
                    _ => None,
                }
            ),
            1 => (prop::sample::select(&[1u8, 2, 5, 6, 64, 65, 69, 70, 71, 73][..]),
                  prop::collection::vec(any::<u8>(), 0..40)).prop_filter_map(
                "not malformed",
                |(code, value)| match Capability::decode_value(code, &value) {
                    m @ Capability::Malformed { .. } => Some(m),
                    _ => None,
                }
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::types::{Afi, Safi};
    use proptest::prelude::*;

    fn tlv(c: &Capability) -> Vec<u8> {
        let mut buf = BytesMut::new();
        c.encode(&mut buf).unwrap();
        buf.to_vec()
    }

    fn round_trip(bytes: &[u8]) -> Capability {
        let list = Capability::decode_list(bytes).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(tlv(&list[0]), bytes);
        list.into_iter().next().unwrap()
    }

    #[test]
    fn multiprotocol_ipv6_unicast() {
        let c = round_trip(&[1, 4, 0, 2, 0, 1]);
        assert_eq!(c, Capability::Multiprotocol(Family::IPV6_UNICAST));
    }

    #[test]
    fn multiprotocol_reserved_octet_is_ignored() {
        let list = Capability::decode_list(&[1, 4, 0, 1, 0xff, 1]).unwrap();
        assert_eq!(list, [Capability::Multiprotocol(Family::IPV4_UNICAST)]);
    }

    #[test]
    fn flag_capabilities() {
        assert_eq!(round_trip(&[2, 0]), Capability::RouteRefresh);
        assert_eq!(round_trip(&[70, 0]), Capability::EnhancedRouteRefresh);
        assert_eq!(round_trip(&[6, 0]), Capability::ExtendedMessage);
    }

    #[test]
    fn four_octet_as_rfc6793() {
        assert_eq!(
            round_trip(&[65, 4, 0, 0x03, 0x0d, 0x40]),
            Capability::FourOctetAs(Asn(200_000))
        );
    }

    #[test]
    fn wrong_length_values_are_malformed_not_errors() {
        for (bytes, code) in [
            (&[65u8, 2, 0, 1][..], CapabilityCode::FourOctetAs),
            (&[2, 1, 0][..], CapabilityCode::RouteRefresh),
            (&[1, 3, 0, 1, 0][..], CapabilityCode::Multiprotocol),
            (&[69, 3, 0, 1, 1][..], CapabilityCode::AddPath),
            (&[64, 1, 0][..], CapabilityCode::GracefulRestart),
            (
                &[71, 6, 0, 1, 1, 0, 0, 0][..],
                CapabilityCode::LongLivedGracefulRestart,
            ),
            (&[5, 5, 0, 1, 0, 1, 0][..], CapabilityCode::ExtendedNextHop),
            (&[73, 2, 5, b'a'][..], CapabilityCode::Fqdn),
        ] {
            let c = round_trip(bytes);
            assert_eq!(
                c,
                Capability::Malformed {
                    code,
                    value: bytes[2..].to_vec()
                },
                "{bytes:?}"
            );
            assert_eq!(c.code(), code);
        }
    }

    #[test]
    fn unknown_code_is_kept_raw() {
        // Cisco's pre-standard route refresh (128) and BGP Role (9, RFC 9234).
        assert_eq!(
            round_trip(&[128, 0]),
            Capability::Unknown {
                code: 128,
                value: vec![]
            }
        );
        assert_eq!(
            round_trip(&[9, 1, 3]),
            Capability::Unknown {
                code: 9,
                value: vec![3]
            }
        );
    }

    #[test]
    fn several_capabilities_in_one_parameter_keep_order() {
        let bytes = [
            1, 4, 0, 1, 0, 1, 2, 0, 1, 4, 0, 2, 0, 1, 65, 4, 0, 0, 0xfc, 0,
        ];
        let list = Capability::decode_list(&bytes).unwrap();
        assert_eq!(
            list,
            [
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::Multiprotocol(Family::new(Afi::Ipv6, Safi::Unicast)),
                Capability::FourOctetAs(Asn(64512)),
            ]
        );
    }

    #[test]
    fn overrunning_tlv_is_an_error() {
        assert_eq!(
            Capability::decode_list(&[65, 4, 0, 0]),
            Err(CapabilityOverrun {
                offset: 0,
                declared: 4,
                available: 2
            })
        );
        assert_eq!(
            Capability::decode_list(&[2, 0, 65]),
            Err(CapabilityOverrun {
                offset: 2,
                declared: 2,
                available: 0
            })
        );
        assert_eq!(Capability::decode_list(&[]), Ok(vec![]));
    }

    #[test]
    fn too_long_value_is_refused_and_nothing_written() {
        let c = Capability::Unknown {
            code: 200,
            value: vec![0; 256],
        };
        let mut buf = BytesMut::from(&b"x"[..]);
        assert_eq!(
            c.encode(&mut buf),
            Err(CapabilityEncodeError::TooLong {
                code: CapabilityCode::Unknown(200),
                len: 256
            })
        );
        assert_eq!(&buf[..], b"x");
    }

    proptest! {
        #[test]
        fn value_encode_decode(c in strategy::capability()) {
            let bytes = tlv(&c);
            prop_assert_eq!(Capability::decode_list(&bytes).unwrap(), vec![c]);
        }

        #[test]
        fn canonical_bytes_decode_encode(c in strategy::capability()) {
            let bytes = tlv(&c);
            let back = Capability::decode_list(&bytes).unwrap();
            prop_assert_eq!(tlv(&back[0]), bytes);
        }

        #[test]
        fn garbage_never_panics(code in any::<u8>(), value in prop::collection::vec(any::<u8>(), 0..300)) {
            let c = Capability::decode_value(code, &value);
            let mut buf = BytesMut::new();
            if value.len() <= MAX_VALUE_LEN {
                // Whatever was decoded encodes to a TLV that decodes the same.
                c.encode(&mut buf).unwrap();
                prop_assert_eq!(Capability::decode_list(&buf).unwrap(), vec![c]);
            }
            let _ = Capability::decode_list(&value);
        }
    }
}
