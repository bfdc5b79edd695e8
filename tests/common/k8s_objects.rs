//! JSON builders for the API objects Kubernetes-mode tests put into the test API server.

use serde_json::{Value, json};

/// A Node with one InternalIP, its pod CIDRs (none: not assigned yet) and labels.
pub fn node(name: &str, ip: &str, pod_cidrs: &[&str], labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut spec = json!({});
    if !pod_cidrs.is_empty() {
        spec = json!({"podCIDR": pod_cidrs[0], "podCIDRs": pod_cidrs});
    }
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {"addresses": [
            {"type": "InternalIP", "address": ip},
            {"type": "Hostname", "address": name}
        ]}
    })
}

/// A BGPPeer with the given spec.
pub fn bgp_peer(name: &str, spec: Value) -> Value {
    json!({"metadata": {"name": name}, "spec": spec})
}

/// The BGPConfiguration `default`.
pub fn bgp_configuration(spec: Value) -> Value {
    json!({"metadata": {"name": "default"}, "spec": spec})
}

/// A Secret with one key (base64 as the API has it).
pub fn secret(name: &str, key: &str, value: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "podroute-system"},
           "type": "Opaque", "data": {key: base64(value.as_bytes())}})
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Events recorded for `kind/name` with `reason`.
pub fn events_for(events: &[Value], kind: &str, name: &str, reason: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| {
            e["regarding"]["kind"] == kind
                && e["regarding"]["name"] == name
                && e["reason"] == reason
        })
        .cloned()
        .collect()
}
