//! FIB reconciliation against the real kernel: drift repair, foreign-route safety, adoption at restart.

mod fib_support;

use std::net::IpAddr;

use fib_support::{NetNs, prerequisites};
use ipnet::IpNet;
use podroute::fib::{Fib, FibConfig, NextHop, NextHops, RouteChange, RouteProtocol, RouteTarget};

fn p(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn via(gw: &str) -> RouteTarget {
    RouteTarget::Unicast(NextHops::single(NextHop::via(gw.parse::<IpAddr>().unwrap())).unwrap())
}

fn set(prefix: &str, t: RouteTarget) -> RouteChange {
    RouteChange::Set(p(prefix), t)
}

const OURS: &str = "proto 202 metric 20";

#[test]
fn reconcile_repairs_drift_and_removes_unwanted() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("drift");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    fib.apply([
        set("198.19.1.0/24", via("198.18.0.2")),
        set("198.19.2.0/24", via("198.18.0.2")),
        set("198.19.3.0/24", RouteTarget::Blackhole),
        set("2001:db8:1::/48", via("2001:db8:ff::2")),
    ])
    .unwrap();

    // Hands at work: one deleted, one re-pointed, one turned into an
    // unreachable route, one v6 deleted, and two podroute-tagged routes
    // nobody asked for (one at a foreign metric).
    ns.ip("route del 198.19.1.0/24 proto 202 metric 20");
    ns.ip("route replace 198.19.2.0/24 via 198.18.1.9 proto 202 metric 20");
    ns.ip("route replace unreachable 198.19.3.0/24 proto 202 metric 20");
    ns.ip("-6 route del 2001:db8:1::/48 proto 202 metric 20");
    ns.ip("route add 198.19.9.0/24 via 198.18.0.5 proto 202 metric 20");
    ns.ip("route add 198.19.1.0/24 via 198.18.0.6 proto 202 metric 77");

    let (rep, applied) = fib.reconcile().unwrap();
    assert_eq!(rep.drift, 4, "{rep:?}");
    assert_eq!(rep.unwanted, 1, "{rep:?}");
    assert_eq!(rep.wrong_metric.len(), 1, "{rep:?}");
    assert!(rep.foreign.is_empty());
    assert_eq!(
        (applied.installed, applied.replaced, applied.deleted),
        (2, 2, 2),
        "{applied:?}"
    );

    assert_eq!(
        ns.route("198.19.1.0/24"),
        format!("198.19.1.0/24 via 198.18.0.2 dev d0 {OURS}")
    );
    assert_eq!(
        ns.route("198.19.2.0/24"),
        format!("198.19.2.0/24 via 198.18.0.2 dev d0 {OURS}")
    );
    assert_eq!(
        ns.route("198.19.3.0/24"),
        format!("blackhole 198.19.3.0/24 {OURS}")
    );
    assert!(
        ns.route("2001:db8:1::/48")
            .starts_with("2001:db8:1::/48 via 2001:db8:ff::2 dev d0 proto 202")
    );
    assert_eq!(ns.route("198.19.9.0/24"), "");
    assert_eq!(fib.stats().drift_repaired, 4);
    assert_eq!(fib.stats().unwanted_removed, 2);

    // A second pass finds nothing to do.
    let (rep, applied) = fib.reconcile().unwrap();
    assert_eq!(
        (rep.drift, rep.unwanted, rep.wrong_metric.len()),
        (0, 0, 0),
        "{rep:?}"
    );
    assert_eq!(
        (applied.installed, applied.replaced, applied.deleted),
        (0, 0, 0),
        "{applied:?}"
    );
}

