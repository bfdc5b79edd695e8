//! GTSM (RFC 5082) with FRR over eBGP: a peer that sends with TTL 255 is established; one that sends with a lower TTL never is.

mod common;

use common::frr::{FRR_PROGRAMS, Frr, bgpd_conf};
use common::{Agent, DEADLINE, Ns, wait_until};
use std::time::Duration;

/// FRR in AS 65002 facing podroute (AS 64512); with `ttl_security`, FRR
/// sends TTL 255 (`ttl-security hops 1`), else its eBGP default TTL 1.
fn setup(frr_gtsm: bool) -> Option<(Ns, Ns, Frr, Agent)> {
    if !common::prerequisites(FRR_PROGRAMS) {
        return None;
    }
    let (pr, fr) = common::linked_pair("pr", "frr");
    let mut conf = bgpd_conf(
        65002,
        "198.18.0.2",
        &[("198.18.0.1", 64512, "")],
        &["10.244.60.0/24"],
    );
    if frr_gtsm {
        conf = conf.replace(
            " neighbor 198.18.0.1 remote-as 64512\n",
            " neighbor 198.18.0.1 remote-as 64512\n neighbor 198.18.0.1 ttl-security hops 1\n",
        );
    }
    let frr = Frr::start(&fr, &conf);
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
            &common::agent::peer("198.18.0.2", 65002, "ttl_security = 1"),
        ),
    );
    Some((pr, fr, frr, agent))
}

#[test]
fn peer_sending_ttl_255_is_established() {
    let Some((pr, _fr, frr, agent)) = setup(true) else {
        return;
    };
    agent.wait_established("198.18.0.2");
    frr.wait_established("198.18.0.1");
    assert!(wait_until(DEADLINE, || pr
        .podroute_route("10.244.60.0/24")
        .is_some()));
}

/// A test speaker listening on 198.18.0.2:179 whose packets carry `ttl`:
/// for every connection podroute opens it sends OPEN and KEEPALIVEs.
fn listening_speaker(ns: &Ns, ttl: u32) {
    use podroute::bgp::capability::Capability;
    use podroute::bgp::open::Open;
    use podroute::bgp::{Asn, CodecContext, Family, Message, RouterId};
    use std::io::Write;
    let listener = common::raw_bgp::in_netns(ns, || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        // Inherited by the SYN-ACK and by every accepted connection.
        s.set_ttl_v4(ttl).unwrap();
        let addr: std::net::SocketAddr = "198.18.0.2:179".parse().unwrap();
        s.bind(&addr.into()).unwrap();
        s.listen(8).unwrap();
        std::net::TcpListener::from(s)
    });
    std::thread::spawn(move || {
        let ctx = CodecContext {
            four_octet_as: true,
            ..CodecContext::default()
        };
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let open = Open::new(
                Asn(65002),
                9,
                RouterId("198.18.0.2".parse().unwrap()),
                vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
            );
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let _ = stream.write_all(&Message::Open(open).to_bytes(&ctx).unwrap());
                let ka = Message::Keepalive.to_bytes(&ctx).unwrap();
                while stream.write_all(&ka).is_ok() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
    });
}

fn agent_only() -> Option<(Ns, Ns, Agent)> {
    if !common::prerequisites(&[]) {
        return None;
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
            &common::agent::peer("198.18.0.2", 65002, "ttl_security = 1"),
        ),
    );
    Some((pr, spk, agent))
}

#[test]
fn speaker_sending_ttl_255_passes_gtsm() {
    let Some((_pr, spk, agent)) = agent_only() else {
        return;
    };
    listening_speaker(&spk, 255);
    agent.wait_established("198.18.0.2");
}

#[test]
fn speaker_sending_a_lower_ttl_is_never_established() {
    let Some((_pr, spk, agent)) = agent_only() else {
        return;
    };
    // TTL 254: one hop too far for `ttl_security = 1`. The same speaker
    // with TTL 255 is established (the test above).
    listening_speaker(&spk, 254);
    let up = wait_until(Duration::from_secs(8), || {
        agent.state("198.18.0.2") == "Established" || agent.state("198.18.0.2") == "OpenConfirm"
    });
    assert!(!up, "a peer sending with TTL 254 got through GTSM");
}
