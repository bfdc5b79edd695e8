//! The agent's configuration: the TOML file format, its defaults and its validation.
//!
//! The same structures are what Kubernetes mode will fill from the API
//! server, so nothing here knows about files except [`Config::from_toml`].

mod error;
mod values;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

pub use error::ConfigError;
pub use values::{
    ConnectRetry, HoldTime, Hops, MaxPrefixes, Password, Percent, PrefixLen, RestartTime,
    RouteTable,
};

use crate::bgp::Asn;

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub bgp: BgpConfig,
    #[serde(default)]
    pub fib: FibConfig,
    #[serde(default)]
    pub control: ControlConfig,
}

/// `[node]`: who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name, for logs and (later) Kubernetes.
    pub name: String,
    /// BGP Identifier; must be non-zero (RFC 6286 §2.1).
    pub router_id: Ipv4Addr,
    /// The node's AS.
    #[serde(deserialize_with = "values::asn")]
    pub asn: Asn,
    /// The node's own pod prefixes, advertised to every peer.
    #[serde(default)]
    pub pod_cidrs: Vec<IpNet>,
}

/// `[cluster]`: facts about the whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's whole pod address space; by default only routes inside
    /// it are imported.
    #[serde(default)]
    pub pod_pools: Vec<IpNet>,
}

/// `[bgp]`: the speaker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpConfig {
    /// Addresses to accept sessions on; empty means accept none.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    #[serde(default)]
    pub hold_time: HoldTime,
    #[serde(default)]
    pub connect_retry: ConnectRetry,
    /// Graceful restart (RFC 4724) in both roles: keep forwarding through a
    /// restart of this agent, and keep a restarting peer's routes as stale.
    #[serde(default = "default_true")]
    pub graceful_restart: bool,
    /// Seconds a peer may take to come back after a restart of ours
    /// (the Restart Time we advertise, at most 4095).
    #[serde(default)]
    pub restart_time: RestartTime,
    /// Route reflector cluster ID (RFC 4456 §7); defaults to the router ID.
    #[serde(default)]
    pub cluster_id: Option<Ipv4Addr>,
    /// Import filters, first match wins; when empty, routes inside
    /// `cluster.pod_pools` are accepted and everything else refused.
    #[serde(default)]
    pub import: Vec<PrefixFilter>,
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

impl Default for BgpConfig {
    fn default() -> Self {
        BgpConfig {
            listen: default_listen(),
            hold_time: HoldTime::default(),
            connect_retry: ConnectRetry::default(),
            graceful_restart: true,
            restart_time: RestartTime::default(),
            cluster_id: None,
            import: Vec::new(),
            peers: Vec::new(),
        }
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 179)),
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 179)),
    ]
}

/// What an import filter does with a matching route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    #[default]
    Accept,
    Reject,
}

/// `[[bgp.import]]`: matches prefixes inside `prefix` whose length is
/// within `ge..=le` (both default to the prefix's own length, like
/// BIRD's `prefix{ge,le}` and FRR's prefix lists).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixFilter {
    pub prefix: IpNet,
    #[serde(default)]
    pub ge: Option<PrefixLen>,
    #[serde(default)]
    pub le: Option<PrefixLen>,
    #[serde(default)]
    pub action: FilterAction,
}

impl PrefixFilter {
    /// The prefix lengths this filter matches.
    pub fn lengths(&self) -> std::ops::RangeInclusive<u8> {
        let own = self.prefix.prefix_len();
        let ge = self.ge.map_or(own, |l| l.0);
        let le = self.le.map_or(
            if self.ge.is_some() {
                self.prefix.max_prefix_len()
            } else {
                ge
            },
            |l| l.0,
        );
        ge..=le
    }

    /// Whether `candidate` matches.
    pub fn matches(&self, candidate: &IpNet) -> bool {
        self.prefix.contains(candidate) && self.lengths().contains(&candidate.prefix_len())
    }
}

