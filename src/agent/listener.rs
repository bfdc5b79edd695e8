//! Accepting BGP connections: listening sockets, and handing each accepted connection to its peer's task.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Which task takes a connection from which address; updated on reload.
pub type InboundMap = Arc<Mutex<HashMap<IpAddr, mpsc::Sender<TcpStream>>>>;

/// Binds `addr` (IPv6 sockets IPv6-only, so `0.0.0.0:179` and `[::]:179`
/// can both be bound).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    TcpListener::from_std(socket.into())
}

/// Accepts forever; connections from unconfigured addresses are closed.
pub async fn serve(listener: TcpListener, peers: InboundMap) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening for BGP");
    }
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = canonical(remote.ip());
        let target = peers.lock().ok().and_then(|m| m.get(&ip).cloned());
        match target {
            Some(tx) => {
                if tx.try_send(stream).is_err() {
                    debug!(peer = %ip, "peer task busy or gone; connection dropped");
                }
            }
            None => {
                info!(remote = %remote, "connection from an address that is not a configured peer; closed")
            }
        }
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 peer it stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
