//! ipMasq with nftables: one `inet podroute` table, per network two interval sets and one NAT chain.
//!
//! Per-network rules never grow with pods: pods are counted by the
//! attachment markers of [`super::state`], and nft runs only when the
//! network's subnet set changes or its last pod leaves.

use super::error::{CniError, ErrorCode};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// The nftables table podroute owns.
pub const TABLE: &str = "podroute";
const MCAST4: &str = "224.0.0.0/4";
const MCAST6: &str = "ff00::/8";

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

/// CHECK: the network's chain holds its two rules in the current namespace.
pub fn check(network: &str) -> Result<(), CniError> {
    let n = super::nftnl::inet_rule_count(TABLE, &chain_name(network))
        .map_err(|e| fail("cannot read nftables rules", e.to_string()))?;
    if n < 2 {
        return Err(CniError::new(
            ErrorCode::CheckFailed,
            format!("masquerade rules of {network} are missing ({n} of 2)"),
        ));
    }
    Ok(())
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
        // Multicast is never masqueraded (as the reference plugin's 224.0.0.0/4 exception).
        let multicast = if fam == "4" { MCAST4 } else { MCAST6 };
        let dst: Vec<IpNet> = src
            .iter()
            .copied()
            .chain(cluster.iter().map(IpNet::trunc).filter(is_fam))
            .chain(multicast.parse::<IpNet>().ok())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_script_is_one_chain_two_rules_and_excludes_pools() {
        let subnets: BTreeSet<IpNet> =
            ["10.1.0.0/24".parse().unwrap(), "fd00::/64".parse().unwrap()].into();
        let s = ensure_script("my-net.1", &subnets, &["10.0.0.0/8".parse().unwrap()]);
        let c = chain_name("my-net.1");
        assert!(
            c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'),
            "{c}"
        );
        assert_ne!(c, chain_name("my_net_1"), "sanitized names stay distinct");
        assert_eq!(s.matches("masquerade").count(), 2);
        assert!(s.contains(&format!(
            "add element inet podroute {c}_src4 {{ 10.1.0.0/24 }}"
        )));
        assert!(s.contains(&format!(
            "add element inet podroute {c}_dst4 {{ 10.1.0.0/24, 10.0.0.0/8, 224.0.0.0/4 }}"
        )));
        assert!(s.contains(&format!(
            "add element inet podroute {c}_dst6 {{ fd00::/64, ff00::/8 }}"
        )));
        let d = delete_script("my-net.1");
        assert!(d.contains(&format!("delete chain inet podroute {c}")));
        assert_eq!(d.matches("delete set").count(), 4);
    }
}
