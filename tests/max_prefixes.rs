//! max-prefix on a live session: past the limit the peer gets Cease/Maximum Number of Prefixes Reached with the RFC 4486 data, and is accepted again after the restart time.

mod common;

use std::sync::atomic::Ordering;

use common::raw_bgp::{RawSpeaker, good_attrs, update_body};
use common::{Agent, DEADLINE, wait_until};
use podroute::bgp::ErrorCode;
use podroute::bgp::notification::CeaseSubcode;

#[test]
fn exceeding_the_limit_closes_with_cease_and_the_peer_comes_back() {
    if !common::prerequisites(&[]) {
        return;
    }
    let (pr, spk) = common::linked_pair("pr", "spk");
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
            &common::agent::peer(
                "198.18.0.2",
                64512,
                "passive = true\nmax_prefixes = 3\nmax_prefixes_warning = 60\nmax_prefixes_restart = 3",
            ),
        ),
    );
    let target = "198.18.0.1:179".parse().unwrap();
    let mut speaker = RawSpeaker::establish(&spk, target, 64512, "198.18.0.2");
    agent.wait_established("198.18.0.2");

    // Two prefixes: past the 60 % warning (2 of 3), under the limit.
    speaker.send_update_body(&update_body(
        &good_attrs([198, 18, 0, 2]),
        &[24, 10, 244, 20, 24, 10, 244, 21],
    ));
    assert!(wait_until(DEADLINE, || pr
        .podroute_route("10.244.21.0/24")
        .is_some()));
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert_eq!(n["prefix_limit_warnings"], 1, "{n}");
    assert_eq!(n["state"], "Established");

    // Two more: the fourth exceeds the limit of 3.
    speaker.send_update_body(&update_body(
        &good_attrs([198, 18, 0, 2]),
        &[24, 10, 244, 22, 24, 10, 244, 23],
    ));
    assert!(
        wait_until(DEADLINE, || !speaker.notifications().is_empty()),
        "no NOTIFICATION after exceeding the limit"
    );
    let n = &speaker.notifications()[0];
    assert_eq!(
        n.error,
        ErrorCode::Cease(CeaseSubcode::MaximumPrefixesReached)
    );
    // RFC 4486 §4: AFI 1, SAFI 1, the configured upper bound 3.
    assert_eq!(n.data, [0, 1, 1, 0, 0, 0, 3]);
    assert!(wait_until(DEADLINE, || speaker
        .closed
        .load(Ordering::SeqCst)));
    assert!(
        wait_until(DEADLINE, || pr.podroute_route("10.244.20.0/24").is_none()),
        "the peer's routes stayed after the session was closed"
    );
    let n = agent.neighbor("198.18.0.2").unwrap();
    assert!(
        n["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("maximum number of prefixes"),
        "{n}"
    );

    // After the restart time the (passive) peer is waited for again.
    assert!(wait_until(DEADLINE, || agent.state("198.18.0.2") == "Active"));
    let _again = RawSpeaker::establish(&spk, target, 64512, "198.18.0.2");
    agent.wait_established("198.18.0.2");
}
