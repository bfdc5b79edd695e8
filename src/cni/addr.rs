//! Address operations over rtnetlink: list, add (optionally without DAD), delete.
//!
//! ```text
//!  ifaddrmsg (8 octets): family u8 | prefixlen u8 | flags u8 | scope u8 | index u32
//! ```

use super::netlink::{F_CREATE, F_DUMP, F_EXCL, Msg, Netlink, attrs};
use ipnet::IpNet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

fn family(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// Parses an address attribute value.
pub fn ip_from(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

fn header(a: &IpNet, index: u32, flags: u8) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = family(a.addr());
    h[1] = a.prefix_len();
    h[2] = flags;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

impl Netlink {
    /// Addresses on link `index` (all families).
    pub fn addrs(&mut self, index: u32) -> io::Result<Vec<IpNet>> {
        let mut h = [0u8; 8];
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        let m = Msg::new(RTM_GETADDR, F_DUMP, &h);
        let mut out = Vec::new();
        for p in self.query(m)? {
            if p.len() < 8 {
                continue;
            }
            let prefix = p[1];
            // The kernel ignores dump filters without strict checking: filter here.
            if u32::from_ne_bytes([p[4], p[5], p[6], p[7]]) != index {
                continue;
            }
            let mut local = None;
            let mut addr = None;
            for (ty, v) in attrs(&p[8..]) {
                match ty {
                    IFA_LOCAL => local = ip_from(v),
                    IFA_ADDRESS => addr = ip_from(v),
                    _ => {}
                }
            }
            if let Some(a) = local.or(addr)
                && let Ok(n) = IpNet::new(a, prefix)
            {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Adds an address; `nodad` skips IPv6 duplicate address detection
    /// (the IPAM already guarantees uniqueness, and DAD would keep the address
    /// tentative, i.e. unusable, for a second or more).
    pub fn add_addr(&mut self, index: u32, a: &IpNet, nodad: bool) -> io::Result<()> {
        let flags = if nodad && a.addr().is_ipv6() {
            IFA_F_NODAD
        } else {
            0
        };
        let mut m = Msg::new(
            RTM_NEWADDR,
            F_CREATE | F_EXCL,
            &header(a, index, flags as u8),
        );
        m.attr(IFA_LOCAL, &octets(a.addr()));
        m.attr(IFA_ADDRESS, &octets(a.addr()));
        if let IpNet::V4(v4) = a
            && v4.prefix_len() < 31
        {
            m.attr(IFA_BROADCAST, &v4.broadcast().octets());
        }
        if flags != 0 {
            m.attr_u32(IFA_FLAGS, flags);
        }
        self.request(m)
    }

    /// Deletes an address; absent is fine.
    pub fn del_addr(&mut self, index: u32, a: &IpNet) -> io::Result<()> {
        let mut m = Msg::new(RTM_DELADDR, 0, &header(a, index, 0));
        m.attr(IFA_LOCAL, &octets(a.addr()));
        match self.request(m) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            r => r,
        }
    }
}
