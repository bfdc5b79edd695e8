//! The kernel FIB programmer: installs, replaces and deletes podroute's routes over rtnetlink and reconciles them.
//!
//! # Shape
//!
//! [`Fib`] owns one NETLINK_ROUTE socket and the [`desired`] table. The
//! RIB hands it [`RouteChange`]s; [`Fib::apply`] records them and flushes:
//! for every pending prefix it derives the kernel operation by comparing
//! what is wanted with what the kernel holds (so a change undone before
//! the flush sends nothing), packs up to `batch_size` route messages into
//! one `sendmsg`, and collects the kernel's answer under a deadline. Every
//! failure is mapped back to its prefix by sequence number, counted in
//! [`FibStats`] and retried at the next flush. [`Fib::reconcile`] dumps
//! the table and repairs drift; routes of other protocols are never
//! replaced or deleted, only counted and logged. [`Fib::adopt`] and
//! [`Fib::purge_stale`] are the graceful-restart hooks.
//!
//! # Why a hand-written synchronous netlink layer
//!
//! podroute needs a small, fixed subset of rtnetlink: `rtmsg` plus seven
//! attributes, `nlmsgerr`, and multipart dumps (see [`wire`]). The
//! rtnetlink / netlink-packet-* crates change their API across minor
//! versions, build one heap-allocated message object per route, and are
//! async (tokio) at the top; for a million routes the cost that matters is
//! bytes into one buffer and one syscall per batch. So the codec is ~300
//! lines over `libc`, kept entirely inside `src/fib/`, and the socket is
//! blocking with `poll(2)` deadlines: the agent runs the FIB on a
//! dedicated thread fed by a channel, which also makes it the single
//! writer of the kernel table. Sockets are opened in the calling thread's
//! network namespace, so `ip netns exec` (or a `setns` thread) is all that
//! is needed to target a namespace.
//!
//! # Acknowledgements
//!
//! By default only the last message of a batch asks for an ACK
//! ([`AckMode::BatchEnd`]): the kernel processes one `sendmsg`'s messages
//! in order and always reports failures, so that ACK proves the batch is
//! done and every error before it is already queued. `NETLINK_CAP_ACK`
//! keeps error replies to a header, and the receive buffer is sized
//! (SO_RCVBUFFORCE) for a batch's worth; an overrun is detected (ENOBUFS)
//! and answered by a reconcile. Measured (scripts/bench-fib.sh): an ACK
//! per batch costs about nothing next to a writer that asks for none; an
//! ACK per message costs 30-70 % more kernel time.
//!
//! # Ownership rules, and their one gap
//!
//! New routes are added with `NLM_F_CREATE|NLM_F_EXCL`, so an install
//! never overwrites a route of another protocol (EEXIST; counted, and
//! the prefix is left alone until a reconcile finds the key free).
//! Deletes name podroute's protocol, which the kernel checks
//! (fib_table_delete, ip6_route_del), so they can only remove podroute's
//! routes. A change of a route podroute holds uses `NLM_F_REPLACE`, which
//! the kernel applies to whatever route has the key: if someone replaced
//! podroute's route by hand with a foreign one since the last reconcile,
//! that change overwrites it. Closing this would cost a delete + add
//! (a forwarding gap) per change; the periodic reconcile bounds the window.
//!
//! # Scale
//!
//! The desired table keeps a 16-octet slot per IPv4 prefix (key included);
//! staging a million prefixes takes ~0.1 s. A reconcile of a million
//! routes takes ~2 s, almost all of it the kernel producing the dump.

mod desired;
mod desired_maps;
mod error;
mod netlink;
mod reconcile;
mod resolve;
mod stats;
mod types;
mod wire;

use ipnet::IpNet;

pub use error::{FibError, NetlinkError, WireError};
pub use reconcile::ReconcileReport;
pub use resolve::{Resolution, Resolver, ResolverConfig, RouteLookup, RouteWatch, WatchEvent};
pub use stats::{ApplyReport, FibStats};
pub use types::{
    AckMode, FibConfig, KernelNextHop, KernelRoute, NextHop, NextHops, RouteChange, RouteProtocol,
    RouteTarget, RouteType,
};

use desired::{DesiredTable, Op};
use netlink::NlSocket;
use wire::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, RTM_DELROUTE, RTM_NEWROUTE,
};

/// The kernel FIB of the current network namespace, as podroute sees it.
pub struct Fib {
    sock: NlSocket,
    cfg: FibConfig,
    table: DesiredTable,
    stats: FibStats,
    needs_reconcile: bool,
    buf: Vec<u8>,
    /// Prefixes whose foreign route was already logged at warning level:
    /// reconcile runs every 30 s, and a steady coexistence (the node's pod
    /// bridge beside its blackhole) must not warn forever.
    foreign_warned: std::collections::HashSet<IpNet>,
}

