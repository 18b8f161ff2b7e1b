//! The replica-set (and replication-controller) controller: keeps `spec.replicas` Pods from the template and counts them into the status.
//!
//! After pkg/controller/replicaset/replica_set.go: missing Pods are created
//! (`<name>-` + a random suffix, a controller reference), extra ones deleted (not-ready ones
//! first, then the newest, as `getPodsToDelete` ranks them); the status counts the active Pods
//! (`replicas`), those carrying the template's labels (`fullyLabeledReplicas`), the Ready ones
//! and the available ones (Ready for at least `spec.minReadySeconds`), with zero counts left out
//! as upstream's `omitempty` does.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::api::apply::Scope;
use crate::api::resources::ResourceInfo;
use crate::api::store::Store;
use crate::api::verbs::{DeleteOptions, WriteOptions};
use crate::sim::kubelet;
use crate::sim::timing::{Clock, sooner};
use crate::writes;

pub(crate) const MANAGER: &str = "kube-controller-manager";

/// The objects of `storage` in `ns` that the object with `uid` controls and that are not being
/// deleted (through the store's controller index, not a scan of the namespace).
pub(crate) fn controlled_by<'a>(
    store: &'a Store,
    storage: &str,
    ns: &'a str,
    uid: &'a str,
) -> Vec<&'a Value> {
    store
        .controlled_by(storage, uid)
        .filter(|o| {
            o["metadata"]["namespace"] == ns && o["metadata"]["deletionTimestamp"].is_null()
        })
        .collect()
}

/// A controller reference to `obj`.
pub(crate) fn owner_ref(obj: &Value, api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

/// The served resource `group/v1/plural`.
pub(crate) fn resource(store: &Store, group: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
    store.registry.find(group, "v1", plural).cloned()
}

/// A write by a simulated controller; a failure is logged (the next change retries).
pub(crate) fn commit(
    store: &mut Store,
    res: &ResourceInfo,
    old: &Value,
    new: Value,
    scope: Scope,
    now: &str,
) {
    if let Err(e) = writes::internal_commit(store, res, old, new, scope, MANAGER, now) {
        tracing::warn!(kind = %res.kind, error = %e, "simulated controller write failed");
    }
}

/// Deletes an object as a controller does (no preconditions, default propagation).
pub(crate) fn delete(store: &mut Store, res: &ResourceInfo, ns: &str, name: &str, now: &str) {
    let opts = DeleteOptions {
        propagation: None,
        uid: None,
        resource_version: None,
        dry_run: false,
        now: now.into(),
    };
    if let Err(e) = writes::delete(store, res, ns, name, &opts) {
        tracing::warn!(kind = %res.kind, name, error = %e, "simulated controller delete failed");
    }
}

/// A Pod from `template`, controlled by `owner`, with the given name (or `generateName`).
pub(crate) fn pod_from(
    template: &Value,
    owner_ref: Value,
    ns: &str,
    name: (&str, &str),
    labels: Option<&Map<String, Value>>,
) -> Value {
    let mut meta = json!({"namespace": ns, "ownerReferences": [owner_ref]});
    meta[name.0] = json!(name.1);
    let mut l = template["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(extra) = labels {
        l.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if !l.is_empty() {
        meta["labels"] = Value::Object(l);
    }
    if template["metadata"]["annotations"].is_object() {
        meta["annotations"] = template["metadata"]["annotations"].clone();
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]})
}

/// Creates a Pod; false (logged) if the store refused it.
pub(crate) fn create_pod(store: &mut Store, ns: &str, pod: Value, now: &str) -> bool {
    let Some(res) = resource(store, "", "pods") else {
        return false;
    };
    match writes::create(store, &res, ns, pod, &WriteOptions::internal(MANAGER, now)) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "creating a Pod failed");
            false
        }
    }
}

/// Whether a Pod is available: Ready for more than `min_ready` seconds
/// (`podutil.IsPodAvailable`); otherwise, when it is Ready, how long until it will be.
pub(crate) fn available(pod: &Value, min_ready: i64, clock: &Clock) -> (bool, Option<Duration>) {
    if !kubelet::is_ready(pod) {
        return (false, None);
    }
    if min_ready <= 0 {
        return (true, None);
    }
    match clock.wait_past(kubelet::ready_since(pod), min_ready) {
        None => (true, None),
        wait => (false, wait),
    }
}

