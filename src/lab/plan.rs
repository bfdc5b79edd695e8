//! Turns a topology into what to create: namespaces, veth links, exec commands, pods and daemons.
//!
//! Everything is decided and validated here, before anything is created,
//! so a bad file fails without leaving anything behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::LabError;
use super::topology::{Bind, Endpoint, Topology};
use crate::config::Config;

/// The Linux limit on interface names (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// What a node runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// `podroute agent` with this (rewritten) config.
    Podroute {
        source: PathBuf,
        toml: String,
        pod_cidrs: Vec<IpNet>,
        pods: u32,
        /// Label `podroute.ipmasq: "true"`: pods reach the outside
        /// masqueraded behind the node's address, except towards these
        /// pod pools (the config's `cluster.pod_pools`).
        ip_masq: Option<Vec<IpNet>>,
    },
    /// zebra + bgpd with the bound frr.conf.
    Frr { conf: PathBuf },
    /// `bird -f` with the bound bird.conf.
    Bird { conf: PathBuf },
    /// containerlab `kind: bridge`: an L2 segment joining its links.
    Bridge,
    /// A plain namespace: only its exec lines.
    Host,
}

impl Role {
    /// Whether the node runs daemons (podroute, FRR, BIRD).
    pub fn runs_daemons(&self) -> bool {
        !matches!(self, Role::Bridge | Role::Host)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Role::Podroute { .. } => "podroute",
            Role::Frr { .. } => "frr",
            Role::Bird { .. } => "bird",
            Role::Bridge => "bridge",
            Role::Host => "host",
        }
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePlan {
    pub name: String,
    pub ns: String,
    /// This node's files (configs, sockets, logs, CNI state).
    pub dir: PathBuf,
    pub role: Role,
    /// Validated exec lines, split into words.
    pub exec: Vec<Vec<String>>,
    /// Label `podroute.start: manual`: `up` prepares the node but starts
    /// its daemons only on `podroute lab start` (a node joining later).
    pub manual: bool,
}

/// One veth pair.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub a: Endpoint,
    pub b: Endpoint,
}

/// The whole lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub lab: String,
    /// Prefix of every namespace of this lab instance.
    pub prefix: String,
    pub dir: PathBuf,
    pub nodes: Vec<NodePlan>,
    pub links: Vec<LinkPlan>,
}

