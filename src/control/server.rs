//! The agent side of the control socket: accept, read one query, forward it to the state owner, write the reply.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::{MAX_REQUEST_LEN, Query, Reply};

/// A query on its way to the task that owns the state, with where to answer.
#[derive(Debug)]
pub struct ControlRequest {
    pub query: Query,
    pub reply: oneshot::Sender<Reply>,
}

/// How long a client may take to send its query, and the agent to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `path` (replacing a stale socket file from an earlier run) and
/// serves until the returned future is dropped. Each connection is handled
/// on its own task so a slow client cannot stall the others.
pub async fn serve(path: &Path, to_state: mpsc::Sender<ControlRequest>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let to_state = to_state.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, to_state).await {
                tracing::debug!(error = %e, "control connection failed");
            }
        });
    }
}

async fn handle(stream: UnixStream, to_state: mpsc::Sender<ControlRequest>) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST_LEN as u64);
    let reply = match tokio::time::timeout(TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => Reply::Error("timed out waiting for the query".into()),
        Ok(Err(e)) => Reply::Error(format!("cannot read the query: {e}")),
        Ok(Ok(_)) => match serde_json::from_str::<Query>(line.trim()) {
            Err(e) => Reply::Error(format!("bad query {:?}: {e}", line.trim())),
            Ok(query) => ask(query, &to_state).await,
        },
    };
    let mut out = serde_json::to_vec(&reply).map_err(io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

async fn ask(query: Query, to_state: &mpsc::Sender<ControlRequest>) -> Reply {
    let (reply, answer) = oneshot::channel();
    if to_state
        .send(ControlRequest { query, reply })
        .await
        .is_err()
    {
        return Reply::Error("the agent is shutting down".into());
    }
    match tokio::time::timeout(TIMEOUT, answer).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::Error("the agent dropped the query".into()),
        Err(_) => Reply::Error("the agent did not answer in time".into()),
    }
}
