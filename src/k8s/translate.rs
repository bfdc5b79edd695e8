//! The pure translation from API objects (Nodes, BGPPeers, the BGPConfiguration, Secrets) and the file's defaults to one agent `Config`.
//!
//! Nothing here talks to the API server, so every rule is unit-tested. A
//! bad object never stops the translation: it is left out (or the part
//! of it that is bad is) and reported as an [`ObjectError`] naming it,
//! which the watcher turns into an Event and a log line.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Secret};
use kube::Resource;

use super::crd::{BGPConfiguration, BGPPeer, CONFIGURATION_NAME};
use super::node::{self, AsnPolicy, parse_asn};
use super::selector;
use super::settings::Settings;
use crate::config::{
    ClusterConfig, Config, HoldTime, Hops, MaxPrefixes, NodeConfig, Password, PeerConfig,
};

/// Everything the translation reads.
pub struct Inputs<'a> {
    pub settings: &'a Settings,
    pub node_name: &'a str,
    pub nodes: &'a [Node],
    pub peers: &'a [BGPPeer],
    pub configurations: &'a [BGPConfiguration],
    /// Secrets of the agent's namespace.
    pub secrets: &'a [Secret],
}

/// An object that is wrong, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectError {
    pub object: ObjectReference,
    pub message: String,
}

impl ObjectError {
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K, message: impl Into<String>) -> ObjectError {
        ObjectError {
            object: obj.object_ref(&()),
            message: message.into(),
        }
    }

    /// `Kind/name`, for logs.
    pub fn target(&self) -> String {
        format!(
            "{}/{}",
            self.object.kind.as_deref().unwrap_or("?"),
            self.object.name.as_deref().unwrap_or("?")
        )
    }
}

/// The result of one translation.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub outcome: Outcome,
    pub errors: Vec<ObjectError>,
}

/// A configuration to run, or why there is none yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ready(Box<Ready>),
    /// The own node is not usable yet (not created, no address, no pod CIDR).
    Waiting(String),
}

/// A configuration and what the CNI config needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub config: Config,
    /// The node's pod CIDRs (also when they are not advertised).
    pub pod_cidrs: Vec<IpNet>,
}

/// Where a peer came from, for blaming it when the whole config is refused.
#[derive(Clone)]
enum Source {
    File,
    Mesh(ObjectReference),
    Peer(ObjectReference),
}

/// The cluster-wide settings after reading the BGPConfiguration.
struct Cluster {
    policy: AsnPolicy,
    mesh: bool,
    cluster_id: Option<Ipv4Addr>,
    pools: Vec<IpNet>,
    advertise: bool,
}

fn cluster(inputs: &Inputs, errors: &mut Vec<ObjectError>) -> Cluster {
    let k = &inputs.settings.kubernetes;
    let mut c = Cluster {
        policy: AsnPolicy::default(),
        mesh: k.node_to_node_mesh,
        cluster_id: None,
        pools: inputs.settings.cluster.pod_pools.clone(),
        advertise: true,
    };
    if let Some(n) = k.asn {
        match parse_asn(n) {
            Ok(a) => c.policy.default = Some(a),
            Err(e) => tracing::error!(error = %e, "kubernetes.asn in the agent config"),
        }
    }
    let Some(bc) = inputs
        .configurations
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(CONFIGURATION_NAME))
    else {
        return c;
    };
    let mut bad = |m: String| errors.push(ObjectError::of(bc, m));
    let s = &bc.spec;
    if let Some(n) = s.asn {
        match parse_asn(n) {
            Ok(a) => c.policy.default = Some(a),
            Err(e) => bad(format!("asn: {e}")),
        }
    }
    if let Some(m) = s.node_to_node_mesh {
        c.mesh = m;
    }
    if let Some(id) = &s.route_reflector_cluster_id {
        match id.parse::<Ipv4Addr>() {
            Ok(a) => c.cluster_id = Some(a),
            Err(_) => bad(format!(
                "routeReflectorClusterId {id:?} is not a dotted-quad (RFC 4456 §7: 4 octets)"
            )),
        }
    }
    let mut pools = Vec::new();
    for p in &s.pod_pools {
        match p.parse::<IpNet>() {
            Ok(net) if net.trunc() == net => pools.push(net),
            Ok(net) => bad(format!(
                "podPools: {p} has host bits set; did you mean {}?",
                net.trunc()
            )),
            Err(_) => bad(format!("podPools: {p:?} is not a CIDR")),
        }
    }
    if !pools.is_empty() {
        c.pools = pools;
    }
    if let Some(a) = s.advertise_pod_cidrs {
        c.advertise = a;
    }
    c.policy.rack_label = s.rack_label.clone();
    for (rack, n) in &s.rack_asns {
        match parse_asn(*n) {
            Ok(a) => {
                c.policy.rack_asns.insert(rack.clone(), a);
            }
            Err(e) => bad(format!("rackAsns[{rack}]: {e}")),
        }
    }
    c
}