/// One message of a batch, remembered to map the kernel's answer back.
enum Sent {
    Entry(IpNet, Op, desired::Undo),
    /// A podroute route at a foreign metric, deleted by exact key.
    Exact(KernelRoute),
}

impl Fib {
    /// Opens the FIB of the calling thread's network namespace. Nothing is
    /// read or written until [`Fib::adopt`], [`Fib::reconcile`] or
    /// [`Fib::apply`].
    pub fn open(mut cfg: FibConfig) -> Result<Self, FibError> {
        cfg.batch_size = cfg.batch_size.clamp(1, 1 << 16);
        cfg.batch_bytes = cfg.batch_bytes.clamp(4096, 4 << 20);
        // Room for one reply per message of a batch even in
        // EachMessage mode (an ACK skb costs about 1 KiB of buffer).
        cfg.rcvbuf = cfg.rcvbuf.max(cfg.batch_size * 1024 + 65536);
        let sock = NlSocket::open(&[], cfg.rcvbuf, cfg.batch_bytes * 2 + 65536)?;
        Ok(Self {
            sock,
            buf: Vec::with_capacity(cfg.batch_bytes + 4096),
            cfg,
            table: DesiredTable::default(),
            stats: FibStats::default(),
            needs_reconcile: false,
            foreign_warned: Default::default(),
        })
    }

    pub fn config(&self) -> &FibConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &FibStats {
        &self.stats
    }

    /// Prefixes waiting for a flush (new changes and failed retries).
    pub fn pending(&self) -> usize {
        self.table.pending_len()
    }

    /// Number of prefixes podroute wants in the kernel.
    pub fn wanted(&self) -> usize {
        self.table.wanted_len()
    }

    /// Set when replies were lost or an install met an unknown route: the
    /// caller should [`Fib::reconcile`] soon.
    pub fn needs_reconcile(&self) -> bool {
        self.needs_reconcile
    }

    /// Makes room for `n` more prefixes (saves rehashing while a large
    /// table is staged).
    pub fn reserve(&mut self, n: usize) {
        self.table.reserve(n);
    }

    /// Records one change without touching the kernel.
    pub fn stage(&mut self, change: RouteChange) -> Result<(), FibError> {
        change.validate()?;
        match change {
            RouteChange::Set(p, t) => self.table.set(p, t),
            RouteChange::Remove(p) => self.table.remove(p),
        }
        Ok(())
    }

    /// Stages `changes` and flushes. An invalid change stops staging with
    /// its error; the changes before it stay staged for the next flush.
    pub fn apply(
        &mut self,
        changes: impl IntoIterator<Item = RouteChange>,
    ) -> Result<ApplyReport, FibError> {
        let changes = changes.into_iter();
        self.table.reserve(changes.size_hint().0);
        for c in changes {
            self.stage(c)?;
        }
        self.flush()
    }

    /// Sends every pending operation to the kernel.
    pub fn flush(&mut self) -> Result<ApplyReport, FibError> {
        self.flush_with(Vec::new())
    }

    /// Graceful restart, at start: reads the podroute routes the kernel
    /// still holds (from a previous instance), keeps them as they are and
    /// marks them stale, and returns them so the RIB can adopt them. They
    /// are deleted only by [`Fib::purge_stale`] (or an explicit remove).
    pub fn adopt(&mut self) -> Result<Vec<KernelRoute>, FibError> {
        let proto = u8::from(self.cfg.protocol);
        let routes = resolve::dump_table(&mut self.sock, self.cfg.table, proto, self.cfg.timeout)?;
        for r in routes.iter().filter(|r| r.metric == self.cfg.metric) {
            self.table.adopt(r.prefix, desired::held_of(r));
        }
        // Adopted routes need nothing; clear them from the pending list.
        self.flush()?;
        Ok(routes)
    }

    /// Graceful restart, at the end: deletes the adopted routes the RIB
    /// did not confirm.
    pub fn purge_stale(&mut self) -> Result<ApplyReport, FibError> {
        let n = self.table.purge_stale();
        self.stats.stale_purged += n as u64;
        self.flush()
    }

    /// Every IPv4 and IPv6 route in the configured table, of any protocol.
    pub fn dump(&mut self) -> Result<Vec<KernelRoute>, FibError> {
        Ok(resolve::dump_table(
            &mut self.sock,
            self.cfg.table,
            0,
            self.cfg.timeout,
        )?)
    }

