//! The plugin main loop: read env and stdin, dispatch, print result or error JSON, exit code.

use super::config::BaseConf;
use super::env::{CniEnv, Command};
use super::error::{CniError, ErrorCode};
use super::result::CniResult;
use super::version::{self, LATEST, Version};
use std::io::{Read, Write};
use std::process::ExitCode;

/// Everything a command handler receives.
pub struct Call<'a> {
    /// Validated environment.
    pub env: &'a CniEnv,
    /// Negotiated version (the configuration's).
    pub version: Version,
    /// Common config fields.
    pub base: &'a BaseConf,
    /// Raw stdin, for plugin-specific parsing and delegation.
    pub stdin: &'a [u8],
}

/// A plugin: one handler per command. DEL, CHECK, STATUS and GC print nothing on success.
pub trait Plugin {
    /// ADD: attach and return the result.
    fn add(&self, call: &Call) -> Result<CniResult, CniError>;
    /// DEL: detach; must succeed when the attachment is already gone.
    fn del(&self, call: &Call) -> Result<(), CniError>;
    /// CHECK: verify the attachment described by prevResult.
    fn check(&self, call: &Call) -> Result<(), CniError>;
    /// STATUS: is the plugin ready for ADD.
    fn status(&self, call: &Call) -> Result<(), CniError>;
    /// GC: release everything not in the valid attachments.
    fn gc(&self, call: &Call) -> Result<(), CniError>;
}

/// Best effort at the version to put in an error object: the config's if readable.
fn version_of(stdin: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        })
        .filter(|s| Version::parse(s).is_ok())
        .unwrap_or_else(|| LATEST.as_str().to_string())
}

fn dispatch(plugin: &dyn Plugin, stdin: &[u8]) -> Result<Option<String>, CniError> {
    let env = CniEnv::from_process()?;
    if env.command == Command::Version {
        // VERSION must answer even for configs it cannot parse (spec "VERSION").
        return Ok(Some(version::version_json(&version_of(stdin))));
    }
    let (base, version) = BaseConf::parse(stdin)?;
    match env.command {
        Command::Check if !version.has_check() => {
            return Err(CniError::new(
                ErrorCode::IncompatibleVersion,
                format!("CHECK is not defined for cniVersion {}", version.as_str()),
            ));
        }
        Command::Status | Command::Gc if !version.has_status_gc() => {
            return Err(CniError::new(
                ErrorCode::IncompatibleVersion,
                format!(
                    "{} is not defined for cniVersion {}",
                    env.command.as_str(),
                    version.as_str()
                ),
            ));
        }
        _ => {}
    }
    let call = Call {
        env: &env,
        version,
        base: &base,
        stdin,
    };
    match env.command {
        Command::Add => plugin.add(&call).map(|r| Some(r.to_json(version))),
        Command::Del => plugin.del(&call).map(|()| None),
        Command::Check => plugin.check(&call).map(|()| None),
        Command::Status => plugin.status(&call).map(|()| None),
        Command::Gc => plugin.gc(&call).map(|()| None),
        Command::Version => Ok(None),
    }
}

/// Runs a plugin as the process main.
pub fn run(plugin: &dyn Plugin) -> ExitCode {
    let mut stdin = Vec::new();
    let read = std::io::stdin().take(16 << 20).read_to_end(&mut stdin);
    let outcome = match read {
        Ok(_) => dispatch(plugin, &stdin),
        Err(e) => Err(CniError::with_details(
            ErrorCode::IoFailure,
            "cannot read stdin",
            e.to_string(),
        )),
    };
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(Some(json)) => {
            let _ = writeln!(out, "{json}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(out, "{}", e.to_json(&version_of(&stdin)));
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::FAILURE
        }
    }
}
