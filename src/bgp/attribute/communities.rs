//! COMMUNITIES (type 8, optional transitive; RFC 1997), with the IANA well-known values named.
//!
//! ```text
//! +-------------------------------+-------------------------------+
//! | AS (2 octets)                 | Value (2 octets)              |  repeated
//! +-------------------------------+-------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::combinator::map;
use nom::number::complete::be_u32;

use super::AttrType;
use super::error::{AttrResult, withdraw_len};
use super::flags::{OPT_TRANS, put_with};
use super::parser::{AttrIResult, finish, items, whole};
use crate::bgp::open_enum::open_enum;

open_enum! {
    /// Well-known communities (IANA "BGP Well-known Communities").
    pub enum WellKnownCommunity: u32 {
        /// RFC 8326.
        GracefulShutdown = 0xFFFF_0000,
        /// RFC 7611.
        AcceptOwn = 0xFFFF_0001,
        /// RFC 9494.
        LlgrStale = 0xFFFF_0006,
        /// RFC 9494.
        NoLlgr = 0xFFFF_0007,
        /// RFC 7999.
        Blackhole = 0xFFFF_029A,
        /// RFC 1997.
        NoExport = 0xFFFF_FF01,
        /// RFC 1997.
        NoAdvertise = 0xFFFF_FF02,
        /// RFC 1997.
        NoExportSubconfed = 0xFFFF_FF03,
        /// RFC 3765.
        NoPeer = 0xFFFF_FF04,
    }
}

/// One RFC 1997 community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);

    pub fn new(asn: u16, value: u16) -> Self {
        Community(u32::from(asn) << 16 | u32::from(value))
    }

    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub fn value(self) -> u16 {
        self.0 as u16
    }

    /// The well-known community this is, if any.
    pub fn well_known(self) -> Option<WellKnownCommunity> {
        match WellKnownCommunity::from(self.0) {
            WellKnownCommunity::Unknown(_) => None,
            w => Some(w),
        }
    }
}

/// RFC 7606 §7.8: "The Community attribute SHALL be considered malformed if
/// its length is not a non-zero multiple of 4. An UPDATE message with a
/// malformed Community attribute SHALL be handled using the approach of
/// 'treat-as-withdraw'."
pub(crate) fn parse(value: &[u8]) -> AttrIResult<'_, Vec<Community>> {
    whole(items(4, map(be_u32, Community)), withdraw_len).parse(value)
}

pub(crate) fn decode(value: &[u8]) -> AttrResult<Vec<Community>> {
    finish(parse(value))
}

pub(crate) fn encode(list: &[Community], buf: &mut BytesMut) {
    put_with(buf, OPT_TRANS, AttrType::Communities.into(), |b| {
        for c in list {
            b.put_u32(c.0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_known_named() {
        let v = decode(&[0xff, 0xff, 0xff, 0x01, 0xfd, 0xe9, 0, 100]).unwrap();
        assert_eq!(v[0].well_known(), Some(WellKnownCommunity::NoExport));
        assert_eq!(v[1], Community::new(65001, 100));
        assert_eq!(v[1].well_known(), None);
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 2, 3]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in proptest::collection::vec(any::<u32>().prop_map(Community), 1..100)) {
            let mut b = BytesMut::new();
            encode(&v, &mut b);
            let (raw, _) = super::super::flags::cut(&b).unwrap();
            prop_assert_eq!(decode(raw.value).unwrap(), v);
        }
    }
}
