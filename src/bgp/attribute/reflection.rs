//! ORIGINATOR_ID (type 9) and CLUSTER_LIST (type 10), both optional non-transitive (RFC 4456 §8).
//!
//! ```text
//! ORIGINATOR_ID: +----------------------+   CLUSTER_LIST: +----------------------+
//!                | Router ID (4)        |                 | CLUSTER_ID (4) ...   |
//!                +----------------------+                 +----------------------+
//! ```

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::map;
use nom::number::complete::be_u32;

use super::AttrType;
use super::error::{Action, AttrResult, Reason, withdraw_len};
use super::flags::{OPT_NON_TRANS, put_with};
use super::parser::{AttrIResult, fail_soft, finish, items, whole};
use crate::bgp::context::PeerRelation;
use crate::bgp::types::RouterId;

/// RFC 7606 §7.9: "if the ORIGINATOR_ID attribute is received from an
/// external neighbor, it SHALL be discarded using the approach of 'attribute
/// discard'; or if received from an internal neighbor, it SHALL be
/// considered malformed if its length is not equal to 4. If malformed, the
/// UPDATE message SHALL be handled using the approach of 'treat-as-withdraw'."
pub(crate) fn parse_originator(value: &[u8], peer: PeerRelation) -> AttrIResult<'_, RouterId> {
    if let PeerRelation::External { .. } = peer {
        return fail_soft(Action::Discard, Reason::FromExternalPeer);
    }
    whole(map(be_u32, |id| RouterId(Ipv4Addr::from(id))), withdraw_len).parse(value)
}

pub(crate) fn decode_originator(value: &[u8], peer: PeerRelation) -> AttrResult<RouterId> {
    finish(parse_originator(value, peer))
}

/// RFC 7606 §7.10: "if the CLUSTER_LIST attribute is received from an
/// external neighbor, it SHALL be discarded using the approach of 'attribute
/// discard'; or if received from an internal neighbor, it SHALL be
/// considered malformed if its length is not a non-zero multiple of 4. If
/// malformed, the UPDATE message SHALL be handled using the approach of
/// 'treat-as-withdraw'."
pub(crate) fn parse_cluster_list(
    value: &[u8],
    peer: PeerRelation,
) -> AttrIResult<'_, Vec<Ipv4Addr>> {
    if let PeerRelation::External { .. } = peer {
        return fail_soft(Action::Discard, Reason::FromExternalPeer);
    }
    whole(items(4, map(be_u32, Ipv4Addr::from)), withdraw_len).parse(value)
}

pub(crate) fn decode_cluster_list(value: &[u8], peer: PeerRelation) -> AttrResult<Vec<Ipv4Addr>> {
    finish(parse_cluster_list(value, peer))
}

pub(crate) fn encode_originator(id: RouterId, buf: &mut BytesMut) {
    put_with(buf, OPT_NON_TRANS, AttrType::OriginatorId.into(), |b| {
        b.put_u32(id.to_u32())
    });
}

pub(crate) fn encode_cluster_list(list: &[Ipv4Addr], buf: &mut BytesMut) {
    put_with(buf, OPT_NON_TRANS, AttrType::ClusterList.into(), |b| {
        for c in list {
            b.put_slice(&c.octets());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_external() {
        let i = PeerRelation::Internal;
        assert_eq!(
            decode_originator(&[10, 0, 0, 1], i),
            Ok(RouterId(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert!(decode_originator(&[10, 0, 0], i).is_err());
        assert_eq!(
            decode_cluster_list(&[1, 1, 1, 1, 2, 2, 2, 2], i),
            Ok(vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2)])
        );
        assert!(decode_cluster_list(&[], i).is_err());
    }
}
