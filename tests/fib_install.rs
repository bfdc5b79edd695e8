//! FIB install/replace/delete against the real kernel, each test in its own network namespace.

mod fib_support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use fib_support::{NetNs, prerequisites};
use ipnet::IpNet;
use podroute::fib::{
    AckMode, Fib, FibConfig, NextHop, NextHops, RouteChange, RouteTarget, RouteWatch, WatchEvent,
};

fn p(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn via(gws: &[&str]) -> RouteTarget {
    RouteTarget::Unicast(NextHops::new(gws.iter().map(|g| NextHop::via(ip(g))).collect()).unwrap())
}

fn set(prefix: &str, t: RouteTarget) -> RouteChange {
    RouteChange::Set(p(prefix), t)
}

#[test]
fn installs_replaces_and_deletes_ipv4_and_ipv6() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("inst");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    let rep = fib
        .apply([
            set("198.19.1.0/24", via(&["198.18.0.2"])),
            set("2001:db8:1::/48", via(&["2001:db8:ff::2"])),
        ])
        .unwrap();
    assert_eq!(rep.installed, 2, "{rep:?}");
    assert_eq!(
        ns.route("198.19.1.0/24"),
        "198.19.1.0/24 via 198.18.0.2 dev d0 proto 202 metric 20"
    );
    assert!(
        ns.route("2001:db8:1::/48")
            .starts_with("2001:db8:1::/48 via 2001:db8:ff::2 dev d0 proto 202 metric 20"),
        "{}",
        ns.route("2001:db8:1::/48")
    );

    let rep = fib
        .apply([
            set("198.19.1.0/24", via(&["198.18.1.2"])),
            set("2001:db8:1::/48", via(&["2001:db8:fe::2"])),
        ])
        .unwrap();
    assert_eq!(rep.replaced, 2, "{rep:?}");
    assert_eq!(
        ns.route("198.19.1.0/24"),
        "198.19.1.0/24 via 198.18.1.2 dev d1 proto 202 metric 20"
    );
    assert!(
        ns.route("2001:db8:1::/48")
            .contains("via 2001:db8:fe::2 dev d1 proto 202")
    );
    // One route per prefix: a replace, not an added sibling.
    assert_eq!(ns.route("2001:db8:1::/48").lines().count(), 1);

    let rep = fib
        .apply([
            RouteChange::Remove(p("198.19.1.0/24")),
            RouteChange::Remove(p("2001:db8:1::/48")),
        ])
        .unwrap();
    assert_eq!(rep.deleted, 2, "{rep:?}");
    assert_eq!(ns.route("198.19.1.0/24"), "");
    assert_eq!(ns.route("2001:db8:1::/48"), "");
    let s = fib.stats();
    assert_eq!(
        (s.installs, s.replaces, s.deletes, s.failures),
        (2, 2, 2, 0),
        "{s:?}"
    );
}

#[test]
fn ecmp_multipath_ipv4_and_ipv6() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("ecmp");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    fib.apply([
        set("198.19.2.0/24", via(&["198.18.0.2", "198.18.1.2"])),
        set(
            "2001:db8:2::/48",
            via(&["2001:db8:ff::2", "2001:db8:fe::2"]),
        ),
    ])
    .unwrap();
    let v4 = ns.route("198.19.2.0/24");
    assert!(v4.starts_with("198.19.2.0/24 proto 202 metric 20"), "{v4}");
    assert!(
        v4.contains("nexthop via 198.18.0.2 dev d0 weight 1"),
        "{v4}"
    );
    assert!(
        v4.contains("nexthop via 198.18.1.2 dev d1 weight 1"),
        "{v4}"
    );
    let v6 = ns.route("2001:db8:2::/48");
    assert!(v6.contains("nexthop via 2001:db8:ff::2 dev d0"), "{v6}");
    assert!(v6.contains("nexthop via 2001:db8:fe::2 dev d1"), "{v6}");

    // Shrink to one path and grow to three: the whole set is replaced.
    fib.apply([
        set("198.19.2.0/24", via(&["198.18.1.2"])),
        set(
            "2001:db8:2::/48",
            via(&["2001:db8:ff::2", "2001:db8:fe::2", "2001:db8:fe::3"]),
        ),
    ])
    .unwrap();
    assert_eq!(
        ns.route("198.19.2.0/24"),
        "198.19.2.0/24 via 198.18.1.2 dev d1 proto 202 metric 20"
    );
    let v6 = ns.route("2001:db8:2::/48");
    assert_eq!(v6.matches("nexthop via").count(), 3, "{v6}");
    // What the FIB reads back matches what it wrote.
    let dump = fib.dump().unwrap();
    let r = dump
        .iter()
        .find(|r| r.prefix == p("2001:db8:2::/48"))
        .unwrap();
    assert!(
        r.matches(&via(&[
            "2001:db8:ff::2",
            "2001:db8:fe::2",
            "2001:db8:fe::3"
        ])),
        "{r:?}"
    );

    fib.apply([
        RouteChange::Remove(p("198.19.2.0/24")),
        RouteChange::Remove(p("2001:db8:2::/48")),
    ])
    .unwrap();
    assert_eq!(ns.route("198.19.2.0/24"), "");
    assert_eq!(ns.route("2001:db8:2::/48"), "");
}

