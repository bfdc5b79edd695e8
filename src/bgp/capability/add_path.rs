//! The ADD-PATH capability (RFC 7911 §4): per family, whether path identifiers may be sent and/or received.

use bytes::{BufMut, BytesMut};
use nom::multi::many0;
use nom::number::complete::be_u8;

use super::{PResult, family, parse_all, put_family};
use crate::bgp::open_enum::open_enum;
use crate::bgp::types::Family;

open_enum! {
    /// The Send/Receive field (RFC 7911 §4).
    pub enum AddPathMode: u8 {
        /// The sender can receive multiple paths.
        Receive = 1,
        /// The sender can send multiple paths.
        Send = 2,
        Both = 3,
    }
}

impl AddPathMode {
    /// Whether this side offers to send path identifiers.
    pub fn sends(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }

    /// Whether this side offers to receive path identifiers.
    pub fn receives(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
}

/// One tuple of the ADD-PATH capability; the value is a sequence of them.
///
/// ```text
/// +------------------------------------------------+
/// | Address Family Identifier (2 octets)           |
/// +------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet) |
/// +------------------------------------------------+
/// | Send/Receive (1 octet)                         |
/// +------------------------------------------------+
/// ```
///
/// A Send/Receive value other than 1-3 is kept as `AddPathMode::Unknown`;
/// negotiation then ignores the whole capability (RFC 7911 §4: "If any other
/// value is received, then the capability SHOULD be treated as not understood
/// and ignored").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    pub family: Family,
    pub mode: AddPathMode,
}

fn tuple(input: &[u8]) -> PResult<'_, AddPathFamily> {
    let (input, family) = family(input)?;
    let (input, mode) = be_u8(input)?;
    Ok((
        input,
        AddPathFamily {
            family,
            mode: mode.into(),
        },
    ))
}

pub(super) fn decode(value: &[u8]) -> Option<Vec<AddPathFamily>> {
    parse_all(value, many0(tuple))
}

pub(super) fn encode(list: &[AddPathFamily], buf: &mut BytesMut) {
    for t in list {
        put_family(buf, t.family);
        buf.put_u8(t.mode.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::Capability;
    use super::*;

    #[test]
    fn ipv4_both_ipv6_receive() {
        let bytes = [69, 8, 0, 1, 1, 3, 0, 2, 1, 1];
        let list = Capability::decode_list(&bytes).unwrap();
        assert_eq!(
            list,
            [Capability::AddPath(vec![
                AddPathFamily {
                    family: Family::IPV4_UNICAST,
                    mode: AddPathMode::Both
                },
                AddPathFamily {
                    family: Family::IPV6_UNICAST,
                    mode: AddPathMode::Receive
                },
            ])]
        );
    }

    #[test]
    fn unknown_mode_is_kept() {
        let list = Capability::decode_list(&[69, 4, 0, 1, 1, 7]).unwrap();
        assert_eq!(
            list,
            [Capability::AddPath(vec![AddPathFamily {
                family: Family::IPV4_UNICAST,
                mode: AddPathMode::Unknown(7)
            }])]
        );
        assert!(!AddPathMode::Unknown(7).sends() && !AddPathMode::Unknown(7).receives());
    }
}
