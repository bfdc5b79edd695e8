//! Tests of the config format: the examples parse, every bad value is refused at its position.

use super::*;

const MESH_NODE1: &str = r#"
[node]
name = "node1"
router_id = "192.168.1.11"
asn = 64512
pod_cidrs = ["10.244.1.0/24"]

[cluster]
pod_pools = ["10.244.0.0/16"]

[bgp]
hold_time = 9
connect_retry = 1

[[bgp.peers]]
address = "192.168.1.12"
asn = 64512

[[bgp.peers]]
address = "192.168.1.13"
asn = 64512
hold_time = 30
"#;

fn err(text: &str) -> ConfigError {
    Config::from_toml(text).expect_err("config should be refused")
}

fn with(extra: &str) -> String {
    format!("{MESH_NODE1}\n{extra}")
}

#[test]
fn full_mesh_node_parses_with_defaults() {
    let c = Config::from_toml(MESH_NODE1).unwrap();
    assert_eq!(c.node.asn, Asn(64512));
    assert_eq!(c.bgp.peers.len(), 2);
    assert_eq!(c.bgp.hold_time.seconds(), 9);
    assert_eq!(c.hold_time(&c.bgp.peers[0]).seconds(), 9);
    assert_eq!(c.hold_time(&c.bgp.peers[1]).seconds(), 30);
    assert_eq!(c.bgp.peers[0].port, 179);
    assert!(!c.bgp.peers[0].passive);
    assert_eq!(c.fib.table, RouteTable::MAIN);
    assert!(c.fib.ecmp);
    assert_eq!(c.control.socket, PathBuf::from(DEFAULT_SOCKET));
    assert_eq!(c.cluster_id(), "192.168.1.11".parse::<Ipv4Addr>().unwrap());
    assert_eq!(c.bgp.listen.len(), 2);
}

#[test]
fn defaults_suit_a_cluster() {
    let c = Config::from_toml("[node]\nname='n'\nrouter_id='192.0.2.1'\nasn=64512\n").unwrap();
    assert_eq!(
        c.bgp.connect_retry.duration(),
        std::time::Duration::from_secs(5)
    );
    assert_eq!(c.bgp.hold_time, HoldTime::DEFAULT);
}

#[test]
fn unknown_key_is_refused_with_key_and_position() {
    let e = err(&MESH_NODE1.replace("hold_time = 30", "hold_tme = 30"));
    assert!(e.reason.contains("unknown field `hold_tme`"), "{e}");
    assert_eq!(e.key, "bgp.peers[1].hold_tme");
    assert_eq!(e.position.map(|p| p.0), Some(22), "{e}");
}

#[test]
fn bad_hold_time_names_the_rfc() {
    let e = err(&MESH_NODE1.replace("hold_time = 9", "hold_time = 2"));
    assert_eq!(e.key, "bgp.hold_time");
    assert!(e.reason.contains("RFC 4271"), "{e}");
    assert_eq!(e.position, Some((12, 13)), "{e}");
}

