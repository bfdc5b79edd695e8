//! CNI error codes and the error object a plugin prints on failure (CNI spec §"Error").

use crate::bgp::open_enum::open_enum;
use serde::Serialize;

open_enum! {
    /// Well-known error codes (CNI spec 1.1.0, "Error"); 1-99 are reserved
    /// for the spec, 100 and above are plugin-specific.
    pub enum ErrorCode: u32 {
        /// Incompatible CNI version.
        IncompatibleVersion = 1,
        /// Unsupported field in network configuration.
        UnsupportedField = 2,
        /// Container unknown or does not exist; the runtime need not clean up.
        UnknownContainer = 3,
        /// Invalid necessary environment variables.
        InvalidEnvironment = 4,
        /// I/O failure.
        IoFailure = 5,
        /// Failed to decode content.
        DecodeFailure = 6,
        /// Invalid network config.
        InvalidNetworkConfig = 7,
        /// Try again later.
        TryAgainLater = 11,
        /// STATUS: the plugin is not available.
        PluginNotAvailable = 50,
        /// STATUS: the plugin is available, with limited connectivity.
        LimitedConnectivity = 51,
        /// podroute: CHECK found the attachment differs from what ADD made.
        CheckFailed = 100,
        /// podroute: no free address left in the range.
        AddressExhausted = 101,
        /// podroute: the kernel refused a netlink request.
        NetlinkFailure = 102,
        /// podroute: a delegated (IPAM) plugin failed without a CNI error.
        DelegateFailure = 103,
        /// podroute: setting up masquerading (nftables) failed.
        MasqueradeFailure = 104,
    }
}

/// A CNI failure: the code, a short message and optional details.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct CniError {
    /// Spec or plugin error code.
    pub code: ErrorCode,
    /// Short human-readable message.
    pub msg: String,
    /// Longer explanation, may be empty.
    pub details: String,
}

impl CniError {
    /// An error with a code and message and no details.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// An error with a code, message and details.
    pub fn with_details(
        code: ErrorCode,
        msg: impl Into<String>,
        details: impl Into<String>,
    ) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// The error as the JSON object the spec prescribes on stdout.
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        let wire = Wire {
            cni_version,
            code: self.code.into(),
            msg: &self.msg,
            details: &self.details,
        };
        serde_json::to_string(&wire).unwrap_or_else(|_| {
            format!(
                "{{\"cniVersion\":\"{cni_version}\",\"code\":{},\"msg\":\"error\"}}",
                u32::from(self.code)
            )
        })
    }
}

/// Shorthand for an I/O failure with the OS error as details.
pub fn io_error(what: impl Into<String>, err: &std::io::Error) -> CniError {
    CniError::with_details(ErrorCode::IoFailure, what, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_spec_fields() {
        let e = CniError::with_details(ErrorCode::InvalidNetworkConfig, "bad subnet", "x/99");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("1.1.0")).unwrap();
        assert_eq!(v["cniVersion"], "1.1.0");
        assert_eq!(v["code"], 7);
        assert_eq!(v["msg"], "bad subnet");
        assert_eq!(v["details"], "x/99");
        assert_eq!(ErrorCode::from(42), ErrorCode::Unknown(42));
    }
}
