//! TCP-MD5 (RFC 2385) with FRR: the right password establishes; a wrong or missing one never does, and podroute says why.

mod common;

use common::frr::{FRR_PROGRAMS, Frr, bgpd_conf};
use common::{Agent, DEADLINE, Ns, wait_until};
use std::time::Duration;

fn frr_with_password(ns: &Ns, password: &str) -> Frr {
    let conf = bgpd_conf(
        64512,
        "198.18.0.2",
        &[("198.18.0.1", 64512, "")],
        &["10.244.50.0/24"],
    );
    let conf = conf.replace(
        " neighbor 198.18.0.1 remote-as 64512\n",
        &format!(
            " neighbor 198.18.0.1 remote-as 64512\n neighbor 198.18.0.1 password {password}\n"
        ),
    );
    Frr::start(ns, &conf)
}

fn agent_with(ns: &Ns, password: Option<&str>) -> Agent {
    let extra = password.map_or(String::new(), |p| format!("password = \"{p}\""));
    Agent::start(
        ns,
        "n1",
        &common::agent::node_config(
            ns,
            "n1",
            "198.18.0.1",
            64512,
            &["10.244.1.0/24"],
            &["198.18.0.1:179"],
            &common::agent::peer("198.18.0.2", 64512, &extra),
        ),
    )
}

fn pair() -> (Ns, Ns) {
    common::linked_pair("pr", "frr")
}

#[test]
fn right_password_establishes_and_routes_flow() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let (pr, fr) = pair();
    let frr = frr_with_password(&fr, "s3cret-key");
    let agent = agent_with(&pr, Some("s3cret-key"));
    agent.wait_established("198.18.0.2");
    frr.wait_established("198.18.0.1");
    assert!(
        wait_until(DEADLINE, || pr.podroute_route("10.244.50.0/24").is_some()),
        "FRR's route did not arrive over the signed session"
    );
}

/// Established neither within the time several connect attempts take.
fn never_establishes(agent: &Agent) {
    let established = wait_until(Duration::from_secs(8), || {
        agent.state("198.18.0.2") == "Established"
    });
    assert!(
        !established,
        "a session without the right TCP-MD5 key came up"
    );
}

#[test]
fn wrong_password_never_establishes_and_says_why() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let (pr, fr) = pair();
    let _frr = frr_with_password(&fr, "s3cret-key");
    let agent = agent_with(&pr, Some("another-key"));
    never_establishes(&agent);
    let why = wait_until(DEADLINE, || {
        agent
            .neighbor("198.18.0.2")
            .and_then(|n| n["last_error"].as_str().map(|s| s.contains("TCP-MD5")))
            .unwrap_or(false)
    });
    assert!(
        why,
        "last_error does not mention TCP-MD5: {:?}",
        agent.neighbor("198.18.0.2")
    );
}

#[test]
fn missing_password_never_establishes_and_says_why() {
    if !common::prerequisites(FRR_PROGRAMS) {
        return;
    }
    let (pr, fr) = pair();
    let _frr = frr_with_password(&fr, "s3cret-key");
    let agent = agent_with(&pr, None);
    never_establishes(&agent);
    let why = wait_until(DEADLINE, || {
        agent
            .neighbor("198.18.0.2")
            .and_then(|n| n["last_error"].as_str().map(|s| s.contains("TCP-MD5")))
            .unwrap_or(false)
    });
    assert!(
        why,
        "last_error does not mention TCP-MD5: {:?}",
        agent.neighbor("198.18.0.2")
    );
}
