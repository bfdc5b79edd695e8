//! TCP-MD5 signatures (RFC 2385) on BGP sockets, via Linux's `TCP_MD5SIG` socket option.
//!
//! A key is bound to one peer address on one socket: on the connecting
//! socket before `connect`, and on each listening socket for every peer
//! that has a password, so the handshake of an incoming connection is
//! already signed. Segments with a missing or wrong signature are dropped
//! by the kernel without a trace on the socket, so callers must say in
//! their logs that a key is configured when a peer stays silent.

use std::io;
use std::net::IpAddr;
use std::os::fd::RawFd;

/// Longest key the kernel accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` of linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MAX_KEY_LEN],
}

/// Why a key could not be set.
#[derive(Debug, thiserror::Error)]
pub enum Md5Error {
    #[error("TCP-MD5 key of {0} octets is longer than the {MAX_KEY_LEN} the kernel allows")]
    TooLong(usize),
    #[error("setting the TCP-MD5 key for {peer} failed: {source}")]
    Setsockopt { peer: IpAddr, source: io::Error },
}

/// Binds `key` to `peer` on socket `fd`; an empty key removes it.
pub fn set_key(fd: RawFd, peer: IpAddr, key: &[u8]) -> Result<(), Md5Error> {
    if key.len() > MAX_KEY_LEN {
        return Err(Md5Error::TooLong(key.len()));
    }
    // SAFETY: all-zero is a valid sockaddr_storage and tcp_md5sig.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    match peer {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(a).to_be();
        }
        IpAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
        }
    }
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    // SAFETY: fd is a socket owned by the caller; the option value is a
    // properly initialised tcp_md5sig of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&sig as *const TcpMd5Sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(Md5Error::Setsockopt {
            peer,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn struct_layout_matches_the_kernel() {
        // 128 (sockaddr_storage) + 1 + 1 + 2 + 4 + 80.
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn keys_are_set_and_removed_on_a_real_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        set_key(l.as_raw_fd(), peer, b"secret").unwrap();
        set_key(l.as_raw_fd(), peer, b"").unwrap();
        assert!(matches!(
            set_key(l.as_raw_fd(), peer, &[b'x'; 81]),
            Err(Md5Error::TooLong(81))
        ));
        // A key for an IPv6 peer on an IPv4 socket is refused by the kernel, and surfaced.
        let err = set_key(l.as_raw_fd(), "2001:db8::1".parse().unwrap(), b"k");
        assert!(matches!(err, Err(Md5Error::Setsockopt { .. })), "{err:?}");
    }
}
