//! The deployment and replica-set controllers, with instant rollouts: a Deployment's pod template gets a ReplicaSet (pod-template-hash, revision annotations) that holds its Pods; older ReplicaSets scale to 0.
//!
//! Follows kube-controller-manager's pkg/controller/deployment (sync.go, rollback via the
//! revision annotation, util/deployment_util.go) closely enough for `kubectl rollout
//! status|history|undo`: the ReplicaSet is named `<deployment>-<pod-template-hash>`, its
//! selector, template and labels carry the hash, `deployment.kubernetes.io/revision` numbers the
//! templates (a template that comes back gets the next revision, as upstream), and at most
//! `spec.revisionHistoryLimit` (10) old ReplicaSets are kept. There is no surge or
//! unavailability: the new ReplicaSet gets every replica at once.

use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::api::apply::Scope;
use crate::api::resources::ResourceInfo;
use crate::api::store::Store;
use crate::api::verbs::{DeleteOptions, WriteOptions, key};
use crate::writes;

const MANAGER: &str = "kube-controller-manager";
const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
/// Annotations the controller owns, not copied from the Deployment to its ReplicaSets
/// (deployment_util.go skipCopyAnnotation).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The `pod-template-hash` of a template, in the alphabet of apimachinery's
/// `rand.SafeEncodeString` (no vowels, no look-alike digits).
pub(crate) fn template_hash(template: &Value) -> String {
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let d = sha2::Sha256::digest(without_hash(template).to_string().as_bytes());
    d.iter()
        .take(10)
        .map(|b| SAFE[*b as usize % SAFE.len()] as char)
        .collect()
}

/// A template without the `pod-template-hash` label (upstream's EqualIgnoreHash compares so).
fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

fn revision(obj: &Value) -> i64 {
    obj["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The objects of `storage` in `ns` that the object with `uid` controls and that are not being
/// deleted (through the store's controller index, not a scan of the namespace).
fn controlled_by<'a>(store: &'a Store, storage: &str, ns: &'a str, uid: &'a str) -> Vec<&'a Value> {
    store
        .controlled_by(storage, uid)
        .filter(|o| {
            o["metadata"]["namespace"] == ns && o["metadata"]["deletionTimestamp"].is_null()
        })
        .collect()
}

