//! podroute-ipam executed as a binary: allocation, release, GC, CHECK, STATUS, exhaustion, concurrency, SIGKILL.

mod cni_util;

use cni_util::*;
use podroute::ipam::store::read_state;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;

fn conf(version: &str, data_dir: &Path, ranges: Value) -> String {
    json!({
        "cniVersion": version,
        "name": "testnet",
        "type": "podroute-bridge",
        "ipam": {
            "type": "podroute-ipam",
            "ranges": ranges,
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": data_dir,
        }
    })
    .to_string()
}

fn inv<'a>(command: &'a str, id: &'a str) -> Invocation<'a> {
    Invocation {
        bin: IPAM,
        host_ns: None,
        command,
        container_id: id,
        netns: "/nonexistent",
        ifname: "eth0",
        path: cni_path(),
    }
}

fn store_dir(d: &TempDir) -> std::path::PathBuf {
    d.path().join("testnet")
}

#[test]
fn ipam_add_returns_address_gateway_routes_in_each_version() {
    let d = TempDir::new();
    let ranges = json!([[{"subnet": "198.18.4.0/24", "rangeStart": "198.18.4.10", "rangeEnd": "198.18.4.20"}]]);
    let old = run(&inv("ADD", "c1"), &conf("0.3.1", d.path(), ranges.clone()));
    let r = old.assert_ok();
    assert_eq!(r["cniVersion"], "0.3.1");
    assert_eq!(r["ips"][0]["address"], "198.18.4.10/24");
    assert_eq!(r["ips"][0]["gateway"], "198.18.4.1");
    assert_eq!(r["ips"][0]["version"], "4");
    assert_eq!(r["routes"][0]["dst"], "0.0.0.0/0");
    let new = run(&inv("ADD", "c2"), &conf("1.1.0", d.path(), ranges));
    let r = new.assert_ok();
    assert_eq!(r["cniVersion"], "1.1.0");
    assert_eq!(r["ips"][0]["address"], "198.18.4.11/24");
    assert!(r["ips"][0].get("version").is_none());
    let st = read_state(&store_dir(&d)).unwrap();
    assert_eq!(st.allocations.len(), 2);
}

#[test]
fn ipam_dual_stack_and_legacy_subnet() {
    let d = TempDir::new();
    let ranges = json!([[{"subnet": "198.18.5.0/24"}], [{"subnet": "2001:db8:5::/64", "gateway": "2001:db8:5::1"}]]);
    let r = run(&inv("ADD", "c1"), &conf("1.0.0", d.path(), ranges));
    let r = r.assert_ok();
    assert_eq!(r["ips"][0]["address"], "198.18.5.2/24");
    assert_eq!(r["ips"][1]["address"], "2001:db8:5::2/64");
    assert_eq!(r["ips"][1]["gateway"], "2001:db8:5::1");
    let legacy = json!({"cniVersion": "0.4.0", "name": "legacy", "type": "x",
        "ipam": {"type": "podroute-ipam", "subnet": "198.18.6.0/28", "gateway": "198.18.6.14", "dataDir": d.path()}});
    let r = run(&inv("ADD", "c1"), &legacy.to_string());
    assert_eq!(r.assert_ok()["ips"][0]["address"], "198.18.6.1/28");
}

#[test]
fn ipam_repeated_add_is_idempotent_and_del_releases_round_robin() {
    let d = TempDir::new();
    let c = conf("1.0.0", d.path(), json!([[{"subnet": "198.18.7.0/29"}]]));
    let a = run(&inv("ADD", "c1"), &c).assert_ok().clone();
    let again = run(&inv("ADD", "c1"), &c).assert_ok().clone();
    assert_eq!(a["ips"], again["ips"]);
    assert_eq!(read_state(&store_dir(&d)).unwrap().allocations.len(), 1);
    run(&inv("DEL", "c1"), &c).assert_ok();
    run(&inv("DEL", "c1"), &c).assert_ok();
    run(&inv("DEL", "never-added"), &c).assert_ok();
    assert!(read_state(&store_dir(&d)).unwrap().allocations.is_empty());
    // The just-released .2 is not handed out again right away.
    let b = run(&inv("ADD", "c2"), &c).assert_ok().clone();
    assert_eq!(b["ips"][0]["address"], "198.18.7.3/29");
}