/// The whole translation.
pub fn translate(inputs: &Inputs) -> Translation {
    let mut errors = Vec::new();
    let c = cluster(inputs, &mut errors);
    let outcome = match own_node(inputs, &c, &mut errors) {
        Err(why) => Outcome::Waiting(why),
        Ok((node_cfg, own_labels, own_ref)) => {
            build(inputs, &c, node_cfg, &own_labels, own_ref, &mut errors)
        }
    };
    Translation { outcome, errors }
}

type OwnNode = (NodeConfig, BTreeMap<String, String>, ObjectReference);

fn own_node(
    inputs: &Inputs,
    c: &Cluster,
    errors: &mut Vec<ObjectError>,
) -> Result<OwnNode, String> {
    let Some(me) = inputs
        .nodes
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(inputs.node_name))
    else {
        return Err(format!("Node {} does not exist (yet)", inputs.node_name));
    };
    let mut fail = |m: String| {
        errors.push(ObjectError::of(me, m.clone()));
        m
    };
    let pod_cidrs = node::pod_cidrs(me).map_err(&mut fail)?;
    if pod_cidrs.is_empty() {
        return Err(format!(
            "Node {} has no podCIDR yet (assigned by the controller manager's --allocate-node-cidrs)",
            inputs.node_name
        ));
    }
    let router_id = match node::router_id(me) {
        Ok(id) => id,
        // No address at all yet: the kubelet has not reported; just wait.
        Err(e) if node::peering_address(me).is_err() && !e.contains(node::ROUTER_ID) => {
            return Err(e);
        }
        Err(e) => return Err(fail(e)),
    };
    let asn = node::asn(me, &c.policy).map_err(&mut fail)?;
    Ok((
        NodeConfig {
            name: inputs.node_name.to_string(),
            router_id,
            asn,
            pod_cidrs,
        },
        node::labels(me),
        me.object_ref(&()),
    ))
}

fn build(
    inputs: &Inputs,
    c: &Cluster,
    node_cfg: NodeConfig,
    own_labels: &BTreeMap<String, String>,
    own_ref: ObjectReference,
    errors: &mut Vec<ObjectError>,
) -> Outcome {
    let s = inputs.settings;
    // Precedence for one address: a BGPPeer, then the file, then the mesh.
    let mut peers: BTreeMap<IpAddr, (PeerConfig, Source)> = BTreeMap::new();
    if c.mesh {
        let (mesh, errs) = super::mesh::peers(inputs.node_name, inputs.nodes, &c.policy);
        errors.extend(errs);
        for p in mesh {
            let src = inputs
                .nodes
                .iter()
                .find(|n| node::peering_address(n).ok() == Some(p.address))
                .map(|n| Source::Mesh(n.object_ref(&())))
                .unwrap_or(Source::File);
            peers.insert(p.address, (p, src));
        }
    }
    for p in &s.bgp.peers {
        peers.insert(p.address, (p.clone(), Source::File));
    }
    let mut sorted: Vec<&BGPPeer> = inputs.peers.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut from_crd: HashMap<IpAddr, String> = HashMap::new();
    for bp in sorted {
        let name = bp.metadata.name.clone().unwrap_or_default();
        match bgp_peer(inputs, bp, &node_cfg, own_labels, c) {
            Err(e) => errors.push(ObjectError::of(bp, e)),
            Ok(list) => {
                for p in list {
                    if let Some(other) = from_crd.get(&p.address) {
                        errors.push(ObjectError::of(
                            bp,
                            format!(
                                "peer {} is already configured by BGPPeer {other}; this one is ignored for it",
                                p.address
                            ),
                        ));
                        continue;
                    }
                    from_crd.insert(p.address, name.clone());
                    peers.insert(p.address, (p, Source::Peer(bp.object_ref(&()))));
                }
            }
        }
    }
    let pools = if c.pools.is_empty() {
        every_pod_cidr(inputs.nodes)
    } else {
        c.pools.clone()
    };
    let pod_cidrs = node_cfg.pod_cidrs.clone();
    let mut node_cfg = node_cfg;
    if !c.advertise {
        node_cfg.pod_cidrs.clear();
    }
    let mut bgp = s.bgp.clone();
    if c.cluster_id.is_some() {
        bgp.cluster_id = c.cluster_id;
    }
    let mut entries: Vec<(PeerConfig, Source)> = peers.into_values().collect();
    loop {
        bgp.peers = entries.iter().map(|(p, _)| p.clone()).collect();
        let config = Config {
            node: node_cfg.clone(),
            cluster: ClusterConfig {
                pod_pools: pools.clone(),
            },
            bgp: bgp.clone(),
            fib: s.fib.clone(),
            control: s.control.clone(),
        };
        let Err((key, reason)) = config.validate() else {
            return Outcome::Ready(Box::new(Ready { config, pod_cidrs }));
        };
        // A peer the whole config refuses is dropped and blamed; anything
        // else is about this node or the file.
        if let Some(i) = peer_index(&key) {
            let (p, src) = entries.remove(i);
            let msg = format!("peer {}: {reason}", p.address);
            match src {
                Source::Peer(r) | Source::Mesh(r) => errors.push(ObjectError {
                    object: r,
                    message: msg,
                }),
                Source::File => {
                    tracing::error!(key, reason, "a peer of the agent config is refused")
                }
            }
            continue;
        }
        let msg = format!("{key}: {reason}");
        errors.push(ObjectError {
            object: own_ref,
            message: msg.clone(),
        });
        return Outcome::Waiting(msg);
    }
}

