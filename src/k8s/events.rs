//! Kubernetes Events the agent publishes: refused objects, and sessions going up or down (on the Node, so `kubectl describe node` shows them).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::debug;

use super::translate::ObjectError;

/// Controller name in every Event's `reportingController`.
pub const CONTROLLER: &str = "podroute.io/agent";

/// Publishes Events; a failure to publish is logged, never fatal.
pub struct Events {
    recorder: Recorder,
    node: ObjectReference,
}

impl Events {
    pub fn new(client: Client, node_name: &str) -> Events {
        let reporter = Reporter {
            controller: CONTROLLER.into(),
            instance: Some(node_name.to_string()),
        };
        Events {
            recorder: Recorder::new(client, reporter),
            node: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node_name.into()),
                ..Default::default()
            },
        }
    }

    async fn publish(&self, ev: Event, on: &ObjectReference) {
        // Cluster-scoped objects' Events live in `default`, as kubectl looks for them there.
        let mut on = on.clone();
        if on.namespace.is_none() {
            on.namespace = Some("default".into());
        }
        if let Err(e) = self.recorder.publish(&ev, &on).await {
            debug!(error = %e, "cannot publish an Event");
        }
    }

    /// An object was (partly) refused.
    pub async fn invalid_object(&self, e: &ObjectError) {
        let ev = Event {
            type_: EventType::Warning,
            reason: "InvalidConfiguration".into(),
            note: Some(truncate(&format!(
                "{} (node {})",
                e.message,
                self.node_name()
            ))),
            action: "Translate".into(),
            secondary: None,
        };
        self.publish(ev, &e.object).await;
    }

    /// A session reached or left Established.
    pub async fn session(&self, peer: &str, up: bool, detail: &str) {
        let (type_, reason) = if up {
            (EventType::Normal, "BGPSessionEstablished")
        } else {
            (EventType::Warning, "BGPSessionDown")
        };
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(truncate(&format!("peer {peer}: {detail}"))),
            action: "Peer".into(),
            secondary: None,
        };
        let node = self.node.clone();
        self.publish(ev, &node).await;
    }

    fn node_name(&self) -> &str {
        self.node.name.as_deref().unwrap_or("")
    }
}

/// Event notes are limited to 1 kB.
fn truncate(s: &str) -> String {
    if s.len() <= 1000 {
        return s.to_string();
    }
    let mut end = 1000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