#[test]
fn blackhole_for_own_pod_cidr_under_pod_routes() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("bh");
    let d0 = ns.ifindex("d0");
    let mut fib = ns.enter(|| Fib::open(FibConfig::default())).unwrap();
    fib.apply([
        set("198.19.128.0/24", RouteTarget::Blackhole),
        set("2001:db8:80::/64", RouteTarget::Blackhole),
        set(
            "198.19.128.7/32",
            RouteTarget::Unicast(NextHops::single(NextHop::dev(d0)).unwrap()),
        ),
    ])
    .unwrap();
    assert_eq!(
        ns.route("198.19.128.0/24"),
        "blackhole 198.19.128.0/24 proto 202 metric 20"
    );
    assert!(
        ns.route("2001:db8:80::/64")
            .starts_with("blackhole 2001:db8:80::/64"),
        "{}",
        ns.route("2001:db8:80::/64")
    );
    // A used pod address goes to its pod; an unused one is dropped here
    // instead of following a default route out.
    ns.ip("route add default via 198.18.0.254 dev d0");
    let used = ns.ip("route get 198.19.128.7");
    assert!(used.contains("dev d0"), "{used}");
    let out = std::process::Command::new("ip")
        .args(["-n", &ns.name, "route", "get", "198.19.128.8"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("via 198.18.0.254"),
        "unused pod address followed the default route: {all}"
    );
}

#[test]
fn change_undone_within_a_batch_never_reaches_the_kernel() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("undo");
    let (mut fib, mut watch) = ns.enter(|| {
        (
            Fib::open(FibConfig::default()).unwrap(),
            RouteWatch::open(None).unwrap(),
        )
    });
    fib.apply([set("198.19.3.0/24", via(&["198.18.0.2"]))])
        .unwrap();
    // Drain the notification for the first install.
    wait_route(&mut watch, p("198.19.3.0/24"));

    // Added then withdrawn; changed then changed back; then a sentinel.
    for c in [
        set("198.19.4.0/24", via(&["198.18.0.2"])),
        set("198.19.3.0/24", via(&["198.18.0.3"])),
        RouteChange::Remove(p("198.19.4.0/24")),
        set("198.19.3.0/24", via(&["198.18.0.2"])),
        set("198.19.5.0/24", RouteTarget::Blackhole),
    ] {
        fib.stage(c).unwrap();
    }
    let rep = fib.flush().unwrap();
    assert_eq!(
        (rep.installed, rep.replaced, rep.deleted, rep.unchanged),
        (1, 0, 0, 2),
        "{rep:?}"
    );
    // Notifications arrive in order: once the sentinel's is seen, any for
    // the undone changes would have been seen before it.
    let seen = wait_route(&mut watch, p("198.19.5.0/24"));
    let touched: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            WatchEvent::RouteAdded(r) | WatchEvent::RouteDeleted(r) => Some(r.prefix),
            _ => None,
        })
        .filter(|pf| *pf != p("198.19.5.0/24"))
        .collect();
    assert!(
        touched.is_empty(),
        "undone changes reached the kernel: {touched:?}"
    );
    assert_eq!(ns.route("198.19.4.0/24"), "");
    assert_eq!(
        ns.route("198.19.3.0/24"),
        "198.19.3.0/24 via 198.18.0.2 dev d0 proto 202 metric 20"
    );
}

/// Collects watch events until one for `prefix` arrives (10 s limit).
fn wait_route(watch: &mut RouteWatch, prefix: IpNet) -> Vec<WatchEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut all = Vec::new();
    while Instant::now() < deadline {
        let evs = watch.wait(Duration::from_millis(500)).unwrap();
        let hit = evs
            .iter()
            .any(|e| matches!(e, WatchEvent::RouteAdded(r) | WatchEvent::RouteDeleted(r) if r.prefix == prefix));
        all.extend(evs);
        if hit {
            return all;
        }
    }
    panic!("no notification for {prefix}; saw {all:?}");
}