/// Gives a ReplicaSet (or ReplicationController) exactly `spec.replicas` Pods and writes the
/// status they make. Returns when to look again (a Pod's `minReadySeconds` running out).
pub(crate) fn sync(
    store: &mut Store,
    owner: &Value,
    api_version: &str,
    kind: &str,
    clock: &Clock,
) -> Option<Duration> {
    if !owner["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let pods_res = resource(store, "", "pods")?;
    let ns = owner["metadata"]["namespace"].as_str()?.to_string();
    let uid = owner["metadata"]["uid"].as_str()?.to_string();
    let name = owner["metadata"]["name"].as_str()?.to_string();
    let now = clock.stamp.as_str();
    let want = owner["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    // (ready, creationTimestamp, name) of the active Pods: enough to rank them for deletion.
    let mut pods: Vec<(bool, String, String)> = controlled_by(store, "/pods", &ns, &uid)
        .into_iter()
        .filter(|p| kubelet::is_active(p))
        .map(|p| {
            let meta = &p["metadata"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                kubelet::is_ready(p),
                text(&meta["creationTimestamp"]),
                text(&meta["name"]),
            )
        })
        .collect();
    let template = &owner["spec"]["template"];
    for _ in pods.len()..want {
        let gen_name = format!("{name}-");
        let pod = pod_from(
            template,
            owner_ref(owner, api_version, kind),
            &ns,
            ("generateName", &gen_name),
            None,
        );
        if !create_pod(store, &ns, pod, now) {
            break;
        }
    }
    if pods.len() > want {
        // Not ready before ready, then the newest first.
        pods.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
        for (_, _, pod_name) in pods.iter().take(pods.len() - want) {
            delete(store, &pods_res, &ns, pod_name, now);
        }
    }
    let (status, wait) = status(store, owner, clock);
    let res = store.registry.by_storage(if kind == "ReplicaSet" {
        "apps/replicasets"
    } else {
        "/replicationcontrollers"
    });
    if let Some(res) = res.cloned()
        && let Some(current) = store.get_shared(&res.storage, &(ns.clone(), name.clone()))
        && without_conditions(&current["status"]) != status
    {
        let mut new = Value::clone(&current);
        let conditions = current["status"]["conditions"].clone();
        new["status"] = status;
        if !conditions.is_null() {
            new["status"]["conditions"] = conditions;
        }
        commit(store, &res, &current, new, Scope::Status, now);
    }
    wait
}

fn without_conditions(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("conditions");
    }
    s
}

/// The status a ReplicaSet's Pods make (`calculateStatus`), and when a Ready Pod becomes
/// available.
fn status(store: &Store, owner: &Value, clock: &Clock) -> (Value, Option<Duration>) {
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = owner["metadata"]["uid"].as_str().unwrap_or_default();
    let min_ready = owner["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let labels = owner["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let (mut replicas, mut labelled, mut ready, mut avail) = (0, 0, 0, 0);
    let mut wait = None;
    for pod in controlled_by(store, "/pods", ns, uid) {
        if !kubelet::is_active(pod) {
            continue;
        }
        replicas += 1;
        if labels
            .iter()
            .all(|(k, v)| pod["metadata"]["labels"][k] == *v)
        {
            labelled += 1;
        }
        if kubelet::is_ready(pod) {
            ready += 1;
        }
        let (is, w) = available(pod, min_ready, clock);
        if is {
            avail += 1;
        }
        wait = sooner(wait, w);
    }
    let mut s = json!({"replicas": replicas});
    for (field, n) in [
        ("fullyLabeledReplicas", labelled),
        ("readyReplicas", ready),
        ("availableReplicas", avail),
    ] {
        if n > 0 {
            s[field] = json!(n);
        }
    }
    if let Some(g) = owner["metadata"]["generation"].as_i64() {
        s["observedGeneration"] = json!(g);
    }
    (s, wait)
}
