//! Every example in configs/ parses and validates, and `podroute check-config` says so.

use std::path::Path;
use std::process::Command;

#[test]
fn every_example_config_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = podroute::config::Config::load(&path) {
                panic!("{e}");
            }
            count += 1;
        }
    }
    assert!(count >= 7, "expected the 7 example configs, found {count}");
}

#[test]
fn check_config_command_reports_ok_and_errors() {
    let exe = env!("CARGO_BIN_EXE_podroute");
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/mesh3-node1.toml");
    let out = Command::new(exe)
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (node node1, AS 64512, 2 peers)"));

    let dir = std::env::temp_dir().join(format!("podroute-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[node]\nname = 'x'\nrouter_id = '192.0.2.1'\nasn = 1\nbogus = 2\n",
    )
    .unwrap();
    let out = Command::new(exe)
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5:1: node.bogus: unknown field `bogus`"),
        "{err}"
    );
}
