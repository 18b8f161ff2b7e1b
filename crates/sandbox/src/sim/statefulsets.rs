//! The StatefulSet controller: Pods `NAME-0..N-1` with their identity labels, created in order (or in parallel), removed from the highest ordinal, updated one at a time from the highest; the status counted from them.
//!
//! After pkg/controller/statefulset (stateful_set_control.go, stateful_set_utils.go):
//! - a Pod is named `<set>-<ordinal>` (ordinals from `spec.ordinals.start`), labelled
//!   `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//!   `controller-revision-hash`, with `spec.hostname` its name and `spec.subdomain` the
//!   `serviceName`; each `volumeClaimTemplates` entry gets a claim `<template>-<pod>` (kept when
//!   the Pod or set goes, the default `Retain` policy) mounted as the template's volume;
//! - `OrderedReady` creates ordinal i only once every lower one is Running and available, and
//!   scales down one Pod at a time from the highest ordinal; `Parallel` does both at once;
//! - `RollingUpdate` deletes the highest-ordinal Pod (at or above `partition`) not at the update
//!   revision once every Pod is healthy, one at a time; it comes back from the new template.
//!   `OnDelete` replaces only Pods someone deleted;
//! - status: `replicas`, `readyReplicas`, `availableReplicas` (Ready for `minReadySeconds`),
//!   `currentReplicas`/`updatedReplicas` by revision label, `currentRevision` catching up with
//!   `updateRevision` when every Pod is updated and Ready.
//!
//! Not simulated: ControllerRevision objects (the sandbox does not serve them; the revision is
//! `<set>-<hash of the template>`, so `kubectl rollout history|undo statefulset` cannot work), and
//! a Pod below the partition that is deleted comes back from the current template, not the
//! older one upstream keeps in its ControllerRevision.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::api::apply::Scope;
use crate::api::store::Store;
use crate::api::verbs::WriteOptions;
use crate::sim::deployments::template_hash;
use crate::sim::kubelet;
use crate::sim::replicasets::{
    MANAGER, available, commit, create_pod, delete, owner_ref, pod_from, resource,
};
use crate::sim::timing::{Clock, sooner};
use crate::writes;

const REVISION_LABEL: &str = "controller-revision-hash";
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