#[test]
fn bad_values_are_refused() {
    let cases = [
        (
            MESH_NODE1.replace("asn = 64512\npod", "asn = 0\npod"),
            "node.asn",
            "AS 0",
        ),
        (
            MESH_NODE1.replace("asn = 64512\npod", "asn = 23456\npod"),
            "node.asn",
            "AS_TRANS",
        ),
        (
            MESH_NODE1.replace("asn = 64512\npod", "asn = -5\npod"),
            "node.asn",
            "invalid value",
        ),
        (
            MESH_NODE1.replace("\"192.168.1.11\"", "\"192.168.1.300\""),
            "node.router_id",
            "invalid",
        ),
        (
            MESH_NODE1.replace("\"192.168.1.11\"", "\"0.0.0.0\""),
            "node.router_id",
            "RFC 6286",
        ),
        (
            MESH_NODE1.replace("10.244.1.0/24", "10.244.1.1/24"),
            "node.pod_cidrs[0]",
            "host bits",
        ),
        (
            MESH_NODE1.replace("10.244.1.0/24", "10.245.1.0/24"),
            "node.pod_cidrs[0]",
            "pod_pools",
        ),
        (
            MESH_NODE1.replace("10.244.1.0/24", "10.244.1.0/33"),
            "node.pod_cidrs[0]",
            "invalid",
        ),
        (
            MESH_NODE1.replace("connect_retry = 1", "connect_retry = 0"),
            "bgp.connect_retry",
            "at least 1",
        ),
        (
            MESH_NODE1.replace("192.168.1.13", "192.168.1.12"),
            "bgp.peers[1].address",
            "twice",
        ),
        (with("[fib]\ntable = 255"), "fib.table", "reserved"),
        (
            with("[fib]\ntable = \"mian\""),
            "fib.table",
            "unknown table name",
        ),
    ];
    for (text, key, reason) in cases {
        let e = err(&text);
        assert_eq!(e.key, key, "{e}");
        assert!(e.reason.contains(reason), "{key}: {e}");
        assert!(e.position.is_some(), "{key}: no position in {e}");
    }
}

#[test]
fn graceful_restart_keys_are_read_and_checked() {
    let c = Config::from_toml(&MESH_NODE1.replace(
        "connect_retry = 1",
        "connect_retry = 1\ngraceful_restart = false\nrestart_time = 300",
    ))
    .expect("valid");
    assert!(!c.bgp.graceful_restart);
    assert_eq!(c.bgp.restart_time.seconds(), 300);
    let c = Config::from_toml(MESH_NODE1).expect("valid");
    assert!(c.bgp.graceful_restart, "on by default, as Calico's BIRD");
    assert_eq!(c.bgp.restart_time.seconds(), 120);
    let e = err(&MESH_NODE1.replace(
        "connect_retry = 1",
        "connect_retry = 1\nrestart_time = 4096",
    ));
    assert_eq!(e.key, "bgp.restart_time", "{e}");
    assert!(e.reason.contains("4095"), "{e}");
}

#[test]
fn import_filter_bounds_are_checked() {
    let e = err(&with("[[bgp.import]]\nprefix = \"10.0.0.0/8\"\nge = 4"));
    assert_eq!(e.key, "bgp.import[0].ge");
    let e = err(&with(
        "[[bgp.import]]\nprefix = \"10.0.0.0/8\"\nge = 24\nle = 16",
    ));
    assert_eq!(e.key, "bgp.import[0].le");
    let e = err(&with("[[bgp.import]]\nprefix = \"10.0.0.0/8\"\nle = 40"));
    assert!(e.reason.contains("between"), "{e}");
}

#[test]
fn import_policy_defaults_to_pod_pools_and_never_own_cidr() {
    let c = Config::from_toml(MESH_NODE1).unwrap();
    let p = |s: &str| s.parse::<IpNet>().unwrap();
    assert!(c.import_accepts(&p("10.244.2.0/24")));
    assert!(!c.import_accepts(&p("10.244.1.0/24")), "own pod CIDR");
    assert!(
        !c.import_accepts(&p("10.244.1.128/25")),
        "inside own pod CIDR"
    );
    assert!(!c.import_accepts(&p("0.0.0.0/0")));
    assert!(!c.import_accepts(&p("192.0.2.0/24")));
}

#[test]
fn explicit_import_filters_first_match_wins() {
    let c = Config::from_toml(&with(
        "[[bgp.import]]\nprefix = \"10.244.9.0/24\"\naction = \"reject\"\n\
         [[bgp.import]]\nprefix = \"10.0.0.0/8\"\nge = 16\nle = 26\n",
    ))
    .unwrap();
    let p = |s: &str| s.parse::<IpNet>().unwrap();
    assert!(!c.import_accepts(&p("10.244.9.0/24")));
    assert!(c.import_accepts(&p("10.244.8.0/24")));
    assert!(c.import_accepts(&p("10.9.0.0/16")));
    assert!(!c.import_accepts(&p("10.9.0.0/27")));
    assert!(!c.import_accepts(&p("10.0.0.0/8")));
}

