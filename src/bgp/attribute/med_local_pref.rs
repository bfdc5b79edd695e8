//! MULTI_EXIT_DISC (type 4, optional non-transitive) and LOCAL_PREF (type 5, well-known; RFC 4271 §5.1.4-5).
//!
//! ```text
//! +-------------------------------+
//! | 4-octet unsigned integer      |
//! +-------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::number::complete::be_u32;

use super::AttrType;
use super::error::{Action, AttrResult, Reason, withdraw_len};
use super::flags::{OPT_NON_TRANS, WELL_KNOWN, put_with};
use super::parser::{AttrIResult, fail_soft, finish, whole};
use crate::bgp::context::PeerRelation;

/// RFC 7606 §7.4: "The attribute is considered malformed if its length is
/// not 4 [RFC4271]. An UPDATE message with a malformed MULTI_EXIT_DISC
/// attribute SHALL be handled using the approach of 'treat-as-withdraw'."
pub(crate) fn parse_med(value: &[u8]) -> AttrIResult<'_, u32> {
    whole(be_u32, withdraw_len).parse(value)
}

pub(crate) fn decode_med(value: &[u8]) -> AttrResult<u32> {
    finish(parse_med(value))
}

/// RFC 7606 §7.5: "if the LOCAL_PREF attribute is received from an external
/// neighbor, it SHALL be discarded using the approach of 'attribute
/// discard'; or if received from an internal neighbor, it SHALL be
/// considered malformed if its length is not equal to 4. If malformed, the
/// UPDATE message SHALL be handled using the approach of 'treat-as-withdraw'."
pub(crate) fn parse_local_pref(value: &[u8], peer: PeerRelation) -> AttrIResult<'_, u32> {
    if let PeerRelation::External { .. } = peer {
        return fail_soft(Action::Discard, Reason::FromExternalPeer);
    }
    whole(be_u32, withdraw_len).parse(value)
}

pub(crate) fn decode_local_pref(value: &[u8], peer: PeerRelation) -> AttrResult<u32> {
    finish(parse_local_pref(value, peer))
}

pub(crate) fn encode_med(med: u32, buf: &mut BytesMut) {
    put_with(buf, OPT_NON_TRANS, AttrType::MultiExitDisc.into(), |b| {
        b.put_u32(med)
    });
}

pub(crate) fn encode_local_pref(pref: u32, buf: &mut BytesMut) {
    put_with(buf, WELL_KNOWN, AttrType::LocalPref.into(), |b| {
        b.put_u32(pref)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::types::Asn;

    #[test]
    fn med_and_local_pref() {
        assert_eq!(decode_med(&[0, 0, 0, 100]), Ok(100));
        assert!(decode_med(&[0, 0, 100]).is_err());
        assert_eq!(
            decode_local_pref(&[0, 0, 0, 200], PeerRelation::Internal),
            Ok(200)
        );
        let ext = PeerRelation::External {
            peer_asn: Asn(65001),
        };
        assert_eq!(
            decode_local_pref(&[0, 0, 0, 200], ext),
            Err(super::super::error::AttrFailure::Soft(
                super::super::error::Action::Discard,
                Reason::FromExternalPeer
            ))
        );
        let mut b = BytesMut::new();
        encode_med(1, &mut b);
        encode_local_pref(2, &mut b);
        assert_eq!(&b[..], &[0x80, 4, 4, 0, 0, 0, 1, 0x40, 5, 4, 0, 0, 0, 2]);
    }
}
