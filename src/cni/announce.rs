//! Announcing a pod's addresses: gratuitous ARP (RFC 5227 §3) and unsolicited Neighbor Advertisement (RFC 4861 §7.2.6).
//!
//! ```text
//!  ARP (RFC 826) in Ethernet, 42 octets:
//!  dst ff:ff:ff:ff:ff:ff | src MAC | 0x0806 | htype 1 | ptype 0x0800 | hlen 6 | plen 4 |
//!  oper 1 (request) | sha MAC | spa IP | tha 00:00:00:00:00:00 | tpa IP (= spa: gratuitous)
//!
//!  Unsolicited NA in Ethernet + IPv6, 86 octets:
//!  dst 33:33:00:00:00:01 | src MAC | 0x86dd |
//!  IPv6: ver 6 | plen 32 | next 58 | hop 255 | src IP | dst ff02::1 |
//!  ICMPv6: type 136 | code 0 | checksum | R=0 S=0 O=1 | target IP | opt 2 (target LLA), len 1, MAC
//! ```

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const PACKET_QDISC_BYPASS: libc::c_int = 20;

/// The gratuitous ARP frame for `ip` owned by `mac`.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The unsolicited NA frame (override flag set) for `ip` owned by `mac`.
pub fn una_frame(mac: [u8; 6], ip: Ipv6Addr) -> Vec<u8> {
    let all_nodes: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0, 0x20, 0, 0, 0]);
    icmp.extend_from_slice(&ip.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac);
    // RFC 4443 §2.3: checksum over the IPv6 pseudo-header and the message.
    let mut pseudo = Vec::with_capacity(40 + icmp.len());
    pseudo.extend_from_slice(&ip.octets());
    pseudo.extend_from_slice(&all_nodes.octets());
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&icmp);
    let ck = checksum(&pseudo);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());
    let mut f = Vec::with_capacity(86);
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&all_nodes.octets());
    f.extend_from_slice(&icmp);
    f
}

/// An AF_PACKET socket for [`announce`], in the current thread's namespace.
/// Its frames bypass the qdisc: right after the link comes up its qdisc may
/// still be the no-op one that drops everything until linkwatch activates it.
pub fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2); protocol 0 means this socket receives nothing.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor, owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a correctly sized int.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

/// Sends one announcement per address out of link `index` through `fd`
/// (a [`packet_socket`] of the link's namespace).
pub fn announce(fd: &OwnedFd, index: u32, mac: &[u8], ips: &[IpAddr]) -> io::Result<()> {
    let Ok(mac) = <[u8; 6]>::try_from(mac) else {
        return Ok(());
    };
    for ip in ips {
        let (frame, proto) = match ip {
            IpAddr::V4(v4) => (garp_frame(mac, *v4), ETH_P_ARP),
            IpAddr::V6(v6) => (una_frame(mac, *v6), ETH_P_IPV6),
        };
        // SAFETY: zeroed sockaddr_ll is a valid initial value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto.to_be();
        sll.sll_ifindex = index as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and sll are valid for the lengths passed.
        let rc = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Closes a [`packet_socket`] without making the caller wait for it.
///
/// The last close of an AF_PACKET socket runs `packet_release`, which calls
/// `synchronize_net()`: a full RCU grace period (milliseconds, far more on a
/// loaded machine) that the plugin, and so the runtime, would sit through at
/// exit. A forked child takes over the socket; it closes every other
/// descriptor (so the runtime's stdout/stderr pipes see EOF when the plugin
/// exits), waits until the plugin is gone (EOF on a pipe only the plugin
/// holds), and pays the grace period detached. If the plugin is killed the
/// pipe closes all the same, so the child never outlives it by more than one
/// grace period. Without a fork, the socket is closed here.
pub fn close_detached(fd: OwnedFd) {
    let mut p = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into `p`.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let (r, w) = (p[0], p[1]);
    let keep = fd.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe calls (close_range, read, _exit).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: raw syscalls on descriptors of this (child) process only.
        unsafe {
            let (lo, hi) = (keep.min(r) as libc::c_uint, keep.max(r) as libc::c_uint);
            close_range(0, lo.wrapping_sub(1), lo > 0);
            close_range(lo + 1, hi - 1, hi > lo + 1);
            close_range(hi + 1, libc::c_uint::MAX, true);
            let mut b = 0u8;
            while libc::read(r, (&mut b as *mut u8).cast(), 1) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            libc::_exit(0);
        }
    }
    // SAFETY: `r` is ours; in the parent only the child needs it.
    unsafe { libc::close(r) };
    if pid < 0 {
        // SAFETY: `w` is ours and no child holds it.
        unsafe { libc::close(w) };
        drop(fd);
        return;
    }
    // The write end stays open until this process exits; dropping `fd`
    // here is not its last reference, so it returns at once.
    drop(fd);
}

/// close_range(2) of [first, last] when `doit`; falls back to a loop on
/// kernels before 5.9 (ENOSYS). Async-signal-safe.
unsafe fn close_range(first: libc::c_uint, last: libc::c_uint, doit: bool) {
    if !doit || first > last {
        return;
    }
    // SAFETY: close_range only closes descriptors of the calling process.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if rc != 0 {
        for fd in first..=last.min(4095) {
            // SAFETY: as above.
            unsafe { libc::close(fd as libc::c_int) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_wire_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let g = garp_frame(mac, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(g.len(), 42);
        assert_eq!(&g[28..32], &g[38..42], "sender IP = target IP");
        let n = una_frame(mac, "2001:db8::2".parse().unwrap());
        assert_eq!(n.len(), 86);
        assert_eq!(n[54], 136);
        // Verifying the checksum: summing the pseudo-header and message with it gives 0.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&n[22..54]);
        pseudo.extend_from_slice(&32u32.to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        pseudo.extend_from_slice(&n[54..]);
        assert_eq!(checksum(&pseudo), 0);
    }
}
