//! A minimal synchronous rtnetlink socket: build requests, await ACKs, collect dumps (RFC 3549, linux/netlink.h).
//!
//! ```text
//!  nlmsghdr (16 octets, host byte order)
//!  +----------------+--------+--------+----------------+----------------+
//!  | len (u32)      |type u16|flags u16| seq (u32)     | pid (u32)      |
//!  +----------------+--------+--------+----------------+----------------+
//!  | family header (ifinfomsg / ifaddrmsg / rtmsg) | rtattr TLVs ...   |
//!  rtattr: len u16 | type u16 | value, padded to 4 octets
//! ```

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// NLM_F_REQUEST.
pub const F_REQUEST: u16 = 0x1;
/// NLM_F_ACK.
pub const F_ACK: u16 = 0x4;
/// NLM_F_EXCL.
pub const F_EXCL: u16 = 0x200;
/// NLM_F_CREATE.
pub const F_CREATE: u16 = 0x400;
/// NLM_F_DUMP.
pub const F_DUMP: u16 = 0x300;
/// NLA_F_NESTED.
pub const NLA_F_NESTED: u16 = 0x8000;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const HDR: usize = 16;

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    /// A message of `ty` with the fixed family header `header`.
    pub fn new(ty: u16, flags: u16, header: &[u8]) -> Msg {
        let mut buf = vec![0u8; HDR];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(header);
        buf.resize(align(buf.len()), 0);
        Msg { buf }
    }

    /// Appends an attribute.
    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// Appends a u32 attribute.
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// Appends a NUL-terminated string attribute.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Msg {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v)
    }

    /// Opens a nested attribute; close it with [`Msg::end`].
    pub fn begin(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.attr(ty | NLA_F_NESTED, &[]);
        at
    }

    /// Appends raw bytes inside a nest (a family header embedded in an attribute).
    pub fn raw(&mut self, data: &[u8]) -> &mut Msg {
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// Closes a nested attribute opened at `at`.
    pub fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// Iterates over the rtattrs in `buf`, yielding (type without flags, value).
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & !NLA_F_NESTED & !0x4000;
        if len < 4 || len > rest.len() {
            return None;
        }
        let val = &rest[4..len];
        rest = &rest[align(len).min(rest.len())..];
        Some((ty, val))
    })
}

/// A NETLINK_ROUTE socket bound in the network namespace of the thread that opened it.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// Opens a NETLINK_ROUTE socket in the calling thread's current network namespace.
    pub fn open() -> io::Result<Netlink> {
        Self::open_proto(libc::NETLINK_ROUTE)
    }

    /// Opens a netlink socket of another family (NETLINK_NETFILTER for nftables).
    pub fn open_proto(proto: libc::c_int) -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let raw =
            unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // A kernel that never answers must not hang the runtime: bound every wait.
        let tv = libc::timeval {
            tv_sec: 10,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a correctly sized timeval.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        // Strict checking makes the kernel honour dump filters (an address
        // dump for one ifindex), so a node with many pods does not send every
        // veth's addresses to every ADD. Old kernels lack it: filter in code too.
        let one: libc::c_int = 1;
        // SAFETY: setsockopt with a correctly sized int.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_GET_STRICT_CHK,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        Ok(Netlink {
            fd,
            seq: 1,
            buf: vec![0u8; 1 << 16],
        })
    }

    fn send(&mut self, msg: &mut Msg) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let len = msg.buf.len() as u32;
        msg.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        msg.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        // SAFETY: the buffer is valid for its length; the kernel is the peer (nl_pid 0 via send on an unbound socket).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: see above.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.buf.as_ptr().cast(),
                msg.buf.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(seq)
    }

    /// Receives until the reply to `seq` completes, handing each data message (type, payload) to `f`.
    fn recv(&mut self, seq: u32, mut f: impl FnMut(u16, &[u8])) -> io::Result<()> {
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut rest = &self.buf[..n as usize];
            while rest.len() >= HDR {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let ty = u16::from_ne_bytes([rest[4], rest[5]]);
                let mseq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
                if len < HDR || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let payload = &rest[HDR..len];
                rest = &rest[align(len).min(rest.len())..];
                if mseq != seq {
                    continue;
                }
                match ty {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EIO);
                        return if code == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => f(ty, payload),
                }
            }
        }
    }

    /// Joins multicast group `group` (RTNLGRP_*): the kernel's notifications
    /// then arrive on this socket too, with sequence number 0, which
    /// replies to our own requests never carry (they start at 2). If they
    /// overflow the socket buffer, the next receive fails with ENOBUFS, so
    /// keep such a socket for waiting, not for further requests.
    pub fn join_group(&mut self, group: u32) -> io::Result<()> {
        // SAFETY: setsockopt with a correctly sized u32.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                SOL_NETLINK,
                libc::NETLINK_ADD_MEMBERSHIP,
                (&group as *const u32).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` for notifications and hands each (type,
    /// payload) to `f` until it returns true; false on timeout. ENOBUFS (the
    /// kernel dropped notifications) is returned so the caller can re-query.
    pub fn wait_notifications(
        &mut self,
        timeout: std::time::Duration,
        mut f: impl FnMut(u16, &[u8]) -> bool,
    ) -> io::Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if rc == 0 {
                continue;
            }
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) {
                    continue;
                }
                return Err(e);
            }
            let mut rest = &self.buf[..n as usize];
            while rest.len() >= HDR {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let ty = u16::from_ne_bytes([rest[4], rest[5]]);
                let mseq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
                if len < HDR || len > rest.len() {
                    break;
                }
                let payload = &rest[HDR..len];
                rest = &rest[align(len).min(rest.len())..];
                if mseq == 0 && f(ty, payload) {
                    return Ok(true);
                }
            }
        }
    }

    /// Sends a request and waits for its ACK.
    pub fn request(&mut self, mut msg: Msg) -> io::Result<()> {
        let flags = u16::from_ne_bytes([msg.buf[6], msg.buf[7]]) | F_ACK;
        msg.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        let seq = self.send(&mut msg)?;
        self.recv(seq, |_, _| {})
    }

    /// Sends a GET expecting replies (a dump or a single object) and returns their payloads.
    pub fn query(&mut self, mut msg: Msg) -> io::Result<Vec<Vec<u8>>> {
        let flags = u16::from_ne_bytes([msg.buf[6], msg.buf[7]]) | F_ACK;
        msg.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        let seq = self.send(&mut msg)?;
        let mut out = Vec::new();
        self.recv(seq, |_, p| out.push(p.to_vec()))?;
        Ok(out)
    }
}
