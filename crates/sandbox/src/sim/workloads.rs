//! Workload simulation: with no kubelets, the status of Deployments, ReplicaSets, ReplicationControllers, StatefulSets, DaemonSets, Jobs, PersistentVolumeClaims and PersistentVolumes catches up with their spec after a short delay.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::apply::Scope;
use crate::api::store::Store;
use crate::api::store::{Change, ChangeType, Key, key_of};
use crate::shared::Shared;
use crate::sim::{deployments, observed};
use crate::writes;

const DEPLOYMENTS: &str = "apps/deployments";

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
const CONTROLLERS: &[&str] = &[DEPLOYMENTS, "apps/replicasets", "/replicationcontrollers"];

/// The status an object of `storage` reaches once its (simulated) pods or volume are up.
pub(crate) fn settled(storage: &str, obj: &Value, now: &str) -> Option<Value> {
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
    let old = &obj["status"];
    Some(match storage {
        DEPLOYMENTS => settled_status(obj, now),
        "apps/replicasets" | "/replicationcontrollers" => {
            json!({"observedGeneration": generation, "replicas": replicas,
            "fullyLabeledReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas})
        }
        "apps/statefulsets" => {
            let revision = format!(
                "{}-{}",
                obj["metadata"]["name"].as_str().unwrap_or_default(),
                hash(obj)
            );
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
                "currentRevision": revision, "updateRevision": revision, "collisionCount": 0})
        }
        // No nodes: a DaemonSet schedules no pods, and so is as ready as it can be.
        "apps/daemonsets" => json!({"observedGeneration": generation, "currentNumberScheduled": 0,
            "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0,
            "updatedNumberScheduled": 0, "numberAvailable": 0}),
        "batch/jobs" => {
            if obj["spec"]["suspend"] == true {
                return None;
            }
            let completions = obj["spec"]["completions"].as_i64().unwrap_or(1);
            let at = |f: &str| old[f].as_str().map_or(json!(now), |t| json!(t));
            let cond = |ty: &str, reason: &str, message: &str| {
                json!({"type": ty, "status": "True", "reason": reason, "message": message,
                       "lastProbeTime": at("completionTime"), "lastTransitionTime": at("completionTime")})
            };
            json!({"startTime": at("startTime"), "completionTime": at("completionTime"),
                "succeeded": completions, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
                "conditions": [cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                               cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")]})
        }
        "/persistentvolumeclaims" => json!({"phase": "Bound",
            "accessModes": obj["spec"]["accessModes"],
            "capacity": {"storage": obj["spec"]["resources"]["requests"]["storage"]}}),
        // Nothing claims a volume here until a claim names it (spec.claimRef).
        "/pods" => return deployments::pod_status(obj, now),
        "/persistentvolumes" => {
            json!({"phase": if obj["spec"]["claimRef"].is_null() { "Available" } else { "Bound" }})
        }
        _ => return None,
    })
}

/// The status a Deployment reaches once its (simulated) pods are all up.
pub(crate) fn settled_status(obj: &Value, now: &str) -> Value {
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
    let old = &obj["status"]["conditions"];
    let cond = |ty: &str, reason: &str, message: String| {
        let prev = old
            .as_array()
            .and_then(|a| a.iter().find(|c| c["type"] == ty));
        let same = prev.is_some_and(|p| {
            p["status"] == "True" && p["reason"] == reason && p["message"] == message.as_str()
        });
        let (update, transition) = match prev {
            Some(p) if same => (p["lastUpdateTime"].clone(), p["lastTransitionTime"].clone()),
            Some(p) if p["status"] == "True" => (json!(now), p["lastTransitionTime"].clone()),
            _ => (json!(now), json!(now)),
        };
        json!({"type": ty, "status": "True", "reason": reason, "message": message,
               "lastUpdateTime": update, "lastTransitionTime": transition})
    };
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.".into()),
            cond("Progressing", "NewReplicaSetAvailable", format!("ReplicaSet \"{name}-{}\" has successfully progressed.", deployments::template_hash(&obj["spec"]["template"]))),
        ],
    });
    if replicas == 0
        && let Some(m) = status.as_object_mut()
    {
        for f in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            m.remove(f);
        }
    }
    status
}

fn hash(obj: &Value) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(obj["spec"]["template"].to_string().as_bytes());
    d.iter()
        .take(5)
        .map(|b| format!("{:x}", b % 16))
        .collect::<String>()
        + "7d"
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

fn settle(shared: &Shared, storage: &str, k: &Key) {
    if *shared.hooks.paused_signal().borrow() {
        return;
    }
    let mut store = shared.lock();
    if observed::OBSERVED.contains(&storage) {
        settle_observed(&mut store, storage, k);
        return;
    }
    let Some(res) = store.registry.by_storage(storage).cloned() else {
        return;
    };
    let Some(mut old) = store.get(storage, k).cloned() else {
        return;
    };
    let now = k8s_rules::now();
    if old["metadata"]["deletionTimestamp"].is_null() {
        match storage {
            DEPLOYMENTS => {
                deployments::reconcile_deployment(&mut store, &old, &now);
                match store.get(storage, k).cloned() {
                    Some(o) => old = o,
                    None => return,
                }
            }
            "apps/replicasets" => {
                deployments::reconcile_pods(&mut store, &old, "apps/v1", "ReplicaSet", &now)
            }
            "/replicationcontrollers" => {
                deployments::reconcile_pods(&mut store, &old, "v1", "ReplicationController", &now)
            }
            _ => {}
        }
    }
    if !needs_update(storage, &old) {
        return;
    }
    let mut new = old.clone();
    let Some(status) = settled(storage, &old, &now) else {
        return;
    };
    new["status"] = status;
    if let Err(e) = writes::internal_commit(
        &mut store,
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

/// Runs the simulation until the store's change channel closes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut rx = shared.lock().subscribe();
    let mut paused = shared.hooks.paused_signal();
    let delay = shared.config.workload_delay;
    let queued: Queued = Arc::default();
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
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                queued
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&item);
                settle(&shared, item.0, &item.1);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_spec() {
        let d = json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2, "template": {}}});
        let s = settled_status(&d, "t");
        assert_eq!(s["observedGeneration"], 3);
        assert_eq!(s["availableReplicas"], 2);
        assert_eq!(s["conditions"][0]["type"], "Available");
        assert!(needs_update(DEPLOYMENTS, &d));
        let mut done = d.clone();
        done["status"] = s;
        assert!(!needs_update(DEPLOYMENTS, &done));
        let job = json!({"metadata": {"name": "j"}, "spec": {"completions": 2}});
        let mut finished = job.clone();
        finished["status"] = settled("batch/jobs", &job, "t").unwrap();
        assert_eq!(finished["status"]["succeeded"], 2);
        assert!(
            !needs_update("batch/jobs", &finished),
            "times do not make it pending again"
        );
    }
}