    /// Reads the table and repairs it: wanted routes missing or changed
    /// come back, podroute routes nobody wants (and not stale) go, foreign
    /// routes on wanted prefixes are logged and counted, never touched.
    pub fn reconcile(&mut self) -> Result<(ReconcileReport, ApplyReport), FibError> {
        let routes = self.dump()?;
        let (table, protocol, metric) = (self.cfg.table, self.cfg.protocol, self.cfg.metric);
        let rep = reconcile::reconcile_table(&mut self.table, routes, table, protocol, metric);
        self.stats.reconciles += 1;
        self.stats.drift_repaired += rep.drift as u64;
        self.stats.unwanted_removed += (rep.unwanted + rep.wrong_metric.len()) as u64;
        self.stats.foreign_conflicts += rep.foreign.len() as u64;
        for f in &rep.foreign {
            if self.foreign_warned.insert(f.prefix) {
                tracing::warn!(
                    "fib: {} is held by a route of protocol {} (metric {}); podroute leaves it alone",
                    f.prefix,
                    u8::from(f.protocol),
                    f.metric
                );
            } else {
                tracing::debug!(prefix = %f.prefix, protocol = u8::from(f.protocol), metric = f.metric, "fib: foreign route still there");
            }
        }
        self.foreign_warned
            .retain(|p| rep.foreign.iter().any(|f| f.prefix == *p));
        self.needs_reconcile = false;
        let applied = self.flush_with(rep.wrong_metric.clone())?;
        Ok((rep, applied))
    }

    /// Sends at most `max` pending prefixes; the others stay pending for
    /// the next flush. Lets a caller keep staging new changes (cheap, into
    /// the compact desired table) between bounded kernel exchanges instead
    /// of queueing them while one long flush runs.
    pub fn flush_some(&mut self, max: usize) -> Result<ApplyReport, FibError> {
        self.flush_limited(Vec::new(), Some(max.max(1)))
    }

    fn flush_with(&mut self, exact_deletes: Vec<KernelRoute>) -> Result<ApplyReport, FibError> {
        self.flush_limited(exact_deletes, None)
    }

    fn flush_limited(
        &mut self,
        exact_deletes: Vec<KernelRoute>,
        limit: Option<usize>,
    ) -> Result<ApplyReport, FibError> {
        let mut rep = ApplyReport::default();
        let mut retry: Vec<IpNet> = Vec::new();
        let mut batch: Vec<Sent> = Vec::with_capacity(self.cfg.batch_size);
        let mut bytes = 0;
        let mut items = exact_deletes.into_iter().map(Sent::Exact);
        let pending = match limit {
            None => self.table.take_pending(),
            Some(max) => self.table.take_pending_head(max),
        };
        let mut i = 0;
        let result = loop {
            let next = match items.next() {
                Some(s) => Some(s),
                None => loop {
                    let Some(p) = pending.get(i) else { break None };
                    i += 1;
                    match self.table.take_op(p) {
                        Some((op, undo)) => {
                            if undo.failures() > 0 {
                                self.stats.retries += 1;
                            }
                            break Some(Sent::Entry(*p, op, undo));
                        }
                        None => {
                            rep.unchanged += 1;
                            self.table.forget_if_idle(p);
                        }
                    }
                },
            };
            let last = next.is_none();
            if let Some(s) = next {
                bytes += s.size_estimate();
                batch.push(s);
            }
            let full = batch.len() >= self.cfg.batch_size || bytes >= self.cfg.batch_bytes;
            if (full || last) && !batch.is_empty() {
                bytes = 0;
                if let Err(e) = self.send_batch(&mut batch, &mut rep, &mut retry) {
                    break Err(e);
                }
            }
            if last {
                break Ok(());
            }
        };
        self.stats.unchanged += rep.unchanged as u64;
        if let Err(e) = result {
            // Not sent, or outcome unknown: everything stays pending, and
            // the kernel is re-read at the next reconcile.
            for s in batch.drain(..) {
                if let Sent::Entry(p, _, undo) = s {
                    self.table.undo(&p, undo);
                    self.table.mark(p);
                }
            }
            self.table.restore_pending(&pending[i..]);
            for p in retry {
                self.table.mark(p);
            }
            self.needs_reconcile = true;
            return Err(e);
        }
        for p in retry {
            self.table.mark(p);
        }
        Ok(rep)
    }

