//! Next-hop tracking in the running agent: a BGP next hop that is not reachable keeps its route out of the kernel until a kernel route makes it reachable, and the route follows when that kernel route goes.

mod common;

use common::raw_bgp::{RawSpeaker, good_attrs, update_body};
use common::{Agent, DEADLINE, Ns, gateways, wait_until};

/// A raw speaker announces 10.244.77.0/24 with third-party next hop
/// 192.0.2.9, which no route of podroute's namespace covers: the route is
/// in the RIB but not the kernel. A static route for 192.0.2.0/24 via the
/// speaker makes it resolvable: podroute installs the pod route via the
/// static route's gateway; deleting the static route takes it out again.
#[test]
fn route_waits_for_its_next_hop_and_follows_the_kernel() {
    if !common::prerequisites(&[]) {
        return;
    }
    let pr = Ns::new("pr");
    let spk = Ns::new("spk");
    common::veth(&pr, "eth0", &spk, "eth0");
    pr.addr("eth0", "198.18.0.1/24");
    spk.addr("eth0", "198.18.0.2/24");
    let agent = Agent::start(
        &pr,
        "n1",
        &common::agent::node_config(
            &pr,
            "n1",
            "198.18.0.1",
            64512,
            &["10.244.1.0/24"],
            &["198.18.0.1:179"],
            &common::agent::peer("198.18.0.2", 64512, "passive = true"),
        ),
    );
    let mut speaker =
        RawSpeaker::establish(&spk, "198.18.0.1:179".parse().unwrap(), 64512, "198.18.0.2");
    agent.wait_established("198.18.0.2");
    speaker.send_update_body(&update_body(
        &good_attrs([192, 0, 2, 9]),
        &[24, 10, 244, 77],
    ));
    assert!(wait_until(DEADLINE, || {
        agent
            .rib_route("10.244.77.0/24")
            .is_some_and(|r| r["best"][0] == "192.0.2.9")
    }));
    // Still not installed once the RIB has it (the FIB thread had its
    // chance: the node's own route is there, nothing for 10.244.77.0/24).
    assert!(
        pr.podroute_route("10.244.77.0/24").is_none(),
        "{:?}",
        pr.podroute_routes()
    );

    pr.ip("route add 192.0.2.0/24 via 198.18.0.2 dev eth0");
    let ok = wait_until(DEADLINE, || {
        pr.podroute_route("10.244.77.0/24")
            .is_some_and(|r| gateways(&r) == ["198.18.0.2"])
    });
    assert!(
        ok,
        "route not installed after its next hop became reachable: {:?}",
        pr.podroute_routes()
    );

    pr.ip("route del 192.0.2.0/24");
    let ok = wait_until(DEADLINE, || pr.podroute_route("10.244.77.0/24").is_none());
    assert!(
        ok,
        "route stayed after its next hop became unreachable: {:?}",
        pr.podroute_routes()
    );
    assert!(agent.rib_route("10.244.77.0/24").is_some());
    assert_eq!(agent.state("198.18.0.2"), "Established");
}
