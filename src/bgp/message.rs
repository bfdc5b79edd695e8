//! The five BGP message kinds as one type, and whole-message decode/encode.

use bytes::{BufMut, BytesMut};

use super::context::CodecContext;
use super::header::{HEADER_LEN, Header, MAX_MESSAGE_LEN, MessageType};
use super::notification::{HeaderError, Notification};
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::update::Update;

/// One BGP message, decoded and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    /// RFC 4271 §4.4: the header alone.
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A message that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{kind:?} message of {len} octets exceeds the {max}-octet limit")]
    TooLong {
        kind: MessageType,
        len: usize,
        max: usize,
    },
}

impl Message {
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Decodes exactly one message, header included (`frame` as cut by
    /// [`super::header::frame_len`]). An error is the NOTIFICATION to send
    /// before closing the session.
    pub fn decode(frame: &[u8], ctx: &CodecContext) -> Result<Message, Notification> {
        let Some(header) = Header::decode(frame, ctx)? else {
            return Err(Notification::header(
                HeaderError::BadMessageLength,
                (frame.len() as u16).to_be_bytes(),
            ));
        };
        if usize::from(header.length) != frame.len() {
            return Err(Notification::header(
                HeaderError::BadMessageLength,
                header.length.to_be_bytes(),
            ));
        }
        let body = &frame[HEADER_LEN..];
        Ok(match header.kind {
            MessageType::Open => Message::Open(Open::decode(body)?),
            MessageType::Update => Message::Update(Update::decode(body, ctx)?),
            MessageType::Notification => Message::Notification(Notification::decode(body)?),
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(body)?),
            // Header::decode refuses unknown types.
            MessageType::Unknown(t) => {
                return Err(Notification::header(HeaderError::BadMessageType, [t]));
            }
        })
    }

    /// Appends the whole message, header included. On error nothing is appended.
    pub fn encode(&self, ctx: &CodecContext, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = buf.len();
        buf.put_bytes(0, HEADER_LEN);
        match self {
            Message::Open(m) => m.encode_body(buf),
            Message::Update(m) => m.encode_body(ctx, buf),
            Message::Notification(m) => m.encode_body(buf),
            Message::Keepalive => {}
            Message::RouteRefresh(m) => m.encode_body(buf),
        }
        let len = buf.len() - start;
        let max = match self.kind() {
            MessageType::Open | MessageType::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        if len > max {
            buf.truncate(start);
            return Err(EncodeError::TooLong {
                kind: self.kind(),
                len,
                max,
            });
        }
        let header: &mut [u8; HEADER_LEN] = (&mut buf[start..start + HEADER_LEN])
            .try_into()
            .expect("header slice is HEADER_LEN long");
        Header::encode(self.kind(), len as u16, header);
        Ok(())
    }

    /// Convenience: the message as a fresh byte vector.
    pub fn to_bytes(&self, ctx: &CodecContext) -> Result<Vec<u8>, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(ctx, &mut buf)?;
        Ok(buf.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::notification::{CeaseSubcode, ErrorCode};

    #[test]
    fn keepalive_round_trip() {
        let ctx = CodecContext::default();
        let bytes = Message::Keepalive.to_bytes(&ctx).unwrap();
        let mut expect = vec![0xff; 16];
        expect.extend_from_slice(&[0, 19, 4]);
        assert_eq!(bytes, expect);
        assert_eq!(Message::decode(&bytes, &ctx).unwrap(), Message::Keepalive);
    }

    #[test]
    fn notification_round_trip() {
        let ctx = CodecContext::default();
        let n = Notification::admin_shutdown(CeaseSubcode::AdministrativeShutdown, "bye");
        let bytes = Message::Notification(n.clone()).to_bytes(&ctx).unwrap();
        assert_eq!(&bytes[16..], &[0, 25, 3, 6, 2, 3, b'b', b'y', b'e']);
        assert_eq!(
            Message::decode(&bytes, &ctx).unwrap(),
            Message::Notification(n)
        );
    }

    #[test]
    fn frame_shorter_than_its_length_field_is_refused() {
        let ctx = CodecContext::default();
        let mut bytes = Message::Keepalive.to_bytes(&ctx).unwrap();
        bytes.push(0);
        let n = Message::decode(&bytes, &ctx).unwrap_err();
        assert_eq!(
            n.error,
            ErrorCode::MessageHeader(HeaderError::BadMessageLength)
        );
    }

    #[test]
    fn too_long_notification_is_refused_and_nothing_written() {
        let ctx = CodecContext::default();
        let n = Notification::cease(CeaseSubcode::OutOfResources, vec![0; 5000]);
        let mut buf = BytesMut::new();
        assert!(matches!(
            Message::Notification(n).encode(&ctx, &mut buf),
            Err(EncodeError::TooLong { .. })
        ));
        assert!(buf.is_empty());
    }

    mod props {
        use super::*;
        use crate::bgp::notification::ErrorCode;
        use proptest::prelude::*;

        fn message() -> impl Strategy<Value = Message> {
            let notification = (
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..64),
            )
                .prop_map(|(c, s, data)| {
                    Message::Notification(Notification::new(ErrorCode::from_wire(c, s), data))
                });
            prop_oneof![
                crate::bgp::open::strategy::open().prop_map(Message::Open),
                crate::bgp::update::strategy::update().prop_map(Message::Update),
                notification,
                Just(Message::Keepalive),
                crate::bgp::capability::strategy::family()
                    .prop_map(|f| Message::RouteRefresh(RouteRefresh::request(f))),
            ]
        }

        proptest! {
            /// Every message kind: value → bytes → value, and those
            /// (canonical) bytes → value → the same bytes.
            #[test]
            fn every_message_round_trips(m in message()) {
                let ctx = CodecContext { four_octet_as: true, ..CodecContext::default() };
                let bytes = m.to_bytes(&ctx).unwrap();
                let back = Message::decode(&bytes, &ctx).unwrap();
                prop_assert_eq!(&back, &m);
                prop_assert_eq!(back.to_bytes(&ctx).unwrap(), bytes);
            }

            /// Whatever arrives, decoding answers with a value or a
            /// NOTIFICATION, never a panic.
            #[test]
            fn arbitrary_frames_never_panic(kind in 1u8..=6, body in proptest::collection::vec(any::<u8>(), 0..300), four in any::<bool>()) {
                let mut frame = vec![0xff; 16];
                frame.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
                frame.push(kind);
                frame.extend_from_slice(&body);
                let ctx = CodecContext { four_octet_as: four, ..CodecContext::default() };
                let _ = Message::decode(&frame, &ctx);
            }
        }
    }
}
