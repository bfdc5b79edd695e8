//! ORIGIN (type 1, well-known mandatory; RFC 4271 §4.3 a, §5.1.1).
//!
//! ```text
//! +----------------+
//! | ORIGIN (1 oct) |   0 = IGP, 1 = EGP, 2 = INCOMPLETE
//! +----------------+
//! ```

use bytes::{BufMut, BytesMut};

use super::AttrType;
use super::error::{AttrResult, Reason, bad_len, withdraw};
use super::flags::{WELL_KNOWN, put_with};
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
pub(crate) fn decode(value: &[u8]) -> AttrResult<Origin> {
    let [v] = *value else {
        return withdraw(bad_len(value.len()));
    };
    match Origin::from(v) {
        Origin::Unknown(_) => withdraw(Reason::InvalidValue("undefined ORIGIN value")),
        o => Ok(o),
    }
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
