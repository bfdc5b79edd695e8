//! The Graceful Restart (RFC 4724 §3, RFC 8538 §2) and Long-Lived Graceful Restart (RFC 9494 §3) capabilities.

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::multi::many0;
use nom::number::complete::{be_u8, be_u16, be_u24};

use super::{PResult, family, parse_all, put_family};
use crate::bgp::types::Family;

/// Largest Restart Time: the field has 12 bits.
pub const MAX_RESTART_TIME: u16 = 0x0fff;
/// Largest Long-Lived Stale Time: the field has 24 bits.
pub const MAX_LLGR_STALE_TIME: u32 = 0x00ff_ffff;

const RESTART_STATE: u16 = 0x8000;
const NOTIFICATION: u16 = 0x4000;
const FORWARDING: u8 = 0x80;

/// The Graceful Restart capability value.
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | ...                                              |
/// +--------------------------------------------------+
///
///  Restart Flags:        Flags for Address Family:
///   0 1 2 3               0 1 2 3 4 5 6 7
///  +-+-+-+-+             +-+-+-+-+-+-+-+-+
///  |R|N|   |             |F|   Reserved  |
///  +-+-+-+-+             +-+-+-+-+-+-+-+-+
/// ```
///
/// Reserved bits are sent as zero and ignored on receipt (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// R: the sender has restarted (RFC 4724 §3).
    pub restart_state: bool,
    /// N: the sender supports graceful restart after a NOTIFICATION (RFC 8538 §2).
    pub notification: bool,
    /// Seconds the peer keeps our routes while we restart; at most
    /// [`MAX_RESTART_TIME`], larger values are sent as that.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One (AFI, SAFI, flags) tuple of the Graceful Restart capability.
///
/// ```text
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits): F bit first   |
/// +--------------------------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    pub family: Family,
    /// F: forwarding state was preserved across the restart.
    pub forwarding_preserved: bool,
}

fn gr_tuple(input: &[u8]) -> PResult<'_, GracefulRestartFamily> {
    let (input, family) = family(input)?;
    let (input, flags) = be_u8(input)?;
    Ok((
        input,
        GracefulRestartFamily {
            family,
            forwarding_preserved: flags & FORWARDING != 0,
        },
    ))
}

fn gr(input: &[u8]) -> PResult<'_, GracefulRestart> {
    let (input, head) = be_u16(input)?;
    let (input, families) = many0(gr_tuple).parse(input)?;
    Ok((
        input,
        GracefulRestart {
            restart_state: head & RESTART_STATE != 0,
            notification: head & NOTIFICATION != 0,
            restart_time: head & MAX_RESTART_TIME,
            families,
        },
    ))
}

pub(super) fn decode_gr(value: &[u8]) -> Option<GracefulRestart> {
    parse_all(value, gr)
}

impl GracefulRestart {
    pub(super) fn encode(&self, buf: &mut BytesMut) {
        let mut head = self.restart_time.min(MAX_RESTART_TIME);
        if self.restart_state {
            head |= RESTART_STATE;
        }
        if self.notification {
            head |= NOTIFICATION;
        }
        buf.put_u16(head);
        for t in &self.families {
            put_family(buf, t.family);
            buf.put_u8(if t.forwarding_preserved {
                FORWARDING
            } else {
                0
            });
        }
    }
}

/// One tuple of the Long-Lived Graceful Restart capability; the value is a
/// sequence of them.
///
/// ```text
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | Long-lived Stale Time (24 bits)                  |
/// +--------------------------------------------------+
///
///  Flags: 0 1 2 3 4 5 6 7
///        +-+-+-+-+-+-+-+-+
///        |F|   Reserved  |
///        +-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LlgrFamily {
    pub family: Family,
    /// F: forwarding state was preserved.
    pub forwarding_preserved: bool,
    /// Seconds to keep stale routes once the restart time ran out; at most
    /// [`MAX_LLGR_STALE_TIME`], larger values are sent as that.
    pub stale_time: u32,
}

fn llgr_tuple(input: &[u8]) -> PResult<'_, LlgrFamily> {
    let (input, family) = family(input)?;
    let (input, flags) = be_u8(input)?;
    let (input, stale_time) = be_u24(input)?;
    Ok((
        input,
        LlgrFamily {
            family,
            forwarding_preserved: flags & FORWARDING != 0,
            stale_time,
        },
    ))
}

pub(super) fn decode_llgr(value: &[u8]) -> Option<Vec<LlgrFamily>> {
    parse_all(value, many0(llgr_tuple))
}

pub(super) fn encode_llgr(list: &[LlgrFamily], buf: &mut BytesMut) {
    for t in list {
        put_family(buf, t.family);
        buf.put_u8(if t.forwarding_preserved {
            FORWARDING
        } else {
            0
        });
        buf.put_uint(u64::from(t.stale_time.min(MAX_LLGR_STALE_TIME)), 3);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Capability;
    use super::*;

    #[test]
    fn gr_with_r_and_n_bits_and_two_families() {
        // R=1 N=1 time=120; IPv4 unicast F=1, IPv6 unicast F=0.
        let bytes = [64, 10, 0xc0, 120, 0, 1, 1, 0x80, 0, 2, 1, 0];
        let list = Capability::decode_list(&bytes).unwrap();
        let expect = Capability::GracefulRestart(GracefulRestart {
            restart_state: true,
            notification: true,
            restart_time: 120,
            families: vec![
                GracefulRestartFamily {
                    family: Family::IPV4_UNICAST,
                    forwarding_preserved: true,
                },
                GracefulRestartFamily {
                    family: Family::IPV6_UNICAST,
                    forwarding_preserved: false,
                },
            ],
        });
        assert_eq!(list, std::slice::from_ref(&expect));
        let mut buf = BytesMut::new();
        expect.encode(&mut buf).unwrap();
        assert_eq!(&buf[..], bytes);
    }

    #[test]
    fn gr_reserved_bits_are_ignored_and_time_uses_12_bits() {
        let list = Capability::decode_list(&[64, 6, 0x3f, 0xff, 0, 1, 1, 0x7f]).unwrap();
        let Capability::GracefulRestart(gr) = &list[0] else {
            panic!("{list:?}")
        };
        assert!(!gr.restart_state && !gr.notification);
        assert_eq!(gr.restart_time, 4095);
        assert!(!gr.families[0].forwarding_preserved);
    }

    #[test]
    fn gr_without_families_is_the_helper_only_form() {
        let list = Capability::decode_list(&[64, 2, 0, 90]).unwrap();
        assert_eq!(
            list,
            [Capability::GracefulRestart(GracefulRestart {
                restart_state: false,
                notification: false,
                restart_time: 90,
                families: vec![],
            })]
        );
    }

    #[test]
    fn llgr_stale_time_24_bits() {
        let bytes = [71, 7, 0, 1, 1, 0x80, 0x01, 0x51, 0x80];
        let list = Capability::decode_list(&bytes).unwrap();
        assert_eq!(
            list,
            [Capability::LongLivedGracefulRestart(vec![LlgrFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: true,
                stale_time: 86400,
            }])]
        );
    }
}
