//! EXTENDED_COMMUNITIES (type 16, optional transitive; RFC 4360): 8-octet values with type/subtype.
//!
//! ```text
//! +-------------------------------+-------------------------------+
//! | Type high     | Type low      |                               |
//! +-------------------------------+          Value                |
//! |                                                               |
//! +---------------------------------------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::map;
use nom::number::complete::be_u64;

use super::AttrType;
use super::error::{AttrResult, withdraw_len};
use super::flags::{OPT_TRANS, put_with};
use super::parser::{AttrIResult, finish, items, whole};

/// One RFC 4360 extended community, kept whole so unknown types survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// The Type (high) octet.
    pub fn type_high(self) -> u8 {
        self.0[0]
    }

    /// The Sub-Type (low) octet; meaningful for "extended" types (RFC 4360 §3).
    pub fn subtype(self) -> u8 {
        self.0[1]
    }

    /// RFC 4360 §2: the T bit (0x40) of the type marks a non-transitive community.
    pub fn is_transitive(self) -> bool {
        self.0[0] & 0x40 == 0
    }

    /// RFC 4360 §2: the I bit (0x80): IANA authority.
    pub fn is_iana_authority(self) -> bool {
        self.0[0] & 0x80 == 0
    }

    /// The 6 octets after type and subtype.
    pub fn value(&self) -> &[u8; 6] {
        self.0[2..].try_into().unwrap_or(&[0; 6])
    }

    /// Two-octet-AS-specific Route Target (RFC 4360 §4: type 0x00, subtype 0x02).
    pub fn route_target(asn: u16, local: u32) -> Self {
        let mut v = [0x00, 0x02, 0, 0, 0, 0, 0, 0];
        v[2..4].copy_from_slice(&asn.to_be_bytes());
        v[4..].copy_from_slice(&local.to_be_bytes());
        ExtendedCommunity(v)
    }
}

/// RFC 7606 §7.14 (revising RFC 4360): "The Extended Community attribute
/// SHALL be considered malformed if its length is not a non-zero multiple of
/// 8. An UPDATE message with a malformed Extended Community attribute SHALL
/// be handled using the approach of 'treat-as-withdraw'."
pub(crate) fn parse(value: &[u8]) -> AttrIResult<'_, Vec<ExtendedCommunity>> {
    let community = map(be_u64, |c| ExtendedCommunity(c.to_be_bytes()));
    whole(items(8, community), withdraw_len).parse(value)
}

pub(crate) fn decode(value: &[u8]) -> AttrResult<Vec<ExtendedCommunity>> {
    finish(parse(value))
}

pub(crate) fn encode(list: &[ExtendedCommunity], buf: &mut BytesMut) {
    put_with(buf, OPT_TRANS, AttrType::ExtendedCommunities.into(), |b| {
        for c in list {
            b.put_slice(&c.0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn route_target_fields() {
        let v = decode(&[0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 10]).unwrap();
        assert_eq!(v, vec![ExtendedCommunity::route_target(65001, 10)]);
        assert_eq!(v[0].type_high(), 0);
        assert_eq!(v[0].subtype(), 2);
        assert!(v[0].is_transitive());
        assert_eq!(v[0].value(), &[0xfd, 0xe9, 0, 0, 0, 10]);
        assert!(decode(&[0; 7]).is_err());
        assert!(decode(&[]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in proptest::collection::vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..50)) {
            let mut b = BytesMut::new();
            encode(&v, &mut b);
            let (raw, _) = super::super::flags::cut(&b).unwrap();
            prop_assert_eq!(decode(raw.value).unwrap(), v);
        }
    }
}
