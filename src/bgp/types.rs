//! Small value types shared by the whole BGP code: AS numbers, router IDs, address families.

use std::fmt;
use std::net::Ipv4Addr;

use super::open_enum::open_enum;

/// An autonomous system number; always held as 4 octets (RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS (RFC 6793 §9): stands in for a 4-octet AS in 2-octet fields.
    pub const TRANS: Asn = Asn(23456);

    /// Whether this AS fits a 2-octet field.
    pub fn is_two_octet(self) -> bool {
        self.0 <= u32::from(u16::MAX)
    }

    /// The value to put in a 2-octet field: itself, or AS_TRANS (RFC 6793 §4.2.2).
    pub fn to_two_octet(self) -> u16 {
        u16::try_from(self.0).unwrap_or(Asn::TRANS.0 as u16)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for Asn {
    fn from(v: u32) -> Self {
        Asn(v)
    }
}

/// A BGP Identifier (RFC 4271 §4.2; RFC 6286 only requires it to be non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub Ipv4Addr);

impl RouterId {
    pub fn to_u32(self) -> u32 {
        u32::from(self.0)
    }
}

impl From<u32> for RouterId {
    fn from(v: u32) -> Self {
        RouterId(Ipv4Addr::from(v))
    }
}

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

open_enum! {
    /// Address Family Identifier (IANA "Address Family Numbers").
    pub enum Afi: u16 {
        Ipv4 = 1,
        Ipv6 = 2,
    }
}

open_enum! {
    /// Subsequent Address Family Identifier (IANA "SAFI Values").
    pub enum Safi: u8 {
        Unicast = 1,
        Multicast = 2,
    }
}

/// An (AFI, SAFI) pair: the unit that capabilities, End-of-RIB and
/// graceful-restart state are kept per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    pub afi: Afi,
    pub safi: Safi,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family {
        afi: Afi::Ipv4,
        safi: Safi::Unicast,
    };
    pub const IPV6_UNICAST: Family = Family {
        afi: Afi::Ipv6,
        safi: Safi::Unicast,
    };

    pub fn new(afi: Afi, safi: Safi) -> Self {
        Family { afi, safi }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.afi, self.safi) {
            (Afi::Ipv4, Safi::Unicast) => f.write_str("ipv4-unicast"),
            (Afi::Ipv6, Safi::Unicast) => f.write_str("ipv6-unicast"),
            (afi, safi) => write!(f, "afi{}-safi{}", u16::from(afi), u8::from(safi)),
        }
    }
}