impl Plan {
    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// The directory holding one lab instance's state under `state_root`.
pub fn lab_dir(state_root: &Path, lab: &str) -> PathBuf {
    state_root.join(lab)
}

/// Namespace prefix: the lab name plus a hash of its state directory, so two
/// instances of one file (different state dirs) never share a namespace.
pub fn prefix(lab: &str, dir: &Path) -> String {
    // FNV-1a: stable across runs and builds, unlike std's RandomState.
    let mut h: u32 = 0x811c_9dc5;
    for b in dir.as_os_str().as_encoded_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("plab-{lab}-{:06x}-", h & 0xff_ffff)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Builds the plan for `topo`, read from `file`, with state under `state_root`.
pub fn plan(topo: &Topology, file: &Path, state_root: &Path) -> Result<Plan, LabError> {
    if !valid_name(&topo.name) {
        return Err(LabError::Topology(format!(
            "lab name {:?}: use up to 40 letters, digits, '-' or '_'",
            topo.name
        )));
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let dir = lab_dir(state_root, &topo.name);
    let prefix = prefix(&topo.name, &dir);
    let mut nodes = Vec::new();
    for (name, def) in &topo.topology.nodes {
        if !valid_name(name) {
            return Err(LabError::Node {
                node: name.clone(),
                msg: "node names are letters, digits, '-' or '_' (at most 40)".into(),
            });
        }
        let node_err = |msg: String| LabError::Node {
            node: name.clone(),
            msg,
        };
        let binds = def
            .binds
            .iter()
            .map(|b| Bind::parse(b, base))
            .collect::<Result<Vec<_>, _>>()?;
        let node_dir = dir.join(name);
        let role = match def.kind.as_str() {
            "bridge" => {
                if name.len() > MAX_IFNAME {
                    return Err(node_err(format!(
                        "a bridge's name is its device name: at most {MAX_IFNAME} characters"
                    )));
                }
                Role::Bridge
            }
            "linux" => linux_role(name, def, &binds, &node_dir)?,
            other => {
                return Err(node_err(format!(
                    "kind {other:?} is not supported (use linux or bridge)"
                )));
            }
        };
        let exec = def
            .exec
            .iter()
            .map(|line| check_exec(name, line))
            .collect::<Result<Vec<_>, _>>()?;
        let manual = match def.labels.get("podroute.start").map(String::as_str) {
            None | Some("auto") => false,
            Some("manual") => true,
            Some(other) => {
                return Err(node_err(format!(
                    "podroute.start {other:?}: auto or manual"
                )));
            }
        };
        nodes.push(NodePlan {
            name: name.clone(),
            ns: format!("{prefix}{name}"),
            dir: node_dir,
            role,
            exec,
            manual,
        });
    }
    let mut links = Vec::new();
    let mut used = HashSet::new();
    for l in &topo.topology.links {
        let [a, b] = l.endpoints.as_slice() else {
            return Err(LabError::Topology(format!(
                "a link has two endpoints, not {:?}",
                l.endpoints
            )));
        };
        let (a, b) = (Endpoint::parse(a)?, Endpoint::parse(b)?);
        for e in [&a, &b] {
            if !topo.topology.nodes.contains_key(&e.node) {
                return Err(LabError::Topology(format!(
                    "link endpoint {}:{} names no node",
                    e.node, e.iface
                )));
            }
            if e.iface.len() > MAX_IFNAME || !valid_name(&e.iface) || e.iface == "lo" {
                return Err(LabError::Topology(format!(
                    "interface {:?} of {}: at most {MAX_IFNAME} letters, digits, '-' or '_'",
                    e.iface, e.node
                )));
            }
            if !used.insert((e.node.clone(), e.iface.clone())) {
                return Err(LabError::Topology(format!(
                    "interface {}:{} is used by two links",
                    e.node, e.iface
                )));
            }
        }
        links.push(LinkPlan { a, b });
    }
    Ok(Plan {
        lab: topo.name.clone(),
        prefix,
        dir,
        nodes,
        links,
    })
}

fn linux_role(
    name: &str,
    def: &super::topology::NodeDef,
    binds: &[Bind],
    node_dir: &Path,
) -> Result<Role, LabError> {
    let node_err = |msg: String| LabError::Node {
        node: name.to_string(),
        msg,
    };
    let image = def.image.as_deref().unwrap_or_default();
    let role = match def.labels.get("podroute.role") {
        Some(r) => r.clone(),
        None if image.contains("podroute") => "podroute".into(),
        None if image.contains("frrouting/frr") || image.contains("/frr:") => "frr".into(),
        None if image.contains("bird") => "bird".into(),
        None => "host".into(),
    };
    let bound = |pred: &dyn Fn(&str) -> bool, what: &str| {
        binds
            .iter()
            .find(|b| pred(&b.target))
            .map(|b| b.host.clone())
            .ok_or_else(|| node_err(format!("no bind for {what}")))
    };
    Ok(match role.as_str() {
        "podroute" => {
            let source = bound(
                &|t| t == "/etc/podroute/podroute.toml",
                "/etc/podroute/podroute.toml",
            )?;
            let pods = match def.labels.get("podroute.pods") {
                Some(p) => p
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= 64)
                    .ok_or_else(|| node_err(format!("podroute.pods {p:?}: a number 0..=64")))?,
                None => 0,
            };
            let (toml, config) = agent_config(name, &source, &node_dir.join("control.sock"))?;
            if pods > 0 && config.node.pod_cidrs.is_empty() {
                return Err(node_err(
                    "pods need node.pod_cidrs in the agent config".into(),
                ));
            }
            let ip_masq = match def.labels.get("podroute.ipmasq").map(String::as_str) {
                None | Some("false") => None,
                Some("true") => Some(config.cluster.pod_pools.clone()),
                Some(other) => {
                    return Err(node_err(format!(
                        "podroute.ipmasq {other:?}: \"true\" or \"false\""
                    )));
                }
            };
            Role::Podroute {
                source,
                toml,
                pod_cidrs: config.node.pod_cidrs,
                pods,
                ip_masq,
            }
        }
        "frr" => Role::Frr {
            conf: bound(&|t| t == "/etc/frr/frr.conf", "/etc/frr/frr.conf")?,
        },
        "bird" => Role::Bird {
            conf: bound(&|t| t.ends_with("bird.conf"), "bird.conf")?,
        },
        "host" => Role::Host,
        other => {
            return Err(node_err(format!(
                "podroute.role {other:?}: one of podroute, frr, bird, host"
            )));
        }
    })
}

/// Reads the bound agent config and points its control socket into the
/// node's directory: every node's agent shares this machine's file system,
/// so the default socket path would collide.
fn agent_config(node: &str, path: &Path, socket: &Path) -> Result<(String, Config), LabError> {
    let err = |msg: String| LabError::AgentConfig {
        node: node.to_string(),
        path: path.to_path_buf(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    let control = table
        .entry("control")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(control) = control else {
        return Err(err("[control] is not a table".into()));
    };
    control.insert(
        "socket".into(),
        toml::Value::String(socket.to_string_lossy().into_owned()),
    );
    let out = toml::to_string(&table).map_err(|e| err(e.to_string()))?;
    let config = Config::from_toml(&out).map_err(|e| err(e.to_string()))?;
    Ok((out, config))
}

/// sysctls that are per network namespace: writing them inside a node
/// namespace cannot reach the machine (net.core.* and most others are
/// global or only partly namespaced).
const SYSCTL_ALLOWED: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv4.conf.",
    "net.ipv6.conf.",
    "net.ipv4.neigh.",
    "net.ipv6.neigh.",
    "net.ipv4.fib_multipath",
    "net.ipv6.fib_multipath",
];

/// `ip` words that would leave the node's namespace: `ip netns ...`,
/// `link set X netns N`, `-n NS`, batch files, `-all`.
const IP_REFUSED: &[&str] = &["netns", "-n", "-netns", "-b", "-batch", "-all", "-a"];

/// Splits and checks one exec line.
pub fn check_exec(node: &str, line: &str) -> Result<Vec<String>, LabError> {
    let refuse = |why: &str| LabError::ExecRefused {
        node: node.to_string(),
        line: line.to_string(),
        why: why.to_string(),
    };
    if line.chars().any(|c| {
        matches!(
            c,
            ';' | '|' | '&' | '$' | '`' | '>' | '<' | '"' | '\'' | '\\'
        )
    }) {
        return Err(refuse("shell syntax"));
    }
    let words: Vec<String> = line.split_whitespace().map(String::from).collect();
    match words.first().map(String::as_str) {
        Some("ip") => {
            if let Some(w) = words.iter().find(|w| IP_REFUSED.contains(&w.as_str())) {
                return Err(refuse(&format!("`{w}` reaches beyond the node namespace")));
            }
        }
        Some("sysctl") => {
            let settings: Vec<&String> =
                words[1..].iter().filter(|w| !w.starts_with('-')).collect();
            if settings.is_empty()
                || words[1..]
                    .iter()
                    .any(|w| w.starts_with('-') && w != "-w" && w != "-q" && w != "-qw")
            {
                return Err(refuse("sysctl takes -w/-q and key=value settings only"));
            }
            for s in settings {
                let Some((key, _)) = s.split_once('=') else {
                    return Err(refuse("sysctl settings are key=value"));
                };
                let key = key.replace('/', ".");
                if !SYSCTL_ALLOWED.iter().any(|p| key.starts_with(p)) {
                    return Err(refuse(&format!(
                        "{key} is not a per-namespace sysctl (allowed: {SYSCTL_ALLOWED:?})"
                    )));
                }
            }
        }
        _ => return Err(refuse("not an ip or sysctl command")),
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_stay_in_the_namespace() {
        assert!(check_exec("n", "ip addr add 192.0.2.1/24 dev eth1").is_ok());
        assert!(check_exec("n", "sysctl -w net.ipv4.ip_forward=1").is_ok());
        assert!(check_exec("n", "sysctl -w net.ipv6.conf.all.forwarding=1").is_ok());
        for bad in [
            "rm -rf /",
            "ip link set eth1 netns 1",
            "ip netns exec x sh",
            "ip -n other addr add 192.0.2.1/24 dev eth1",
            "ip -b /etc/x",
            "sysctl -w kernel.panic=1",
            "sysctl -w net.core.rmem_max=1",
            "sysctl -p",
            "ip addr add 192.0.2.1/24 dev eth1; reboot",
            "",
        ] {
            assert!(
                matches!(check_exec("n", bad), Err(LabError::ExecRefused { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn prefix_depends_on_state_dir() {
        let a = prefix("mesh3", Path::new("/run/podroute-lab/mesh3"));
        let b = prefix("mesh3", Path::new("/tmp/x/mesh3"));
        assert_ne!(a, b);
        assert!(a.starts_with("plab-mesh3-"));
    }
}
