//! podroute-bridge bad-input matrix: non-zero exit, spec error JSON with the right code, nothing left behind.

mod cni_util;

use cni_util::*;
use podroute::ipam::store::read_state;
use serde_json::{Value, json};

fn base(node: &Node) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "errnet",
        "type": "podroute-bridge",
        "bridge": "cni-err",
        "isGateway": true,
        "ipMasq": true,
        "stateDir": node.dir.path().join("state"),
        "ipam": {
            "type": "podroute-ipam",
            "ranges": [[{"subnet": "198.18.30.0/24", "rangeStart": "198.18.30.2", "rangeEnd": "198.18.30.2"}]],
            "dataDir": node.dir.path(),
        }
    })
}

fn with(mut v: Value, path: &[&str], val: Value) -> String {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[path[path.len() - 1]] = val;
    v.to_string()
}

fn assert_clean(node: &Node, bridge_may_exist: bool, what: &str) {
    assert!(
        node.pod_veths().is_empty(),
        "{what}: stray veth {:?}",
        node.pod_veths()
    );
    let st = read_state(&node.dir.path().join("errnet")).unwrap();
    assert!(
        st.allocations.is_empty(),
        "{what}: leaked {:?}",
        st.allocations
    );
    assert!(!node.ruleset().contains("masquerade"), "{what}: rule left");
    if !bridge_may_exist {
        let out = node.host.exec(&["ip", "link", "show", "cni-err"]);
        assert!(!out.status.success(), "{what}: bridge created");
    }
}

/// (what, stdin, env overrides, expected code)
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, u64);

