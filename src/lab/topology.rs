//! The subset of containerlab's topology file (`*.clab.yml`) that `podroute lab` understands.
//!
//! Unknown keys are ignored on purpose: the same file must stay valid for
//! containerlab itself, which knows many more (mgmt, startup-config, ...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::LabError;

/// A whole topology file.
#[derive(Debug, Clone, Deserialize)]
pub struct Topology {
    pub name: String,
    pub topology: Body,
}

/// `topology:`.
#[derive(Debug, Clone, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeDef>,
    #[serde(default)]
    pub links: Vec<LinkDef>,
}

/// `topology.nodes.<name>`.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeDef {
    pub kind: String,
    #[serde(default)]
    pub image: Option<String>,
    /// `host-path:container-path[:ro]`, host paths relative to the file.
    #[serde(default)]
    pub binds: Vec<String>,
    /// Commands containerlab runs in the node after it started.
    #[serde(default)]
    pub exec: Vec<String>,
    #[serde(default, deserialize_with = "string_map")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "string_map")]
    pub env: BTreeMap<String, String>,
}

/// `topology.links[]`: `endpoints: ["a:eth1", "b:eth1"]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkDef {
    pub endpoints: Vec<String>,
}

/// One side of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub node: String,
    pub iface: String,
}

/// A bind mount: where the file lives here and where the node expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: PathBuf,
    pub target: String,
}

/// Labels and env values may be written unquoted (`podroute.pods: 2`);
/// containerlab reads them as strings, so do we.
fn string_map<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: BTreeMap<String, serde_yaml_ng::Value> = BTreeMap::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                serde_yaml_ng::Value::String(s) => s,
                serde_yaml_ng::Value::Number(n) => n.to_string(),
                serde_yaml_ng::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "{k}: expected a scalar, got {other:?}"
                    )));
                }
            };
            Ok((k, s))
        })
        .collect()
}

impl Topology {
    /// Reads and parses a topology file.
    pub fn load(path: &Path) -> Result<Topology, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Topology::parse(&text).map_err(|source| LabError::Yaml {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses topology YAML.
    pub fn parse(text: &str) -> Result<Topology, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(text)
    }
}

impl Endpoint {
    /// `node:iface`.
    pub fn parse(s: &str) -> Result<Endpoint, LabError> {
        let (node, iface) = s
            .split_once(':')
            .ok_or_else(|| LabError::Topology(format!("link endpoint {s:?} is not node:iface")))?;
        if node.is_empty() || iface.is_empty() {
            return Err(LabError::Topology(format!(
                "link endpoint {s:?} is not node:iface"
            )));
        }
        Ok(Endpoint {
            node: node.to_string(),
            iface: iface.to_string(),
        })
    }
}

impl Bind {
    /// `host:target[:ro|rw]`, the host side resolved against `base`.
    pub fn parse(s: &str, base: &Path) -> Result<Bind, LabError> {
        let mut parts = s.split(':');
        let (Some(host), Some(target)) = (parts.next(), parts.next()) else {
            return Err(LabError::Topology(format!(
                "bind {s:?} is not host-path:container-path"
            )));
        };
        if host.is_empty() || target.is_empty() {
            return Err(LabError::Topology(format!(
                "bind {s:?} is not host-path:container-path"
            )));
        }
        Ok(Bind {
            host: base.join(host),
            target: target.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_links_and_unquoted_labels() {
        let t = Topology::parse(
            r#"
name: t
mgmt: {network: x}
topology:
  nodes:
    n1:
      kind: linux
      image: ghcr.io/podroute/podroute:latest
      binds: ["n1.toml:/etc/podroute/podroute.toml:ro"]
      exec: ["ip addr add 192.0.2.1/24 dev eth1"]
      labels: {podroute.pods: 2, podroute.role: podroute}
  links:
    - endpoints: ["n1:eth1", "n2:eth1"]
"#,
        )
        .unwrap();
        let n1 = &t.topology.nodes["n1"];
        assert_eq!(n1.labels["podroute.pods"], "2");
        assert_eq!(t.topology.links[0].endpoints, ["n1:eth1", "n2:eth1"]);
        let b = Bind::parse(&n1.binds[0], Path::new("/x")).unwrap();
        assert_eq!(b.host, PathBuf::from("/x/n1.toml"));
        assert_eq!(b.target, "/etc/podroute/podroute.toml");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Topology::parse("name: t\ntopology: {nodes: {a: {}}}").is_err());
        assert!(Endpoint::parse("a").is_err());
        assert!(Endpoint::parse(":eth1").is_err());
        assert!(Bind::parse("x", Path::new("/")).is_err());
    }
}
