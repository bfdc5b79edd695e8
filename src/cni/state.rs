//! Per-network attachment markers in a host-namespace state directory: which pods this node's network holds, and whether its masquerade rules are applied.
//!
//! A marker is written before the veth is created and removed after it is
//! deleted, so GC can find the veth of any attachment, even one whose ADD
//! was killed midway. The directory lives under /run: like veths and
//! nftables rules, it does not outlive a reboot.

use super::error::{CniError, ErrorCode};
use super::masq;
use crate::ipam::lockfile::Lock;
use ipnet::IpNet;
use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The bookkeeping of one network in the current network namespace.
pub struct AttachState {
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

impl AttachState {
    /// State of `network` under `base`, keyed by the namespace's inode so two
    /// host namespaces on one machine never share bookkeeping.
    pub fn new(base: &Path, network: &str) -> Result<AttachState, CniError> {
        let ns = Path::new("/proc/thread-self/ns/net");
        let ino = std::fs::metadata(ns)
            .map_err(|e| io("cannot stat", ns, e))?
            .ino();
        Ok(AttachState {
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

    /// Records an attachment before anything is created for it.
    pub fn reserve(&self, cid: &str, ifname: &str) -> Result<(), CniError> {
        let d = self.dir.join("att");
        std::fs::create_dir_all(&d).map_err(|e| io("cannot create", &d, e))?;
        let m = self.marker(cid, ifname);
        std::fs::write(&m, b"").map_err(|e| io("cannot write", &m, e))
    }

    fn applied_subnets(&self) -> BTreeSet<IpNet> {
        std::fs::read_to_string(self.dir.join("subnets"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    /// Makes sure the network's masquerade rule covers `subnets`; nft runs
    /// only when the set changes (first pod, new subnet).
    pub fn ensure_masq(&self, subnets: &[IpNet], cluster: &[IpNet]) -> Result<(), CniError> {
        let _l = self.lock()?;
        let applied = self.dir.join("subnets");
        let have = self.applied_subnets();
        let mut want = have.clone();
        want.extend(subnets.iter().map(IpNet::trunc));
        // The bookkeeping could be stale (someone flushed the ruleset): one
        // netlink dump of the chain's rules tells, without running nft.
        let present = super::nftnl::inet_rule_count(masq::TABLE, &masq::chain_name(&self.network))
            .is_ok_and(|n| n >= 2);
        if want != have || !applied.exists() || !present {
            masq::nft(&masq::ensure_script(&self.network, &want, cluster))?;
            let text: String = want.iter().map(|n| format!("{n}\n")).collect();
            std::fs::write(&applied, text).map_err(|e| io("cannot write", &applied, e))?;
        }
        Ok(())
    }

    /// Forgets the attachment; the network's last one removes its rules.
    pub fn release(&self, cid: &str, ifname: &str) -> Result<(), CniError> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _l = self.lock()?;
        let _ = std::fs::remove_file(self.marker(cid, ifname));
        self.drop_if_unused()
    }

    /// Forgets every attachment not in `valid` and returns them, so their
    /// veths can be deleted.
    pub fn gc(&self, valid: &HashSet<(String, String)>) -> Result<Vec<(String, String)>, CniError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let _l = self.lock()?;
        let d = self.dir.join("att");
        let mut gone = Vec::new();
        for entry in std::fs::read_dir(&d)
            .map_err(|e| io("cannot list", &d, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((c, i)) = name.split_once('@') else {
                continue;
            };
            let key = (c.to_string(), i.to_string());
            if !valid.contains(&key) {
                let _ = std::fs::remove_file(entry.path());
                gone.push(key);
            }
        }
        self.drop_if_unused()?;
        Ok(gone)
    }

    fn drop_if_unused(&self) -> Result<(), CniError> {
        let applied = self.dir.join("subnets");
        let d = self.dir.join("att");
        let markers = std::fs::read_dir(&d)
            .map_err(|e| io("cannot list", &d, e))?
            .count();
        if markers == 0 && applied.exists() {
            masq::nft(&masq::delete_script(&self.network))?;
            std::fs::remove_file(&applied).map_err(|e| io("cannot remove", &applied, e))?;
        }
        Ok(())
    }
}
