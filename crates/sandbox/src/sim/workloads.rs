//! Workload simulation: with no kubelets, Deployment status catches up with spec after a short delay.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::apply::Scope;
use crate::api::store::{ChangeType, Key, key_of};
use crate::shared::Shared;
use crate::writes;

const STORAGE: &str = "apps/deployments";

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
            cond("Progressing", "NewReplicaSetAvailable", format!("ReplicaSet \"{name}-{}\" has successfully progressed.", hash(obj))),
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

fn needs_update(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_null() && {
        let settled = settled_status(obj, "");
        strip_times(&obj["status"]) != strip_times(&settled)
    }
}

fn strip_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            c.remove("lastUpdateTime");
            c.remove("lastTransitionTime");
        }
    }
    v
}

fn settle(shared: &Shared, k: &Key) {
    if *shared.hooks.paused_signal().borrow() {
        return;
    }
    let mut store = shared.lock();
    let Some(res) = store.registry.by_storage(STORAGE).cloned() else {
        return;
    };
    let Some(old) = store.get(STORAGE, k).cloned() else {
        return;
    };
    if !needs_update(&old) {
        return;
    }
    let now = k8s_rules::now();
    let mut new = old.clone();
    new["status"] = settled_status(&old, &now);
    if let Err(e) = writes::internal_commit(
        &mut store,
        &res,
        &old,
        new,
        Scope::Status,
        "kube-controller-manager",
        &now,
    ) {
        tracing::warn!(error = %e, "deployment status update failed");
    }
}

fn all_pending(shared: &Shared) -> Vec<Key> {
    let store = shared.lock();
    store
        .list(STORAGE, None)
        .filter(|o| needs_update(o))
        .map(key_of)
        .collect()
}

/// Runs the simulation until the store's change channel closes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut rx = shared.lock().subscribe();
    let mut paused = shared.hooks.paused_signal();
    let delay = shared.config.workload_delay;
    loop {
        let keys: Vec<Key> = tokio::select! {
            msg = rx.recv() => match msg {
                Ok(c) if c.storage == STORAGE && c.kind != ChangeType::Deleted && needs_update(&c.object) => vec![key_of(&c.object)],
                Ok(_) => continue,
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
        for k in keys {
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                settle(&shared, &k);
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
        assert!(needs_update(&d));
        let mut done = d.clone();
        done["status"] = s;
        assert!(!needs_update(&done));
    }
}
