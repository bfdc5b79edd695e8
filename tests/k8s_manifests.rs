//! Every manifest in `deploy/` parses into its Kubernetes type (k8s-openapi or podroute's CRD types) without losing a field, the CRDs equal the generated ones, and the DaemonSet, RBAC and ConfigMap fit the agent.

use std::path::Path;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use podroute::k8s::crd::{BGPConfiguration, BGPPeer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every document of every `deploy/*.yaml`, as (file, JSON).
fn documents() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for de in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(de)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if !v.is_null() {
                docs.push((f.file_name().unwrap().to_string_lossy().into_owned(), v));
            }
        }
    }
    docs
}

/// Drops nulls and empty objects, which typed serialization omits.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Parses `doc` as `T` and checks that nothing was dropped on the way (a
/// misspelled field would be, silently, by a plain parse).
fn typed<T: DeserializeOwned + Serialize>(file: &str, doc: &Value) -> T {
    let t: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{file}: {} does not parse: {e}", doc["kind"]));
    let back = serde_json::to_value(&t).unwrap();
    assert_eq!(
        normalize(&back),
        normalize(doc),
        "{file}: {} {} has fields its type does not know",
        doc["kind"],
        doc["metadata"]["name"]
    );
    t
}

#[test]
fn every_manifest_is_a_valid_kubernetes_object() {
    let docs = documents();
    assert!(docs.len() >= 10, "{} documents", docs.len());
    let mut daemonsets = Vec::new();
    let mut cluster_roles = Vec::new();
    let mut roles = Vec::new();
    let mut config_maps = Vec::new();
    let mut accounts = Vec::new();
    for (file, doc) in &docs {
        match doc["kind"].as_str().unwrap_or_default() {
            "Namespace" => drop(typed::<Namespace>(file, doc)),
            "ServiceAccount" => accounts.push(typed::<ServiceAccount>(file, doc)),
            "ClusterRole" => cluster_roles.push(typed::<ClusterRole>(file, doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(file, doc)),
            "Role" => roles.push(typed::<Role>(file, doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(file, doc)),
            "ConfigMap" => config_maps.push(typed::<ConfigMap>(file, doc)),
            "DaemonSet" => daemonsets.push(typed::<DaemonSet>(file, doc)),
            "CustomResourceDefinition" => drop(typed::<CustomResourceDefinition>(file, doc)),
            "BGPConfiguration" => drop(typed::<BGPConfiguration>(file, doc)),
            "BGPPeer" => drop(typed::<BGPPeer>(file, doc)),
            other => panic!("{file}: no type check for kind {other:?}"),
        }
    }

    // The DaemonSet: host network, NET_ADMIN, the CNI installer, its account.
    assert_eq!(daemonsets.len(), 1);
    let pod = daemonsets[0].spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.host_network, Some(true));
    let agent = &pod.containers[0];
    let caps = agent
        .security_context
        .as_ref()
        .and_then(|s| s.capabilities.as_ref())
        .and_then(|c| c.add.clone())
        .unwrap_or_default();
    assert!(caps.contains(&"NET_ADMIN".to_string()), "{caps:?}");
    let args = agent.args.clone().unwrap_or_default();
    assert!(args.contains(&"--kubernetes".to_string()), "{args:?}");
    let init = pod.init_containers.as_ref().expect("an init container");
    assert!(
        init[0]
            .args
            .iter()
            .flatten()
            .any(|a| a.contains("podroute-ipam"))
    );
    let env: Vec<_> = agent
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(env.contains(&"NODE_NAME"), "{env:?}");
    let sa = pod.service_account_name.as_deref().unwrap();
    assert!(
        accounts
            .iter()
            .any(|a| a.metadata.name.as_deref() == Some(sa))
    );

    // The ConfigMap's file is a valid Kubernetes-mode config.
    let toml = config_maps[0].data.as_ref().unwrap()["podroute.toml"].clone();
    let settings = podroute::k8s::Settings::from_toml(&toml).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        settings.bgp.graceful_restart,
        "rolling updates need graceful restart"
    );

    // Least privilege: no wildcards, no cluster-wide Secrets, no writes to Nodes.
    for role in &cluster_roles {
        for rule in role.rules.iter().flatten() {
            let resources = rule.resources.clone().unwrap_or_default();
            assert!(!rule.verbs.iter().any(|v| v == "*"), "{rule:?}");
            assert!(
                !resources.iter().any(|r| r == "*" || r == "secrets"),
                "{rule:?}"
            );
            if resources.iter().any(|r| r == "nodes") {
                assert!(
                    rule.verbs
                        .iter()
                        .all(|v| ["get", "list", "watch"].contains(&v.as_str()))
                );
            }
        }
    }
    assert!(
        roles
            .iter()
            .all(|r| r.metadata.namespace.as_deref() == Some("podroute-system"))
    );
}

#[test]
fn committed_crds_are_the_generated_ones() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds.yaml");
    let committed = std::fs::read_to_string(&path).unwrap();
    let generated = podroute::k8s::crd::yaml().unwrap();
    assert!(
        committed == generated,
        "deploy/crds.yaml is stale: run `cargo run -- crds > deploy/crds.yaml`"
    );
}
