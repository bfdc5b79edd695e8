//! The podroute custom resources: BGPPeer, BGPConfiguration and BGPNodeStatus (group `podroute.io`, version `v1alpha1`).
//!
//! All three are cluster-scoped, like Calico's: peers and the BGP
//! configuration describe the cluster's fabric, not a namespace's.
//! Field values are checked by the translation (so a bad object gets an
//! Event naming it), not by the schema alone.

// kube's `printcolumn(...)` repeats `type_ =`, which this lint mistakes for a duplicate.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of every podroute resource.
pub const GROUP: &str = "podroute.io";

/// A BGP neighbour outside the node-to-node mesh (a ToR, a route
/// reflector, another cluster), for the nodes its selector picks.
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[kube(
    group = "podroute.io",
    version = "v1alpha1",
    kind = "BGPPeer",
    plural = "bgppeers",
    shortname = "bgpp",
    doc = "A BGP neighbour of the nodes its selector picks",
    printcolumn(name = "Peer", type_ = "string", json_path = ".spec.peerAddress"),
    printcolumn(name = "AS", type_ = "integer", json_path = ".spec.asn"),
    printcolumn(name = "Node", type_ = "string", json_path = ".spec.node")
)]
#[serde(rename_all = "camelCase")]
pub struct BGPPeerSpec {
    /// The neighbour's address (IPv4 or IPv6). Leave empty together with
    /// `peerSelector` to peer with the selected nodes instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_address: Option<String>,
    /// The neighbour's AS; with `peerSelector`, the selected nodes' own AS
    /// is used when this is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// TCP port of the neighbour (default 179).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Only this node peers (by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Only the nodes whose labels match peer; no `node` and no selector:
    /// every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// Peer with every node whose labels match (e.g. the route reflectors),
    /// at its peering address, instead of `peerAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_selector: Option<LabelSelector>,
    /// TCP-MD5 key (RFC 2385) from a Secret in the agent's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// This node reflects routes to the neighbour (RFC 4456); iBGP only.
    #[serde(default)]
    pub route_reflector_client: bool,
    /// Hold time in seconds (0, or at least 3); default from the agent config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    /// Graceful restart (RFC 4724) with this neighbour; default on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<bool>,
    /// Most prefixes accepted; one more closes the session (RFC 4486).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prefixes: Option<u32>,
    /// Never connect; wait for the neighbour to.
    #[serde(default)]
    pub passive: bool,
    /// Set NEXT_HOP to this node's address on every route sent.
    #[serde(default)]
    pub next_hop_self: bool,
    /// Times this node's AS may appear in a received AS_PATH (AS-per-rack).
    #[serde(default)]
    pub allow_own_as: u8,
    /// GTSM (RFC 5082) hop count for an eBGP neighbour, 1-254.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_security: Option<u8>,
}

/// A key of a Secret in the agent's own namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

/// Name of the one BGPConfiguration the agents read.
pub const CONFIGURATION_NAME: &str = "default";

/// Cluster-wide BGP settings; only the object named `default` is read.
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[kube(
    group = "podroute.io",
    version = "v1alpha1",
    kind = "BGPConfiguration",
    plural = "bgpconfigurations",
    shortname = "bgpconfig",
    doc = "Cluster-wide BGP settings of podroute; only the object named default is read",
    printcolumn(name = "AS", type_ = "integer", json_path = ".spec.asn"),
    printcolumn(name = "Mesh", type_ = "boolean", json_path = ".spec.nodeToNodeMesh")
)]
#[serde(rename_all = "camelCase")]
pub struct BGPConfigurationSpec {
    /// The AS of nodes without an AS label or rack mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Every node peers with every other (iBGP full mesh); turn off with
    /// route reflectors or ToR peering. Default from the agent config (on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_to_node_mesh: Option<bool>,
    /// Route reflector cluster ID (RFC 4456 §7); default: each node's router ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reflector_cluster_id: Option<String>,
    /// The cluster's pod address space: routes inside it are imported.
    /// Empty: the agent config's pools, else every node's podCIDRs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_pools: Vec<String>,
    /// Advertise each node's pod CIDRs (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_pod_cidrs: Option<bool>,
    /// The node label naming a node's rack (default `podroute.io/rack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack_label: Option<String>,
    /// AS per rack: rack name (the value of the rack label) to AS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rack_asns: BTreeMap<String, u32>,
}

/// One node's BGP sessions as the agent on it sees them; named after the
/// node. The agent writes only its status.
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[kube(
    group = "podroute.io",
    version = "v1alpha1",
    kind = "BGPNodeStatus",
    plural = "bgpnodestatuses",
    shortname = "bgpstatus",
    status = "BGPNodeStatusStatus",
    doc = "BGP sessions of one node, reported by the podroute agent on it",
    printcolumn(
        name = "Established",
        type_ = "integer",
        json_path = ".status.established"
    ),
    printcolumn(name = "Peers", type_ = "integer", json_path = ".status.peerCount"),
    printcolumn(name = "Updated", type_ = "date", json_path = ".status.lastUpdated")
)]
#[serde(rename_all = "camelCase")]
pub struct BGPNodeStatusSpec {
    /// The node this status is about (the object's name, repeated for selectors).
    #[serde(default)]
    pub node: String,
}

/// What the agent reports.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPNodeStatusStatus {
    pub established: u32,
    pub peer_count: u32,
    /// RFC 3339 time of the last report.
    #[serde(default)]
    pub last_updated: String,
    #[serde(default)]
    pub peers: Vec<PeerStatus>,
}

/// One session in [`BGPNodeStatusStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    pub address: String,
    pub asn: u32,
    /// RFC 4271 §8.2.2 state name.
    pub state: String,
    pub uptime_seconds: u64,
    pub prefixes_received: u64,
    pub prefixes_accepted: u64,
    pub prefixes_advertised: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The CustomResourceDefinitions, as one multi-document YAML file.
pub fn yaml() -> Result<String, serde_yaml_ng::Error> {
    use kube::CustomResourceExt;
    let mut out = String::from(
        "# Generated by `podroute crds`; a test checks that this file matches the Rust types.\n",
    );
    for crd in [
        BGPPeer::crd(),
        BGPConfiguration::crd(),
        BGPNodeStatus::crd(),
    ] {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}