    fn send_batch(
        &mut self,
        batch: &mut Vec<Sent>,
        rep: &mut ApplyReport,
        retry: &mut Vec<IpNet>,
    ) -> Result<(), FibError> {
        let n = batch.len() as u32;
        let first = self.sock.reserve_seq(n);
        self.buf.clear();
        for (k, s) in batch.iter().enumerate() {
            let ack = if self.cfg.ack == AckMode::EachMessage || k + 1 == batch.len() {
                NLM_F_ACK
            } else {
                0
            };
            let seq = first.wrapping_add(k as u32);
            let (ty, flags, msg) = match s {
                Sent::Entry(p, op, _) => {
                    let (ty, flags, target) = match op {
                        Op::Add(t) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, Some(t)),
                        Op::Replace(t) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, Some(t)),
                        Op::Delete => (RTM_DELROUTE, 0, None),
                    };
                    let m = wire::RouteMsg {
                        prefix: *p,
                        table: self.cfg.table,
                        protocol: self.cfg.protocol,
                        metric: self.cfg.metric,
                        target,
                    };
                    (ty, flags, m)
                }
                Sent::Exact(r) => (
                    RTM_DELROUTE,
                    0,
                    wire::RouteMsg {
                        prefix: r.prefix,
                        table: self.cfg.table,
                        protocol: self.cfg.protocol,
                        metric: r.metric,
                        target: None,
                    },
                ),
            };
            wire::encode_route(&mut self.buf, ty, NLM_F_REQUEST | ack | flags, seq, &msg);
        }
        self.stats.batches += 1;
        self.stats.messages += u64::from(n);
        let outcome = match self.sock.transact(&self.buf, first, n, self.cfg.timeout) {
            Ok(o) => o,
            Err(e) => {
                if matches!(e, NetlinkError::Timeout(_)) {
                    self.stats.timeouts += 1;
                }
                return Err(e.into());
            }
        };
        if outcome.overrun {
            self.stats.overruns += 1;
            self.needs_reconcile = true;
        }
        let mut errno = vec![0i32; batch.len()];
        for (seq, e) in outcome.errors {
            let k = seq.wrapping_sub(first) as usize;
            if let Some(slot) = errno.get_mut(k) {
                *slot = e;
            }
        }
        for (s, err) in batch.drain(..).zip(errno) {
            match s {
                Sent::Exact(r) => {
                    if err != 0 && err != libc::ESRCH && err != libc::ENOENT {
                        self.stats.failures += 1;
                        rep.failed.push((r.prefix, err));
                        self.needs_reconcile = true;
                    } else {
                        self.stats.deletes += 1;
                        rep.deleted += 1;
                    }
                }
                Sent::Entry(p, op, undo) => self.settle(p, op, undo, err, rep, retry),
            }
        }
        Ok(())
    }

    /// Accounts for the kernel's verdict on one operation; on failure,
    /// reverts the speculative update of `take_op`.
    fn settle(
        &mut self,
        p: IpNet,
        op: Op,
        undo: desired::Undo,
        err: i32,
        rep: &mut ApplyReport,
        retry: &mut Vec<IpNet>,
    ) {
        match (op, err) {
            (Op::Add(_), 0) => {
                self.table.commit(undo);
                self.stats.installs += 1;
                rep.installed += 1;
            }
            (Op::Replace(_), 0) => {
                self.table.commit(undo);
                self.stats.replaces += 1;
                rep.replaced += 1;
            }
            (Op::Delete, 0 | libc::ESRCH | libc::ENOENT) => {
                self.table.commit(undo);
                // ESRCH: already gone, or what holds the key is not
                // podroute's (the delete names podroute's protocol).
                self.stats.deletes += 1;
                rep.deleted += 1;
                self.table.forget_if_idle(&p);
            }
            (Op::Add(_), libc::EEXIST) => {
                // Some route already has this key. podroute never replaces
                // what it did not install; reconcile finds out whose it is.
                self.table.undo(&p, undo);
                self.table.set_blocked(&p, true);
                self.stats.exists_conflicts += 1;
                rep.conflicts.push(p);
                self.needs_reconcile = true;
                tracing::warn!(
                    "fib: {p}: a route already holds this prefix and metric; not replaced"
                );
            }
            (_, err) => {
                self.table.undo(&p, undo);
                let attempt = self.table.bump_failures(&p);
                self.stats.failures += 1;
                rep.failed.push((p, err));
                retry.push(p);
                tracing::warn!(
                    "fib: {p}: kernel refused the route: {} (attempt {attempt})",
                    std::io::Error::from_raw_os_error(err),
                );
            }
        }
    }
}

impl Sent {
    /// Upper bound of the encoded size (real messages are 60-200 octets;
    /// v6 ECMP ones are the largest).
    fn size_estimate(&self) -> usize {
        match self {
            Sent::Entry(
                _,
                Op::Add(RouteTarget::Unicast(h)) | Op::Replace(RouteTarget::Unicast(h)),
                _,
            ) => 80 + 28 * h.as_slice().len(),
            _ => 80,
        }
    }
}
