//! Unit tests of the translation: own node, mesh, BGPPeers, the BGPConfiguration, secrets and bad objects.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeSpec, NodeStatus, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::*;
use crate::k8s::crd::{BGPConfigurationSpec, BGPPeerSpec, SecretKeyRef};

fn node(name: &str, ip: &str, cidrs: &[&str], labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidrs: Some(cidrs.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            addresses: Some(vec![NodeAddress {
                type_: "InternalIP".into(),
                address: ip.into(),
            }]),
            ..Default::default()
        }),
    }
}

fn annotate(mut n: Node, k: &str, v: &str) -> Node {
    n.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(k.into(), v.into());
    n
}

fn settings() -> Settings {
    let mut s = Settings::default();
    s.kubernetes.asn = Some(64512);
    s.cluster.pod_pools = vec!["10.244.0.0/16".parse().unwrap()];
    s
}

fn peer(name: &str, spec: BGPPeerSpec) -> BGPPeer {
    BGPPeer::new(name, spec)
}

struct World {
    settings: Settings,
    nodes: Vec<Node>,
    peers: Vec<BGPPeer>,
    configurations: Vec<BGPConfiguration>,
    secrets: Vec<Secret>,
}

impl World {
    fn three() -> World {
        World {
            settings: settings(),
            nodes: vec![
                node("n1", "192.168.1.11", &["10.244.1.0/24"], &[]),
                node("n2", "192.168.1.12", &["10.244.2.0/24"], &[]),
                node("n3", "192.168.1.13", &["10.244.3.0/24"], &[]),
            ],
            peers: Vec::new(),
            configurations: Vec::new(),
            secrets: Vec::new(),
        }
    }

    fn run(&self, me: &str) -> Translation {
        translate(&Inputs {
            settings: &self.settings,
            node_name: me,
            nodes: &self.nodes,
            peers: &self.peers,
            configurations: &self.configurations,
            secrets: &self.secrets,
        })
    }

    fn config(&self, me: &str) -> Config {
        match self.run(me).outcome {
            Outcome::Ready(r) => r.config,
            Outcome::Waiting(w) => panic!("waiting: {w}"),
        }
    }

    fn configure(&mut self, spec: BGPConfigurationSpec) {
        self.configurations = vec![BGPConfiguration::new("default", spec)];
    }
}

