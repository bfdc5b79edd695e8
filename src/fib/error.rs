//! Errors of the FIB: bad requests from the caller, netlink failures, malformed kernel messages.

use std::io;

use ipnet::IpNet;

/// A malformed netlink message from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("netlink message truncated: {0}")]
    Truncated(&'static str),
    #[error("netlink message length {0} invalid")]
    BadLength(usize),
    #[error("address of {len} octets for family {family}")]
    BadAddress { family: u8, len: usize },
    #[error("prefix length {len} too long for family {family}")]
    BadPrefixLen { family: u8, len: u8 },
}

/// A failed netlink exchange.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("netlink {0}: no answer within the timeout")]
    Timeout(&'static str),
    #[error("netlink {op}: kernel error {errno} ({})", io::Error::from_raw_os_error(*errno))]
    Kernel { op: &'static str, errno: i32 },
    #[error("netlink dump interrupted by concurrent changes, retries exhausted")]
    DumpInterrupted,
    #[error("netlink receive buffer overrun (ENOBUFS) during {0}")]
    Overrun(&'static str),
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// Errors the FIB's public API returns.
#[derive(Debug, thiserror::Error)]
pub enum FibError {
    #[error("a unicast route needs at least one next hop")]
    NoNextHop,
    #[error("a next hop needs a gateway or an interface")]
    EmptyNextHop,
    #[error("prefix {0} has host bits set")]
    HostBits(IpNet),
    #[error("next hop family differs from prefix {0}")]
    FamilyMismatch(IpNet),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}
