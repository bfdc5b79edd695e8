//! The decoder's fuzzing oracle, shared by `fuzz/` and the test that replays its seed corpus.

use super::context::{CodecContext, PeerRelation};
use super::message::{EncodeError, Message};
use super::types::{Asn, Family};

/// The codec context an input's first octet selects, so one corpus covers
/// every way a session can be negotiated.
///
/// Bit 0: 4-octet AS; bit 1: extended message; bit 2: ADD-PATH IPv4 unicast;
/// bit 3: ADD-PATH IPv6 unicast; bit 4: eBGP (peer AS 65001) instead of iBGP.
pub fn context_for(selector: u8) -> CodecContext {
    let mut add_path = Vec::new();
    if selector & 0b100 != 0 {
        add_path.push(Family::IPV4_UNICAST);
    }
    if selector & 0b1000 != 0 {
        add_path.push(Family::IPV6_UNICAST);
    }
    CodecContext {
        four_octet_as: selector & 0b1 != 0,
        extended_message: selector & 0b10 != 0,
        add_path,
        peer: if selector & 0b1_0000 != 0 {
            PeerRelation::External {
                peer_asn: Asn(65001),
            }
        } else {
            PeerRelation::Internal
        },
    }
}

/// Runs one fuzz input: `[selector, message bytes...]`.
///
/// Decoding must never panic. Whatever decodes must encode, and the
/// encoding must be a fixed point: decoding it gives the same message and
/// encoding that gives the same bytes. (The first encoding may differ from
/// the input: attributes discarded under RFC 7606, Partial bits set,
/// host bits cleared.)
pub fn check_message(input: &[u8]) {
    let Some((&selector, frame)) = input.split_first() else {
        return;
    };
    let ctx = context_for(selector);
    let Ok(message) = Message::decode(frame, &ctx) else {
        return;
    };
    let first = match message.to_bytes(&ctx) {
        Ok(bytes) => bytes,
        // A re-encoding may legitimately grow past the limit (for example an
        // AS4_PATH added for a 2-octet peer); that is refused, not a bug.
        Err(EncodeError::TooLong { .. }) => return,
    };
    let again = match Message::decode(&first, &ctx) {
        Ok(m) => m,
        Err(n) => panic!("our own encoding of {message:?} does not decode: {n}"),
    };
    let second = again.to_bytes(&ctx).expect("a decoded re-encoding encodes");
    assert_eq!(
        first, second,
        "encoding is not a fixed point for {message:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_bits_map_to_context() {
        let c = context_for(0b1_1111);
        assert!(c.four_octet_as && c.extended_message);
        assert!(c.add_path(Family::IPV4_UNICAST) && c.add_path(Family::IPV6_UNICAST));
        assert_eq!(
            c.peer,
            PeerRelation::External {
                peer_asn: Asn(65001)
            }
        );
        assert_eq!(context_for(0), CodecContext::default());
    }

    #[test]
    fn empty_and_garbage_inputs_do_not_panic() {
        check_message(&[]);
        check_message(&[0]);
        check_message(&[0, 1, 2, 3]);
        let mut keepalive = vec![0u8];
        keepalive.extend_from_slice(&[0xff; 16]);
        keepalive.extend_from_slice(&[0, 19, 4]);
        check_message(&keepalive);
    }
}