#[test]
fn ipam_exhaustion_fails_with_code_and_changes_nothing() {
    let d = TempDir::new();
    let c = conf(
        "1.1.0",
        d.path(),
        json!([[{"subnet": "198.18.8.0/29", "rangeStart": "198.18.8.2", "rangeEnd": "198.18.8.3"}]]),
    );
    run(&inv("ADD", "a"), &c).assert_ok();
    run(&inv("ADD", "b"), &c).assert_ok();
    let before = read_state(&store_dir(&d)).unwrap();
    run(&inv("ADD", "c"), &c).assert_err(101);
    assert_eq!(read_state(&store_dir(&d)).unwrap(), before);
    run(&inv("STATUS", ""), &c).assert_err(50);
    run(&inv("DEL", "a"), &c).assert_ok();
    run(&inv("STATUS", ""), &c).assert_ok();
}

#[test]
fn ipam_gc_keeps_only_valid_attachments() {
    let d = TempDir::new();
    let ranges = json!([[{"subnet": "198.18.9.0/24"}]]);
    let c = conf("1.1.0", d.path(), ranges.clone());
    for id in ["k1", "k2", "gone1", "gone2"] {
        run(&inv("ADD", id), &c).assert_ok();
    }
    let mut gc: Value = serde_json::from_str(&c).unwrap();
    gc["cni.dev/valid-attachments"] =
        json!([{"containerID": "k1", "ifname": "eth0"}, {"containerID": "k2", "ifname": "eth0"}]);
    run(&inv("GC", ""), &gc.to_string()).assert_ok();
    let ids: HashSet<String> = read_state(&store_dir(&d))
        .unwrap()
        .allocations
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert_eq!(ids, HashSet::from(["k1".to_string(), "k2".to_string()]));
    // GC is a 1.1.0 command.
    let old = conf("1.0.0", d.path(), ranges);
    run(&inv("GC", ""), &old).assert_err(1);
}

#[test]
fn ipam_check_finds_missing_allocation() {
    let d = TempDir::new();
    let c = conf("1.0.0", d.path(), json!([[{"subnet": "198.18.10.0/24"}]]));
    let res = run(&inv("ADD", "c1"), &c).assert_ok().clone();
    let mut chk: Value = serde_json::from_str(&c).unwrap();
    chk["prevResult"] = res;
    run(&inv("CHECK", "c1"), &chk.to_string()).assert_ok();
    run(&inv("CHECK", "other"), &chk.to_string()).assert_err(100);
    run(&inv("DEL", "c1"), &c).assert_ok();
    run(&inv("CHECK", "c1"), &chk.to_string()).assert_err(100);
}

#[test]
fn ipam_pod_cidr_file_serves_any_node() {
    let d = TempDir::new();
    let file = d.path().join("podcidr");
    let c = json!({"cniVersion": "1.1.0", "name": "testnet", "type": "x",
        "ipam": {"type": "podroute-ipam", "podCIDRFile": file, "dataDir": d.path()}})
    .to_string();
    run(&inv("ADD", "c1"), &c).assert_err(11);
    run(&inv("STATUS", ""), &c).assert_err(50);
    std::fs::write(&file, "198.18.11.0/24\n2001:db8:11::/64\n").unwrap();
    let r = run(&inv("ADD", "c1"), &c).assert_ok().clone();
    assert_eq!(r["ips"][0]["address"], "198.18.11.2/24");
    assert_eq!(r["ips"][1]["address"], "2001:db8:11::2/64");
    std::fs::write(&file, "not-a-cidr\n").unwrap();
    run(&inv("ADD", "c2"), &c).assert_err(7);
}