#[test]
fn prefix_filter_lengths_like_bird() {
    let f = |ge: Option<u8>, le: Option<u8>| PrefixFilter {
        prefix: "10.0.0.0/8".parse().unwrap(),
        ge: ge.map(PrefixLen),
        le: le.map(PrefixLen),
        action: FilterAction::Accept,
    };
    assert_eq!(f(None, None).lengths(), 8..=8);
    assert_eq!(f(Some(16), None).lengths(), 16..=32);
    assert_eq!(f(None, Some(24)).lengths(), 8..=24);
    assert_eq!(f(Some(24), Some(24)).lengths(), 24..=24);
}

#[test]
fn syntax_errors_have_a_position() {
    let e = err("[node\nname = 1");
    assert!(e.position.is_some(), "{e}");
}

#[test]
fn error_display_has_file_position_key_and_reason() {
    let e = err(&MESH_NODE1.replace("hold_time = 9", "hold_time = 2"))
        .in_file(Path::new("/etc/podroute.toml"));
    let s = e.to_string();
    assert!(
        s.starts_with("/etc/podroute.toml:12:13: bgp.hold_time: hold time 2"),
        "{s}"
    );
}

#[test]
fn route_reflector_clients_must_be_ibgp() {
    let e = err(&MESH_NODE1.replace(
        "address = \"192.168.1.12\"\nasn = 64512",
        "address = \"192.168.1.12\"\nasn = 64513\nroute_reflector_client = true",
    ));
    assert_eq!(e.key, "bgp.peers[0].route_reflector_client");
}

#[test]
fn passwords_are_checked_and_never_printed() {
    let c =
        Config::from_toml(&MESH_NODE1.replace("hold_time = 30", "password = \"s3cret\"")).unwrap();
    let p = c.bgp.peers[1].password.as_ref().unwrap();
    assert_eq!(p.as_bytes(), b"s3cret");
    assert!(!format!("{c:?}").contains("s3cret"));
    let e = err(&MESH_NODE1.replace("hold_time = 30", "password = \"\""));
    assert_eq!(e.key, "bgp.peers[1].password");
    let long = "k".repeat(81);
    let e = err(&MESH_NODE1.replace("hold_time = 30", &format!("password = \"{long}\"")));
    assert!(e.reason.contains("longer than the 80"), "{e}");
}

#[test]
fn max_prefixes_keys() {
    let c = Config::from_toml(&MESH_NODE1.replace("hold_time = 30", "max_prefixes = 10")).unwrap();
    let p = &c.bgp.peers[1];
    assert_eq!(p.max_prefixes, Some(MaxPrefixes(10)));
    assert_eq!(
        (p.max_prefixes_warning, p.max_prefixes_restart),
        (Percent(90), 60)
    );
    let e = err(&MESH_NODE1.replace("hold_time = 30", "max_prefixes = 0"));
    assert_eq!(e.key, "bgp.peers[1].max_prefixes");
    let e = err(&MESH_NODE1.replace("hold_time = 30", "max_prefixes_warning = 120"));
    assert_eq!(e.key, "bgp.peers[1].max_prefixes_warning");
}

#[test]
fn ttl_security_is_for_ebgp_peers() {
    let ebgp = MESH_NODE1.replace(
        "asn = 64512\nhold_time = 30",
        "asn = 65001\nttl_security = 1",
    );
    let c = Config::from_toml(&ebgp).unwrap();
    assert_eq!(c.bgp.peers[1].ttl_security, Some(Hops(1)));
    let e = err(&MESH_NODE1.replace("hold_time = 30", "ttl_security = 1"));
    assert_eq!(e.key, "bgp.peers[1].ttl_security");
    let e = err(&ebgp.replace("ttl_security = 1", "ttl_security = 1\npassive = true"));
    assert!(e.reason.contains("cannot be passive"), "{e}");
    let e = err(&ebgp.replace("ttl_security = 1", "ttl_security = 0"));
    assert!(e.reason.contains("1 to 254"), "{e}");
}
