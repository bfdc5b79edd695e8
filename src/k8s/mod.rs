//! Kubernetes mode: the agent learns its node, its peers and the cluster settings from the API server and pushes whole `Config`s to the agent.
//!
//! [`translate`] is the pure part (API objects → `Config`), [`watch`] the
//! reflectors feeding it, [`cni_conf`] the CNI files, [`status`] the
//! per-node status object and session Events.

pub mod cni_conf;
pub mod crd;
pub mod events;
pub mod mesh;
pub mod metrics;
pub mod node;
pub mod selector;
pub mod settings;
pub mod status;
pub mod translate;
pub mod watch;

use std::path::Path;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::info;

pub use settings::Settings;

use crate::agent::{AgentError, ConfigSource};
use crate::config::ConfigError;

/// Why Kubernetes mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "no node name: set NODE_NAME (the DaemonSet sets it from spec.nodeName) or kubernetes.node_name"
    )]
    NoNodeName,
    #[error("kubernetes.api_server {0:?} is not a URL")]
    BadUrl(String),
    #[error("cannot configure the Kubernetes client: {0}")]
    Client(String),
    #[error("the API watcher stopped before this node had a configuration")]
    WatcherStopped,
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `podroute agent --kubernetes -c FILE`: runs until SIGTERM or SIGINT.
pub fn run(path: &Path) -> Result<(), K8sError> {
    let settings = Settings::load(path)?;
    crate::agent::runtime()?.block_on(serve(settings))
}

/// The API client the settings ask for.
pub async fn client(settings: &Settings) -> Result<kube::Client, K8sError> {
    let k = &settings.kubernetes;
    let config = if let Some(url) = &k.api_server {
        let uri = url.parse().map_err(|_| K8sError::BadUrl(url.clone()))?;
        kube::Config::new(uri)
    } else if let Some(path) = &k.kubeconfig {
        let kc = kube::config::Kubeconfig::read_from(path)
            .map_err(|e| K8sError::Client(format!("{}: {e}", path.display())))?;
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| K8sError::Client(e.to_string()))?
    } else {
        kube::Config::infer()
            .await
            .map_err(|e| K8sError::Client(e.to_string()))?
    };
    kube::Client::try_from(config).map_err(|e| K8sError::Client(e.to_string()))
}

/// Waits for this node's first configuration, then runs the agent on the
/// stream of configurations the watcher pushes.
pub async fn serve(settings: Settings) -> Result<(), K8sError> {
    let node_name = settings.node_name().ok_or(K8sError::NoNodeName)?;
    let client = client(&settings).await?;
    info!(node = %node_name, "Kubernetes mode: watching the API server");
    let (tx, mut rx) = mpsc::channel(8);
    tokio::spawn(watch::run(
        client.clone(),
        settings.clone(),
        node_name.clone(),
        tx,
    ));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let first = tokio::select! {
        c = rx.recv() => c.ok_or(K8sError::WatcherStopped)?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
    if let Some(addr) = settings.kubernetes.metrics_listen {
        tokio::spawn(metrics::serve(
            addr,
            first.control.socket.clone(),
            settings.kubernetes.ipam_dir.clone(),
        ));
    }
    tokio::spawn(status::run(
        client,
        node_name,
        first.control.socket.clone(),
        settings.kubernetes.status_interval,
    ));
    crate::agent::serve(first, ConfigSource::Channel(rx)).await?;
    Ok(())
}
