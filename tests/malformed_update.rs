//! RFC 7606 error handling on a live session: a test-side BGP speaker sends hand-crafted malformed UPDATEs to a running podroute agent.

mod common;

use std::sync::atomic::Ordering;

use common::raw_bgp::{RawSpeaker, good_attrs, update_body};
use common::{Agent, DEADLINE, Ns, gateways, wait_until};
use podroute::bgp::ErrorCode;
use podroute::bgp::notification::UpdateError;

const SPEAKER: [u8; 4] = [198, 18, 0, 2];

/// podroute in `pr` (198.18.0.1, passive towards 198.18.0.2) and an
/// Established raw speaker in `spk` (198.18.0.2), iBGP AS 64512.
fn setup() -> Option<(Ns, Ns, Agent, RawSpeaker)> {
    if !common::prerequisites(&[]) {
        return None;
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
    let speaker =
        RawSpeaker::establish(&spk, "198.18.0.1:179".parse().unwrap(), 64512, "198.18.0.2");
    agent.wait_established("198.18.0.2");
    Some((pr, spk, agent, speaker))
}

fn installed(pr: &Ns, prefix: &str) -> bool {
    pr.podroute_route(prefix)
        .is_some_and(|r| gateways(&r) == ["198.18.0.2"])
}

/// A bad ORIGIN value (RFC 7606 §7.1) and a MED of the wrong length
/// (§7.4) are treat-as-withdraw: the routes leave the RIB and the kernel,
/// no NOTIFICATION is sent, the session stays up and keeps working.
#[test]
fn attribute_errors_withdraw_the_route_and_keep_the_session() {
    let Some((pr, _spk, agent, mut speaker)) = setup() else {
        return;
    };
    let attrs = good_attrs(SPEAKER);
    speaker.send_update_body(&update_body(&attrs, &[24, 10, 244, 77, 24, 10, 244, 78]));
    assert!(
        wait_until(DEADLINE, || installed(&pr, "10.244.77.0/24")
            && installed(&pr, "10.244.78.0/24")),
        "well-formed routes not installed: {:?}",
        pr.podroute_routes()
    );

    // ORIGIN 5 is undefined.
    let mut bad_origin = attrs.clone();
    assert_eq!(&bad_origin[..4], &[0x40, 1, 1, 0]);
    bad_origin[3] = 5;
    speaker.send_update_body(&update_body(&bad_origin, &[24, 10, 244, 77]));
    // MULTI_EXIT_DISC with 3 octets instead of 4.
    let mut bad_med = attrs.clone();
    bad_med.extend_from_slice(&[0x80, 4, 3, 0, 0, 1]);
    speaker.send_update_body(&update_body(&bad_med, &[24, 10, 244, 78]));

    assert!(
        wait_until(DEADLINE, || {
            !installed(&pr, "10.244.77.0/24")
                && !installed(&pr, "10.244.78.0/24")
                && agent.rib_route("10.244.77.0/24").is_none()
                && agent.rib_route("10.244.78.0/24").is_none()
        }),
        "malformed UPDATEs did not withdraw: {:?} {:?}",
        pr.podroute_routes(),
        agent.show("routes")
    );

    // The session survived and still carries routes.
    speaker.send_update_body(&update_body(&attrs, &[24, 10, 244, 79]));
    assert!(wait_until(DEADLINE, || installed(&pr, "10.244.79.0/24")));
    assert_eq!(agent.state("198.18.0.2"), "Established");
    assert!(
        speaker.notifications().is_empty(),
        "{:?}",
        speaker.notifications()
    );
    assert!(!speaker.closed.load(Ordering::SeqCst));
    let mut agent = agent;
    assert!(agent.running());
}

/// An NLRI whose prefix length exceeds 32 makes the NLRI field
/// unparseable: RFC 7606 §5.3 / RFC 4271 §6.3 require a session reset
/// with UPDATE Message Error / Invalid Network Field; the agent stays up
/// and the session's routes go.
#[test]
fn bad_nlri_length_resets_the_session_with_invalid_network_field() {
    let Some((pr, _spk, agent, mut speaker)) = setup() else {
        return;
    };
    let attrs = good_attrs(SPEAKER);
    speaker.send_update_body(&update_body(&attrs, &[24, 10, 244, 77]));
    assert!(wait_until(DEADLINE, || installed(&pr, "10.244.77.0/24")));

    speaker.send_update_body(&update_body(&attrs, &[33, 10, 244, 78, 0, 0]));
    assert!(
        wait_until(DEADLINE, || speaker.closed.load(Ordering::SeqCst)),
        "podroute did not close the session"
    );
    let notes = speaker.notifications();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0].error,
        ErrorCode::Update(UpdateError::InvalidNetworkField),
        "{notes:?}"
    );
    assert!(wait_until(DEADLINE, || !installed(&pr, "10.244.77.0/24")
        && agent.rib_route("10.244.77.0/24").is_none()));
    assert_ne!(agent.state("198.18.0.2"), "Established");
    let mut agent = agent;
    assert!(agent.running());
}

/// The milder RFC 7606 outcomes: a missing well-known mandatory attribute
/// (NEXT_HOP, §3 (d)) is treat-as-withdraw; an ATOMIC_AGGREGATE with a
/// non-zero length (§7.6) is attribute-discard, so that route is kept.
#[test]
fn missing_next_hop_withdraws_and_bad_atomic_aggregate_is_discarded() {
    let Some((pr, _spk, agent, mut speaker)) = setup() else {
        return;
    };
    let attrs = good_attrs(SPEAKER);
    speaker.send_update_body(&update_body(&attrs, &[24, 10, 244, 77]));
    assert!(wait_until(DEADLINE, || installed(&pr, "10.244.77.0/24")));

    // The same attributes without NEXT_HOP (octets 7..14).
    assert_eq!(&attrs[7..10], &[0x40, 3, 4]);
    let no_next_hop: Vec<u8> = [&attrs[..7], &attrs[14..]].concat();
    speaker.send_update_body(&update_body(&no_next_hop, &[24, 10, 244, 77]));
    // ATOMIC_AGGREGATE (type 6, well-known discretionary) with one octet.
    let mut bad_atomic = attrs.clone();
    bad_atomic.extend_from_slice(&[0x40, 6, 1, 0]);
    speaker.send_update_body(&update_body(&bad_atomic, &[24, 10, 244, 78]));

    assert!(
        wait_until(DEADLINE, || !installed(&pr, "10.244.77.0/24")
            && installed(&pr, "10.244.78.0/24")),
        "{:?} {:?}",
        pr.podroute_routes(),
        agent.show("routes")
    );
    assert!(agent.rib_route("10.244.77.0/24").is_none());
    assert_eq!(agent.state("198.18.0.2"), "Established");
    assert!(
        speaker.notifications().is_empty(),
        "{:?}",
        speaker.notifications()
    );
    assert!(!speaker.closed.load(Ordering::SeqCst));
}
