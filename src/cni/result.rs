//! The ADD result (interfaces, IPs, routes, DNS) and its per-version JSON forms.

use super::error::{CniError, ErrorCode};
use super::version::Version;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;

/// One interface the plugin created or uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Hardware address, `aa:bb:..` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Set to the netns path for interfaces inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

/// One assigned address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Address with the subnet's prefix length.
    pub address: IpNet,
    /// Default gateway of that subnet, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// One route for the container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix.
    pub dst: IpNet,
    /// Next hop; the subnet's gateway when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

/// A (1.0.0 layout) result; older layouts are produced by [`CniResult::to_json`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CniResult {
    /// Interfaces, referenced by index from `ips`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Assigned addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS settings, passed through untouched.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub dns: Value,
}

impl CniResult {
    /// Parses a result of any supported version (IPAM output or prevResult);
    /// the pre-1.0 `ips[].version` field is simply ignored.
    pub fn parse(json: &[u8]) -> Result<CniResult, CniError> {
        serde_json::from_slice(json).map_err(|e| {
            CniError::with_details(
                ErrorCode::DecodeFailure,
                "cannot decode CNI result",
                e.to_string(),
            )
        })
    }

    /// Parses a result held in a JSON value (prevResult).
    pub fn from_value(v: &Value) -> Result<CniResult, CniError> {
        CniResult::deserialize(v).map_err(|e| {
            CniError::with_details(
                ErrorCode::DecodeFailure,
                "cannot decode prevResult",
                e.to_string(),
            )
        })
    }

    /// The result in the wire form of `version` (spec "Success" / 0.4.0 "Result").
    pub fn to_value(&self, version: Version) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert("cniVersion".into(), Value::String(version.as_str().into()));
            if version.ips_carry_version()
                && let Some(Value::Array(ips)) = map.get_mut("ips")
            {
                for (ip, conf) in ips.iter_mut().zip(&self.ips) {
                    if let Value::Object(o) = ip {
                        let fam = if conf.address.addr().is_ipv4() {
                            "4"
                        } else {
                            "6"
                        };
                        o.insert("version".into(), Value::String(fam.into()));
                    }
                }
            }
        }
        v
    }

    /// Serialized result for stdout.
    pub fn to_json(&self, version: Version) -> String {
        self.to_value(version).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_and_new_forms_round_trip() {
        let old = br#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.1.0.5/24","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#;
        let r = CniResult::parse(old).unwrap();
        assert_eq!(r.ips[0].address.to_string(), "10.1.0.5/24");
        let v = r.to_value(Version::V0_3_1);
        assert_eq!(v["ips"][0]["version"], "4");
        assert_eq!(v["cniVersion"], "0.3.1");
        let v = r.to_value(Version::V1_0_0);
        assert!(v["ips"][0].get("version").is_none());
        assert!(CniResult::parse(b"{\"ips\":[{\"address\":\"bogus\"}]}").is_err());
    }
}
