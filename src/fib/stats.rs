//! Counters of the FIB's work and the per-call report of a flush.

use ipnet::IpNet;

/// Running totals since the [`super::Fib`] was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FibStats {
    /// `sendmsg` batches sent.
    pub batches: u64,
    /// Route messages sent.
    pub messages: u64,
    pub installs: u64,
    pub replaces: u64,
    pub deletes: u64,
    /// Pending prefixes that needed no kernel operation at flush time
    /// (e.g. a change undone before the flush).
    pub unchanged: u64,
    /// Route operations the kernel refused (each is retried).
    pub failures: u64,
    /// Operations re-sent after an earlier failure.
    pub retries: u64,
    /// Netlink exchanges that got no answer in time.
    pub timeouts: u64,
    /// Receive-buffer overruns (replies lost; a reconcile follows).
    pub overruns: u64,
    /// Installs refused with EEXIST: some route already holds the key.
    pub exists_conflicts: u64,
    /// Foreign (other protocol) routes found on a wanted prefix, counted
    /// at each reconcile that saw them.
    pub foreign_conflicts: u64,
    /// Wanted routes found missing or changed in the kernel and repaired.
    pub drift_repaired: u64,
    /// podroute routes found in the kernel that nobody wanted, removed.
    pub unwanted_removed: u64,
    /// Stale (adopted, never confirmed) routes dropped by `purge_stale`.
    pub stale_purged: u64,
    pub reconciles: u64,
}

/// What one flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub installed: usize,
    pub replaced: usize,
    pub deleted: usize,
    /// Pending prefixes that needed nothing.
    pub unchanged: usize,
    /// Refused operations: prefix and errno. They stay pending and are
    /// retried at the next flush.
    pub failed: Vec<(IpNet, i32)>,
    /// Prefixes whose install met EEXIST (a foreign route, or an unadopted
    /// podroute one): left alone until a reconcile tells which.
    pub conflicts: Vec<IpNet>,
}