fn addrs(c: &Config) -> Vec<String> {
    c.bgp.peers.iter().map(|p| p.address.to_string()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn own_node_and_full_mesh() {
    let w = World::three();
    let c = w.config("n1");
    assert_eq!(c.node.name, "n1");
    assert_eq!(c.node.router_id.to_string(), "192.168.1.11");
    assert_eq!(c.node.asn.0, 64512);
    assert_eq!(c.node.pod_cidrs, vec!["10.244.1.0/24".parse().unwrap()]);
    assert_eq!(addrs(&c), ["192.168.1.12", "192.168.1.13"]);
    assert!(c.bgp.peers.iter().all(|p| p.asn.0 == 64512));
}

#[test]
fn mesh_off_leaves_only_explicit_peers() {
    let mut w = World::three();
    w.configure(BGPConfigurationSpec {
        node_to_node_mesh: Some(false),
        ..Default::default()
    });
    assert!(w.config("n1").bgp.peers.is_empty());
    w.settings.kubernetes.node_to_node_mesh = false;
    w.configurations.clear();
    assert!(w.config("n1").bgp.peers.is_empty());
}

#[test]
fn missing_node_or_pod_cidr_waits_without_blame() {
    let mut w = World::three();
    assert!(matches!(w.run("n9").outcome, Outcome::Waiting(_)));
    w.nodes[0] = node("n1", "192.168.1.11", &[], &[]);
    let t = w.run("n1");
    assert!(
        matches!(&t.outcome, Outcome::Waiting(m) if m.contains("podCIDR")),
        "{t:?}"
    );
    assert!(t.errors.is_empty());
    // The other nodes still have the node without a CIDR as a mesh peer.
    assert_eq!(addrs(&w.config("n2")), ["192.168.1.11", "192.168.1.13"]);
}

#[test]
fn annotations_override_router_id_and_peering_address() {
    let mut w = World::three();
    w.nodes[1] = annotate(w.nodes[1].clone(), node::PEERING_ADDRESS, "10.0.0.12");
    w.nodes[0] = annotate(w.nodes[0].clone(), node::ROUTER_ID, "1.1.1.1");
    let c = w.config("n1");
    assert_eq!(c.node.router_id.to_string(), "1.1.1.1");
    assert_eq!(addrs(&c), ["10.0.0.12", "192.168.1.13"]);
    // The peering address is also the default router ID.
    assert_eq!(w.config("n2").node.router_id.to_string(), "10.0.0.12");
}

#[test]
fn asn_from_label_rack_or_default() {
    let mut w = World::three();
    w.configure(BGPConfigurationSpec {
        asn: Some(65000),
        rack_asns: [("r1".to_string(), 65101)].into_iter().collect(),
        ..Default::default()
    });
    w.nodes[0] = node(
        "n1",
        "192.168.1.11",
        &["10.244.1.0/24"],
        &[(node::RACK, "r1")],
    );
    w.nodes[1] = node(
        "n2",
        "192.168.1.12",
        &["10.244.2.0/24"],
        &[(node::ASN, "4200000012")],
    );
    assert_eq!(w.config("n1").node.asn.0, 65101);
    assert_eq!(w.config("n2").node.asn.0, 4200000012);
    assert_eq!(w.config("n3").node.asn.0, 65000);
    let c = w.config("n3");
    let asn_of = |a: &str| {
        c.bgp
            .peers
            .iter()
            .find(|p| p.address == ip(a))
            .unwrap()
            .asn
            .0
    };
    assert_eq!(asn_of("192.168.1.11"), 65101);
    assert_eq!(asn_of("192.168.1.12"), 4200000012);
}

#[test]
fn bad_node_label_is_blamed_and_left_out_of_the_mesh() {
    let mut w = World::three();
    w.nodes[2] = node(
        "n3",
        "192.168.1.13",
        &["10.244.3.0/24"],
        &[(node::ASN, "23456")],
    );
    let t = w.run("n1");
    let Outcome::Ready(r) = &t.outcome else {
        panic!("{t:?}")
    };
    assert_eq!(addrs(&r.config), ["192.168.1.12"]);
    assert_eq!(t.errors.len(), 1);
    assert_eq!(t.errors[0].target(), "Node/n3");
    assert!(t.errors[0].message.contains("AS_TRANS"));
    // And on n3 itself: no configuration, an error on its own Node.
    let t = w.run("n3");
    assert!(matches!(t.outcome, Outcome::Waiting(_)));
    assert_eq!(t.errors[0].target(), "Node/n3");
}

#[test]
fn bgp_peer_with_selector_and_secret() {
    let mut w = World::three();
    w.nodes[0] = node("n1", "192.168.1.11", &["10.244.1.0/24"], &[("rack", "r1")]);
    w.secrets = vec![Secret {
        metadata: ObjectMeta {
            name: Some("tor".into()),
            ..Default::default()
        },
        data: Some(
            [("pw".to_string(), ByteString(b"s3cret".to_vec()))]
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    }];
    w.peers = vec![peer(
        "tor-r1",
        BGPPeerSpec {
            peer_address: Some("192.168.1.1".into()),
            asn: Some(65100),
            node_selector: Some(LabelSelector {
                match_labels: Some(
                    [("rack".to_string(), "r1".to_string())]
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            }),
            password_secret_ref: Some(SecretKeyRef {
                name: "tor".into(),
                key: "pw".into(),
            }),
            hold_time: Some(30),
            max_prefixes: Some(100),
            graceful_restart: Some(false),
            ..Default::default()
        },
    )];
    let c = w.config("n1");
    let tor = c
        .bgp
        .peers
        .iter()
        .find(|p| p.address == ip("192.168.1.1"))
        .unwrap();
    assert_eq!(tor.asn.0, 65100);
    assert_eq!(tor.password.as_ref().unwrap().as_bytes(), b"s3cret");
    assert_eq!(tor.hold_time.unwrap().seconds(), 30);
    assert_eq!(tor.max_prefixes.unwrap().0, 100);
    assert_eq!(tor.graceful_restart, Some(false));
    // n2 is in no rack: no ToR peer.
    assert_eq!(addrs(&w.config("n2")), ["192.168.1.11", "192.168.1.13"]);
}

#[test]
fn bgp_peer_overrides_the_mesh_entry_and_reflects() {
    let mut w = World::three();
    w.configure(BGPConfigurationSpec {
        node_to_node_mesh: Some(false),
        route_reflector_cluster_id: Some("10.0.0.1".into()),
        ..Default::default()
    });
    w.nodes[2] = node("n3", "192.168.1.13", &["10.244.3.0/24"], &[("rr", "true")]);
    // Clients peer with the reflector; the reflector with every client.
    w.peers = vec![
        peer(
            "to-rr",
            BGPPeerSpec {
                peer_selector: Some(LabelSelector {
                    match_labels: Some(
                        [("rr".to_string(), "true".to_string())]
                            .into_iter()
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        peer(
            "rr-clients",
            BGPPeerSpec {
                node: Some("n3".into()),
                peer_selector: Some(LabelSelector::default()),
                route_reflector_client: true,
                ..Default::default()
            },
        ),
    ];
    let c1 = w.config("n1");
    assert_eq!(addrs(&c1), ["192.168.1.13"]);
    let c3 = w.config("n3");
    assert_eq!(addrs(&c3), ["192.168.1.11", "192.168.1.12"]);
    assert!(c3.bgp.peers.iter().all(|p| p.route_reflector_client));
    assert_eq!(c3.bgp.cluster_id.unwrap().to_string(), "10.0.0.1");
}

#[test]
fn bad_bgp_peers_are_blamed_one_by_one() {
    let mut w = World::three();
    let bad = |name: &str, addr: &str, asn: Option<u32>| {
        peer(
            name,
            BGPPeerSpec {
                peer_address: Some(addr.into()),
                asn,
                ..Default::default()
            },
        )
    };
    w.peers = vec![
        bad("bad-addr", "10.0.0.300", Some(65000)),
        bad("bad-as", "10.0.0.1", Some(0)),
        bad("no-as", "10.0.0.2", None),
        bad("good", "10.0.0.3", Some(65000)),
        bad("z-dup", "10.0.0.3", Some(65001)),
        peer(
            "rr-ebgp",
            BGPPeerSpec {
                peer_address: Some("10.0.0.4".into()),
                asn: Some(65009),
                route_reflector_client: true,
                ..Default::default()
            },
        ),
        peer(
            "no-secret",
            BGPPeerSpec {
                peer_address: Some("10.0.0.5".into()),
                asn: Some(65000),
                password_secret_ref: Some(SecretKeyRef {
                    name: "nope".into(),
                    key: "pw".into(),
                }),
                ..Default::default()
            },
        ),
    ];
    let t = w.run("n1");
    let Outcome::Ready(r) = &t.outcome else {
        panic!("{t:?}")
    };
    assert_eq!(
        addrs(&r.config),
        ["10.0.0.3", "192.168.1.12", "192.168.1.13"]
    );
    let blamed: Vec<String> = t.errors.iter().map(|e| e.target()).collect();
    for name in [
        "bad-addr",
        "bad-as",
        "no-as",
        "z-dup",
        "rr-ebgp",
        "no-secret",
    ] {
        assert!(
            blamed.contains(&format!("BGPPeer/{name}")),
            "{name} not blamed: {t:?}"
        );
    }
    assert_eq!(t.errors.len(), 6, "{:?}", t.errors);
}

#[test]
fn bad_configuration_fields_are_blamed_the_rest_applies() {
    let mut w = World::three();
    w.configure(BGPConfigurationSpec {
        asn: Some(65000),
        pod_pools: vec!["10.244.0.0/16".into(), "not-a-cidr".into()],
        route_reflector_cluster_id: Some("x".into()),
        ..Default::default()
    });
    let t = w.run("n1");
    let Outcome::Ready(r) = &t.outcome else {
        panic!("{t:?}")
    };
    assert_eq!(r.config.node.asn.0, 65000);
    assert_eq!(r.config.cluster.pod_pools.len(), 1);
    assert_eq!(t.errors.len(), 2);
    assert!(
        t.errors
            .iter()
            .all(|e| e.target() == "BGPConfiguration/default")
    );
}

#[test]
fn pools_default_to_every_pod_cidr_and_advertising_can_stop() {
    let mut w = World::three();
    w.settings.cluster.pod_pools.clear();
    w.configure(BGPConfigurationSpec {
        advertise_pod_cidrs: Some(false),
        ..Default::default()
    });
    let t = w.run("n1");
    let Outcome::Ready(r) = t.outcome else {
        panic!()
    };
    assert_eq!(r.config.cluster.pod_pools.len(), 3);
    assert!(r.config.node.pod_cidrs.is_empty());
    assert_eq!(r.pod_cidrs.len(), 1);
}

#[test]
fn pod_cidr_outside_the_pools_is_blamed_on_the_node() {
    let mut w = World::three();
    w.nodes[0] = node("n1", "192.168.1.11", &["10.99.1.0/24"], &[]);
    let t = w.run("n1");
    assert!(matches!(t.outcome, Outcome::Waiting(_)));
    assert_eq!(t.errors[0].target(), "Node/n1");
    let t = w.run("n2");
    assert!(matches!(t.outcome, Outcome::Ready(_)));
}

#[test]
fn deterministic_whatever_the_order() {
    let mut w = World::three();
    let a = w.config("n1");
    w.nodes.reverse();
    assert_eq!(a, w.config("n1"));
}
