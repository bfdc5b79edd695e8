//! A synchronous NETLINK_ROUTE socket: batched sends, ACK collection with deadlines, multipart dumps.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::error::NetlinkError;
use super::wire::{self, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN};

const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;
const SOL_NETLINK: libc::c_int = 270;

/// Largest datagram the kernel sends: dumps use up to 32 KiB skbs
/// (netlink_dump); leave room.
const RECV_BUF: usize = 64 * 1024;

pub(crate) struct NlSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// What the kernel said about one batch: the failed messages by sequence
/// number, and whether replies were lost to a receive-buffer overrun.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    pub errors: Vec<(u32, i32)>,
    pub overrun: bool,
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: fd is an open socket; the option value is a live c_int whose
    // size is passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> NetlinkError {
    move |source| NetlinkError::Io { op, source }
}

impl NlSocket {
    /// Opens a socket in the calling thread's network namespace,
    /// subscribed to `groups` (0 for a request socket). Buffers are forced
    /// (root) or best-effort raised.
    pub fn open(groups: &[u32], rcvbuf: usize, sndbuf: usize) -> Result<Self, NetlinkError> {
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io_err("socket")(io::Error::last_os_error()));
        }
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let r = fd.as_raw_fd();
        set_buffer(r, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, rcvbuf);
        set_buffer(r, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, sndbuf);
        // Errors carry only the failed message's header, not its body
        // (NETLINK_CAP_ACK): keeps error replies small so a batch's worth
        // fits the receive buffer. Extended ACKs give the kernel's reason
        // text; strict checking makes the kernel honour dump filters.
        // All three are optimisations: older kernels without them still
        // work, so failures are ignored.
        let _ = setsockopt_int(r, SOL_NETLINK, NETLINK_CAP_ACK, 1);
        let _ = setsockopt_int(r, SOL_NETLINK, NETLINK_EXT_ACK, 1);
        let _ = setsockopt_int(r, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);

        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: sa is a valid sockaddr_nl of the length passed.
        let rc = unsafe {
            libc::bind(
                r,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("bind")(io::Error::last_os_error()));
        }
        for &g in groups {
            setsockopt_int(r, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g as libc::c_int)
                .map_err(io_err("join group"))?;
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Self {
            fd,
            seq: seed,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Attaches a classic BPF filter: the kernel drops what it rejects
    /// before it is queued to this socket.
    pub fn attach_filter(&self, prog: &[libc::sock_filter]) -> Result<(), NetlinkError> {
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            filter: prog.as_ptr() as *mut _,
        };
        // SAFETY: fprog points at `prog`, alive for the call; the kernel
        // copies the program.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("attach filter")(io::Error::last_os_error()));
        }
        Ok(())
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reserves `n` consecutive sequence numbers and returns the first.
    pub fn reserve_seq(&mut self, n: u32) -> u32 {
        let first = self.seq;
        self.seq = self.seq.wrapping_add(n.max(1));
        first
    }

    pub fn send(&self, buf: &[u8]) -> Result<(), NetlinkError> {
        // SAFETY: sockaddr_nl zeroed = the kernel (pid 0).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: buf and sa are valid for the lengths passed.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                // A netlink datagram is sent whole or not at all.
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err("send")(e));
            }
        }
    }

    /// Waits until `deadline` for one datagram; `Ok(None)` on timeout.
    /// ENOBUFS (messages dropped for lack of buffer) is returned as
    /// [`NetlinkError::Overrun`]: the socket stays usable.
    pub fn recv(
        &mut self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<Option<usize>, NetlinkError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !poll_in(self.fd.as_raw_fd(), left).map_err(io_err("poll"))? {
                return Ok(None);
            }
            // The buffer is written by the kernel, never zeroed: pages it
            // does not reach (most of it, for acknowledgements) stay
            // untouched and cost no memory. Three sockets per agent.
            self.buf.clear();
            // SAFETY: the kernel writes at most capacity() octets from the
            // start of the allocation; set_len below covers only those.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.capacity(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                let n = (n as usize).min(self.buf.capacity());
                // SAFETY: recv initialised the first n octets.
                unsafe { self.buf.set_len(n) };
                return Ok(Some(n));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
                Some(libc::ENOBUFS) => return Err(NetlinkError::Overrun(what)),
                _ => return Err(io_err("recv")(e)),
            }
        }
    }

    pub fn received(&self, n: usize) -> &[u8] {
        &self.buf[..n]
    }

    /// Sends one batch whose messages carry sequence numbers
    /// `first..first+count` and whose last message (at least) asks for an
    /// ACK, then collects replies until the last message's reply arrives.
    /// Replies outside the range (left over from an exchange that timed
    /// out) are ignored.
    pub fn transact(
        &mut self,
        batch: &[u8],
        first: u32,
        count: u32,
        timeout: Duration,
    ) -> Result<BatchOutcome, NetlinkError> {
        let last = first.wrapping_add(count.saturating_sub(1));
        self.send(batch)?;
        let deadline = Instant::now() + timeout;
        let mut out = BatchOutcome::default();
        loop {
            let n = match self.recv(deadline, "batch") {
                Ok(Some(n)) => n,
                Ok(None) => return Err(NetlinkError::Timeout("batch acknowledgement")),
                Err(NetlinkError::Overrun(_)) => {
                    // Some replies were dropped; the final ACK may still
                    // come (it is generated last). The caller verifies the
                    // batch by a dump if it does.
                    out.overrun = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut done = false;
            for m in wire::messages(&self.buf[..n]) {
                let m = m?;
                if m.seq.wrapping_sub(first) >= count {
                    continue;
                }
                if m.ty == NLMSG_ERROR {
                    let code = wire::error_code(m.payload)?;
                    if code != 0 {
                        out.errors.push((m.seq, -code));
                    }
                    if m.seq == last {
                        done = true;
                    }
                } else if m.ty == NLMSG_OVERRUN {
                    out.overrun = true;
                }
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Sends a dump request (already encoded with sequence `seq`) and
    /// calls `each` with every RTM_NEWROUTE payload of the reply. The
    /// timeout bounds the silence between two parts, not the whole dump,
    /// which for a million routes takes seconds.
    pub fn dump(
        &mut self,
        request: &[u8],
        seq: u32,
        timeout: Duration,
        mut each: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
    ) -> Result<DumpEnd, NetlinkError> {
        self.send(request)?;
        let mut interrupted = false;
        loop {
            let n = match self.recv(Instant::now() + timeout, "dump")? {
                Some(n) => n,
                None => return Err(NetlinkError::Timeout("dump")),
            };
            for m in wire::messages(&self.buf[..n]) {
                let m = m?;
                if m.seq != seq {
                    continue;
                }
                if m.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match m.ty {
                    NLMSG_DONE => {
                        return Ok(if interrupted {
                            DumpEnd::Interrupted
                        } else {
                            DumpEnd::Complete
                        });
                    }
                    NLMSG_ERROR => {
                        let code = wire::error_code(m.payload)?;
                        if code == 0 {
                            continue;
                        }
                        return Err(NetlinkError::Kernel {
                            op: "dump",
                            errno: -code,
                        });
                    }
                    ty => each(ty, m.payload)?,
                }
            }
        }
    }
}

/// How a dump ended: complete, or with NLM_F_DUMP_INTR (the table changed
/// while it was read, so the result may be inconsistent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpEnd {
    Complete,
    Interrupted,
}

fn set_buffer(fd: RawFd, force: libc::c_int, plain: libc::c_int, size: usize) {
    let size = size.min(i32::MAX as usize) as libc::c_int;
    // SO_*BUFFORCE needs CAP_NET_ADMIN and ignores rmem_max/wmem_max; the
    // plain option is capped by them. A smaller buffer still works, with
    // overrun detection as the safety net.
    if setsockopt_int(fd, libc::SOL_SOCKET, force, size).is_err() {
        let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, size);
    }
}

/// poll(2) for readability; `Ok(false)` on timeout.
pub(crate) fn poll_in(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up: poll counts whole milliseconds, and truncating would
        // return before the deadline.
        let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc == 0 {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            continue;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_honours_its_deadline() {
        // An unsubscribed socket that sent nothing gets nothing: the wait
        // must end at the deadline (no privileges needed, nothing sent).
        let mut s = NlSocket::open(&[], 1 << 16, 1 << 16).unwrap();
        let t0 = Instant::now();
        let got = s
            .recv(Instant::now() + Duration::from_millis(50), "test")
            .unwrap();
        assert!(got.is_none());
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
    }

    #[test]
    fn sequence_numbers_are_reserved_in_blocks() {
        let mut s = NlSocket::open(&[], 1 << 16, 1 << 16).unwrap();
        let a = s.reserve_seq(10);
        let b = s.reserve_seq(1);
        assert_eq!(b, a.wrapping_add(10));
    }

    /// ACKs that overflow a too-small receive buffer are detected, and the
    /// exchange still ends within its deadline. Runs in a network
    /// namespace of its own (`unshare` on a fresh thread affects only that
    /// thread); needs root, and skips without it unless CI=true.
    #[test]
    fn ack_overrun_is_detected_and_bounded_by_the_timeout() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true needs root"
            );
            return;
        }
        std::thread::spawn(|| {
            // SAFETY: unshare on this thread only; it exits afterwards.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            // The kernel's minimum receive buffer holds a few ACKs only.
            let mut s = NlSocket::open(&[], 1, 1 << 20).unwrap();
            let n = 2000u32;
            let first = s.reserve_seq(n);
            let mut buf = Vec::new();
            for i in 0..n {
                let prefix = ipnet::IpNet::new(
                    std::net::IpAddr::from([198, 19, (i >> 8) as u8, i as u8]),
                    32,
                )
                .unwrap();
                let m = wire::RouteMsg {
                    prefix,
                    table: 254,
                    protocol: super::super::RouteProtocol::Podroute,
                    metric: 20,
                    target: Some(&super::super::RouteTarget::Blackhole),
                };
                wire::encode_route(
                    &mut buf,
                    wire::RTM_NEWROUTE,
                    wire::NLM_F_REQUEST | wire::NLM_F_ACK | wire::NLM_F_CREATE | wire::NLM_F_EXCL,
                    first.wrapping_add(i),
                    &m,
                );
            }
            let t0 = Instant::now();
            let res = s.transact(&buf, first, n, Duration::from_millis(300));
            assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
            match res {
                Err(NetlinkError::Timeout(_)) => {}
                Ok(o) => assert!(o.overrun, "2000 ACKs fit a minimal buffer?"),
                Err(e) => panic!("{e}"),
            }
        })
        .join()
        .unwrap();
    }
}
