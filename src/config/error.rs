//! Config errors that name the key, the file position and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a config was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    /// Dotted key path, e.g. `bgp.peers[1].hold_time`; empty for syntax errors.
    pub key: String,
    /// 1-based line and column of the offending text, where known.
    pub position: Option<(usize, usize)>,
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        ConfigError {
            file: Some(path.to_path_buf()),
            key: String::new(),
            position: None,
            reason: format!("cannot read: {e}"),
        }
    }

    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        self.file = Some(path.to_path_buf());
        self
    }

    pub(crate) fn from_toml(text: &str, key: &str, e: toml::de::Error) -> Self {
        let key = if key == "." {
            String::new()
        } else {
            key.to_string()
        };
        ConfigError {
            position: e.span().map(|s| line_col(text, s.start)),
            key,
            reason: e.message().trim().to_string(),
            file: None,
        }
    }

    /// An error found after parsing, located by looking the key up again.
    pub(super) fn at_key(text: &str, key: &str, reason: String) -> Self {
        ConfigError {
            position: span_of_key(text, key).map(|start| line_col(text, start)),
            key: key.to_string(),
            reason,
            file: None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
        }
        if let Some((line, col)) = self.position {
            write!(f, "{line}:{col}:")?;
        }
        if self.file.is_some() || self.position.is_some() {
            f.write_str(" ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.reason)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Byte offset of the value at a key path like `bgp.peers[1].address`.
fn span_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut span = None;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let mut value = table.get(name)?;
        if let Some(i) = index {
            let DeValue::Array(items) = value.get_ref() else {
                return None;
            };
            value = items.get(i)?;
        }
        span = Some(value.span().start);
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ if parts.peek().is_some() => return None,
            _ => {}
        }
    }
    span
}
