//! Workload simulation: the workload controllers and a kubelet take one step per change, each a short delay after it; PersistentVolumeClaims, PersistentVolumes and DaemonSets get the status they would settle at.
//!
//! Deployments, ReplicaSets, ReplicationControllers, StatefulSets and Jobs are synced on every
//! change to them or to what they own (a Pod's controller, a ReplicaSet's Deployment), each key
//! at most once per delay, as a controller's work queue holds a key once; a sync that waits for
//! a deadline (`minReadySeconds`, `progressDeadlineSeconds`) asks to be run again then, or when
//! `Hooks::advance_clock` moves the simulated clock. `Hooks::pause_workloads` stops everything;
//! `Hooks::pause_kubelet` stops only the Pods' progress, so controllers see Pods that never get
//! Ready (how a rollout stalls). DaemonSets: the sandbox serves no Nodes, so a DaemonSet
//! schedules no Pods and its status says 0 desired.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::api::apply::Scope;
use crate::api::store::Store;
use crate::api::store::{Change, ChangeType, Key, key_of};
use crate::shared::Shared;
use crate::sim::timing::Clock;
use crate::sim::{deployments, jobs, kubelet, observed, replicasets, statefulsets};
use crate::writes;

const DEPLOYMENTS: &str = "apps/deployments";
const STATEFULSETS: &str = "apps/statefulsets";
const JOBS: &str = "batch/jobs";

/// The stores whose objects get a simulated status.
const SIMULATED: &[&str] = &[
    DEPLOYMENTS,
    "apps/replicasets",
    "apps/statefulsets",
    "apps/daemonsets",
    "batch/jobs",
    "/persistentvolumeclaims",
    "/replicationcontrollers",
    "/persistentvolumes",
    "/pods",
];

/// Stores whose objects are reconciled on every change (they own other objects), not only when
/// their status is behind.
const CONTROLLERS: &[&str] = &[
    DEPLOYMENTS,
    "apps/replicasets",
    "/replicationcontrollers",
    STATEFULSETS,
    JOBS,
];

/// The status an object of a store without a simulated controller reaches once its (simulated)
/// Pods or volume are up; a Pod's next status from the kubelet.
pub(crate) fn settled(storage: &str, obj: &Value, now: &str) -> Option<Value> {
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
    Some(match storage {
        // No nodes: a DaemonSet schedules no pods, and so is as ready as it can be.
        "apps/daemonsets" => json!({"observedGeneration": generation, "currentNumberScheduled": 0,
            "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0,
            "updatedNumberScheduled": 0, "numberAvailable": 0}),
        "/persistentvolumeclaims" => json!({"phase": "Bound",
            "accessModes": obj["spec"]["accessModes"],
            "capacity": {"storage": obj["spec"]["resources"]["requests"]["storage"]}}),
        // Nothing claims a volume here until a claim names it (spec.claimRef).
        "/pods" => return kubelet::pod_status(obj, now),
        "/persistentvolumes" => {
            json!({"phase": if obj["spec"]["claimRef"].is_null() { "Available" } else { "Bound" }})
        }
        _ => return None,
    })
}

fn needs_update(storage: &str, obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_null()
        && settled(storage, obj, "").is_some_and(|s| strip_times(&obj["status"]) != strip_times(&s))
}

fn strip_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("startTime");
        m.remove("completionTime");
    }
    if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            c.remove("lastUpdateTime");
            c.remove("lastTransitionTime");
            c.remove("lastProbeTime");
        }
    }
    v
}