#[test]
fn ipam_bad_inputs_get_spec_errors() {
    let d = TempDir::new();
    let good = conf("1.0.0", d.path(), json!([[{"subnet": "198.18.12.0/24"}]]));
    run(&inv("ADD", "c1"), "{not json").assert_err(6);
    run(&inv("ADD", "c1"), &good.replace("1.0.0", "9.9.9")).assert_err(1);
    run(
        &inv("ADD", "c1"),
        &conf("1.0.0", d.path(), json!([[{"subnet": "198.18.12.0/33"}]])),
    )
    .assert_err(7);
    run(
        &inv("ADD", "c1"),
        &conf(
            "1.0.0",
            d.path(),
            json!([[{"subnet": "198.18.12.0/24", "rangeStart": "198.18.13.1"}]]),
        ),
    )
    .assert_err(7);
    run(
        &inv("ADD", "c1"),
        &conf(
            "1.0.0",
            d.path(),
            json!([[{"subnet": "198.18.12.0/24"}], [{"subnet": "198.18.12.0/25"}]]),
        ),
    )
    .assert_err(7);
    run(&inv("ADD", "bad id!"), &good).assert_err(4);
    run_env(&inv("ADD", "c1"), &good, &[("CNI_IFNAME", "")]).assert_err(4);
    run_env(&inv("ADD", "c1"), &good, &[("CNI_COMMAND", "")]).assert_err(4);
    run(&inv("ADD", "c1"), &good.replace("testnet", "bad/name")).assert_err(7);
    assert!(read_state(&store_dir(&d)).unwrap().allocations.is_empty());
    let v = run(&inv("VERSION", ""), r#"{"cniVersion":"1.0.0"}"#)
        .assert_ok()
        .clone();
    assert_eq!(v["cniVersion"], "1.0.0");
    assert!(
        v["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("1.1.0"))
    );
}

#[test]
fn ipam_100_concurrent_adds_distinct_then_100_dels_empty() {
    let d = TempDir::new();
    let c = conf("1.1.0", d.path(), json!([[{"subnet": "198.18.16.0/22"}]]));
    let ids: Vec<String> = (0..100).map(|i| format!("pod{i}")).collect();
    let children: Vec<_> = ids
        .iter()
        .map(|id| spawn(&inv("ADD", id), &c, &[]))
        .collect();
    let mut addrs = HashSet::new();
    for ch in children {
        let o = finish(ch);
        addrs.insert(
            o.assert_ok()["ips"][0]["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(addrs.len(), 100);
    assert_eq!(read_state(&store_dir(&d)).unwrap().allocations.len(), 100);
    let children: Vec<_> = ids
        .iter()
        .map(|id| spawn(&inv("DEL", id), &c, &[]))
        .collect();
    for ch in children {
        finish(ch).assert_ok();
    }
    assert!(read_state(&store_dir(&d)).unwrap().allocations.is_empty());
}

#[test]
fn ipam_sigkill_during_add_leaves_a_recoverable_store() {
    let d = TempDir::new();
    let c = conf("1.1.0", d.path(), json!([[{"subnet": "198.18.20.0/24"}]]));
    // Kill ADDs at spread-out instants of their run; some die before, some
    // inside, some after the commit.
    for i in 0..40u64 {
        let id = format!("k{i}");
        let mut ch = spawn(&inv("ADD", &id), &c, &[]);
        let until = std::time::Instant::now() + std::time::Duration::from_micros(i * 75);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        let _ = ch.kill();
        let _ = ch.wait();
        // Whatever happened, the store is readable and has no duplicates.
        let st = read_state(&store_dir(&d)).expect("store readable after SIGKILL");
        let ips: HashSet<_> = st.allocations.iter().map(|a| a.ip).collect();
        assert_eq!(
            ips.len(),
            st.allocations.len(),
            "duplicate address after SIGKILL"
        );
    }
    // The runtime retries: a repeated ADD of a killed container is idempotent.
    let r1 = run(&inv("ADD", "k39"), &c).assert_ok().clone();
    let r2 = run(&inv("ADD", "k39"), &c).assert_ok().clone();
    assert_eq!(r1["ips"], r2["ips"]);
    // DEL of the killed ones and GC clear every leak.
    for i in 0..20 {
        run(&inv("DEL", &format!("k{i}")), &c).assert_ok();
    }
    let mut gc: Value = serde_json::from_str(&c).unwrap();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "k39", "ifname": "eth0"}]);
    run(&inv("GC", ""), &gc.to_string()).assert_ok();
    let st = read_state(&store_dir(&d)).unwrap();
    assert_eq!(st.allocations.len(), 1);
    assert_eq!(st.allocations[0].container_id, "k39");
    let fresh = run(&inv("ADD", "new"), &c).assert_ok().clone();
    assert_ne!(fresh["ips"], r1["ips"]);
}