fn owner_ref(obj: &Value, api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

fn resource(store: &Store, group: &str, plural: &str) -> Option<ResourceInfo> {
    store.registry.find(group, "v1", plural).cloned()
}

/// Annotations of the Deployment that its ReplicaSets carry, plus the revision.
fn copied_annotations(dep: &Value, rev: i64) -> Map<String, Value> {
    let mut out: Map<String, Value> = dep["metadata"]["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.insert(REVISION.into(), json!(rev.to_string()));
    out
}

/// Brings a Deployment's ReplicaSets in line with its spec: the ReplicaSet of the current
/// template (created if missing, given the newest revision) holds every replica, the others
/// none; old ones beyond the history limit go. Returns the new ReplicaSet's name.
pub(crate) fn reconcile_deployment(store: &mut Store, dep: &Value, now: &str) -> Option<String> {
    if !dep["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let rs_res = resource(store, "apps", "replicasets")?;
    let ns = dep["metadata"]["namespace"].as_str()?.to_string();
    let uid = dep["metadata"]["uid"].as_str()?.to_string();
    let name = dep["metadata"]["name"].as_str()?.to_string();
    let template = &dep["spec"]["template"];
    let hash = template_hash(template);
    let replicas = dep["spec"]["replicas"].as_i64().unwrap_or(1);
    let owned: Vec<Value> = controlled_by(store, "apps/replicasets", &ns, &uid)
        .into_iter()
        .cloned()
        .collect();
    let max_rev = owned.iter().map(revision).max().unwrap_or(0);
    let current = owned
        .iter()
        .find(|rs| without_hash(&rs["spec"]["template"]) == without_hash(template))
        .cloned();
    let new_name = match &current {
        Some(rs) => rs["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        None if dep["spec"]["paused"] == true => return None,
        None => format!("{name}-{hash}"),
    };
    let wanted_rev = match &current {
        Some(rs) if revision(rs) == max_rev && max_rev > 0 => max_rev,
        _ => max_rev + 1,
    };
    let opts = WriteOptions::internal(MANAGER, now);
    match current {
        None => {
            let mut labels = template["metadata"]["labels"].clone();
            labels[HASH_LABEL] = json!(hash);
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"] = labels.clone();
            let mut selector = dep["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": new_name, "namespace": ns, "labels": labels,
                             "annotations": copied_annotations(dep, wanted_rev),
                             "ownerReferences": [owner_ref(dep, "apps/v1", "Deployment")]},
                "spec": {"replicas": replicas, "minReadySeconds": dep["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                         "selector": selector, "template": rs_template},
            });
            if let Err(e) = writes::create(store, &rs_res, &ns, rs, &opts) {
                tracing::warn!(deployment = %name, error = %e, "creating the ReplicaSet failed");
            }
        }
        Some(rs) => {
            let annotations = Value::Object(copied_annotations(dep, wanted_rev));
            if rs["spec"]["replicas"].as_i64() != Some(replicas)
                || rs["metadata"]["annotations"] != annotations
            {
                let mut new = rs.clone();
                new["spec"]["replicas"] = json!(replicas);
                new["metadata"]["annotations"] = annotations;
                commit(store, &rs_res, &rs, new, now);
            }
        }
    }
    scale_down_and_trim(store, dep, &rs_res, &new_name, now);
    if revision_of_deployment(dep) != wanted_rev
        && let Some(dep_res) = resource(store, "apps", "deployments")
        && let Some(old) = store
            .get(&dep_res.storage, &key(&dep_res, &ns, &name))
            .cloned()
    {
        let mut new = old.clone();
        new["metadata"]["annotations"][REVISION] = json!(wanted_rev.to_string());
        if let Err(e) =
            writes::internal_commit(store, &dep_res, &old, new, Scope::NoStatus, MANAGER, now)
        {
            tracing::warn!(deployment = %name, error = %e, "annotating the revision failed");
        }
    }
    Some(new_name)
}

fn revision_of_deployment(dep: &Value) -> i64 {
    revision(dep)
}

fn commit(store: &mut Store, res: &ResourceInfo, old: &Value, new: Value, now: &str) {
    if let Err(e) = writes::internal_commit(store, res, old, new, Scope::NoStatus, MANAGER, now) {
        tracing::warn!(kind = %res.kind, error = %e, "simulated controller write failed");
    }
}

/// Scales every ReplicaSet but `keep` to 0 and deletes the oldest beyond the history limit.
fn scale_down_and_trim(
    store: &mut Store,
    dep: &Value,
    rs_res: &ResourceInfo,
    keep: &str,
    now: &str,
) {
    let ns = dep["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = dep["metadata"]["uid"].as_str().unwrap_or_default();
    let mut old: Vec<Value> = controlled_by(store, "apps/replicasets", ns, uid)
        .into_iter()
        .filter(|rs| rs["metadata"]["name"] != keep)
        .cloned()
        .collect();
    for rs in &old {
        if rs["spec"]["replicas"].as_i64() != Some(0) {
            let mut new = rs.clone();
            new["spec"]["replicas"] = json!(0);
            commit(store, rs_res, rs, new, now);
        }
    }
    let limit = dep["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    old.sort_by_key(revision);
    let excess = old.len().saturating_sub(limit);
    for rs in old.iter().take(excess) {
        let name = rs["metadata"]["name"].as_str().unwrap_or_default();
        let opts = DeleteOptions {
            propagation: None,
            uid: None,
            resource_version: None,
            dry_run: false,
            now: now.into(),
        };
        if let Err(e) = writes::delete(store, rs_res, ns, name, &opts) {
            tracing::warn!(replicaset = name, error = %e, "trimming the revision history failed");
        }
    }
}

/// Gives a ReplicaSet (or ReplicationController) exactly `spec.replicas` Pods from its template:
/// creates the missing ones (`<name>-` + a random suffix), deletes the newest extra ones.
pub(crate) fn reconcile_pods(
    store: &mut Store,
    owner: &Value,
    api_version: &str,
    kind: &str,
    now: &str,
) {
    if !owner["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let Some(pods_res) = resource(store, "", "pods") else {
        return;
    };
    let ns = owner["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = owner["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = owner["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let want = owner["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let mut pods: Vec<Value> = controlled_by(store, "/pods", &ns, &uid)
        .into_iter()
        .cloned()
        .collect();
    let opts = WriteOptions::internal(MANAGER, now);
    let template = &owner["spec"]["template"];
    for _ in pods.len()..want {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": format!("{name}-"), "namespace": ns,
                         "labels": template["metadata"]["labels"],
                         "annotations": template["metadata"]["annotations"],
                         "ownerReferences": [owner_ref(owner, api_version, kind)]},
            "spec": template["spec"],
        });
        if let Err(e) = writes::create(store, &pods_res, &ns, strip_nulls(pod), &opts) {
            tracing::warn!(owner = %name, error = %e, "creating a Pod failed");
            return;
        }
    }
    if pods.len() > want {
        pods.sort_by(|a, b| {
            b["metadata"]["creationTimestamp"]
                .as_str()
                .cmp(&a["metadata"]["creationTimestamp"].as_str())
        });
        let opts = DeleteOptions {
            propagation: None,
            uid: None,
            resource_version: None,
            dry_run: false,
            now: now.into(),
        };
        for pod in pods.iter().take(pods.len() - want) {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
            if let Err(e) = writes::delete(store, &pods_res, &ns, pod_name, &opts) {
                tracing::warn!(pod = pod_name, error = %e, "deleting an extra Pod failed");
            }
        }
    }
}

fn strip_nulls(mut v: Value) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        m.retain(|_, x| !x.is_null());
    }
    v
}

/// The status a Pod made by a simulated controller reaches once the (simulated) kubelet ran
/// it: Running, Ready, every container ready; `None` for other Pods (no kubelet runs them).
pub(crate) fn pod_status(pod: &Value, now: &str) -> Option<Value> {
    let owned = pod["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r["controller"] == true
                    && matches!(
                        r["kind"].as_str(),
                        Some("ReplicaSet" | "ReplicationController")
                    )
            })
        });
    if !owned {
        return None;
    }
    let old = &pod["status"];
    let since = old["startTime"].as_str().unwrap_or(now).to_string();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                           "restartCount": 0, "state": {"running": {"startedAt": since}}})
                })
                .collect()
        })
        .unwrap_or_default();
    let cond = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": since});
    Some(json!({
        "phase": "Running", "startTime": since, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
        "qosClass": "BestEffort",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        "containerStatuses": containers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_its_own_label_and_uses_the_safe_alphabet() {
        let t = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let mut labelled = t.clone();
        labelled["metadata"]["labels"][HASH_LABEL] = json!("x");
        assert_eq!(template_hash(&t), template_hash(&labelled));
        assert_eq!(template_hash(&t).len(), 10);
        assert!(
            template_hash(&t)
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        let mut other = t.clone();
        other["spec"]["containers"][0]["image"] = json!("j");
        assert_ne!(template_hash(&t), template_hash(&other));
    }
}
