//! ipMasq with nftables: one `inet podroute` table, per network two interval sets and one NAT chain.
//!
//! Per-network rules never grow with pods: pods are counted by marker files
//! in a state directory, and nft runs only when the network's subnet set
//! changes or its last pod leaves.

use super::error::{CniError, ErrorCode};
use crate::ipam::lockfile::Lock;
use ipnet::IpNet;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The nftables table podroute owns.
pub const TABLE: &str = "podroute";

fn fail(msg: impl Into<String>, details: impl Into<String>) -> CniError {
    CniError::with_details(ErrorCode::MasqueradeFailure, msg, details)
}

/// nft identifiers allow `[a-zA-Z0-9_]`; network names may hold `.` and `-`,
/// so sanitize and add a hash to keep distinct names distinct.
pub fn chain_name(network: &str) -> String {
    let clean: String = network
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(24)
        .collect();
    format!("n_{clean}_{:08x}", super::names::fnv32(network.as_bytes()))
}

/// The bookkeeping of one network in the current network namespace.
pub struct MasqState {
    dir: PathBuf,
    network: String,
}

fn io(what: &str, p: &Path, e: std::io::Error) -> CniError {
    CniError::with_details(
        ErrorCode::IoFailure,
        format!("{what} {}", p.display()),
        e.to_string(),
    )
}

impl MasqState {
    /// State of `network` under `base`, keyed by the namespace's inode so two
    /// host namespaces on one machine never share bookkeeping.
    pub fn new(base: &Path, network: &str) -> Result<MasqState, CniError> {
        let ino = std::fs::metadata("/proc/thread-self/ns/net")
            .map_err(|e| io("cannot stat", Path::new("/proc/thread-self/ns/net"), e))?
            .ino();
        Ok(MasqState {
            dir: base.join(format!("netns-{ino}")).join(network),
            network: network.to_string(),
        })
    }

    fn lock(&self) -> Result<Lock, CniError> {
        std::fs::create_dir_all(self.dir.join("att"))
            .map_err(|e| io("cannot create", &self.dir, e))?;
        let p = self.dir.join("lock");
        Lock::acquire(&p).map_err(|e| io("cannot lock", &p, e))
    }

    fn marker(&self, cid: &str, ifname: &str) -> PathBuf {
        self.dir.join("att").join(format!("{cid}@{ifname}"))
    }