#[test]
fn many_routes_in_bounded_batches_with_a_failure_mapped_to_its_prefix() {
    if !prerequisites() {
        return;
    }
    for ack in [AckMode::BatchEnd, AckMode::EachMessage] {
        let ns = NetNs::new("many");
        let cfg = FibConfig {
            batch_size: 64,
            ack,
            ..FibConfig::default()
        };
        let mut fib = ns.enter(|| Fib::open(cfg)).unwrap();
        let bad = p("198.19.200.0/24");
        let mut changes: Vec<RouteChange> = (0..5000u32)
            .map(|i| {
                let net = IpNet::new(
                    IpAddr::from([100, 64 + (i >> 8) as u8, (i & 0xff) as u8, 0]),
                    24,
                )
                .unwrap();
                RouteChange::Set(net, via(&["198.18.0.2"]))
            })
            .collect();
        // Not on-link: the kernel refuses it (ENETUNREACH) mid-batch.
        changes.insert(2500, RouteChange::Set(bad, via(&["203.0.113.1"])));
        let rep = fib.apply(changes).unwrap();
        assert_eq!(rep.installed, 5000, "{ack:?}");
        assert_eq!(rep.failed.len(), 1, "{ack:?}: {:?}", rep.failed);
        assert_eq!(rep.failed[0].0, bad);
        assert_eq!(rep.failed[0].1, libc::ENETUNREACH);
        assert!(fib.stats().batches >= 5000 / 64, "{:?}", fib.stats());
        let count = ns.ip("-4 route show table main proto 202").lines().count();
        assert_eq!(count, 5000, "{ack:?}");
        assert_eq!(fib.pending(), 1, "the failed route waits for a retry");

        // Retried at the next flush: fails again (counted) until the next
        // hop becomes reachable, then succeeds.
        fib.flush().unwrap();
        assert_eq!(fib.stats().failures, 2);
        assert_eq!(fib.stats().retries, 1);
        ns.ip("addr add 203.0.113.254/24 dev d1");
        let rep = fib.flush().unwrap();
        assert_eq!(rep.installed, 1, "{rep:?}");
        assert_eq!(fib.stats().retries, 2);
        assert_eq!(fib.pending(), 0);
        assert_eq!(
            ns.route("198.19.200.0/24"),
            "198.19.200.0/24 via 203.0.113.1 dev d1 proto 202 metric 20"
        );
    }
}

#[test]
fn invalid_changes_are_typed_errors() {
    let e = set("198.19.1.1/24", RouteTarget::Blackhole)
        .validate()
        .unwrap_err();
    assert!(matches!(e, podroute::fib::FibError::HostBits(_)), "{e}");
    let e = set("198.19.1.0/24", via(&["2001:db8::1"]))
        .validate()
        .unwrap_err();
    assert!(
        matches!(e, podroute::fib::FibError::FamilyMismatch(_)),
        "{e}"
    );
    assert!(
        set("198.19.1.0/24", via(&["198.18.0.1"]))
            .validate()
            .is_ok()
    );
    assert!(NextHops::new(vec![]).is_err());
    assert!(
        NextHops::new(vec![NextHop {
            gateway: None,
            ifindex: None
        }])
        .is_err()
    );
}

#[test]
fn other_table_and_metric_are_honoured() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("table");
    let cfg = FibConfig {
        table: 1000,
        metric: 33,
        ..FibConfig::default()
    };
    let mut fib = ns.enter(|| Fib::open(cfg)).unwrap();
    // Before the table exists, a dump of it is empty, not an error.
    assert!(fib.dump().unwrap().is_empty());
    fib.apply([
        set("198.19.1.0/24", via(&["198.18.0.2"])),
        set("2001:db8:1::/48", RouteTarget::Blackhole),
    ])
    .unwrap();
    let t = ns.ip("-4 route show table 1000");
    assert_eq!(
        t.trim(),
        "198.19.1.0/24 via 198.18.0.2 dev d0 proto 202 metric 33"
    );
    assert!(
        ns.ip("-6 route show table 1000")
            .contains("blackhole 2001:db8:1::/48 dev lo proto 202 metric 33")
    );
    assert_eq!(ns.route("198.19.1.0/24"), "", "nothing in main");
    ns.ip("route del 198.19.1.0/24 table 1000 proto 202");
    let (rep, applied) = fib.reconcile().unwrap();
    assert_eq!(
        (rep.drift, applied.installed),
        (1, 1),
        "{rep:?} {applied:?}"
    );
    assert!(
        ns.ip("-4 route show table 1000")
            .contains("198.19.1.0/24 via 198.18.0.2")
    );
}
