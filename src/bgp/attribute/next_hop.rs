//! NEXT_HOP (type 3, well-known mandatory for the IPv4 NLRI field; RFC 4271 §4.3 c, §5.1.3).
//!
//! ```text
//! +---------------------------------+
//! | IPv4 address of the next hop (4)|
//! +---------------------------------+
//! ```

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::number::complete::be_u32;

use super::AttrType;
use super::error::{Action, AttrResult, Reason, withdraw_len};
use super::flags::{WELL_KNOWN, put_with};
use super::parser::{AttrIResult, fail_soft, finish, whole};

/// RFC 7606 §7.3: "The attribute is considered malformed if its length is
/// not 4 [RFC4271]. An UPDATE message with a malformed NEXT_HOP attribute
/// SHALL be handled using the approach of 'treat-as-withdraw'."
///
/// RFC 4271 §6.3 also calls a NEXT_HOP that is not "a valid IP host address"
/// syntactically incorrect (Invalid NEXT_HOP Attribute); by RFC 7606 §3(e)
/// that too is treat-as-withdraw. Checks needing local state (our own
/// address, shared subnet) belong to the RIB, not the codec.
pub(crate) fn parse(value: &[u8]) -> AttrIResult<'_, Ipv4Addr> {
    let (rest, addr) = whole(be_u32, withdraw_len).parse(value)?;
    let addr = Ipv4Addr::from(addr);
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.octets()[0] == 0
    {
        return fail_soft(
            Action::TreatAsWithdraw,
            Reason::InvalidValue("NEXT_HOP is not a host address"),
        );
    }
    Ok((rest, addr))
}

pub(crate) fn decode(value: &[u8]) -> AttrResult<Ipv4Addr> {
    finish(parse(value))
}

pub(crate) fn encode(addr: Ipv4Addr, buf: &mut BytesMut) {
    put_with(buf, WELL_KNOWN, AttrType::NextHop.into(), |b| {
        b.put_slice(&addr.octets())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert_eq!(decode(&[192, 0, 2, 1]), Ok(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(decode(&[0, 0, 0, 0]).is_err());
        assert!(decode(&[224, 0, 0, 5]).is_err());
        assert!(decode(&[255, 255, 255, 255]).is_err());
        assert!(decode(&[1, 2, 3]).is_err());
    }
}
