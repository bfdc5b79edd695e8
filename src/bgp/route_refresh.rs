//! ROUTE-REFRESH messages (RFC 2918 §3) with the RFC 7313 message subtypes and raw RFC 5291 ORF entries.

use bytes::{BufMut, BytesMut};

use super::header::{HEADER_LEN, MARKER, MessageType};
use super::notification::{ErrorCode, HeaderError, Notification, RouteRefreshError};
use super::open_enum::open_enum;
use super::types::Family;

/// Octets of the fixed body: AFI, subtype, SAFI.
pub const BODY_LEN: usize = 4;

open_enum! {
    /// The Message Subtype octet, "Reserved" in RFC 2918 (RFC 7313 §3).
    pub enum RouteRefreshSubtype: u8 {
        /// A plain route refresh request.
        Normal = 0,
        /// Beginning of Route Refresh (BoRR).
        BeginningOfRouteRefresh = 1,
        /// End of Route Refresh (EoRR).
        EndOfRouteRefresh = 2,
    }
}

/// A ROUTE-REFRESH message body.
///
/// ```text
///  0       7      15      23      31
///  +-------+-------+-------+-------+
///  |      AFI      | Subtype | SAFI|
///  +-------+-------+-------+-------+
///  |  ORF entries (RFC 5291, optional, subtype 0 only) ...
///  +-------+-------+-------+-------+
/// ```
///
/// RFC 7313 §5: a receiver "MUST ignore the received ROUTE-REFRESH message"
/// when the subtype is not 0, 1 or 2; such messages decode (with
/// `RouteRefreshSubtype::Unknown`) so that the session can ignore them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRefresh {
    pub family: Family,
    pub subtype: RouteRefreshSubtype,
    /// Octets after the fixed four, as received: the When-to-refresh octet
    /// and ORF entries of an Outbound Route Filtering request (RFC 5291 §4)
    /// for subtype 0, whatever followed for an unknown subtype. Always
    /// empty for BoRR and EoRR.
    pub orf: Vec<u8>,
}

/// Why a ROUTE-REFRESH body was refused; [`Notification::from`] gives the
/// NOTIFICATION to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteRefreshDecodeError {
    #[error("ROUTE-REFRESH body of {0} octets is shorter than 4")]
    TooShort(usize),
    /// Carries the complete message for the NOTIFICATION's Data field.
    #[error("{subtype:?} ROUTE-REFRESH body is {} octets, not 4", message.len() - HEADER_LEN)]
    InvalidLength {
        subtype: RouteRefreshSubtype,
        message: Vec<u8>,
    },
}

impl From<RouteRefreshDecodeError> for Notification {
    fn from(e: RouteRefreshDecodeError) -> Self {
        match e {
            // RFC 4271 §6.1 / RFC 2918 §3: below the message's minimum
            // length; the header code already refuses these.
            RouteRefreshDecodeError::TooShort(len) => Notification::header(
                HeaderError::BadMessageLength,
                u16::try_from(HEADER_LEN + len)
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            ),
            RouteRefreshDecodeError::InvalidLength { message, .. } => Notification::new(
                ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength),
                message,
            ),
        }
    }
}

impl RouteRefresh {
    /// A plain refresh request for `family` (RFC 2918).
    pub fn request(family: Family) -> Self {
        RouteRefresh {
            family,
            subtype: RouteRefreshSubtype::Normal,
            orf: Vec::new(),
        }
    }

    /// Decodes the body (after the 19-octet header); errors are the
    /// NOTIFICATION to send.
    pub fn decode(body: &[u8]) -> Result<RouteRefresh, Notification> {
        Ok(Self::parse(body)?)
    }

