//! The `podroute show` side of the control socket: a blocking one-shot query.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Query, Reply};

/// Why a query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot connect to the agent at {path}: {source} (is `podroute agent` running? see --socket)"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the agent failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the agent sent an answer this client does not understand: {0}")]
    BadReply(serde_json::Error),
    #[error("the agent refused the query: {0}")]
    Agent(String),
}

/// Asks the agent listening on `socket`.
pub fn query(socket: &Path, query: Query) -> Result<Reply, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut request = serde_json::to_vec(&query).map_err(ClientError::BadReply)?;
    request.push(b'\n');
    (&stream).write_all(&request)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    match serde_json::from_str(&line).map_err(ClientError::BadReply)? {
        Reply::Error(e) => Err(ClientError::Agent(e)),
        reply => Ok(reply),
    }
}