#[test]
fn bridge_bad_inputs_matrix() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let pod = Netns::new("prp");
    let good = base(&node).to_string();
    let p = pod.path();
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            "{\"cniVersion\": \"1.0.0\", ".to_string(),
            vec![],
            6,
        ),
        ("not an object", "[1,2]".to_string(), vec![], 7),
        (
            "missing CNI_COMMAND",
            good.clone(),
            vec![("CNI_COMMAND", "")],
            4,
        ),
        (
            "unknown CNI_COMMAND",
            good.clone(),
            vec![("CNI_COMMAND", "FROB")],
            4,
        ),
        (
            "missing CNI_CONTAINERID",
            good.clone(),
            vec![("CNI_CONTAINERID", "")],
            4,
        ),
        (
            "bad CNI_CONTAINERID",
            good.clone(),
            vec![("CNI_CONTAINERID", "a;b")],
            4,
        ),
        (
            "missing CNI_NETNS",
            good.clone(),
            vec![("CNI_NETNS", "")],
            4,
        ),
        (
            "missing CNI_IFNAME",
            good.clone(),
            vec![("CNI_IFNAME", "")],
            4,
        ),
        (
            "bad CNI_IFNAME",
            good.clone(),
            vec![("CNI_IFNAME", "eth/0")],
            4,
        ),
        (
            "long CNI_IFNAME",
            good.clone(),
            vec![("CNI_IFNAME", "abcdefghijklmnop")],
            4,
        ),
        ("missing CNI_PATH", good.clone(), vec![("CNI_PATH", "")], 4),
        (
            "missing netns",
            good.clone(),
            vec![("CNI_NETNS", "/run/netns/does-not-exist")],
            3,
        ),
        (
            "unsupported version",
            with(base(&node), &["cniVersion"], json!("0.2.0")),
            vec![],
            1,
        ),
        (
            "future version",
            with(base(&node), &["cniVersion"], json!("9.0.0")),
            vec![],
            1,
        ),
        (
            "invalid CIDR",
            with(
                base(&node),
                &["ipam", "ranges"],
                json!([[{"subnet": "198.18.30.0/40"}]]),
            ),
            vec![],
            7,
        ),
        (
            "not a CIDR",
            with(
                base(&node),
                &["ipam", "ranges"],
                json!([[{"subnet": "banana"}]]),
            ),
            vec![],
            7,
        ),
        (
            "long bridge name",
            with(base(&node), &["bridge"], json!("this-is-too-long0")),
            vec![],
            7,
        ),
        (
            "bridge name with slash",
            with(base(&node), &["bridge"], json!("br/0")),
            vec![],
            7,
        ),
        (
            "bad network name",
            with(base(&node), &["name"], json!("no spaces")),
            vec![],
            7,
        ),
        ("bad mtu", with(base(&node), &["mtu"], json!(10)), vec![], 7),
        (
            "unknown ipam",
            with(base(&node), &["ipam", "type"], json!("no-such-ipam")),
            vec![],
            7,
        ),
        (
            "ipam path escape",
            with(base(&node), &["ipam", "type"], json!("../bin/sh")),
            vec![],
            7,
        ),
        (
            "no ipam",
            {
                let mut v = base(&node);
                v.as_object_mut().unwrap().remove("ipam");
                v.to_string()
            },
            vec![],
            7,
        ),
    ];
    for (what, stdin, envs, code) in cases {
        // Errors the IPAM plugin reports arrive after the bridge exists
        // (bridge work overlaps IPAM); the bridge is node infrastructure, not
        // a per-pod artifact, so only veth, address and rules are checked then.
        let late = what.contains("CIDR");
        let o = run_env(&node.inv(BRIDGE, "ADD", "e1", &p), &stdin, &envs);
        assert!(!o.success, "{what}: succeeded");
        assert_eq!(o.code(), code, "{what}: {}", o.json);
        assert!(
            o.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no msg"
        );
        assert!(o.json["cniVersion"].is_string(), "{what}: no cniVersion");
        assert_clean(&node, late, what);
        if late {
            let _ = node.host.exec(&["ip", "link", "del", "cni-err"]);
        }
    }
    // CHECK is not defined for 0.3.1; STATUS/GC not before 1.1.0.
    let old = with(base(&node), &["cniVersion"], json!("0.3.1"));
    run(&node.inv(BRIDGE, "CHECK", "e1", &p), &old).assert_err(1);
    run(&node.inv(BRIDGE, "STATUS", "", ""), &good).assert_err(1);
    // CHECK without prevResult.
    run(&node.inv(BRIDGE, "CHECK", "e1", &p), &good).assert_err(7);

    // Exhaustion: the range holds one address.
    let pod2 = Netns::new("prp");
    let r = run(&node.inv(BRIDGE, "ADD", "e1", &p), &good)
        .assert_ok()
        .clone();
    let o = run(&node.inv(BRIDGE, "ADD", "e2", &pod2.path()), &good);
    o.assert_err(101);
    assert_eq!(node.pod_veths().len(), 1, "only e1's veth");
    assert_eq!(
        pod2.ok(&["ip", "-o", "link"]).lines().count(),
        1,
        "nothing in pod2"
    );
    run(&node.inv(BRIDGE, "DEL", "e1", &p), &good).assert_ok();
    assert_clean(&node, true, "after DEL");
    assert_eq!(r["cniVersion"], "1.0.0");
    // VERSION answers without any other variable, with the spec's fields.
    let v = run_env(
        &node.inv(BRIDGE, "VERSION", "", ""),
        r#"{"cniVersion":"0.4.0"}"#,
        &[("CNI_PATH", "")],
    );
    let v = v.assert_ok();
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(
        v["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

#[test]
fn bridge_status_reports_ipam_unavailability() {
    if !can_run_netns() {
        return;
    }
    let node = Node::new();
    let mut c = base(&node);
    c["cniVersion"] = json!("1.1.0");
    let c = c.to_string();
    run(&node.inv(BRIDGE, "STATUS", "", ""), &c).assert_ok();
    // The single address is taken: IPAM says it cannot serve ADD (code 50), and so does the bridge.
    let pod = Netns::new("prp");
    run(&node.inv(BRIDGE, "ADD", "s1", &pod.path()), &c).assert_ok();
    run(&node.inv(BRIDGE, "STATUS", "", ""), &c).assert_err(50);
    run(&node.inv(BRIDGE, "DEL", "s1", &pod.path()), &c).assert_ok();
    run(&node.inv(BRIDGE, "STATUS", "", ""), &c).assert_ok();
}
