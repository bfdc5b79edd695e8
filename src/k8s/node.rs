//! What a Node object says about a BGP speaker: pod CIDRs, peering address, router ID and AS.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;

use crate::bgp::Asn;

/// Annotation (or label) that overrides the BGP router ID.
pub const ROUTER_ID: &str = "podroute.io/router-id";
/// Annotation (or label) naming the address other speakers peer with, for
/// nodes with several interfaces.
pub const PEERING_ADDRESS: &str = "podroute.io/peering-address";
/// Label (or annotation) giving this node's AS (AS per node).
pub const ASN: &str = "podroute.io/asn";
/// Default label naming a node's rack (AS per rack).
pub const RACK: &str = "podroute.io/rack";

/// How a node's AS is found when it has no [`ASN`] label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsnPolicy {
    pub rack_label: Option<String>,
    pub rack_asns: BTreeMap<String, Asn>,
    pub default: Option<Asn>,
}

/// An AS number as config files take it: 1..=4294967295 except AS_TRANS.
pub fn parse_asn(n: u32) -> Result<Asn, String> {
    match n {
        0 => Err("AS 0 is reserved (RFC 7607)".into()),
        23456 => Err("AS 23456 is AS_TRANS, reserved (RFC 6793)".into()),
        n => Ok(Asn(n)),
    }
}

fn name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or("")
}

/// An annotation, else a label of the same key.
fn meta<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .or_else(|| node.metadata.labels.as_ref().and_then(|l| l.get(key)))
        .map(|s| s.trim())
}

/// The node's labels (empty map when it has none).
pub fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

/// `spec.podCIDRs`, else the older single `spec.podCIDR`; empty while the
/// controller manager has not assigned any.
pub fn pod_cidrs(node: &Node) -> Result<Vec<IpNet>, String> {
    let spec = node.spec.as_ref();
    let mut list: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if list.is_empty()
        && let Some(one) = spec.and_then(|s| s.pod_cidr.clone())
    {
        list.push(one);
    }
    list.iter()
        .map(|s| {
            let net: IpNet = s
                .parse()
                .map_err(|_| format!("podCIDR {s:?} of node {} is not a CIDR", name(node)))?;
            if net.trunc() != net {
                return Err(format!(
                    "podCIDR {s} of node {} has host bits set",
                    name(node)
                ));
            }
            Ok(net)
        })
        .collect()
}

/// The node's InternalIP addresses, IPv4 first.
fn internal_ips(node: &Node) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .map(|a| {
            a.iter()
                .filter(|a| a.type_ == "InternalIP")
                .filter_map(|a| a.address.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    ips.sort_by_key(|ip| ip.is_ipv6());
    ips
}

/// The address other speakers open sessions to: the annotation, else the
/// first InternalIP (IPv4 preferred; one session carries both families).
pub fn peering_address(node: &Node) -> Result<IpAddr, String> {
    if let Some(v) = meta(node, PEERING_ADDRESS) {
        return v.parse().map_err(|_| {
            format!(
                "{PEERING_ADDRESS} {v:?} of node {} is not an IP address",
                name(node)
            )
        });
    }
    internal_ips(node)
        .into_iter()
        .next()
        .ok_or_else(|| format!("node {} has no InternalIP yet", name(node)))
}

/// The BGP identifier: the annotation, else the IPv4 peering address,
/// else the first IPv4 InternalIP (RFC 6286: any non-zero 32 bits, but an
/// address of the node keeps it unique and readable).
pub fn router_id(node: &Node) -> Result<Ipv4Addr, String> {
    if let Some(v) = meta(node, ROUTER_ID) {
        return match v.parse::<Ipv4Addr>() {
            Ok(id) if !id.is_unspecified() => Ok(id),
            _ => Err(format!(
                "{ROUTER_ID} {v:?} of node {} is not a non-zero IPv4 address",
                name(node)
            )),
        };
    }
    if let Ok(IpAddr::V4(a)) = peering_address(node) {
        return Ok(a);
    }
    internal_ips(node)
        .into_iter()
        .find_map(|ip| match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| {
            format!(
                "node {} has no IPv4 InternalIP for a router ID; set the {ROUTER_ID} annotation",
                name(node)
            )
        })
}

/// The node's AS: its [`ASN`] label, else its rack's AS, else the default.
pub fn asn(node: &Node, policy: &AsnPolicy) -> Result<Asn, String> {
    if let Some(v) = meta(node, ASN) {
        let n: u32 = v
            .parse()
            .map_err(|_| format!("{ASN} {v:?} of node {} is not an AS number", name(node)))?;
        return parse_asn(n).map_err(|e| format!("{ASN} of node {}: {e}", name(node)));
    }
    let rack_label = policy.rack_label.as_deref().unwrap_or(RACK);
    if let Some(rack) = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(rack_label))
    {
        if let Some(asn) = policy.rack_asns.get(rack) {
            return Ok(*asn);
        }
        if policy.default.is_none() {
            return Err(format!(
                "rack {rack:?} of node {} has no AS in the BGPConfiguration's rackAsns",
                name(node)
            ));
        }
    }
    policy.default.ok_or_else(|| {
        format!(
            "node {} has no AS: label it {ASN}, or set asn in the BGPConfiguration or the agent config",
            name(node)
        )
    })
}
