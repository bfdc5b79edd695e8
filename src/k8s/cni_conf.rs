//! The node's CNI conflist and pod-CIDR file, written atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! The container runtime watches the CNI config directory and may read a
//! file at any moment, so it must never see a half-written one (the same
//! reason kube-router and flannel write through a rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde_json::json;

/// What the conflist says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniConf {
    pub pod_cidrs: Vec<IpNet>,
    /// The cluster's pod pools: never masqueraded towards.
    pub pod_pools: Vec<IpNet>,
    pub mtu: Option<u16>,
    pub ip_masq: bool,
    /// The file podroute-ipam also reads, for runtimes that cache the conflist.
    pub pod_cidr_file: PathBuf,
}

impl CniConf {
    /// The conflist JSON: podroute-bridge with podroute-ipam, one range
    /// set per pod CIDR (one address per family).
    pub fn conflist(&self) -> serde_json::Value {
        let ranges: Vec<serde_json::Value> = self
            .pod_cidrs
            .iter()
            .map(|c| json!([{ "subnet": c.to_string() }]))
            .collect();
        let mut bridge = json!({
            "type": "podroute-bridge",
            "bridge": "podroute0",
            "isDefaultGateway": true,
            "ipMasq": self.ip_masq,
            "clusterCIDRs": self.pod_pools.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "ipam": {
                "type": "podroute-ipam",
                "ranges": ranges,
                "podCIDRFile": self.pod_cidr_file,
            }
        });
        if let Some(mtu) = self.mtu {
            bridge["mtu"] = json!(mtu);
        }
        json!({
            "cniVersion": "1.1.0",
            "name": "podroute",
            "plugins": [bridge],
        })
    }

    /// The pod-CIDR file: one CIDR per line.
    pub fn pod_cidr_text(&self) -> String {
        self.pod_cidrs.iter().map(|c| format!("{c}\n")).collect()
    }

    /// Writes the pod-CIDR file, then the conflist (so a runtime that sees
    /// the conflist finds the CIDR file too). Unchanged files are not rewritten.
    pub fn write(&self, dir: &Path, name: &str) -> std::io::Result<()> {
        write_atomic(&self.pod_cidr_file, self.pod_cidr_text().as_bytes())?;
        let mut text =
            serde_json::to_vec_pretty(&self.conflist()).map_err(std::io::Error::other)?;
        text.push(b'\n');
        write_atomic(&dir.join(name), &text)
    }
}

/// Replaces `path` with `data` so readers see the old or the new file,
/// never a part; skips the write when the content is already there.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == data) {
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot keeps the runtime's *.conflist glob from matching the
    // temporary file.
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(dir: &Path) -> CniConf {
        CniConf {
            pod_cidrs: vec![
                "10.244.1.0/24".parse().unwrap(),
                "fd00:244:1::/64".parse().unwrap(),
            ],
            pod_pools: vec!["10.244.0.0/16".parse().unwrap()],
            mtu: Some(1450),
            ip_masq: true,
            pod_cidr_file: dir.join("pod-cidrs"),
        }
    }

    #[test]
    fn conflist_names_both_plugins_and_every_cidr() {
        let dir = std::env::temp_dir().join(format!("podroute-cni-conf-{}", std::process::id()));
        let c = conf(&dir);
        let v = c.conflist();
        assert_eq!(v["plugins"][0]["type"], "podroute-bridge");
        assert_eq!(v["plugins"][0]["ipam"]["type"], "podroute-ipam");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][1][0]["subnet"],
            "fd00:244:1::/64"
        );
        assert_eq!(v["plugins"][0]["mtu"], 1450);
        assert_eq!(v["plugins"][0]["clusterCIDRs"][0], "10.244.0.0/16");
        assert_eq!(c.pod_cidr_text(), "10.244.1.0/24\nfd00:244:1::/64\n");
    }

    #[test]
    fn write_replaces_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("podroute-cni-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = conf(&dir);
        c.write(&dir, "10-podroute.conflist").unwrap();
        c.pod_cidrs.truncate(1);
        c.write(&dir, "10-podroute.conflist").unwrap();
        let text = std::fs::read_to_string(dir.join("10-podroute.conflist")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("pod-cidrs")).unwrap(),
            "10.244.1.0/24\n"
        );
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
