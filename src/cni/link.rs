//! Link operations over rtnetlink: look up, create bridge and veth, set master/up/promisc/hairpin, delete.
//!
//! ```text
//!  ifinfomsg (16 octets): family u8 | pad u8 | type u16 | index i32 | flags u32 | change u32
//! ```

use super::netlink::{F_CREATE, F_DUMP, F_EXCL, Msg, Netlink, attrs};
use std::io;
use std::os::fd::RawFd;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTNLGRP_LINK: u32 = 1;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_IFALIAS: u16 = 20;
const IFLA_PROTINFO: u16 = 12;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_BRPORT_MODE: u16 = 4;
/// IFF_UP.
pub const IFF_UP: u32 = 0x1;
/// IFF_PROMISC.
pub const IFF_PROMISC: u32 = 0x100;

/// What we need to know about a link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
    /// IFF_* flags.
    pub flags: u32,
    /// MTU.
    pub mtu: u32,
    /// ifindex of the master (bridge), 0 if none.
    pub master: u32,
    /// Hardware address.
    pub mac: Vec<u8>,
    /// IFLA_INFO_KIND (`bridge`, `veth`, ...).
    pub kind: String,
    /// RFC 2863 operational state (IF_OPER_UP = 6).
    pub operstate: u8,
    /// IFLA_IFALIAS, empty if unset.
    pub alias: String,
}

/// IF_OPER_UP.
pub const IF_OPER_UP: u8 = 6;

impl Link {
    /// MAC in `aa:bb:cc:dd:ee:ff` form.
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

fn ifinfo(family: u8, index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

fn parse_link(p: &[u8]) -> Option<Link> {
    if p.len() < 16 {
        return None;
    }
    let mut l = Link {
        index: u32::from_ne_bytes([p[4], p[5], p[6], p[7]]),
        flags: u32::from_ne_bytes([p[8], p[9], p[10], p[11]]),
        ..Link::default()
    };
    for (ty, v) in attrs(&p[16..]) {
        match ty {
            IFLA_IFNAME => {
                l.name = String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .to_string()
            }
            IFLA_ADDRESS => l.mac = v.to_vec(),
            IFLA_OPERSTATE if !v.is_empty() => l.operstate = v[0],
            IFLA_IFALIAS => {
                l.alias = String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .to_string()
            }
            IFLA_MTU if v.len() >= 4 => l.mtu = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            IFLA_MASTER if v.len() >= 4 => l.master = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            IFLA_LINKINFO => {
                for (t, kv) in attrs(v) {
                    if t == IFLA_INFO_KIND {
                        l.kind = String::from_utf8_lossy(kv)
                            .trim_end_matches('\0')
                            .to_string();
                    }
                }
            }
            _ => {}
        }
    }
    Some(l)
}

/// Whether an error means "no such link".
pub fn is_not_found(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENOENT))
}