    /// Like [`RouteRefresh::decode`] but says what was wrong.
    pub fn parse(body: &[u8]) -> Result<RouteRefresh, RouteRefreshDecodeError> {
        let Some((&[afi_hi, afi_lo, subtype, safi], orf)) = body.split_first_chunk::<BODY_LEN>()
        else {
            return Err(RouteRefreshDecodeError::TooShort(body.len()));
        };
        let subtype = RouteRefreshSubtype::from(subtype);
        // RFC 7313 §5: "If the length, excluding the fixed-size message
        // header, of the received ROUTE-REFRESH message with Message Subtype
        // 1 and 2 is not 4, then the BGP speaker MUST send a NOTIFICATION
        // message with the Error Code of "ROUTE-REFRESH Message Error" and
        // the subcode of "Invalid Message Length". The Data field of the
        // NOTIFICATION message MUST contain the complete ROUTE-REFRESH
        // message."
        let demarcation = matches!(
            subtype,
            RouteRefreshSubtype::BeginningOfRouteRefresh | RouteRefreshSubtype::EndOfRouteRefresh
        );
        if demarcation && !orf.is_empty() {
            let mut message = Vec::with_capacity(HEADER_LEN + body.len());
            message.extend_from_slice(&MARKER);
            message.extend_from_slice(
                &u16::try_from(HEADER_LEN + body.len())
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            );
            message.push(MessageType::RouteRefresh.into());
            message.extend_from_slice(body);
            return Err(RouteRefreshDecodeError::InvalidLength { subtype, message });
        }
        Ok(RouteRefresh {
            family: Family::new(u16::from_be_bytes([afi_hi, afi_lo]).into(), safi.into()),
            subtype,
            orf: orf.to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u16(self.family.afi.into());
        buf.put_u8(self.subtype.into());
        buf.put_u8(self.family.safi.into());
        buf.put_slice(&self.orf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::context::CodecContext;
    use crate::bgp::message::Message;
    use crate::bgp::types::{Afi, Safi};
    use proptest::prelude::*;

    fn body(rr: &RouteRefresh) -> Vec<u8> {
        let mut buf = BytesMut::new();
        rr.encode_body(&mut buf);
        buf.to_vec()
    }

    #[test]
    fn rfc2918_request_for_ipv6_unicast() {
        let rr = RouteRefresh::decode(&[0, 2, 0, 1]).unwrap();
        assert_eq!(rr, RouteRefresh::request(Family::IPV6_UNICAST));
        assert_eq!(body(&rr), [0, 2, 0, 1]);
    }

    #[test]
    fn whole_message_round_trip() {
        let ctx = CodecContext::default();
        let msg = Message::RouteRefresh(RouteRefresh {
            family: Family::IPV4_UNICAST,
            subtype: RouteRefreshSubtype::EndOfRouteRefresh,
            orf: vec![],
        });
        let bytes = msg.to_bytes(&ctx).unwrap();
        assert_eq!(&bytes[16..], [0, 23, 5, 0, 1, 2, 1]);
        assert_eq!(Message::decode(&bytes, &ctx).unwrap(), msg);
    }

    #[test]
    fn borr_and_eorr_with_extra_octets_are_invalid_length_rfc7313() {
        for subtype in [1u8, 2] {
            let body = [0, 1, subtype, 1, 0xaa];
            let n = RouteRefresh::decode(&body).unwrap_err();
            assert_eq!(
                n.error,
                ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength)
            );
            assert_eq!((n.error.code(), n.error.subcode()), (7, 1));
            let mut whole = vec![0xff; 16];
            whole.extend_from_slice(&[0, 24, 5, 0, 1, subtype, 1, 0xaa]);
            assert_eq!(n.data, whole);
            // The same through the whole-message decoder.
            let n2 = Message::decode(&whole, &CodecContext::default()).unwrap_err();
            assert_eq!(n2, n);
        }
    }

    #[test]
    fn normal_refresh_keeps_orf_octets() {
        // When-to-refresh IMMEDIATE (1), then one ORF of type 64.
        let bytes = [0, 1, 0, 1, 1, 64, 0, 1, 0x80];
        let rr = RouteRefresh::decode(&bytes).unwrap();
        assert_eq!(rr.subtype, RouteRefreshSubtype::Normal);
        assert_eq!(rr.orf, [1, 64, 0, 1, 0x80]);
        assert_eq!(body(&rr), bytes);
    }

    #[test]
    fn unknown_subtype_decodes_for_the_session_to_ignore() {
        let rr = RouteRefresh::decode(&[0, 1, 9, 1, 7]).unwrap();
        assert_eq!(rr.subtype, RouteRefreshSubtype::Unknown(9));
        assert_eq!(rr.family, Family::new(Afi::Ipv4, Safi::Unicast));
        assert_eq!(rr.orf, [7]);
    }

    #[test]
    fn short_body_is_bad_message_length() {
        let n = RouteRefresh::decode(&[0, 1, 0]).unwrap_err();
        assert_eq!(
            n,
            Notification::header(HeaderError::BadMessageLength, [0, 22])
        );
    }

    pub(crate) fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(|(afi, subtype, safi, orf)| {
                let subtype = RouteRefreshSubtype::from(subtype);
                let orf = if matches!(
                    subtype,
                    RouteRefreshSubtype::Unknown(_) | RouteRefreshSubtype::Normal
                ) {
                    orf
                } else {
                    vec![]
                };
                RouteRefresh {
                    family: Family::new(afi.into(), safi.into()),
                    subtype,
                    orf,
                }
            })
    }

    proptest! {
        #[test]
        fn value_encode_decode(rr in route_refresh()) {
            prop_assert_eq!(RouteRefresh::decode(&body(&rr)).unwrap(), rr);
        }

        #[test]
        fn bytes_decode_encode(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            // Every body decodes or fails cleanly; what decodes re-encodes exactly.
            if let Ok(rr) = RouteRefresh::decode(&bytes) {
                prop_assert_eq!(body(&rr), bytes);
            }
        }
    }
}
