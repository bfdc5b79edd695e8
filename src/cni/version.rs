//! CNI spec versions this crate speaks and the checks that depend on them.

use super::error::{CniError, ErrorCode};

/// A CNI spec version this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 0.3.0
    V0_3_0,
    /// 0.3.1
    V0_3_1,
    /// 0.4.0: adds CHECK.
    V0_4_0,
    /// 1.0.0: drops `ips[].version`.
    V1_0_0,
    /// 1.1.0: adds STATUS and GC.
    V1_1_0,
}

/// Every version, oldest first, as VERSION reports them.
pub const SUPPORTED: [Version; 5] = [
    Version::V0_3_0,
    Version::V0_3_1,
    Version::V0_4_0,
    Version::V1_0_0,
    Version::V1_1_0,
];

/// The newest version, used where the input names none we know.
pub const LATEST: Version = Version::V1_1_0;

impl Version {
    /// The version string as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_3_0 => "0.3.0",
            Version::V0_3_1 => "0.3.1",
            Version::V0_4_0 => "0.4.0",
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        }
    }

    /// Parses a supported version; anything else is the spec's code 1.
    pub fn parse(s: &str) -> Result<Version, CniError> {
        SUPPORTED
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                CniError::with_details(
                    ErrorCode::IncompatibleVersion,
                    "incompatible CNI version",
                    format!(
                        "config version {s:?} is not one of {}",
                        SUPPORTED.map(Version::as_str).join(", ")
                    ),
                )
            })
    }

    /// Results before 1.0.0 carry `"version": "4"|"6"` on each IP.
    pub fn ips_carry_version(self) -> bool {
        self < Version::V1_0_0
    }

    /// CHECK exists from 0.4.0 on.
    pub fn has_check(self) -> bool {
        self >= Version::V0_4_0
    }

    /// STATUS and GC exist from 1.1.0 on.
    pub fn has_status_gc(self) -> bool {
        self >= Version::V1_1_0
    }
}

/// The VERSION command's output (spec "VERSION: probe plugin version support").
pub fn version_json(requested: &str) -> String {
    let versions: Vec<&str> = SUPPORTED.iter().map(|v| v.as_str()).collect();
    serde_json::json!({ "cniVersion": requested, "supportedVersions": versions }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        assert_eq!(Version::parse("0.3.1").unwrap(), Version::V0_3_1);
        assert!(Version::parse("0.2.0").is_err());
        assert_eq!(
            Version::parse("2.0.0").unwrap_err().code,
            ErrorCode::IncompatibleVersion
        );
        assert!(Version::V0_4_0.has_check() && !Version::V0_3_1.has_check());
        assert!(Version::V1_1_0.has_status_gc() && !Version::V1_0_0.has_status_gc());
        let v: serde_json::Value = serde_json::from_str(&version_json("1.0.0")).unwrap();
        assert_eq!(v["supportedVersions"].as_array().unwrap().len(), 5);
    }
}
