//! ORIGIN (type 1, well-known mandatory; RFC 4271 §4.3 a, §5.1.1).
//!
//! ```text
//! +----------------+
//! | ORIGIN (1 oct) |   0 = IGP, 1 = EGP, 2 = INCOMPLETE
//! +----------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::number::complete::be_u8;

use super::AttrType;
use super::error::{Action, AttrResult, Reason, withdraw_len};
use super::flags::{WELL_KNOWN, put_with};
use super::parser::{AttrIResult, fail_soft, finish, whole};
use crate::bgp::open_enum::open_enum;

open_enum! {
    /// ORIGIN values (RFC 4271 §4.3).
    pub enum Origin: u8 {
        Igp = 0,
        Egp = 1,
        Incomplete = 2,
    }
}

/// RFC 7606 §7.1: "The attribute is considered malformed if its length is
/// not 1 or if it has an undefined value. An UPDATE message with a malformed
/// ORIGIN attribute SHALL be handled using the approach of
/// 'treat-as-withdraw'."
pub(crate) fn parse(value: &[u8]) -> AttrIResult<'_, Origin> {
    let (rest, v) = whole(be_u8, withdraw_len).parse(value)?;
    match Origin::from(v) {
        Origin::Unknown(_) => fail_soft(
            Action::TreatAsWithdraw,
            Reason::InvalidValue("undefined ORIGIN value"),
        ),
        o => Ok((rest, o)),
    }
}

pub(crate) fn decode(value: &[u8]) -> AttrResult<Origin> {
    finish(parse(value))
}

pub(crate) fn encode(origin: Origin, buf: &mut BytesMut) {
    put_with(buf, WELL_KNOWN, AttrType::Origin.into(), |b| {
        b.put_u8(origin.into())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(decode(&[0]), Ok(Origin::Igp));
        assert_eq!(decode(&[2]), Ok(Origin::Incomplete));
        assert!(decode(&[3]).is_err());
        assert!(decode(&[]).is_err());
        let mut b = BytesMut::new();
        encode(Origin::Egp, &mut b);
        assert_eq!(&b[..], &[0x40, 1, 1, 1]);
    }
}