fn n(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

/// Creates the Pod of one ordinal (and its missing claims).
fn create(store: &mut Store, set: &Value, ordinal: i64, revision: &str, now: &str) {
    let ns = set["metadata"]["namespace"].as_str().unwrap_or_default();
    let set_name = set["metadata"]["name"].as_str().unwrap_or_default();
    let pod_name = format!("{set_name}-{ordinal}");
    let mut labels = Map::new();
    labels.insert(REVISION_LABEL.into(), json!(revision));
    labels.insert(POD_NAME_LABEL.into(), json!(pod_name));
    labels.insert(POD_INDEX_LABEL.into(), json!(ordinal.to_string()));
    let mut pod = pod_from(
        &set["spec"]["template"],
        owner_ref(set, "apps/v1", "StatefulSet"),
        ns,
        ("name", &pod_name),
        Some(&labels),
    );
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(service) = set["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        pod["spec"]["subdomain"] = json!(service);
    }
    for claim in set["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let template = claim["metadata"]["name"].as_str().unwrap_or_default();
        let claim_name = format!("{template}-{pod_name}");
        ensure_claim(store, ns, &claim_name, claim, set, now);
        let volumes = pod["spec"]["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut volumes: Vec<Value> = volumes
            .into_iter()
            .filter(|v| v["name"] != template)
            .collect();
        volumes.push(json!({"name": template, "persistentVolumeClaim": {"claimName": claim_name}}));
        pod["spec"]["volumes"] = Value::Array(volumes);
    }
    create_pod(store, ns, pod, now);
}

/// Creates a Pod's claim from its template unless it exists (`createPersistentVolumeClaims`).
fn ensure_claim(store: &mut Store, ns: &str, name: &str, template: &Value, set: &Value, now: &str) {
    let Some(res) = resource(store, "", "persistentvolumeclaims") else {
        return;
    };
    if store
        .get(&res.storage, &(ns.to_string(), name.to_string()))
        .is_some()
    {
        return;
    }
    let mut labels = template["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(sel) = set["spec"]["selector"]["matchLabels"].as_object() {
        labels.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": name, "namespace": ns, "labels": labels},
                       "spec": template["spec"]});
    if let Err(e) = writes::create(
        store,
        &res,
        ns,
        claim,
        &WriteOptions::internal(MANAGER, now),
    ) {
        tracing::warn!(claim = name, error = %e, "creating a StatefulSet's claim failed");
    }
}

/// One sync of a StatefulSet; returns when to look again (`minReadySeconds`).
pub(crate) fn sync(store: &mut Store, set: &Value, clock: &Clock) -> Option<Duration> {
    let pods_res = resource(store, "", "pods")?;
    let ns = set["metadata"]["namespace"].as_str()?.to_string();
    let uid = set["metadata"]["uid"].as_str()?.to_string();
    let name = set["metadata"]["name"].as_str()?.to_string();
    let now = clock.stamp.as_str();
    let spec = &set["spec"];
    let replicas = n(&spec["replicas"], 1).max(0);
    let start = n(&spec["ordinals"]["start"], 0).max(0);
    let parallel = spec["podManagementPolicy"] == "Parallel";
    let rolling = spec["updateStrategy"]["type"] != "OnDelete";
    let partition = n(&spec["updateStrategy"]["rollingUpdate"]["partition"], 0).max(0);
    let min_ready = n(&spec["minReadySeconds"], 0);
    let update_rev = format!("{name}-{}", template_hash(&spec["template"]));
    let current_rev = set["status"]["currentRevision"]
        .as_str()
        .unwrap_or(&update_rev)
        .to_string();
    let prefix = format!("{name}-");
    let pods: BTreeMap<i64, Value> = store
        .controlled_by("/pods", &uid)
        .filter(|p| p["metadata"]["namespace"] == ns.as_str())
        .filter_map(|p| {
            let ord = p["metadata"]["name"]
                .as_str()?
                .strip_prefix(&prefix)?
                .parse()
                .ok()?;
            Some((ord, p.clone()))
        })
        .collect();
    let healthy = |p: &Value| {
        p["metadata"]["deletionTimestamp"].is_null()
            && p["status"]["phase"] == "Running"
            && available(p, min_ready, clock).0
    };
    let mut wait = None;
    let mut blocked = false;
    let mut changed = false;
    let range = start..start + replicas;
    for ord in range.clone() {
        match pods.get(&ord) {
            None if !blocked => {
                create(store, set, ord, &update_rev, now);
                changed = true;
                blocked = !parallel;
            }
            None => {}
            Some(p) if !healthy(p) => {
                wait = sooner(wait, available(p, min_ready, clock).1);
                blocked |= !parallel;
            }
            Some(_) => {}
        }
    }
    let condemned: Vec<&Value> = pods
        .iter()
        .rev()
        .filter(|(ord, _)| !range.contains(ord))
        .map(|(_, p)| p)
        .collect();
    if !blocked {
        for p in &condemned {
            if !p["metadata"]["deletionTimestamp"].is_null() {
                if parallel {
                    continue;
                }
                break;
            }
            let pod = p["metadata"]["name"].as_str().unwrap_or_default();
            delete(store, &pods_res, &ns, pod, now);
            changed = true;
            if !parallel {
                break;
            }
        }
    }
    if rolling && !blocked && !changed && condemned.is_empty() {
        let stale = range
            .clone()
            .rev()
            .filter(|o| *o >= start + partition)
            .find(|o| {
                pods.get(o)
                    .is_some_and(|p| p["metadata"]["labels"][REVISION_LABEL] != update_rev.as_str())
            });
        if let Some(p) = stale.and_then(|o| pods.get(&o)) {
            let pod = p["metadata"]["name"].as_str().unwrap_or_default();
            delete(store, &pods_res, &ns, pod, now);
        }
    }
    write_status(store, set, &update_rev, &current_rev, min_ready, clock);
    wait
}

/// The status the set's Pods make (`updateStatefulSetStatus`, `completeRollingUpdate`).
fn write_status(
    store: &mut Store,
    set: &Value,
    update_rev: &str,
    current_rev: &str,
    min_ready: i64,
    clock: &Clock,
) {
    let ns = set["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = set["metadata"]["uid"].as_str().unwrap_or_default();
    let (mut replicas, mut ready, mut avail, mut current, mut updated) = (0, 0, 0, 0, 0);
    for p in store.controlled_by("/pods", uid) {
        if p["metadata"]["namespace"] != ns || !p["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        replicas += 1;
        let running = p["status"]["phase"] == "Running";
        if running && kubelet::is_ready(p) {
            ready += 1;
        }
        if running && available(p, min_ready, clock).0 {
            avail += 1;
        }
        let rev = &p["metadata"]["labels"][REVISION_LABEL];
        if rev == current_rev {
            current += 1;
        }
        if rev == update_rev {
            updated += 1;
        }
    }
    let mut current_rev = current_rev.to_string();
    if set["spec"]["updateStrategy"]["type"] != "OnDelete"
        && updated == replicas
        && ready == replicas
    {
        current = updated;
        current_rev = update_rev.to_string();
    }
    let mut s = json!({"replicas": replicas, "availableReplicas": avail,
                       "currentRevision": current_rev, "updateRevision": update_rev,
                       "collisionCount": 0});
    for (field, v) in [
        ("readyReplicas", ready),
        ("currentReplicas", current),
        ("updatedReplicas", updated),
    ] {
        if v > 0 {
            s[field] = json!(v);
        }
    }
    if let Some(g) = set["metadata"]["generation"].as_i64() {
        s["observedGeneration"] = json!(g);
    }
    let Some(res) = resource(store, "apps", "statefulsets") else {
        return;
    };
    let key = crate::api::store::key_of(set);
    if let Some(old) = store.get(&res.storage, &key).cloned()
        && old["status"] != s
    {
        let mut new = old.clone();
        new["status"] = s;
        commit(store, &res, &old, new, Scope::Status, &clock.stamp);
    }
}
