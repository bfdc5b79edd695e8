//! The CNI_* environment variables a runtime sets for every call (spec "Parameters").

use super::error::{CniError, ErrorCode};
use std::collections::HashMap;
use std::path::PathBuf;

/// The operation requested in CNI_COMMAND.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach the container.
    Add,
    /// Detach the container.
    Del,
    /// Verify an attachment.
    Check,
    /// Report supported versions.
    Version,
    /// Report readiness (1.1.0).
    Status,
    /// Release resources not in the valid-attachments list (1.1.0).
    Gc,
}

impl Command {
    fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            _ => return None,
        })
    }

    /// The name as in CNI_COMMAND.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Status => "STATUS",
            Command::Gc => "GC",
        }
    }
}

/// The validated environment of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CniEnv {
    /// CNI_COMMAND.
    pub command: Command,
    /// CNI_CONTAINERID (empty for VERSION/STATUS/GC).
    pub container_id: String,
    /// CNI_NETNS; may be absent on DEL.
    pub netns: Option<PathBuf>,
    /// CNI_IFNAME (empty for VERSION/STATUS/GC).
    pub ifname: String,
    /// CNI_ARGS as key/value pairs.
    pub args: Vec<(String, String)>,
    /// CNI_PATH directories, searched in order for delegated plugins.
    pub path: Vec<PathBuf>,
}

fn invalid(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidEnvironment, msg)
}

/// Container IDs: non-empty, alphanumerics plus `_ . -` (spec "CNI_CONTAINERID").
pub fn valid_container_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Interface names the kernel accepts: 1-15 bytes, not `.`/`..`, no `/`, `:` or whitespace.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
}

impl CniEnv {
    /// Reads the process environment.
    pub fn from_process() -> Result<CniEnv, CniError> {
        let vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("CNI_"))
            .collect();
        Self::from_vars(&vars)
    }

    /// Validates the variables required by the command (spec "Parameters").
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<CniEnv, CniError> {
        let get = |k: &str| vars.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let cmd = get("CNI_COMMAND").ok_or_else(|| invalid("CNI_COMMAND is not set"))?;
        let command =
            Command::parse(cmd).ok_or_else(|| invalid(format!("unknown CNI_COMMAND {cmd:?}")))?;
        let per_container = matches!(command, Command::Add | Command::Del | Command::Check);
        let mut container_id = String::new();
        let mut ifname = String::new();
        if per_container {
            let id = get("CNI_CONTAINERID").ok_or_else(|| invalid("CNI_CONTAINERID is not set"))?;
            if !valid_container_id(id) {
                return Err(invalid(format!("invalid CNI_CONTAINERID {id:?}")));
            }
            container_id = id.to_string();
            let name = get("CNI_IFNAME").ok_or_else(|| invalid("CNI_IFNAME is not set"))?;
            if !valid_ifname(name) {
                return Err(invalid(format!("invalid CNI_IFNAME {name:?}")));
            }
            ifname = name.to_string();
        }
        let netns = get("CNI_NETNS").map(PathBuf::from);
        if matches!(command, Command::Add | Command::Check) && netns.is_none() {
            return Err(invalid("CNI_NETNS is not set"));
        }
        let path: Vec<PathBuf> = get("CNI_PATH")
            .map(|p| {
                p.split(':')
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default();
        if command != Command::Version && path.is_empty() {
            return Err(invalid("CNI_PATH is not set"));
        }
        let mut args = Vec::new();
        if let Some(raw) = get("CNI_ARGS") {
            for pair in raw.split(';').filter(|s| !s.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("invalid CNI_ARGS pair {pair:?}")))?;
                args.push((k.to_string(), v.to_string()));
            }
        }
        Ok(CniEnv {
            command,
            container_id,
            netns,
            ifname,
            args,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn add_needs_everything() {
        let ok = vars(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc-1"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/a:/b"),
            ("CNI_ARGS", "K8S_POD_NAME=p;IgnoreUnknown=1"),
        ]);
        let env = CniEnv::from_vars(&ok).unwrap();
        assert_eq!(env.path.len(), 2);
        assert_eq!(env.args[0], ("K8S_POD_NAME".into(), "p".into()));
        for missing in [
            "CNI_COMMAND",
            "CNI_CONTAINERID",
            "CNI_NETNS",
            "CNI_IFNAME",
            "CNI_PATH",
        ] {
            let mut v = ok.clone();
            v.remove(missing);
            assert_eq!(
                CniEnv::from_vars(&v).unwrap_err().code,
                ErrorCode::InvalidEnvironment,
                "{missing}"
            );
        }
        let mut v = ok.clone();
        v.insert("CNI_IFNAME".into(), "a/b".into());
        assert!(CniEnv::from_vars(&v).is_err());
        v.insert("CNI_IFNAME".into(), "waytoolonginterface".into());
        assert!(CniEnv::from_vars(&v).is_err());
        let mut v = ok;
        v.insert("CNI_CONTAINERID".into(), "bad id".into());
        assert!(CniEnv::from_vars(&v).is_err());
    }

    #[test]
    fn version_needs_only_command() {
        let env = CniEnv::from_vars(&vars(&[("CNI_COMMAND", "VERSION")])).unwrap();
        assert_eq!(env.command, Command::Version);
        assert!(CniEnv::from_vars(&vars(&[("CNI_COMMAND", "FROB")])).is_err());
    }
}
