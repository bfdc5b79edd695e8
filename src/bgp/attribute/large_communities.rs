//! LARGE_COMMUNITY (type 32, optional transitive; RFC 8092): 12-octet communities.
//!
//! ```text
//! +---------------------------------------------------------------+
//! |                      Global Administrator (4)                 |
//! +---------------------------------------------------------------+
//! |                       Local Data Part 1 (4)                   |
//! +---------------------------------------------------------------+
//! |                       Local Data Part 2 (4)                   |
//! +---------------------------------------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::map;
use nom::number::complete::be_u32;

use super::AttrType;
use super::error::{AttrResult, withdraw_len};
use super::flags::{OPT_TRANS, put_with};
use super::parser::{AttrIResult, finish, items, whole};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local1: u32,
    pub local2: u32,
}

/// RFC 8092 §6: "A BGP UPDATE message with a malformed LARGE_COMMUNITY
/// attribute SHALL be handled using the approach of 'treat-as-withdraw' ...
/// The LARGE_COMMUNITY attribute SHALL be considered malformed if the length
/// of the value field is not a non-zero multiple of 12 ... It is not
/// considered an error if the LARGE_COMMUNITY attribute contains duplicate
/// Large Communities."
pub(crate) fn parse(value: &[u8]) -> AttrIResult<'_, Vec<LargeCommunity>> {
    let community = map(
        (be_u32, be_u32, be_u32),
        |(global_admin, local1, local2)| LargeCommunity {
            global_admin,
            local1,
            local2,
        },
    );
    whole(items(12, community), withdraw_len).parse(value)
}

pub(crate) fn decode(value: &[u8]) -> AttrResult<Vec<LargeCommunity>> {
    finish(parse(value))
}

pub(crate) fn encode(list: &[LargeCommunity], buf: &mut BytesMut) {
    put_with(buf, OPT_TRANS, AttrType::LargeCommunity.into(), |b| {
        for c in list {
            b.put_u32(c.global_admin);
            b.put_u32(c.local1);
            b.put_u32(c.local2);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decode_one_and_bad_lengths() {
        let v = decode(&[0, 0, 0xfd, 0xe9, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
        assert_eq!(
            v,
            vec![LargeCommunity {
                global_admin: 65001,
                local1: 1,
                local2: 2
            }]
        );
        assert!(decode(&[0; 8]).is_err());
        assert!(decode(&[]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in proptest::collection::vec(any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity { global_admin: a, local1: b, local2: c }), 1..30)) {
            let mut b = BytesMut::new();
            encode(&v, &mut b);
            let (raw, _) = super::super::flags::cut(&b).unwrap();
            prop_assert_eq!(decode(raw.value).unwrap(), v);
        }
    }
}
