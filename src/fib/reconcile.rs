//! Reconciliation: compare a dump of the kernel's table with the desired table and queue the repairs.
//!
//! Pure: the dump comes in as [`KernelRoute`]s, the result is a set of
//! pending prefixes (flushed by the caller) plus the routes to delete
//! outright. Routes of other protocols are only ever counted and reported.

use super::desired::{DesiredTable, Verdict};
use super::types::{KernelRoute, RouteProtocol};

/// What one reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// podroute routes found in the table.
    pub seen: usize,
    /// Wanted routes the kernel had lost or changed (queued for repair).
    pub drift: usize,
    /// podroute routes nobody wants any more (queued for deletion).
    pub unwanted: usize,
    /// podroute routes at another metric than the configured one (deleted).
    pub wrong_metric: Vec<KernelRoute>,
    /// Routes of other protocols holding a prefix podroute wants; never
    /// touched.
    pub foreign: Vec<KernelRoute>,
}

/// Compares a dump with the table and queues every prefix whose kernel
/// state is not the wanted one. The kernel may ignore the dump's table
/// and protocol filters (without NETLINK_GET_STRICT_CHK it does), so they
/// are applied again here. Two passes, no intermediate map: the dump
/// (in the kernel's address order) against the table, then one walk of
/// the table for what the kernel lacks.
pub(crate) fn reconcile_table(
    t: &mut DesiredTable,
    routes: Vec<KernelRoute>,
    table: u32,
    protocol: RouteProtocol,
    metric: u32,
) -> ReconcileReport {
    let mut rep = ReconcileReport::default();
    let mut foreign = Vec::new();
    for r in routes {
        if r.table != table {
            continue;
        }
        if r.protocol != protocol {
            foreign.push(r);
        } else if r.metric != metric {
            rep.seen += 1;
            rep.wrong_metric.push(r);
        } else {
            rep.seen += 1;
            match t.observe_ours(&r) {
                Verdict::Fine => {}
                Verdict::Drift => rep.drift += 1,
                Verdict::Unwanted => rep.unwanted += 1,
            }
        }
    }
    // Only a same-metric foreign route blocks podroute's (the kernel keys
    // routes by prefix, TOS and metric); any same-prefix foreign route on
    // a wanted prefix is reported.
    for f in foreign {
        if t.note_foreign(&f.prefix, f.metric == metric) {
            rep.foreign.push(f);
        }
    }
    rep.drift += t.sweep();
    rep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::desired::Held;
    use crate::fib::desired::Op;
    use crate::fib::types::{KernelNextHop, NextHop, NextHops, RouteTarget, RouteType};
    use ipnet::IpNet;

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn via(gw: &str) -> RouteTarget {
        RouteTarget::Unicast(NextHops::single(NextHop::via(gw.parse().unwrap())).unwrap())
    }

    fn kr(prefix: &str, proto: RouteProtocol, metric: u32, gw: &str) -> KernelRoute {
        KernelRoute {
            prefix: p(prefix),
            table: 254,
            protocol: proto,
            kind: RouteType::Unicast,
            scope: 0,
            metric,
            next_hops: vec![KernelNextHop {
                gateway: Some(gw.parse().unwrap()),
                ifindex: Some(2),
                flags: 0,
            }],
        }
    }

    #[test]
    fn drift_unwanted_foreign_and_wrong_metric() {
        let mut t = DesiredTable::default();
        let pod = RouteProtocol::Podroute;
        // wanted, held, but deleted by hand
        t.set(p("198.19.1.0/24"), via("198.18.0.2"));
        t.set_held(&p("198.19.1.0/24"), Held::Yes(via("198.18.0.2")));
        // wanted, kernel has it with another gateway
        t.set(p("198.19.2.0/24"), via("198.18.0.2"));
        // wanted, a static route sits on the same key
        t.set(p("198.19.3.0/24"), via("198.18.0.2"));
        for p in t.take_pending() {
            t.take_op(&p);
        }
        let dump = vec![
            kr("198.19.2.0/24", pod, 20, "198.18.0.9"),
            kr("198.19.3.0/24", RouteProtocol::Static, 20, "198.18.0.7"),
            kr("198.19.4.0/24", pod, 20, "198.18.0.2"),
            kr("198.19.5.0/24", pod, 99, "198.18.0.2"),
            kr("198.19.6.0/24", RouteProtocol::Static, 0, "198.18.0.2"),
        ];
        let rep = reconcile_table(&mut t, dump, 254, pod, 20);
        assert_eq!(rep.seen, 3);
        assert_eq!(rep.drift, 2);
        assert_eq!(rep.unwanted, 1);
        assert_eq!(rep.wrong_metric.len(), 1);
        assert_eq!(rep.foreign.len(), 1);
        assert_eq!(
            t.op_for(&p("198.19.1.0/24")),
            Some(Op::Add(via("198.18.0.2")))
        );
        assert_eq!(
            t.op_for(&p("198.19.2.0/24")),
            Some(Op::Replace(via("198.18.0.2")))
        );
        assert_eq!(
            t.op_for(&p("198.19.3.0/24")),
            None,
            "blocked by a foreign route"
        );
        assert_eq!(t.op_for(&p("198.19.4.0/24")), Some(Op::Delete));
        assert_eq!(t.pending_len(), 4);
    }

    #[test]
    fn other_tables_are_ignored() {
        let mut r = kr("198.19.2.0/24", RouteProtocol::Podroute, 20, "198.18.0.9");
        r.table = 100;
        let mut t = DesiredTable::default();
        let rep = reconcile_table(&mut t, vec![r], 254, RouteProtocol::Podroute, 20);
        assert_eq!(rep, ReconcileReport::default());
        assert_eq!(t.pending_len(), 0);
    }
}
