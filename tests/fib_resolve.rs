//! Recursive next-hop resolution and the route/link change subscription, against the real kernel.

mod fib_support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use fib_support::{NetNs, prerequisites};
use podroute::fib::{
    Fib, FibConfig, NextHop, NextHops, Resolution, Resolver, ResolverConfig, RouteChange,
    RouteProtocol, RouteTarget, RouteWatch, WatchEvent,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn reachable(gw: &str, ifindex: u32) -> Resolution {
    Resolution::Reachable(NextHops::single(NextHop::via_dev(ip(gw), ifindex)).unwrap())
}

/// Waits until the watch reports something satisfying `pred` (10 s).
fn wait_event(
    watch: &mut RouteWatch,
    mut pred: impl FnMut(&WatchEvent) -> bool,
) -> Vec<WatchEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut all = Vec::new();
    while Instant::now() < deadline {
        let evs = watch.wait(Duration::from_millis(500)).unwrap();
        let hit = evs.iter().any(&mut pred);
        all.extend(evs);
        if hit {
            return all;
        }
    }
    panic!("expected notification never came; saw {all:?}");
}

#[test]
fn next_hop_resolves_via_on_link_gateway_and_follows_changes() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("resolve");
    let (d0, d1) = (ns.ifindex("d0"), ns.ifindex("d1"));
    // A route reflector's subnet, reached through an on-link router.
    ns.ip("route add 192.0.2.0/24 via 198.18.0.254 proto static");
    ns.ip("-6 route add 2001:db8:c0::/48 via 2001:db8:ff::fe proto static");
    // podroute's own routes must not resolve next hops.
    ns.ip("route add 192.0.2.128/25 via 198.18.1.253 proto 202");
    // A default route does not count (resolve-via-default is off).
    ns.ip("route add default via 198.18.0.1 dev d0 proto static");

    let (mut res, mut watch, mut fib) = ns.enter(|| {
        (
            Resolver::open(ResolverConfig::default()).unwrap(),
            RouteWatch::open(Some(RouteProtocol::Podroute)).unwrap(),
            Fib::open(FibConfig::default()).unwrap(),
        )
    });
    assert_eq!(
        res.resolve(ip("192.0.2.200")),
        reachable("198.18.0.254", d0)
    );
    assert_eq!(res.resolve(ip("192.0.2.10")), reachable("198.18.0.254", d0));
    assert_eq!(
        res.resolve(ip("2001:db8:c0::5")),
        reachable("2001:db8:ff::fe", d0)
    );
    // On-link next hop: itself.
    assert_eq!(res.resolve(ip("198.18.1.7")), reachable("198.18.1.7", d1));
    // Covered only by the default route: ineligible.
    assert_eq!(res.resolve(ip("203.0.113.9")), Resolution::Unreachable);

    // The FIB installs a route learned with next hop 192.0.2.10 via the
    // resolved gateway.
    let Resolution::Reachable(hops) = res.resolve(ip("192.0.2.10")) else {
        unreachable!()
    };
    fib.apply([RouteChange::Set(
        "198.19.50.0/24".parse().unwrap(),
        RouteTarget::Unicast(hops),
    )])
    .unwrap();
    assert_eq!(
        ns.route("198.19.50.0/24"),
        "198.19.50.0/24 via 198.18.0.254 dev d0 proto 202 metric 20"
    );

    // The subscription ignored podroute's own install above and reports
    // the gateway route's change.
    ns.ip("route replace 192.0.2.0/24 via 198.18.1.254 proto static");
    let evs = wait_event(
        &mut watch,
        |e| matches!(e, WatchEvent::RouteAdded(r) if r.prefix == "192.0.2.0/24".parse().unwrap()),
    );
    assert!(
        !evs.iter().any(|e| matches!(e, WatchEvent::RouteAdded(r) | WatchEvent::RouteDeleted(r) if r.protocol == RouteProtocol::Podroute)),
        "{evs:?}"
    );
    res.refresh().unwrap();
    assert_eq!(res.resolve(ip("192.0.2.10")), reachable("198.18.1.254", d1));

    // Gateway route gone: unreachable.
    ns.ip("route del 192.0.2.0/24 proto static");
    wait_event(
        &mut watch,
        |e| matches!(e, WatchEvent::RouteDeleted(r) if r.prefix == "192.0.2.0/24".parse().unwrap()),
    );
    res.refresh().unwrap();
    assert_eq!(res.resolve(ip("192.0.2.10")), Resolution::Unreachable);

    // A link going down is reported, and its connected route stops
    // resolving (the kernel marks it linkdown or removes it).
    ns.ip("link set d1 down");
    wait_event(
        &mut watch,
        |e| matches!(e, WatchEvent::Link { ifindex, .. } if *ifindex == d1),
    );
    res.refresh().unwrap();
    assert_eq!(res.resolve(ip("198.18.1.7")), Resolution::Unreachable);
}

#[test]
fn own_route_notifications_are_dropped_in_the_kernel() {
    if !prerequisites() {
        return;
    }
    let ns = NetNs::new("bpf");
    let (mut watch, mut fib) = ns.enter(|| {
        (
            RouteWatch::open(Some(RouteProtocol::Podroute)).unwrap(),
            Fib::open(FibConfig::default()).unwrap(),
        )
    });
    // 50,000 notifications (~1 KiB of buffer each) would overrun the
    // watch's 16 MiB receive buffer if they were queued at all.
    let hop = RouteTarget::Unicast(NextHops::single(NextHop::via(ip("198.18.0.2"))).unwrap());
    let changes = (0..50_000u32).map(|i| {
        let net = ipnet::IpNet::new(
            IpAddr::from([100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8]),
            32,
        )
        .unwrap();
        RouteChange::Set(net, hop.clone())
    });
    assert_eq!(fib.apply(changes).unwrap().installed, 50_000);
    ns.ip("route add 192.0.2.0/24 via 198.18.0.254 proto static");
    let evs = wait_event(
        &mut watch,
        |e| matches!(e, WatchEvent::RouteAdded(r) if r.protocol == RouteProtocol::Static),
    );
    assert!(
        !evs.contains(&WatchEvent::Overrun),
        "notifications overran the watch"
    );
    assert!(evs.len() < 10, "{} events", evs.len());
}