/// One step of the simulation for one object; returns when to look at it again.
fn settle(shared: &Shared, storage: &str, k: &Key) -> Option<Duration> {
    if *shared.hooks.paused_signal().borrow() {
        return None;
    }
    if storage == "/pods" && shared.hooks.kubelet_paused() {
        return None;
    }
    let clock = Clock::new(*shared.hooks.clock_signal().borrow());
    let mut store = shared.lock();
    if observed::OBSERVED.contains(&storage) {
        settle_observed(&mut store, storage, k);
        return None;
    }
    let res = store.registry.by_storage(storage).cloned()?;
    let old = store.get_shared(storage, k)?;
    if !old["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    match storage {
        DEPLOYMENTS => return deployments::sync(&mut store, &old, &clock),
        "apps/replicasets" => {
            return replicasets::sync(&mut store, &old, "apps/v1", "ReplicaSet", &clock);
        }
        "/replicationcontrollers" => {
            return replicasets::sync(&mut store, &old, "v1", "ReplicationController", &clock);
        }
        STATEFULSETS => return statefulsets::sync(&mut store, &old, &clock),
        JOBS => {
            jobs::sync(&mut store, &old, &clock);
            return None;
        }
        _ => {}
    }
    if !needs_update(storage, &old) {
        return None;
    }
    let mut new = Value::clone(&old);
    new["status"] = settled(storage, &old, &clock.stamp)?;
    if let Err(e) = writes::internal_commit(
        &mut store,
        &res,
        &old,
        new,
        Scope::Status,
        "kube-controller-manager",
        &clock.stamp,
    ) {
        tracing::warn!(storage, error = %e, "simulated status update failed");
    }
    None
}

/// Brings the status of PodDisruptionBudgets, HorizontalPodAutoscalers or Ingresses (`k`, or
/// every one in `k.0` when `k.1` is `*`) in line with the objects they observe; an HPA scales
/// its target into its replica range.
fn settle_observed(store: &mut Store, storage: &str, k: &Key) {
    let Some(res) = store.registry.by_storage(storage).cloned() else {
        return;
    };
    let objs: Vec<Value> = if k.1 == "*" {
        store.list(storage, Some(&k.0)).cloned().collect()
    } else {
        store.get(storage, k).cloned().into_iter().collect()
    };
    let now = k8s_rules::now();
    for old in objs {
        if !old["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let Some((status, scale)) = observed::status(store, storage, &old, &now) else {
            continue;
        };
        if let Some((target_storage, key, replicas)) = scale
            && let Some(target_res) = store.registry.by_storage(&target_storage).cloned()
            && let Some(target) = store.get(&target_storage, &key).cloned()
        {
            let mut scaled = target.clone();
            scaled["spec"]["replicas"] = json!(replicas);
            if let Err(e) = writes::internal_commit(
                store,
                &target_res,
                &target,
                scaled,
                Scope::NoStatus,
                "kube-controller-manager",
                &now,
            ) {
                tracing::warn!(error = %e, "scaling an autoscaler's target failed");
            }
        }
        if observed::differs(&old["status"], &status) {
            let mut new = old.clone();
            new["status"] = status;
            if let Err(e) = writes::internal_commit(
                store,
                &res,
                &old,
                new,
                Scope::Status,
                "kube-controller-manager",
                &now,
            ) {
                tracing::warn!(storage, error = %e, "simulated status update failed");
            }
        }
    }
}