impl Netlink {
    /// Looks a link up by name; `None` if absent.
    pub fn link_by_name(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut m = Msg::new(RTM_GETLINK, 0, &ifinfo(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        match self.query(m) {
            Ok(replies) => Ok(replies.first().and_then(|p| parse_link(p))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits (bounded) until linkwatch has processed the carrier of `name`:
    /// only then are its qdisc active and, for a bridge port, its port state
    /// forwarding. Returns whether it got there. Usually it already has; if
    /// not, the wait sleeps on RTNLGRP_LINK notifications (linkwatch sends
    /// one when it sets IF_OPER_UP) instead of polling, so a loaded machine
    /// is not made busier by the very wait for its kworker. The group is
    /// joined before the second look, so the notification cannot slip
    /// between the look and the wait.
    pub fn wait_oper_up(&mut self, name: &str, timeout: std::time::Duration) -> io::Result<bool> {
        let is_up = |l: &Link| l.operstate == IF_OPER_UP;
        let Some(link) = self.link_by_name(name)? else {
            return Ok(false);
        };
        if is_up(&link) {
            return Ok(true);
        }
        self.join_group(RTNLGRP_LINK)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.link_by_name(name) {
                Ok(Some(l)) if is_up(&l) => return Ok(true),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(false),
                // Dropped notifications are reported on the next receive,
                // whichever it is: ask again.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(e) => return Err(e),
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let got = self.wait_notifications(left, |ty, p| {
                ty == RTM_NEWLINK
                    && parse_link(p).is_some_and(|l| l.index == link.index && is_up(&l))
            });
            match got {
                Ok(true) => return Ok(true),
                Ok(false) => return Ok(false),
                // Notifications were dropped (ENOBUFS): look again.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Every link in the namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let m = Msg::new(RTM_GETLINK, F_DUMP, &ifinfo(0, 0, 0, 0));
        Ok(self
            .query(m)?
            .iter()
            .filter_map(|p| parse_link(p))
            .collect())
    }

    /// Creates a bridge with a fixed MAC, so the kernel does not re-pick the
    /// bridge address from its ports as they come and go (which would
    /// invalidate the pods' ARP entry for the gateway). Fails with EEXIST if present.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>, mac: [u8; 6]) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, F_CREATE | F_EXCL, &ifinfo(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        m.attr(IFLA_ADDRESS, &mac);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        let li = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "bridge");
        m.end(li);
        self.request(m)
    }

    /// Creates a veth pair whose peer is born inside `peer_netns` as
    /// `peer_name`, this end up and a port of `master`, in one request: the
    /// kernel applies the ifinfomsg flags, then IFLA_MASTER, after
    /// registering the pair (rtnl_newlink_create), and unregisters it if
    /// either fails, so no half-configured veth is left behind. The peer
    /// cannot be brought up the same way: veth_newlink configures it before
    /// the two ends are linked, and opening it then fails with ENOTCONN.
    pub fn create_veth(
        &mut self,
        name: &str,
        peer_name: &str,
        peer_netns: RawFd,
        mtu: Option<u32>,
        master: u32,
    ) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            F_CREATE | F_EXCL,
            &ifinfo(0, 0, IFF_UP, IFF_UP),
        );
        m.attr_str(IFLA_IFNAME, name);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        m.attr_u32(IFLA_MASTER, master);
        let li = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        let data = m.begin(IFLA_INFO_DATA);
        let peer = m.begin(VETH_INFO_PEER);
        m.raw(&ifinfo(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, peer_name);
        m.attr_u32(IFLA_NET_NS_FD, peer_netns as u32);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        m.end(peer);
        m.end(data);
        m.end(li);
        self.request(m)
    }

    /// Sets flags under `mask`, and optionally the master and MTU, of link `index`.
    pub fn set_link(
        &mut self,
        index: u32,
        flags: u32,
        mask: u32,
        master: Option<u32>,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0, &ifinfo(0, index, flags, mask));
        if let Some(master) = master {
            m.attr_u32(IFLA_MASTER, master);
        }
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        self.request(m)
    }

    /// Sets the interface alias (kept by the kernel, up to 255 octets).
    pub fn set_alias(&mut self, index: u32, alias: &str) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0, &ifinfo(0, index, 0, 0));
        m.attr_str(IFLA_IFALIAS, alias);
        self.request(m)
    }

    /// Turns hairpin mode on for a bridge port (IFLA_BRPORT_MODE in AF_BRIDGE IFLA_PROTINFO).
    pub fn set_hairpin(&mut self, index: u32) -> io::Result<()> {
        // Only RTM_SETLINK reaches the bridge's own handler (rtnl_bridge_setlink);
        // RTM_NEWLINK with AF_BRIDGE is ACKed but ignores IFLA_PROTINFO.
        let mut m = Msg::new(RTM_SETLINK, 0, &ifinfo(libc::AF_BRIDGE as u8, index, 0, 0));
        let p = m.begin(IFLA_PROTINFO);
        m.attr(IFLA_BRPORT_MODE, &[1]);
        m.end(p);
        self.request(m)
    }

    /// Deletes a link by name; absent is fine.
    pub fn delete_link(&mut self, name: &str) -> io::Result<bool> {
        let mut m = Msg::new(RTM_DELLINK, 0, &ifinfo(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        match self.request(m) {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
