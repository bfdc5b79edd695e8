//! podroute-ipam configuration: host-local's `ranges`/`routes`/`dataDir`, plus `podCIDRFile`.

use crate::cni::error::{CniError, ErrorCode};
use crate::cni::result::Route;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

/// Default parent of the per-network store directories.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/podroute-ipam";

/// One range as written in the config (host-local's `ranges[][]` entry).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeConf {
    /// Subnet the addresses belong to; its prefix length goes into the result.
    pub subnet: IpNet,
    /// First allocatable address (default: subnet's first host).
    #[serde(default)]
    pub range_start: Option<IpAddr>,
    /// Last allocatable address (default: subnet's last host).
    #[serde(default)]
    pub range_end: Option<IpAddr>,
    /// Gateway (default: subnet's first host); never allocated.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

/// The `ipam` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpamConf {
    /// Plugin type (`podroute-ipam`).
    #[serde(rename = "type")]
    pub plugin_type: String,
    /// Range sets: one address is allocated from each set (dual stack = two sets).
    #[serde(default)]
    pub ranges: Vec<Vec<RangeConf>>,
    /// host-local's legacy single-range form.
    #[serde(default)]
    pub subnet: Option<IpNet>,
    /// Legacy form's start.
    #[serde(default)]
    pub range_start: Option<IpAddr>,
    /// Legacy form's end.
    #[serde(default)]
    pub range_end: Option<IpAddr>,
    /// Legacy form's gateway.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// Routes handed to the main plugin.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Parent of the store directory (the network name is appended).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// File the agent writes with this node's pod CIDR(s), one per line; used
    /// when `ranges` is empty so one config serves every node.
    #[serde(default, rename = "podCIDRFile")]
    pub pod_cidr_file: Option<PathBuf>,
    /// DNS section passed through to the result.
    #[serde(default)]
    pub dns: Option<serde_json::Value>,
}

/// The config as the plugin receives it: we only need `name` and `ipam`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NetConf {
    /// Network name.
    pub name: String,
    /// IPAM section.
    pub ipam: IpamConf,
}

fn bad(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

impl IpamConf {
    /// The range sets to allocate from, resolving the legacy form and `podCIDRFile`.
    pub fn range_sets(&self) -> Result<Vec<Vec<RangeConf>>, CniError> {
        if !self.ranges.is_empty() {
            if self.subnet.is_some() {
                return Err(bad("ipam: give either `ranges` or `subnet`, not both"));
            }
            return Ok(self.ranges.clone());
        }
        if let Some(subnet) = self.subnet {
            return Ok(vec![vec![RangeConf {
                subnet,
                range_start: self.range_start,
                range_end: self.range_end,
                gateway: self.gateway,
            }]]);
        }
        if let Some(path) = &self.pod_cidr_file {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                // The agent has not written the node's pod CIDR yet.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(CniError::with_details(
                        ErrorCode::TryAgainLater,
                        "pod CIDR file not written yet",
                        path.display().to_string(),
                    ));
                }
                Err(e) => {
                    return Err(CniError::with_details(
                        ErrorCode::IoFailure,
                        format!("cannot read {}", path.display()),
                        e.to_string(),
                    ));
                }
            };
            let mut sets = Vec::new();
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let subnet: IpNet = line
                    .parse()
                    .map_err(|_| bad(format!("invalid CIDR {line:?} in {}", path.display())))?;
                sets.push(vec![RangeConf {
                    subnet,
                    range_start: None,
                    range_end: None,
                    gateway: None,
                }]);
            }
            if sets.is_empty() {
                return Err(CniError::with_details(
                    ErrorCode::TryAgainLater,
                    "pod CIDR file is empty",
                    path.display().to_string(),
                ));
            }
            return Ok(sets);
        }
        Err(bad("ipam: no `ranges`, `subnet` or `podCIDRFile`"))
    }

    /// The directory holding this network's allocations.
    pub fn store_dir(&self, network: &str) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
            .join(network)
    }
}
