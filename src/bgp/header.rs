//! The 19-octet message header (RFC 4271 §4.1) and framing of a byte stream into messages.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::context::CodecContext;
use super::notification::{HeaderError, Notification};
use super::open_enum::open_enum;

/// Octets in the header.
pub const HEADER_LEN: usize = 19;
/// The marker: all ones (RFC 4271 §4.1).
pub const MARKER: [u8; 16] = [0xff; 16];
/// Largest message without the extended message capability (RFC 4271 §4).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message with the extended message capability (RFC 8654 §3).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

open_enum! {
    /// The header's Type field (IANA "BGP Message Types").
    pub enum MessageType: u8 {
        Open = 1,
        Update = 2,
        Notification = 3,
        Keepalive = 4,
        RouteRefresh = 5,
    }
}

impl MessageType {
    /// Smallest and largest total length allowed for this type (RFC 4271
    /// §6.1, RFC 2918 §3, RFC 8654 §3: OPEN and KEEPALIVE never grow past
    /// 4096).
    fn length_bounds(self, ctx: &CodecContext) -> Option<(usize, usize)> {
        let max = ctx.max_message_len();
        match self {
            MessageType::Open => Some((29, MAX_MESSAGE_LEN)),
            MessageType::Update => Some((23, max)),
            MessageType::Notification => Some((21, max)),
            MessageType::Keepalive => Some((HEADER_LEN, HEADER_LEN)),
            MessageType::RouteRefresh => Some((23, max)),
            MessageType::Unknown(_) => None,
        }
    }
}

/// A checked header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub length: u16,
    pub kind: MessageType,
}

impl Header {
    /// Reads and checks the header at the start of `buf`.
    ///
    /// `Ok(None)` means fewer than 19 octets are there yet. Errors are the
    /// Message Header Error NOTIFICATION that RFC 4271 §6.1 prescribes.
    pub fn decode(buf: &[u8], ctx: &CodecContext) -> Result<Option<Header>, Notification> {
        let Some(raw) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        if raw[..16] != MARKER {
            return Err(Notification::header(
                HeaderError::ConnectionNotSynchronized,
                [],
            ));
        }
        let length_field = [raw[16], raw[17]];
        let length = u16::from_be_bytes(length_field);
        let kind = MessageType::from(raw[18]);
        let bad_length = || Notification::header(HeaderError::BadMessageLength, length_field);
        // §6.1: a length outside 19..=max is reported before the type is looked at.
        if usize::from(length) < HEADER_LEN || usize::from(length) > ctx.max_message_len() {
            return Err(bad_length());
        }
        let Some((min, max)) = kind.length_bounds(ctx) else {
            return Err(Notification::header(HeaderError::BadMessageType, [raw[18]]));
        };
        if !(min..=max).contains(&usize::from(length)) {
            return Err(bad_length());
        }
        Ok(Some(Header { length, kind }))
    }

    /// Writes a header; `length` is the total message length.
    pub fn encode(kind: MessageType, length: u16, out: &mut [u8; HEADER_LEN]) {
        out[..16].copy_from_slice(&MARKER);
        out[16..18].copy_from_slice(&length.to_be_bytes());
        out[18] = kind.into();
    }
}

/// Length of the next whole message at the start of `buf`, once all of it
/// has arrived; `Ok(None)` while more octets are needed.
pub fn frame_len(buf: &[u8], ctx: &CodecContext) -> Result<Option<usize>, Notification> {
    Ok(Header::decode(buf, ctx)?
        .map(|h| usize::from(h.length))
        .filter(|&len| buf.len() >= len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::notification::ErrorCode;

    fn header(length: u16, kind: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&length.to_be_bytes());
        v.push(kind);
        v
    }

    fn ctx() -> CodecContext {
        CodecContext::default()
    }

    #[test]
    fn keepalive_header() {
        let h = Header::decode(&header(19, 4), &ctx()).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                length: 19,
                kind: MessageType::Keepalive
            }
        );
    }

    #[test]
    fn short_input_needs_more() {
        assert_eq!(Header::decode(&header(19, 4)[..18], &ctx()), Ok(None));
        assert_eq!(frame_len(&header(23, 2), &ctx()), Ok(None));
    }

    #[test]
    fn bad_marker_is_connection_not_synchronized() {
        let mut h = header(19, 4);
        h[3] = 0;
        let n = Header::decode(&h, &ctx()).unwrap_err();
        assert_eq!(
            n.error,
            ErrorCode::MessageHeader(HeaderError::ConnectionNotSynchronized)
        );
    }

    #[test]
    fn bad_lengths_carry_the_length_field() {
        for (len, kind) in [
            (18, 4),
            (20, 4),
            (4097, 2),
            (28, 1),
            (22, 2),
            (20, 3),
            (22, 5),
        ] {
            let n = Header::decode(&header(len, kind), &ctx()).unwrap_err();
            assert_eq!(
                n.error,
                ErrorCode::MessageHeader(HeaderError::BadMessageLength),
                "{len}/{kind}"
            );
            assert_eq!(n.data, len.to_be_bytes());
        }
    }

    #[test]
    fn bad_type_carries_the_type() {
        let n = Header::decode(&header(19, 9), &ctx()).unwrap_err();
        assert_eq!(
            n.error,
            ErrorCode::MessageHeader(HeaderError::BadMessageType)
        );
        assert_eq!(n.data, [9]);
    }

    #[test]
    fn extended_message_allows_long_updates_but_not_long_opens() {
        let ext = CodecContext {
            extended_message: true,
            ..ctx()
        };
        assert!(Header::decode(&header(5000, 2), &ext).unwrap().is_some());
        assert!(Header::decode(&header(5000, 1), &ext).is_err());
        assert!(Header::decode(&header(5000, 2), &ctx()).is_err());
    }
}
