//! Reflectors on Nodes, BGPPeers, the BGPConfiguration and Secrets, feeding the translation; each changed result is pushed to the agent.
//!
//! kube's watcher lists, then watches from the list's resourceVersion,
//! resumes a broken watch from the last version seen, and lists again
//! after 410 Gone; the reflector stores replace their content atomically
//! once a re-list is complete, so a translation never sees half a list.
//! While the API server is unreachable nothing is pushed and the running
//! sessions are left alone.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

use super::cni_conf::CniConf;
use super::crd::{BGPConfiguration, BGPPeer};
use super::events::Events;
use super::settings::Settings;
use super::translate::{self, Inputs, ObjectError, Outcome, Ready};
use crate::config::Config;

/// The stores the translation reads.
struct Stores {
    nodes: Store<Node>,
    peers: Store<BGPPeer>,
    configurations: Store<BGPConfiguration>,
    secrets: Store<Secret>,
}

fn cloned<K>(s: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    s.state().iter().map(|k| (**k).clone()).collect()
}

/// Starts a reflector for `api`; every change wakes `changed`.
fn reflect<K>(api: Api<K>, changed: Arc<Notify>, what: &'static str) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => changed.notify_one(),
                Err(e) => warn!(resource = what, error = %e, "watch failed; retrying"),
            }
        }
    });
    reader
}

/// Watches the API and sends a [`Config`] on `tx` whenever the
/// translation result changes; returns when `tx` is closed.
pub async fn run(client: Client, settings: Settings, node_name: String, tx: mpsc::Sender<Config>) {
    let changed = Arc::new(Notify::new());
    let namespace = settings.namespace();
    let stores = Stores {
        nodes: reflect(Api::<Node>::all(client.clone()), changed.clone(), "nodes"),
        peers: reflect(
            Api::<BGPPeer>::all(client.clone()),
            changed.clone(),
            "bgppeers",
        ),
        configurations: reflect(
            Api::<BGPConfiguration>::all(client.clone()),
            changed.clone(),
            "bgpconfigurations",
        ),
        secrets: reflect(
            Api::<Secret>::namespaced(client.clone(), &namespace),
            changed.clone(),
            "secrets",
        ),
    };
    for ready in [
        stores.nodes.wait_until_ready().await,
        stores.peers.wait_until_ready().await,
        stores.configurations.wait_until_ready().await,
        stores.secrets.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    info!(node = %node_name, "API objects listed");
    let events = Events::new(client, &node_name);
    let mut state = Loop {
        settings,
        node_name,
        last: None,
        last_waiting: None,
        reported: HashSet::new(),
        events,
    };
    let debounce = Duration::from_millis(state.settings.kubernetes.debounce_ms);
    loop {
        state.step(&stores, &tx).await;
        if tx.is_closed() {
            return;
        }
        tokio::select! {
            _ = changed.notified() => {}
            _ = tx.closed() => return,
        }
        // Collect the burst (a node replacement, a kubectl apply of many peers).
        tokio::time::sleep(debounce).await;
    }
}

struct Loop {
    settings: Settings,
    node_name: String,
    last: Option<Config>,
    last_waiting: Option<String>,
    /// Errors already reported, so a resync does not repeat the Event.
    reported: HashSet<(String, String)>,
    events: Events,
}

impl Loop {
    async fn step(&mut self, stores: &Stores, tx: &mpsc::Sender<Config>) {
        let nodes = cloned(&stores.nodes);
        let peers = cloned(&stores.peers);
        let configurations = cloned(&stores.configurations);
        let secrets = cloned(&stores.secrets);
        let t = translate::translate(&Inputs {
            settings: &self.settings,
            node_name: &self.node_name,
            nodes: &nodes,
            peers: &peers,
            configurations: &configurations,
            secrets: &secrets,
        });
        self.report(t.errors).await;
        match t.outcome {
            Outcome::Waiting(why) => {
                if self.last_waiting.as_ref() != Some(&why) {
                    warn!(reason = %why, "no configuration for this node yet; the running one stays");
                    self.last_waiting = Some(why);
                }
            }
            Outcome::Ready(ready) => {
                self.last_waiting = None;
                let Ready { config, pod_cidrs } = *ready;
                self.write_cni(&config, pod_cidrs);
                if self.last.as_ref() != Some(&config) {
                    info!(peers = config.bgp.peers.len(), pod_cidrs = ?config.node.pod_cidrs, "pushing a new configuration");
                    self.last = Some(config.clone());
                    let _ = tx.send(config).await;
                }
            }
        }
    }

    fn write_cni(&self, config: &Config, pod_cidrs: Vec<ipnet::IpNet>) {
        let k = &self.settings.kubernetes;
        if !k.write_cni_conf {
            return;
        }
        let conf = CniConf {
            pod_cidrs,
            pod_pools: config.cluster.pod_pools.clone(),
            mtu: k.mtu,
            ip_masq: k.ip_masq,
            pod_cidr_file: k.pod_cidr_file.clone(),
        };
        if let Err(e) = conf.write(&k.cni_conf_dir, &k.cni_conf_name) {
            tracing::error!(dir = %k.cni_conf_dir.display(), error = %e, "cannot write the CNI config");
        }
    }

    async fn report(&mut self, errors: Vec<ObjectError>) {
        let now: HashSet<(String, String)> = errors
            .iter()
            .map(|e| (e.target(), e.message.clone()))
            .collect();
        for e in errors {
            let key = (e.target(), e.message.clone());
            if self.reported.contains(&key) {
                continue;
            }
            warn!(object = %key.0, error = %e.message, "object refused");
            self.events.invalid_object(&e).await;
        }
        // Forget fixed errors, so the same mistake made again is reported again.
        self.reported = now;
    }
}
