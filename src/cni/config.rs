//! The network configuration fields every plugin reads from stdin.

use super::error::{CniError, ErrorCode};
use super::version::Version;
use serde::Deserialize;
use serde_json::Value;

/// One entry of `cni.dev/valid-attachments` in a GC call (spec 1.1.0 "GC").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct Attachment {
    /// Container ID still in use.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Its interface name.
    pub ifname: String,
}

/// The fields of a plugin configuration common to every plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BaseConf {
    /// Spec version of this configuration.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// Network name, unique on the host.
    pub name: String,
    /// Plugin binary name.
    #[serde(rename = "type")]
    pub plugin_type: String,
    /// IPAM section, handed to the IPAM plugin.
    #[serde(default)]
    pub ipam: Option<Value>,
    /// Result of the previous plugin in a chain.
    #[serde(default, rename = "prevResult")]
    pub prev_result: Option<Value>,
    /// GC: attachments that must be kept.
    #[serde(default, rename = "cni.dev/valid-attachments")]
    pub valid_attachments: Option<Vec<Attachment>>,
}

/// Network names: alphanumerics plus `_ . -`, as libcni validates them.
pub fn valid_network_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Decodes stdin as a JSON object; malformed input is the spec's code 6.
pub fn decode<T: for<'de> Deserialize<'de>>(stdin: &[u8]) -> Result<T, CniError> {
    serde_json::from_slice(stdin).map_err(|e| {
        let code = if e.is_data() {
            ErrorCode::InvalidNetworkConfig
        } else {
            ErrorCode::DecodeFailure
        };
        CniError::with_details(code, "cannot decode network configuration", e.to_string())
    })
}

impl BaseConf {
    /// Parses and validates the common fields.
    pub fn parse(stdin: &[u8]) -> Result<(BaseConf, Version), CniError> {
        let base: BaseConf = decode(stdin)?;
        let version = Version::parse(&base.cni_version)?;
        if !valid_network_name(&base.name) {
            return Err(CniError::new(
                ErrorCode::InvalidNetworkConfig,
                format!("invalid network name {:?}", base.name),
            ));
        }
        Ok((base, version))
    }
}