/// `[[bgp.peers]]`: one BGP neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub address: IpAddr,
    #[serde(deserialize_with = "values::asn")]
    pub asn: Asn,
    /// TCP port of the peer (tests and labs run several speakers per host).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Source address for the session; default: chosen by the kernel.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
    #[serde(default)]
    pub route_reflector_client: bool,
    /// Never connect; wait for the peer to.
    #[serde(default)]
    pub passive: bool,
    /// Set NEXT_HOP to our own address also on reflected and iBGP routes.
    #[serde(default)]
    pub next_hop_self: bool,
    /// Overrides `[bgp] hold_time` for this peer.
    #[serde(default)]
    pub hold_time: Option<HoldTime>,
    /// How many times our own AS may appear in a received AS_PATH before
    /// the route is a loop (AS-per-rack designs reuse one AS).
    #[serde(default)]
    pub allow_own_as: u8,
    /// TCP-MD5 key (RFC 2385), 1 to 80 octets.
    #[serde(default)]
    pub password: Option<Password>,
    /// Most prefixes accepted from this peer; one more and the session is
    /// closed with Cease/Maximum Number of Prefixes Reached (RFC 4486).
    #[serde(default)]
    pub max_prefixes: Option<MaxPrefixes>,
    /// Percent of `max_prefixes` at which a warning is logged and counted.
    #[serde(default = "default_warning")]
    pub max_prefixes_warning: Percent,
    /// Seconds before a peer closed for too many prefixes is tried again;
    /// 0: only a reload brings it back.
    #[serde(default = "default_max_prefix_restart")]
    pub max_prefixes_restart: u32,
    /// GTSM (RFC 5082) for an eBGP peer this many hops away (1: directly
    /// connected): send with TTL 255, drop what arrives below 256 - hops.
    #[serde(default)]
    pub ttl_security: Option<Hops>,
    /// Overrides `[bgp] graceful_restart` for this peer.
    #[serde(default)]
    pub graceful_restart: Option<bool>,
}

impl PeerConfig {
    /// A peer with every optional setting at its default, as a config file
    /// with only `address` and `asn` would give.
    pub fn new(address: IpAddr, asn: Asn) -> PeerConfig {
        PeerConfig {
            address,
            asn,
            port: default_port(),
            local_address: None,
            route_reflector_client: false,
            passive: false,
            next_hop_self: false,
            hold_time: None,
            allow_own_as: 0,
            password: None,
            max_prefixes: None,
            max_prefixes_warning: default_warning(),
            max_prefixes_restart: default_max_prefix_restart(),
            ttl_security: None,
            graceful_restart: None,
        }
    }
}

fn default_port() -> u16 {
    179
}

fn default_warning() -> Percent {
    Percent(90)
}

fn default_max_prefix_restart() -> u32 {
    60
}

/// `[fib]`: how learned routes reach the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FibConfig {
    #[serde(default)]
    pub table: RouteTable,
    /// Install equal-cost paths as one multipath route.
    #[serde(default = "default_true")]
    pub ecmp: bool,
}

impl Default for FibConfig {
    fn default() -> Self {
        FibConfig {
            table: RouteTable::default(),
            ecmp: true,
        }
    }
}

fn default_true() -> bool {
    true
}

/// `[control]`: the local socket `podroute show` talks to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: default_socket(),
        }
    }
}

/// Where `podroute agent` and `podroute show` meet by default.
pub const DEFAULT_SOCKET: &str = "/run/podroute/podroute.sock";

fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SOCKET)
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let de =
            toml::Deserializer::parse(text).map_err(|e| ConfigError::from_toml(text, "", e))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::from_toml(text, &key, e.into_inner())
        })?;
        config
            .validate()
            .map_err(|(key, reason)| ConfigError::at_key(text, &key, reason))?;
        Ok(config)
    }

    /// Checks that span several keys; single values check themselves while
    /// deserializing (see `values.rs`). Returns the offending key path.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.node.router_id.is_unspecified() {
            return Err((
                "node.router_id".into(),
                "must not be 0.0.0.0 (RFC 6286 §2.1)".into(),
            ));
        }
        for (i, cidr) in self.node.pod_cidrs.iter().enumerate() {
            let key = format!("node.pod_cidrs[{i}]");
            if cidr.trunc() != *cidr {
                return Err((
                    key,
                    format!("{cidr} has host bits set; did you mean {}?", cidr.trunc()),
                ));
            }
            if !self.cluster.pod_pools.is_empty()
                && !self
                    .cluster
                    .pod_pools
                    .iter()
                    .any(|pool| pool.contains(cidr))
            {
                return Err((
                    key,
                    format!("{cidr} is not inside any of cluster.pod_pools"),
                ));
            }
        }
        for (i, pool) in self.cluster.pod_pools.iter().enumerate() {
            if pool.trunc() != *pool {
                return Err((
                    format!("cluster.pod_pools[{i}]"),
                    format!("{pool} has host bits set; did you mean {}?", pool.trunc()),
                ));
            }
        }
        for (i, f) in self.bgp.import.iter().enumerate() {
            let own = f.prefix.prefix_len();
            let max = f.prefix.max_prefix_len();
            let check = |field: &str, len: Option<PrefixLen>| match len {
                Some(PrefixLen(l)) if l < own || l > max => Err((
                    format!("bgp.import[{i}].{field}"),
                    format!("{l} must be between the prefix length {own} and {max}"),
                )),
                _ => Ok(()),
            };
            check("ge", f.ge)?;
            check("le", f.le)?;
            if let (Some(ge), Some(le)) = (f.ge, f.le)
                && ge.0 > le.0
            {
                return Err((
                    format!("bgp.import[{i}].le"),
                    format!("le {} is below ge {}", le.0, ge.0),
                ));
            }
        }
        let mut seen = HashSet::new();
        for (i, p) in self.bgp.peers.iter().enumerate() {
            if p.address.is_unspecified() || p.address.is_multicast() {
                return Err((
                    format!("bgp.peers[{i}].address"),
                    format!("{} is not a unicast address", p.address),
                ));
            }
            if !seen.insert(p.address) {
                return Err((
                    format!("bgp.peers[{i}].address"),
                    format!("{} is configured twice", p.address),
                ));
            }
            if p.ttl_security.is_some() && p.passive {
                return Err((
                    format!("bgp.peers[{i}].ttl_security"),
                    "GTSM needs podroute to open the connection (every segment is then filtered); it cannot be passive".into(),
                ));
            }
            if p.ttl_security.is_some() && p.asn == self.node.asn {
                return Err((
                    format!("bgp.peers[{i}].ttl_security"),
                    "GTSM (RFC 5082) is for eBGP peers; this peer is in our AS".into(),
                ));
            }
            if p.route_reflector_client && p.asn != self.node.asn {
                return Err((
                    format!("bgp.peers[{i}].route_reflector_client"),
                    "route reflection is for iBGP peers (RFC 4456); this peer is in another AS"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// The route reflector cluster ID in effect (RFC 4456 §7: the router ID by default).
    pub fn cluster_id(&self) -> Ipv4Addr {
        self.bgp.cluster_id.unwrap_or(self.node.router_id)
    }

    /// The hold time for one peer: its own or the `[bgp]` default.
    pub fn hold_time(&self, peer: &PeerConfig) -> HoldTime {
        peer.hold_time.unwrap_or(self.bgp.hold_time)
    }

    /// Whether the import policy accepts `prefix`: the node's own pod CIDRs
    /// never (the node is their origin), then the first matching filter,
    /// and without filters anything inside the pod pools.
    pub fn import_accepts(&self, prefix: &IpNet) -> bool {
        if self.node.pod_cidrs.iter().any(|own| own.contains(prefix)) {
            return false;
        }
        if self.bgp.import.is_empty() {
            return self
                .cluster
                .pod_pools
                .iter()
                .any(|pool| pool.contains(prefix));
        }
        self.bgp
            .import
            .iter()
            .find(|f| f.matches(prefix))
            .is_some_and(|f| f.action == FilterAction::Accept)
    }
}

#[cfg(test)]
mod tests;