#[test]
fn foreign_routes_are_never_replaced_or_deleted_only_counted() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("foreign");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    // Same prefix and metric as podroute would use: holds the kernel key.
    ns.ip("route add 198.19.5.0/24 via 198.18.0.7 proto static metric 20");
    // Same prefix, another metric: a different kernel key.
    ns.ip("route add 198.19.6.0/24 via 198.18.0.7 proto static metric 100");
    ns.ip("-6 route add 2001:db8:5::/48 via 2001:db8:ff::7 proto static metric 20");

    let rep = fib
        .apply([
            set("198.19.5.0/24", via("198.18.0.2")),
            set("198.19.6.0/24", via("198.18.0.2")),
            set("2001:db8:5::/48", via("2001:db8:ff::2")),
        ])
        .unwrap();
    let mut conflicts = rep.conflicts.clone();
    conflicts.sort();
    assert_eq!(
        conflicts,
        vec![p("198.19.5.0/24"), p("2001:db8:5::/48")],
        "{rep:?}"
    );
    assert_eq!(rep.installed, 1, "{rep:?}");
    assert_eq!(fib.stats().exists_conflicts, 2);
    assert!(fib.needs_reconcile());
    assert_eq!(
        ns.route("198.19.5.0/24"),
        "198.19.5.0/24 via 198.18.0.7 dev d0 proto static metric 20"
    );
    assert!(
        ns.route("2001:db8:5::/48")
            .contains("via 2001:db8:ff::7 dev d0 proto static metric 20")
    );
    let six = ns.route("198.19.6.0/24");
    assert!(
        six.contains(&format!("198.19.6.0/24 via 198.18.0.2 dev d0 {OURS}")),
        "{six}"
    );
    assert!(
        six.contains("198.19.6.0/24 via 198.18.0.7 dev d0 proto static metric 100"),
        "{six}"
    );

    // Reconcile sees them, counts them, touches nothing.
    let (rep, applied) = fib.reconcile().unwrap();
    assert_eq!(rep.foreign.len(), 3, "{rep:?}");
    assert!(
        rep.foreign
            .iter()
            .all(|r| r.protocol == RouteProtocol::Static)
    );
    assert_eq!(
        (applied.installed, applied.replaced, applied.deleted),
        (0, 0, 0),
        "{applied:?}"
    );
    assert_eq!(fib.stats().foreign_conflicts, 3);
    assert!(!fib.needs_reconcile());
    assert_eq!(
        ns.route("198.19.5.0/24"),
        "198.19.5.0/24 via 198.18.0.7 dev d0 proto static metric 20"
    );

    // Someone replaces podroute's own route by a static one: podroute's
    // delete (which names its protocol) leaves the static route alone.
    fib.apply([set("198.19.7.0/24", via("198.18.0.2"))])
        .unwrap();
    ns.ip("route replace 198.19.7.0/24 via 198.18.0.8 proto static metric 20");
    fib.apply([
        RouteChange::Remove(p("198.19.7.0/24")),
        RouteChange::Remove(p("198.19.6.0/24")),
    ])
    .unwrap();
    assert_eq!(
        ns.route("198.19.7.0/24"),
        "198.19.7.0/24 via 198.18.0.8 dev d0 proto static metric 20"
    );
    assert_eq!(
        ns.route("198.19.6.0/24"),
        "198.19.6.0/24 via 198.18.0.7 dev d0 proto static metric 100"
    );

    // Once the foreign route goes, the next reconcile installs podroute's.
    ns.ip("route del 198.19.5.0/24 proto static metric 20");
    let (_, applied) = fib.reconcile().unwrap();
    assert_eq!(applied.installed, 1, "{applied:?}");
    assert_eq!(
        ns.route("198.19.5.0/24"),
        format!("198.19.5.0/24 via 198.18.0.2 dev d0 {OURS}")
    );
    assert!(ns.route("2001:db8:5::/48").contains("proto static"));
}

#[test]
fn restart_adopts_kernel_routes_and_deletes_stale_only_when_told() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("adopt");
    {
        let mut first = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
        first
            .apply([
                set("198.19.1.0/24", via("198.18.0.2")),
                set("198.19.2.0/24", via("198.18.0.2")),
                set("198.19.3.0/24", RouteTarget::Blackhole),
                set("2001:db8:3::/48", via("2001:db8:ff::2")),
            ])
            .unwrap();
    } // the first instance exits; its routes stay in the kernel
    ns.ip("route add 198.19.4.0/24 via 198.18.0.9 proto static");

    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    let mut adopted = fib.adopt().unwrap();
    adopted.sort_by_key(|r| r.prefix);
    let prefixes: Vec<IpNet> = adopted.iter().map(|r| r.prefix).collect();
    assert_eq!(
        prefixes,
        vec![
            p("198.19.1.0/24"),
            p("198.19.2.0/24"),
            p("198.19.3.0/24"),
            p("2001:db8:3::/48")
        ]
    );
    assert!(adopted[0].matches(&via("198.18.0.2")), "{:?}", adopted[0]);
    assert_eq!(adopted[2].target(), Some(RouteTarget::Blackhole));
    assert_eq!(fib.wanted(), 4);

    // While stale, reconcile keeps them (and would repair them).
    ns.ip("route del 198.19.2.0/24 proto 202");
    let (rep, _) = fib.reconcile().unwrap();
    assert_eq!((rep.drift, rep.unwanted), (1, 0), "{rep:?}");
    assert!(ns.route("198.19.2.0/24").contains(OURS));

    // The restarted RIB confirms one as is and changes another.
    let rep = fib
        .apply([
            set("198.19.1.0/24", via("198.18.0.2")),
            set("198.19.2.0/24", via("198.18.1.2")),
        ])
        .unwrap();
    assert_eq!((rep.installed, rep.replaced), (0, 1), "{rep:?}");

    // End of graceful restart: unconfirmed routes go, nothing else.
    let rep = fib.purge_stale().unwrap();
    assert_eq!(rep.deleted, 2, "{rep:?}");
    assert_eq!(fib.stats().stale_purged, 2);
    assert_eq!(
        ns.route("198.19.1.0/24"),
        format!("198.19.1.0/24 via 198.18.0.2 dev d0 {OURS}")
    );
    assert_eq!(
        ns.route("198.19.2.0/24"),
        format!("198.19.2.0/24 via 198.18.1.2 dev d1 {OURS}")
    );
    assert_eq!(ns.route("198.19.3.0/24"), "");
    assert_eq!(ns.route("2001:db8:3::/48"), "");
    assert!(ns.route("198.19.4.0/24").contains("proto static"));
}

#[test]
fn reconcile_without_adoption_removes_a_previous_instance_routes() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("noadopt");
    ns.ip("route add 198.19.1.0/24 via 198.18.0.2 proto 202 metric 20");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    fib.apply([set("198.19.2.0/24", via("198.18.0.2"))])
        .unwrap();
    let (rep, applied) = fib.reconcile().unwrap();
    assert_eq!(rep.unwanted, 1, "{rep:?}");
    assert_eq!(applied.deleted, 1);
    assert_eq!(ns.route("198.19.1.0/24"), "");
    assert!(ns.route("198.19.2.0/24").contains(OURS));
}