fn all_pending(shared: &Shared) -> Vec<(&'static str, Key)> {
    let store = shared.lock();
    SIMULATED
        .iter()
        .chain(observed::OBSERVED)
        .flat_map(|s| {
            store
                .list(s, None)
                .filter(|o| {
                    CONTROLLERS.contains(s) || observed::OBSERVED.contains(s) || needs_update(s, o)
                })
                .map(|o| (*s, key_of(o)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What a change makes the simulation look at: the changed object if its status is behind or it
/// is a controller, and the controller owning it (a Pod's ReplicaSet, a ReplicaSet's
/// Deployment), also when it was deleted.
fn triggered(c: &Change) -> Vec<(&'static str, Key)> {
    let mut out = Vec::new();
    if c.kind != ChangeType::Deleted
        && let Some(s) = SIMULATED.iter().find(|s| **s == c.storage)
        && (CONTROLLERS.contains(s) || needs_update(s, &c.object))
    {
        out.push((*s, key_of(&c.object)));
    }
    let ns = c.object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    if c.kind != ChangeType::Deleted
        && let Some(s) = observed::OBSERVED.iter().find(|s| **s == c.storage)
    {
        out.push((*s, key_of(&c.object)));
    }
    match c.storage.as_str() {
        "/pods" => out.push((observed::PDBS, (ns.to_string(), "*".into()))),
        DEPLOYMENTS | "apps/statefulsets" | "apps/replicasets" | "/replicationcontrollers" => {
            out.push((observed::HPAS, (ns.to_string(), "*".into())))
        }
        _ => {}
    }
    for r in c.object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if r["controller"] != true {
            continue;
        }
        let storage = match (c.storage.as_str(), r["kind"].as_str()) {
            ("/pods", Some("ReplicaSet")) => "apps/replicasets",
            ("/pods", Some("ReplicationController")) => "/replicationcontrollers",
            ("/pods", Some("StatefulSet")) => STATEFULSETS,
            ("/pods", Some("Job")) => JOBS,
            ("apps/replicasets", Some("Deployment")) => DEPLOYMENTS,
            _ => continue,
        };
        let name = r["name"].as_str().unwrap_or_default();
        out.push((storage, (ns.to_string(), name.to_string())));
    }
    out
}

/// Objects waiting out the delay before they settle: a change to one already waiting adds no
/// second settle (the waiting one reads the object as it is by then), as a controller's work
/// queue holds a key once.
type Queued = Arc<Mutex<HashSet<(&'static str, Key)>>>;

/// Keys waiting for a deadline, and when it is due.
type Waiting = Arc<Mutex<HashMap<(&'static str, Key), Instant>>>;

/// Runs the simulation until the store's change channel closes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut rx = shared.lock().subscribe();
    let mut paused = shared.hooks.paused_signal();
    let mut kubelet = shared.hooks.kubelet_signal();
    let mut clock = shared.hooks.clock_signal();
    let delay = shared.config.workload_delay;
    let queued: Queued = Arc::default();
    // Keys whose sync waits for a deadline (when it is due), and the channel their timers
    // report on.
    let waiting: Waiting = Arc::default();
    let (again_tx, mut again) = tokio::sync::mpsc::unbounded_channel();
    loop {
        let keys: Vec<(&'static str, Key)> = tokio::select! {
            msg = rx.recv() => match msg {
                Ok(c) => {
                    let keys = triggered(&c);
                    if keys.is_empty() {
                        continue;
                    }
                    keys
                }
                Err(RecvError::Lagged(_)) => all_pending(&shared),
                Err(RecvError::Closed) => return,
            },
            changed = paused.changed() => {
                if changed.is_err() {
                    return;
                }
                all_pending(&shared)
            }
            changed = kubelet.changed() => {
                if changed.is_err() {
                    return;
                }
                all_pending(&shared)
            }
            changed = clock.changed() => {
                if changed.is_err() {
                    return;
                }
                waiting.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(k, _)| k).collect()
            }
            Some(item) = again.recv() => {
                let item: (&'static str, Key) = item;
                if waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&item).is_none() {
                    continue;
                }
                vec![item]
            }
        };
        for (storage, k) in keys {
            let item = (storage, k);
            if !queued
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(item.clone())
            {
                continue;
            }
            let shared = shared.clone();
            let queued = queued.clone();
            let waiting = waiting.clone();
            let again_tx = again_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                queued
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&item);
                if let Some(wait) = settle(&shared, item.0, &item.1) {
                    // The sync above took one delay already; the timer makes up the rest. One
                    // timer per key: a later deadline than one already waited for adds none.
                    let due = Instant::now() + wait.saturating_sub(delay);
                    {
                        let mut w = waiting.lock().unwrap_or_else(PoisonError::into_inner);
                        if w.get(&item).is_some_and(|d| *d <= due) {
                            return;
                        }
                        w.insert(item.clone(), due);
                    }
                    tokio::time::sleep_until(due).await;
                    // The loop may have ended with the sandbox; then nobody listens.
                    let _ = again_tx.send(item);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_pods_trigger_their_controller() {
        let pod = json!({"metadata": {"namespace": "n", "name": "p",
            "ownerReferences": [{"kind": "StatefulSet", "name": "s", "controller": true}]}});
        let c = Change {
            rv: 1,
            kind: ChangeType::Modified,
            storage: "/pods".into(),
            object: Arc::new(pod),
            old: None,
            text: Default::default(),
        };
        let keys = triggered(&c);
        assert!(
            keys.contains(&(STATEFULSETS, ("n".into(), "s".into()))),
            "{keys:?}"
        );
        let pvc = json!({"metadata": {"namespace": "n", "name": "c"}, "spec": {}});
        assert!(needs_update("/persistentvolumeclaims", &pvc));
    }
}