/// `bgp.peers[3].asn` → 3.
fn peer_index(key: &str) -> Option<usize> {
    let rest = key.strip_prefix("bgp.peers[")?;
    rest.split(']').next()?.parse().ok()
}

/// Import filters when no pool is configured: exactly the nodes' pod CIDRs.
fn every_pod_cidr(nodes: &[Node]) -> Vec<IpNet> {
    let mut all: Vec<IpNet> = nodes
        .iter()
        .filter_map(|n| node::pod_cidrs(n).ok())
        .flatten()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The peers one BGPPeer gives this node: none when its selectors leave
/// the node out.
fn bgp_peer(
    inputs: &Inputs,
    bp: &BGPPeer,
    me: &NodeConfig,
    own_labels: &BTreeMap<String, String>,
    c: &Cluster,
) -> Result<Vec<PeerConfig>, String> {
    let s = &bp.spec;
    if let Some(n) = &s.node
        && n != &me.name
    {
        return Ok(Vec::new());
    }
    if let Some(sel) = &s.node_selector
        && !selector::matches(sel, own_labels).map_err(|e| format!("nodeSelector: {e}"))?
    {
        return Ok(Vec::new());
    }
    let asn = s
        .asn
        .map(|n| parse_asn(n).map_err(|e| format!("asn: {e}")))
        .transpose()?;
    let mut targets: Vec<(IpAddr, u32)> = Vec::new();
    match (&s.peer_address, &s.peer_selector) {
        (Some(_), Some(_)) => {
            return Err("give peerAddress or peerSelector, not both".into());
        }
        (None, None) => return Err("peerAddress or peerSelector is required".into()),
        (Some(a), None) => {
            let addr: IpAddr = a
                .trim()
                .parse()
                .map_err(|_| format!("peerAddress {a:?} is not an IP address"))?;
            let asn = asn.ok_or("asn is required with peerAddress")?;
            targets.push((addr, asn.0));
        }
        (None, Some(sel)) => {
            for n in inputs.nodes {
                if n.metadata.name.as_deref() == Some(me.name.as_str())
                    || !selector::matches(sel, &node::labels(n))
                        .map_err(|e| format!("peerSelector: {e}"))?
                {
                    continue;
                }
                let (Ok(addr), Ok(node_asn)) = (node::peering_address(n), node::asn(n, &c.policy))
                else {
                    continue;
                };
                targets.push((addr, asn.unwrap_or(node_asn).0));
            }
        }
    }
    let password = match &s.password_secret_ref {
        None => None,
        Some(r) => Some(secret_password(inputs.secrets, &r.name, &r.key)?),
    };
    let hold_time = s
        .hold_time
        .map(|h| HoldTime::new(h).map_err(|e| format!("holdTime: {e}")))
        .transpose()?;
    let max_prefixes = match s.max_prefixes {
        Some(0) => return Err("maxPrefixes must be at least 1 (leave it out for no limit)".into()),
        m => m.map(MaxPrefixes),
    };
    let ttl_security = match s.ttl_security {
        Some(h @ 1..=254) => Some(Hops(h)),
        Some(h) => return Err(format!("ttlSecurity is a hop count from 1 to 254, not {h}")),
        None => None,
    };
    Ok(targets
        .into_iter()
        .map(|(address, asn)| {
            let mut p = PeerConfig::new(address, crate::bgp::Asn(asn));
            if let Some(port) = s.port {
                p.port = port;
            }
            p.password = password.clone();
            p.route_reflector_client = s.route_reflector_client;
            p.hold_time = hold_time;
            p.graceful_restart = s.graceful_restart;
            p.max_prefixes = max_prefixes;
            p.passive = s.passive;
            p.next_hop_self = s.next_hop_self;
            p.allow_own_as = s.allow_own_as;
            p.ttl_security = ttl_security;
            p
        })
        .collect())
}

fn secret_password(secrets: &[Secret], name: &str, key: &str) -> Result<Password, String> {
    let secret = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| {
            format!("passwordSecretRef: Secret {name} not found in the agent's namespace")
        })?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| format!("passwordSecretRef: Secret {name} has no key {key}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("passwordSecretRef: {name}/{key} is not UTF-8"))?;
    Password::new(text.trim_end_matches('\n').to_string())
        .map_err(|e| format!("passwordSecretRef {name}/{key}: {e}"))
}

#[cfg(test)]
mod tests;
