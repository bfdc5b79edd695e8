//! The agent's TOML file in Kubernetes mode: how to reach the API server and the defaults the API objects do not give.
//!
//! The sections `[cluster]`, `[bgp]`, `[fib]` and `[control]` are the ones
//! of the plain config file; `[node]` is absent (the Node object says who
//! we are) and `[kubernetes]` is new.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{BgpConfig, ClusterConfig, ConfigError, ControlConfig, FibConfig};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub kubernetes: KubernetesSettings,
    /// Pod pools used when the BGPConfiguration names none.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Speaker defaults; `peers` here are added to every node's peers.
    #[serde(default)]
    pub bgp: BgpConfig,
    #[serde(default)]
    pub fib: FibConfig,
    #[serde(default)]
    pub control: ControlConfig,
}

/// `[kubernetes]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSettings {
    /// Plain `http://` URL of an API server (tests, `kubectl proxy`);
    /// default: in-cluster service account, else `KUBECONFIG`/`~/.kube/config`.
    #[serde(default)]
    pub api_server: Option<String>,
    /// A kubeconfig file to use instead of the in-cluster account.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// This node's name; default: the `NODE_NAME` environment variable
    /// (the DaemonSet sets it from `spec.nodeName`).
    #[serde(default)]
    pub node_name: Option<String>,
    /// Namespace of the Secrets that BGPPeers name; default: the
    /// `POD_NAMESPACE` environment variable, else `podroute-system`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The AS of nodes that neither a label, a rack nor the BGPConfiguration give one.
    #[serde(default)]
    pub asn: Option<u32>,
    /// Node-to-node mesh when the BGPConfiguration does not say.
    #[serde(default = "yes")]
    pub node_to_node_mesh: bool,
    /// Where the CNI conflist is written; `write_cni_conf = false` leaves it alone.
    #[serde(default = "default_cni_dir")]
    pub cni_conf_dir: PathBuf,
    #[serde(default = "default_cni_name")]
    pub cni_conf_name: String,
    #[serde(default = "yes")]
    pub write_cni_conf: bool,
    /// The file podroute-ipam reads the node's pod CIDRs from (`podCIDRFile`).
    #[serde(default = "default_pod_cidr_file")]
    pub pod_cidr_file: PathBuf,
    /// MTU of the pod interfaces written into the conflist; default: kernel's.
    #[serde(default)]
    pub mtu: Option<u16>,
    /// Masquerade pod traffic leaving the pod pools.
    #[serde(default = "yes")]
    pub ip_masq: bool,
    /// Prometheus `/metrics` listener; none by default.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// podroute-ipam's store of the conflist's network, for the
    /// addresses-in-use metric.
    #[serde(default = "default_ipam_dir")]
    pub ipam_dir: PathBuf,
    /// How long API changes are collected before one configuration is
    /// pushed (a rolling node replacement otherwise costs one apply per object).
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    /// Seconds between writes of this node's BGPNodeStatus; 0: never.
    #[serde(default = "default_status_interval")]
    pub status_interval: u64,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        KubernetesSettings {
            api_server: None,
            kubeconfig: None,
            node_name: None,
            namespace: None,
            asn: None,
            node_to_node_mesh: true,
            cni_conf_dir: default_cni_dir(),
            cni_conf_name: default_cni_name(),
            write_cni_conf: true,
            pod_cidr_file: default_pod_cidr_file(),
            mtu: None,
            ip_masq: true,
            metrics_listen: None,
            ipam_dir: default_ipam_dir(),
            debounce_ms: default_debounce(),
            status_interval: default_status_interval(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_cni_dir() -> PathBuf {
    PathBuf::from("/etc/cni/net.d")
}

fn default_cni_name() -> String {
    "10-podroute.conflist".into()
}

fn default_pod_cidr_file() -> PathBuf {
    PathBuf::from("/run/podroute/pod-cidrs")
}

fn default_ipam_dir() -> PathBuf {
    Path::new(crate::ipam::config::DEFAULT_DATA_DIR).join("podroute")
}

fn default_debounce() -> u64 {
    200
}

fn default_status_interval() -> u64 {
    10
}

impl Settings {
    /// Reads a Kubernetes-mode file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Settings::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// Parses Kubernetes-mode TOML.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let de =
            toml::Deserializer::parse(text).map_err(|e| ConfigError::from_toml(text, "", e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::from_toml(text, &key, e.into_inner())
        })
    }

    /// The node name: the file's, else `NODE_NAME`.
    pub fn node_name(&self) -> Option<String> {
        self.kubernetes
            .node_name
            .clone()
            .or_else(|| std::env::var("NODE_NAME").ok())
            .filter(|n| !n.is_empty())
    }

    /// The namespace of referenced Secrets.
    pub fn namespace(&self) -> String {
        self.kubernetes
            .namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "podroute-system".into())
    }
}
