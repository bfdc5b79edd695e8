//! This node's BGPNodeStatus object and the session Events, from what the agent's control socket reports.
//!
//! A per-node custom resource with a status subresource, rather than Node
//! conditions or annotations: `kubectl get bgpnodestatuses` lists every
//! node's session counts in one table, `-o yaml` shows each session, and
//! the agent needs no write access to Node objects (which would let a
//! compromised node agent rewrite other nodes' labels and taints).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tracing::{debug, warn};

use super::crd::{BGPNodeStatus, BGPNodeStatusSpec, BGPNodeStatusStatus, PeerStatus};
use super::events::Events;
use crate::control::{NeighborView, Query, Reply};

/// Polls the control socket every `interval_s` seconds (0: never) and
/// reports; ends with the process.
pub async fn run(client: Client, node: String, socket: PathBuf, interval_s: u64) {
    if interval_s == 0 {
        return;
    }
    let events = Events::new(client.clone(), &node);
    let api: Api<BGPNodeStatus> = Api::all(client);
    let mut states: HashMap<String, String> = HashMap::new();
    let mut last: Option<Vec<PeerStatus>> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(interval_s));
    loop {
        tick.tick().await;
        let socket = socket.clone();
        let reply =
            tokio::task::spawn_blocking(move || crate::control::query(&socket, Query::Neighbors))
                .await;
        let neighbors = match reply {
            Ok(Ok(Reply::Neighbors(n))) => n,
            Ok(Ok(other)) => {
                debug!(reply = ?other, "unexpected control reply");
                continue;
            }
            Ok(Err(e)) => {
                debug!(error = %e, "control socket not answering yet");
                continue;
            }
            Err(_) => continue,
        };
        session_events(&events, &mut states, &neighbors).await;
        let peers: Vec<PeerStatus> = neighbors.iter().map(peer_status).collect();
        if last.as_ref() != Some(&peers) && write(&api, &node, &peers).await {
            last = Some(peers);
        }
    }
}

fn peer_status(n: &NeighborView) -> PeerStatus {
    PeerStatus {
        address: n.address.to_string(),
        asn: n.asn,
        state: n.state.clone(),
        uptime_seconds: n.uptime_s,
        prefixes_received: n.prefixes_received,
        prefixes_accepted: n.prefixes_accepted,
        prefixes_advertised: n.prefixes_advertised,
        last_error: n.last_error.clone(),
    }
}

/// An Event per session that reached or left Established since the last poll.
async fn session_events(
    events: &Events,
    states: &mut HashMap<String, String>,
    neighbors: &[NeighborView],
) {
    let mut now = HashMap::new();
    for n in neighbors {
        let addr = n.address.to_string();
        let was_up = states.get(&addr).is_some_and(|s| s == "Established");
        let is_up = n.state == "Established";
        if is_up && !was_up {
            events
                .session(&addr, true, &format!("Established with AS {}", n.asn))
                .await;
        } else if was_up && !is_up {
            let why = n.last_error.as_deref().unwrap_or("session closed");
            events
                .session(&addr, false, &format!("{} ({why})", n.state))
                .await;
        }
        now.insert(addr, n.state.clone());
    }
    for (addr, state) in states.iter() {
        if state == "Established" && !now.contains_key(addr) {
            events
                .session(addr, false, "peer removed from the configuration")
                .await;
        }
    }
    *states = now;
}

/// Creates the object if needed and replaces its status; whether it worked.
async fn write(api: &Api<BGPNodeStatus>, node: &str, peers: &[PeerStatus]) -> bool {
    let status = BGPNodeStatusStatus {
        established: peers.iter().filter(|p| p.state == "Established").count() as u32,
        peer_count: peers.len() as u32,
        last_updated: k8s_openapi::jiff::Timestamp::now().to_string(),
        peers: peers.to_vec(),
    };
    let patch = serde_json::json!({ "status": status });
    let pp = PatchParams::default();
    match api.patch_status(node, &pp, &Patch::Merge(&patch)).await {
        Ok(_) => return true,
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            warn!(error = %e, "cannot update the BGPNodeStatus");
            return false;
        }
    }
    let obj = BGPNodeStatus::new(
        node,
        BGPNodeStatusSpec {
            node: node.to_string(),
        },
    );
    if let Err(e) = api.create(&PostParams::default(), &obj).await {
        warn!(error = %e, "cannot create the BGPNodeStatus");
        return false;
    }
    match api.patch_status(node, &pp, &Patch::Merge(&patch)).await {
        Ok(_) => true,
        Err(e) => {
            warn!(error = %e, "cannot update the BGPNodeStatus");
            false
        }
    }
}
