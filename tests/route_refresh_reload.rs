//! An import-policy change on SIGHUP takes effect through ROUTE-REFRESH (RFC 2918), without resetting the session.

mod common;

use common::frr::{FRR_PROGRAMS, Frr, bgpd_conf};
use common::{Agent, DEADLINE, wait_until};

const REFUSE_51: &str = r#"
[[bgp.import]]
prefix = "10.244.51.0/24"
action = "reject"

[[bgp.import]]
prefix = "10.244.0.0/16"
le = 24
"#;

fn config(ns: &common::Ns, import: &str) -> String {
    let base = common::agent::node_config(
        ns,
        "n1",
        "198.18.0.1",
        64512,
        &["10.244.1.0/24"],
        &["198.18.0.1:179"],
        &common::agent::peer("198.18.0.2", 64512, ""),
    );
    // The filters belong to [bgp]: put them right after its keys.
    base.replacen(
        "connect_retry = 1\n",
        &format!("connect_retry = 1\n{import}\n"),
        1,
    )
}

#[test]
fn import_change_on_sighup_refreshes_without_a_reset() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let (pr, fr) = common::linked_pair("pr", "frr");
    let frr = Frr::start(
        &fr,
        &bgpd_conf(
            64512,
            "198.18.0.2",
            &[("198.18.0.1", 64512, "")],
            &["10.244.50.0/24", "10.244.51.0/24"],
        ),
    );
    let agent = Agent::start(&pr, "n1", &config(&pr, REFUSE_51));
    agent.wait_established("198.18.0.2");
    assert!(wait_until(DEADLINE, || pr
        .podroute_route("10.244.50.0/24")
        .is_some()));
    assert!(
        pr.podroute_route("10.244.51.0/24").is_none(),
        "the filter refuses it"
    );
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert_eq!(
        (
            n["prefixes_received"].as_u64(),
            n["prefixes_accepted"].as_u64()
        ),
        (Some(2), Some(1)),
        "{n}"
    );
    // Let the session age a little so that a reset would show in uptime_s.
    assert!(wait_until(DEADLINE, || agent
        .neighbor("198.18.0.2")
        .is_some_and(|n| n["uptime_s"].as_u64() >= Some(2))));
    let before = agent.neighbor("198.18.0.2").unwrap()["uptime_s"]
        .as_u64()
        .unwrap();

    // Default policy: everything inside the pod pools.
    agent.reload(&config(&pr, ""));
    assert!(
        wait_until(DEADLINE, || pr.podroute_route("10.244.51.0/24").is_some()),
        "the new policy did not take effect: {:?}",
        agent.neighbor("198.18.0.2")
    );
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert_eq!(n["state"], "Established");
    assert!(
        n["uptime_s"].as_u64().unwrap() >= before,
        "session was reset: {n}"
    );
    assert_eq!(n["prefixes_accepted"].as_u64(), Some(2), "{n}");
    let frr_side = frr.json("show bgp neighbors 198.18.0.1 json");
    assert_eq!(
        frr_side["198.18.0.1"]["connectionsEstablished"], 1,
        "FRR saw a reset: {frr_side}"
    );

    // And back: the refused prefix leaves again, still without a reset.
    agent.reload(&config(&pr, REFUSE_51));
    assert!(wait_until(DEADLINE, || pr
        .podroute_route("10.244.51.0/24")
        .is_none()));
    assert!(pr.podroute_route("10.244.50.0/24").is_some());
    let frr_side = frr.json("show bgp neighbors 198.18.0.1 json");
    assert_eq!(
        frr_side["198.18.0.1"]["connectionsEstablished"], 1,
        "FRR saw a reset: {frr_side}"
    );
    // FRR negotiated enhanced route refresh (RFC 7313) and framed its
    // answers with BoRR/EoRR, which podroute acted on.
    let log = std::fs::read_to_string(&agent.log).unwrap_or_default();
    assert!(
        log.contains("enhanced route refresh begins")
            && log.contains("enhanced route refresh ends"),
        "no BoRR/EoRR from FRR in the agent's log"
    );
}