    fn subnets(&self) -> BTreeSet<IpNet> {
        std::fs::read_to_string(self.dir.join("subnets"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    fn markers(&self) -> Result<usize, CniError> {
        let d = self.dir.join("att");
        Ok(std::fs::read_dir(&d)
            .map_err(|e| io("cannot list", &d, e))?
            .count())
    }

    /// Records the attachment and makes sure the network's rule covers `subnets`.
    pub fn attach(
        &self,
        cid: &str,
        ifname: &str,
        subnets: &[IpNet],
        cluster: &[IpNet],
    ) -> Result<(), CniError> {
        let _l = self.lock()?;
        let have = self.subnets();
        let mut want = have.clone();
        want.extend(subnets.iter().map(IpNet::trunc));
        let m = self.marker(cid, ifname);
        std::fs::write(&m, b"").map_err(|e| io("cannot write", &m, e))?;
        let applied = self.dir.join("subnets");
        if want != have || !applied.exists() {
            let script = ensure_script(&self.network, &want, cluster);
            if let Err(e) = nft(&script) {
                let _ = std::fs::remove_file(&m);
                return Err(e);
            }
            let text: String = want.iter().map(|n| format!("{n}\n")).collect();
            std::fs::write(&applied, text).map_err(|e| io("cannot write", &applied, e))?;
        }
        Ok(())
    }

    /// Forgets the attachment; the last one removes the network's rules.
    pub fn detach(&self, cid: &str, ifname: &str) -> Result<(), CniError> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _l = self.lock()?;
        let _ = std::fs::remove_file(self.marker(cid, ifname));
        self.drop_if_unused()
    }

    /// Forgets every attachment not in `valid`.
    pub fn gc(&self, valid: &HashSet<(String, String)>) -> Result<(), CniError> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _l = self.lock()?;
        let d = self.dir.join("att");
        for entry in std::fs::read_dir(&d)
            .map_err(|e| io("cannot list", &d, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name
                .split_once('@')
                .is_some_and(|(c, i)| valid.contains(&(c.to_string(), i.to_string())));
            if !keep {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        self.drop_if_unused()
    }

    fn drop_if_unused(&self) -> Result<(), CniError> {
        let applied = self.dir.join("subnets");
        if self.markers()? == 0 && applied.exists() {
            nft(&delete_script(&self.network))?;
            std::fs::remove_file(&applied).map_err(|e| io("cannot remove", &applied, e))?;
        }
        Ok(())
    }

    /// CHECK: the network's chain is present.
    pub fn check(&self) -> Result<(), CniError> {
        let out = Command::new("nft")
            .args(["list", "chain", "inet", TABLE, &chain_name(&self.network)])
            .output()
            .map_err(|e| fail("cannot run nft", e.to_string()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("masquerade") {
            return Err(CniError::new(
                ErrorCode::CheckFailed,
                format!("masquerade chain of {} is missing", self.network),
            ));
        }
        Ok(())
    }
}

fn elements(nets: impl Iterator<Item = IpNet>) -> String {
    nets.map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

/// The whole network's rules, replaced in one atomic nft transaction.
pub fn ensure_script(network: &str, subnets: &BTreeSet<IpNet>, cluster: &[IpNet]) -> String {
    let c = chain_name(network);
    let mut s = format!("add table inet {TABLE}\n");
    for fam in ["4", "6"] {
        let ty = if fam == "4" { "ipv4_addr" } else { "ipv6_addr" };
        let is_fam = |n: &IpNet| (fam == "4") == n.addr().is_ipv4();
        for set in ["src", "dst"] {
            s += &format!(
                "add set inet {TABLE} {c}_{set}{fam} {{ type {ty}; flags interval; auto-merge; }}\n"
            );
            s += &format!("flush set inet {TABLE} {c}_{set}{fam}\n");
        }
        let src: Vec<IpNet> = subnets.iter().copied().filter(is_fam).collect();
        let dst: Vec<IpNet> = src
            .iter()
            .copied()
            .chain(cluster.iter().map(IpNet::trunc).filter(is_fam))
            .collect();
        if !src.is_empty() {
            s += &format!(
                "add element inet {TABLE} {c}_src{fam} {{ {} }}\n",
                elements(src.into_iter())
            );
        }
        if !dst.is_empty() {
            s += &format!(
                "add element inet {TABLE} {c}_dst{fam} {{ {} }}\n",
                elements(dst.into_iter())
            );
        }
    }
    s += &format!(
        "add chain inet {TABLE} {c} {{ type nat hook postrouting priority srcnat; policy accept; }}\n"
    );
    s += &format!("flush chain inet {TABLE} {c}\n");
    s +=
        &format!("add rule inet {TABLE} {c} ip saddr @{c}_src4 ip daddr != @{c}_dst4 masquerade\n");
    s += &format!(
        "add rule inet {TABLE} {c} ip6 saddr @{c}_src6 ip6 daddr != @{c}_dst6 masquerade\n"
    );
    s
}

/// Removes the network's chain and sets; `add` first makes it idempotent
/// (nft 1.0.6 has no `destroy`).
pub fn delete_script(network: &str) -> String {
    let c = chain_name(network);
    let mut s = format!("add table inet {TABLE}\n");
    s += &format!(
        "add chain inet {TABLE} {c} {{ type nat hook postrouting priority srcnat; policy accept; }}\n"
    );
    s += &format!("flush chain inet {TABLE} {c}\ndelete chain inet {TABLE} {c}\n");
    for fam in ["4", "6"] {
        let ty = if fam == "4" { "ipv4_addr" } else { "ipv6_addr" };
        for set in ["src", "dst"] {
            s += &format!(
                "add set inet {TABLE} {c}_{set}{fam} {{ type {ty}; flags interval; auto-merge; }}\n"
            );
            s += &format!("delete set inet {TABLE} {c}_{set}{fam}\n");
        }
    }
    s
}

/// Applies a script atomically (`nft -f -` is one transaction).
pub fn nft(script: &str) -> Result<(), CniError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail("cannot run nft", e.to_string()))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(script.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail("nft failed", e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            "nft rejected the masquerade rules",
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}
