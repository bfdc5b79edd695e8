//! podroute-bridge configuration keys and their defaults.

use super::config::decode;
use super::env::valid_ifname;
use super::error::{CniError, ErrorCode};
use ipnet::IpNet;
use serde::Deserialize;
use std::path::PathBuf;

/// Bridge name used when the config gives none.
pub const DEFAULT_BRIDGE: &str = "podroute0";
/// Where masquerade bookkeeping lives; under /run because nftables rules, like it, do not survive a reboot.
pub const DEFAULT_STATE_DIR: &str = "/run/podroute/bridge";

/// The plugin-specific keys of a podroute-bridge config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BridgeConf {
    /// Network name.
    pub name: String,
    /// Bridge device name.
    #[serde(default = "default_bridge")]
    pub bridge: String,
    /// MTU of bridge and veth pair (kernel default when absent).
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Put the bridge into promiscuous mode.
    #[serde(default)]
    pub promisc_mode: bool,
    /// Give the bridge the gateway address of every IPAM subnet.
    #[serde(default)]
    pub is_gateway: bool,
    /// Add a default route via the gateway in the pod (implies isGateway).
    #[serde(default)]
    pub is_default_gateway: bool,
    /// Replace another address of the same subnet on the bridge instead of failing.
    #[serde(default)]
    pub force_address: bool,
    /// Let traffic leave a bridge port and return through the same port.
    #[serde(default)]
    pub hairpin_mode: bool,
    /// Masquerade pod traffic leaving the network and the cluster pools.
    #[serde(default)]
    pub ip_masq: bool,
    /// Cluster-wide pod pools: destinations in them are never masqueraded.
    #[serde(default, rename = "clusterCIDRs")]
    pub cluster_cidrs: Vec<IpNet>,
    /// Directory for masquerade bookkeeping.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// The IPAM section; its `type` names the delegate.
    #[serde(default)]
    pub ipam: Option<IpamRef>,
}

/// Just the IPAM type: the rest belongs to the IPAM plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IpamRef {
    /// Delegate binary name.
    #[serde(rename = "type")]
    pub plugin_type: String,
}

fn default_bridge() -> String {
    DEFAULT_BRIDGE.to_string()
}

impl BridgeConf {
    /// Parses and validates.
    pub fn parse(stdin: &[u8]) -> Result<BridgeConf, CniError> {
        let mut c: BridgeConf = decode(stdin)?;
        let bad = |m: String| CniError::new(ErrorCode::InvalidNetworkConfig, m);
        if !valid_ifname(&c.bridge) {
            return Err(bad(format!("invalid bridge name {:?}", c.bridge)));
        }
        if let Some(mtu) = c.mtu
            && !(68..=65535).contains(&mtu)
        {
            return Err(bad(format!("mtu {mtu} out of range 68-65535")));
        }
        if c.is_default_gateway {
            c.is_gateway = true;
        }
        Ok(c)
    }

    /// The IPAM delegate's name; a bridge without IPAM has nothing to assign.
    pub fn ipam_type(&self) -> Result<&str, CniError> {
        self.ipam
            .as_ref()
            .map(|i| i.plugin_type.as_str())
            .ok_or_else(|| CniError::new(ErrorCode::InvalidNetworkConfig, "missing ipam section"))
    }
}
