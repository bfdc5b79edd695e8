//! Reconciliation: compare a dump of the kernel's table with the desired table and queue the repairs.
//!
//! Pure: the dump comes in as [`KernelRoute`]s, the result is a set of
//! pending prefixes (flushed by the caller) plus the routes to delete
//! outright. Routes of other protocols are only ever counted and reported.

use std::collections::HashMap;

use ipnet::IpNet;

use super::desired::{DesiredTable, Held};
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

/// A dump split by owner.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub ours: HashMap<IpNet, KernelRoute>,
    pub wrong_metric: Vec<KernelRoute>,
    pub foreign: HashMap<IpNet, Vec<KernelRoute>>,
}

/// Splits dumped routes by owner. The kernel may ignore the dump's table
/// and protocol filters (without NETLINK_GET_STRICT_CHK it does), so they
/// are applied again here.
pub(crate) fn classify(
    routes: impl IntoIterator<Item = KernelRoute>,
    table: u32,
    protocol: RouteProtocol,
    metric: u32,
) -> Observed {
    let mut o = Observed::default();
    for r in routes {
        if r.table != table {
            continue;
        }
        if r.protocol != protocol {
            o.foreign.entry(r.prefix).or_default().push(r);
        } else if r.metric != metric {
            o.wrong_metric.push(r);
        } else {
            o.ours.insert(r.prefix, r);
        }
    }
    o
}

/// Brings the table's idea of what the kernel holds in line with `o` and
/// queues every prefix whose kernel state is not the wanted one.
pub(crate) fn apply_observation(
    t: &mut DesiredTable,
    mut o: Observed,
    metric: u32,
) -> ReconcileReport {
    let mut rep = ReconcileReport {
        seen: o.ours.len() + o.wrong_metric.len(),
        ..Default::default()
    };
    for prefix in t.prefixes() {
        let kernel = o.ours.remove(&prefix);
        let foreign = o.foreign.get(&prefix);
        let wanted = t.wanted(&prefix);
        // The kernel fills in what the request left open (the interface),
        // so compare with `matches`, and keep the wanted form when equal.
        let seen = match (&kernel, &wanted) {
            (None, _) => Held::No,
            (Some(k), Some(w)) if k.matches(w) => Held::Yes(w.clone()),
            (Some(k), _) => held_of(k),
        };
        let wanted_ok = match (&wanted, &seen) {
            (None, Held::No) => true,
            (Some(w), Held::Yes(h)) => w == h,
            _ => false,
        };
        // Only a same-metric foreign route blocks podroute's (the kernel
        // keys routes by prefix, TOS and metric); any same-prefix foreign
        // route is reported.
        let blocked =
            seen == Held::No && foreign.is_some_and(|f| f.iter().any(|r| r.metric == metric));
        t.set_blocked(&prefix, blocked);
        if !wanted_ok && !blocked {
            if wanted.is_some() {
                rep.drift += 1;
            } else {
                rep.unwanted += 1;
            }
        }
        if wanted.is_some()
            && let Some(f) = foreign
        {
            rep.foreign.extend(f.iter().cloned());
        }
        let changed = t.held(&prefix) != seen;
        if changed {
            t.set_held(&prefix, seen);
        }
        if !wanted_ok || changed {
            t.mark(prefix);
        }
    }
    for (prefix, k) in o.ours {
        rep.unwanted += 1;
        t.adopt_unwanted(prefix, held_of(&k));
    }
    rep.wrong_metric = o.wrong_metric;
    rep
}

/// What a podroute route in the kernel amounts to.
pub(crate) fn held_of(k: &KernelRoute) -> Held {
    k.target().map(Held::Yes).unwrap_or(Held::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::desired::Op;
    use crate::fib::types::{KernelNextHop, NextHop, NextHops, RouteTarget, RouteType};

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
        let o = classify(dump, 254, pod, 20);
        let rep = apply_observation(&mut t, o, 20);
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
        let o = classify(vec![r], 254, RouteProtocol::Podroute, 20);
        assert!(o.ours.is_empty() && o.foreign.is_empty());
    }
}
