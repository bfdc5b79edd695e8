//! Route operations over rtnetlink in the main table: list and add.
//!
//! ```text
//!  rtmsg (12 octets): family u8 | dst_len u8 | src_len u8 | tos u8 | table u8 |
//!                     protocol u8 | scope u8 | type u8 | flags u32
//! ```

use super::addr::ip_from;
use super::netlink::{F_CREATE, F_DUMP, F_EXCL, Msg, Netlink, attrs};
use ipnet::IpNet;
use std::io;
use std::net::IpAddr;

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

/// A route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KRoute {
    /// Destination.
    pub dst: IpNet,
    /// Next hop.
    pub gw: Option<IpAddr>,
    /// Output interface.
    pub oif: u32,
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

impl Netlink {
    /// Main-table unicast routes of one family.
    pub fn routes(&mut self, v4: bool) -> io::Result<Vec<KRoute>> {
        let fam = if v4 { libc::AF_INET } else { libc::AF_INET6 } as u8;
        let mut h = [0u8; 12];
        h[0] = fam;
        let mut out = Vec::new();
        for p in self.query(Msg::new(RTM_GETROUTE, F_DUMP, &h))? {
            if p.len() < 12 || p[0] != fam || p[7] != RTN_UNICAST {
                continue;
            }
            let mut table = u32::from(p[4]);
            let mut dst = None;
            let mut gw = None;
            let mut oif = 0;
            for (ty, v) in attrs(&p[12..]) {
                match ty {
                    RTA_DST => dst = ip_from(v),
                    RTA_GATEWAY => gw = ip_from(v),
                    RTA_OIF if v.len() >= 4 => oif = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
                    RTA_TABLE if v.len() >= 4 => {
                        table = u32::from_ne_bytes([v[0], v[1], v[2], v[3]])
                    }
                    _ => {}
                }
            }
            if table != u32::from(RT_TABLE_MAIN) {
                continue;
            }
            let unspecified: IpAddr = if v4 {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            if let Ok(dst) = IpNet::new(dst.unwrap_or(unspecified), p[1]) {
                out.push(KRoute { dst, gw, oif });
            }
        }
        Ok(out)
    }

    /// Adds a route via `gw` (or on-link) out of `oif`; an identical route is fine.
    pub fn add_route(&mut self, dst: &IpNet, gw: Option<IpAddr>, oif: u32) -> io::Result<()> {
        let mut h = [0u8; 12];
        h[0] = if dst.addr().is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        } as u8;
        h[1] = dst.prefix_len();
        h[4] = RT_TABLE_MAIN;
        h[5] = RTPROT_BOOT;
        h[6] = if gw.is_some() {
            RT_SCOPE_UNIVERSE
        } else {
            RT_SCOPE_LINK
        };
        h[7] = RTN_UNICAST;
        let mut m = Msg::new(RTM_NEWROUTE, F_CREATE | F_EXCL, &h);
        if dst.prefix_len() > 0 {
            m.attr(RTA_DST, &octets(dst.trunc().addr()));
        }
        if let Some(gw) = gw {
            m.attr(RTA_GATEWAY, &octets(gw));
        }
        m.attr_u32(RTA_OIF, oif);
        match self.request(m) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r,
        }
    }
}
