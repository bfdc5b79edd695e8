//! The Generalized TTL Security Mechanism (RFC 5082) on BGP sockets: send with TTL 255, accept only what came at most N hops.
//!
//! A packet from a directly connected eBGP peer arrives with TTL 255; one
//! from farther away cannot, whatever the sender does. The kernel filters
//! on `IP_MINTTL` / `IPV6_MINHOPCOUNT`, set on the connecting socket before
//! `connect`, so every segment from the SYN-ACK on is checked. A GTSM peer's
//! own connections are refused (see the peer task): on a shared listening
//! socket a filter could only be set after the first segments arrived.

use std::io;
use std::os::fd::RawFd;

/// Sets TTL (hop limit) 255 on outgoing packets and the minimum accepted
/// TTL to 256 - `hops` (RFC 5082 §3: 255 for a directly connected peer).
pub fn enable(fd: RawFd, ipv6: bool, hops: u8) -> io::Result<()> {
    let min = 256 - i32::from(hops.max(1));
    if ipv6 {
        set(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        set(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, min)
    } else {
        set(fd, libc::IPPROTO_IP, libc::IP_TTL, 255)?;
        set(fd, libc::IPPROTO_IP, libc::IP_MINTTL, min)
    }
}

fn set(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: fd is a socket owned by the caller; the value is a c_int of
    // the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
