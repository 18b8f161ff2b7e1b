//! The deployment controller: a Deployment's pod template gets a ReplicaSet (pod-template-hash, revision annotations), and the rollout moves Pods to it step by step as its strategy says.
//!
//! Follows kube-controller-manager's pkg/controller/deployment (deployment_controller.go
//! `syncDeployment`, sync.go, rolling.go, recreate.go, progress.go, util/deployment_util.go):
//! the ReplicaSet is named `<deployment>-<pod-template-hash>`, its selector, template and labels
//! carry the hash, `deployment.kubernetes.io/revision` numbers the templates (a template that
//! comes back, as `kubectl rollout undo` makes it, gets the next revision). RollingUpdate grows
//! the new ReplicaSet and shrinks the old ones within `maxSurge`/`maxUnavailable`, one step per
//! change of their Pods (see `rollout`); Recreate scales the old ones to 0 and creates the new one
//! once their Pods are gone; a paused Deployment only scales. Once a rollout is complete, old
//! ReplicaSets beyond `spec.revisionHistoryLimit` are deleted. Proportional scaling of several
//! ReplicaSets in the middle of a rollout is not simulated: a replica change mid-rollout is
//! absorbed by the rollout's steps.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::api::apply::Scope;
use crate::api::resources::ResourceInfo;
use crate::api::store::Store;
use crate::api::verbs::{WriteOptions, key};
use crate::sim::replicasets::{MANAGER, commit, delete, owner_ref, resource};
use crate::sim::rollout::{self, Size};
use crate::sim::timing::Clock;
use crate::writes;

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

/// Whether two templates are equal but for their `pod-template-hash` labels
/// (`without_hash(a) == without_hash(b)`, compared in place where both have labels).
fn equal_ignoring_hash(a: &Value, b: &Value) -> bool {
    let (Some(la), Some(lb)) = (
        a["metadata"]["labels"].as_object(),
        b["metadata"]["labels"].as_object(),
    ) else {
        return without_hash(a) == without_hash(b);
    };
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| *k != HASH_LABEL).count();
    kept(la) == kept(lb)
        && la
            .iter()
            .filter(|(k, _)| *k != HASH_LABEL)
            .all(|(k, v)| lb.get(k) == Some(v))
        && equal_except(a, b, "metadata")
        && equal_except(&a["metadata"], &b["metadata"], "labels")
}

/// Whether two objects are equal but for the member `skipped`.
fn equal_except(a: &Value, b: &Value, skipped: &str) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| *k != skipped).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| *k != skipped)
            .all(|(k, v)| b.get(k) == Some(v))
}

fn revision(obj: &Value) -> i64 {
    obj["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
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

/// Annotations that tell a ReplicaSet its Deployment's size (`SetReplicasAnnotations`).
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

fn max_replicas(dep: &Value) -> i64 {
    let surge = if dep["spec"]["strategy"]["type"] == "Recreate" {
        0
    } else {
        rollout::fenceposts(dep).0
    };
    rollout::replicas(dep) + surge
}

/// The Deployment's ReplicaSets: the one of its current template (if any) and the others,
/// oldest first.
/// They are shared with the store: a sync reads them, and copies only the one it changes.
fn replica_sets(store: &Store, dep: &Value) -> (Option<Arc<Value>>, Vec<Arc<Value>>) {
    let ns = dep["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = dep["metadata"]["uid"].as_str().unwrap_or_default();
    let template = &dep["spec"]["template"];
    let mut new = None;
    let mut olds = Vec::new();
    let controlled = store
        .controlled_by_shared("apps/replicasets", uid)
        .filter(|o| {
            o["metadata"]["namespace"] == ns && o["metadata"]["deletionTimestamp"].is_null()
        });
    for rs in controlled {
        if new.is_none() && equal_ignoring_hash(&rs["spec"]["template"], template) {
            new = Some(rs.clone());
        } else {
            olds.push(rs.clone());
        }
    }
    olds.sort_by(|a, b| {
        let at = |o: &Value| {
            o["metadata"]["creationTimestamp"]
                .as_str()
                .map(str::to_string)
        };
        at(a).cmp(&at(b)).then_with(|| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        })
    });
    (new, olds)
}

/// Sets a ReplicaSet's `spec.replicas` and its size annotations, as `scaleReplicaSet` does.
fn scale(store: &mut Store, res: &ResourceInfo, dep: &Value, rs: &Value, replicas: i64, now: &str) {
    let mut new = rs.clone();
    new["spec"]["replicas"] = json!(replicas);
    new["metadata"]["annotations"][DESIRED] = json!(rollout::replicas(dep).to_string());
    new["metadata"]["annotations"][MAX_REPLICAS] = json!(max_replicas(dep).to_string());
    if new != *rs {
        commit(store, res, rs, new, Scope::NoStatus, now);
    }
}

/// Creates the ReplicaSet of the Deployment's current template with `replicas` Pods.
fn create_new_rs(
    store: &mut Store,
    res: &ResourceInfo,
    dep: &Value,
    rev: i64,
    replicas: i64,
    now: &str,
) -> Option<String> {
    let ns = dep["metadata"]["namespace"].as_str()?;
    let name = dep["metadata"]["name"].as_str()?;
    let template = &dep["spec"]["template"];
    let hash = template_hash(template);
    let rs_name = format!("{name}-{hash}");
    let mut labels = template["metadata"]["labels"].clone();
    labels[HASH_LABEL] = json!(hash);
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"] = labels.clone();
    let mut selector = dep["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut annotations = copied_annotations(dep, rev);
    annotations.insert(DESIRED.into(), json!(rollout::replicas(dep).to_string()));
    annotations.insert(MAX_REPLICAS.into(), json!(max_replicas(dep).to_string()));
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                     "annotations": annotations,
                     "ownerReferences": [owner_ref(dep, "apps/v1", "Deployment")]},
        "spec": {"replicas": replicas,
                 "minReadySeconds": dep["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                 "selector": selector, "template": rs_template},
    });
    match writes::create(store, res, ns, rs, &WriteOptions::internal(MANAGER, now)) {
        Ok(_) => Some(rs_name),
        Err(e) => {
            tracing::warn!(deployment = %name, error = %e, "creating the ReplicaSet failed");
            None
        }
    }
}

/// Brings an existing new ReplicaSet's revision, copied annotations and `minReadySeconds` in
/// line with the Deployment (`getNewReplicaSet`); returns it as stored afterwards.
fn sync_new_rs(
    store: &mut Store,
    res: &ResourceInfo,
    dep: &Value,
    rs: &Arc<Value>,
    rev: i64,
    now: &str,
) -> Arc<Value> {
    let mut annotations = copied_annotations(dep, rev);
    for k in [DESIRED, MAX_REPLICAS] {
        if let Some(v) = rs["metadata"]["annotations"].get(k) {
            annotations.insert(k.into(), v.clone());
        }
    }
    let min_ready = json!(dep["spec"]["minReadySeconds"].as_i64().unwrap_or(0));
    if rs["metadata"]["annotations"].as_object() == Some(&annotations)
        && rs["spec"]["minReadySeconds"] == min_ready
    {
        return rs.clone();
    }
    let mut new = Value::clone(rs);
    new["metadata"]["annotations"] = Value::Object(annotations);
    new["spec"]["minReadySeconds"] = min_ready;
    if new == **rs {
        return rs.clone();
    }
    commit(store, res, rs, new.clone(), Scope::NoStatus, now);
    store
        .get_shared(&res.storage, &crate::api::store::key_of(rs))
        .unwrap_or_else(|| Arc::new(new))
}

/// Whether any Pod of the old ReplicaSets is still there and not finished (`oldPodsRunning`).
fn old_pods_running(store: &Store, olds: &[Arc<Value>]) -> bool {
    olds.iter().any(|rs| {
        let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
        store
            .controlled_by("/pods", uid)
            .any(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
    })
}

/// One sync of a Deployment (`syncDeployment`): its ReplicaSets take one step of the rollout
/// and its status follows them. Returns when to look again (the progress deadline).
pub(crate) fn sync(store: &mut Store, dep: &Value, clock: &Clock) -> Option<Duration> {
    if !dep["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let rs_res = resource(store, "apps", "replicasets")?;
    let dep_res = resource(store, "apps", "deployments")?;
    let ns = dep["metadata"]["namespace"].as_str()?.to_string();
    let name = dep["metadata"]["name"].as_str()?.to_string();
    let now = clock.stamp.as_str();
    let want = rollout::replicas(dep);
    let paused = dep["spec"]["paused"] == true;
    let recreate = dep["spec"]["strategy"]["type"] == "Recreate";
    let mut conds: Vec<Value> = dep["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rollout::note_paused(&mut conds, dep, now);

    let rv_before = store.rv();
    let (mut new_rs, olds) = replica_sets(store, dep);
    let max_rev = new_rs
        .iter()
        .chain(&olds)
        .map(|rs| revision(rs))
        .max()
        .unwrap_or(0);
    if let Some(rs) = &new_rs {
        let rev = if revision(rs) == max_rev && max_rev > 0 {
            max_rev
        } else {
            max_rev + 1
        };
        new_rs = Some(sync_new_rs(store, &rs_res, dep, rs, rev, now));
        rollout::note_new_rs(
            &mut conds,
            dep,
            rollout::FOUND_NEW_RS,
            &rs_name(&new_rs),
            now,
        );
    }
    let old_sizes: Vec<Size> = olds.iter().map(|rs| Size::of(rs)).collect();
    let mut scaled = false;
    if paused {
        // `dc.sync` → `scale`: with one active ReplicaSet, it follows `spec.replicas`.
        let active: Vec<&Value> = new_rs
            .iter()
            .chain(&olds)
            .map(|rs| &**rs)
            .filter(|rs| Size::of(rs).spec > 0)
            .collect();
        let target = match active.as_slice() {
            [one] => Some(*one),
            [] => new_rs.as_deref(),
            _ => None,
        };
        if let Some(rs) = target
            && Size::of(rs).spec != want
        {
            scale(store, &rs_res, dep, rs, want, now);
        }
    } else if recreate {
        for (rs, size) in olds.iter().zip(&old_sizes) {
            if size.spec > 0 {
                scale(store, &rs_res, dep, rs, 0, now);
                scaled = true;
            }
        }
        if !scaled && !old_pods_running(store, &olds) {
            match &new_rs {
                None => {
                    if let Some(created) =
                        create_new_rs(store, &rs_res, dep, max_rev + 1, want, now)
                    {
                        rollout::note_new_rs(
                            &mut conds,
                            dep,
                            rollout::NEW_RS_CREATED,
                            &created,
                            now,
                        );
                    }
                }
                Some(rs) if Size::of(rs).spec != want => scale(store, &rs_res, dep, rs, want, now),
                Some(_) => {}
            }
        }
    } else {
        match &new_rs {
            None => {
                let n = rollout::new_rs_replicas(dep, 0, &old_sizes);
                if let Some(created) = create_new_rs(store, &rs_res, dep, max_rev + 1, n, now) {
                    rollout::note_new_rs(&mut conds, dep, rollout::NEW_RS_CREATED, &created, now);
                }
                new_rs = replica_sets(store, dep).0;
            }
            Some(rs) => {
                let spec = Size::of(rs).spec;
                let n = rollout::new_rs_replicas(dep, spec, &old_sizes);
                if n != spec {
                    scale(store, &rs_res, dep, rs, n, now);
                    scaled = true;
                }
            }
        }
        if !scaled {
            let new_size = new_rs.as_deref().map(Size::of).unwrap_or_default();
            let specs = rollout::old_rs_replicas(dep, new_size, &old_sizes);
            for ((rs, size), spec) in olds.iter().zip(&old_sizes).zip(specs) {
                if spec != size.spec {
                    scale(store, &rs_res, dep, rs, spec, now);
                }
            }
        }
    }

    // Read again only if this sync wrote something.
    let (new_rs, olds) = if store.rv() == rv_before {
        (new_rs, olds)
    } else {
        replica_sets(store, dep)
    };
    if paused || rollout::complete(dep, &dep["status"]) {
        trim_history(store, dep, &rs_res, &olds, now);
    }
    let new_name = rs_name(&new_rs);
    let mut sizes: Vec<Size> = olds.iter().map(|rs| Size::of(rs)).collect();
    sizes.extend(new_rs.as_deref().map(Size::of));
    let new = new_rs
        .as_deref()
        .map(|rs| (new_name.as_str(), Size::of(rs)));
    let (status, wait) = rollout::status(dep, new, &sizes, conds, clock);

    let k = key(&dep_res, &ns, &name);
    let new_rev = new_rs.as_deref().map(revision).unwrap_or(0);
    if new_rev > 0
        && revision(dep) != new_rev
        && let Some(old) = store.get_shared(&dep_res.storage, &k)
    {
        let mut new = Value::clone(&old);
        new["metadata"]["annotations"][REVISION] = json!(new_rev.to_string());
        commit(store, &dep_res, &old, new, Scope::NoStatus, now);
    }
    if let Some(old) = store.get_shared(&dep_res.storage, &k)
        && old["status"] != status
    {
        let mut new = Value::clone(&old);
        new["status"] = status;
        commit(store, &dep_res, &old, new, Scope::Status, now);
    }
    wait
}

fn rs_name(rs: &Option<Arc<Value>>) -> String {
    rs.as_ref()
        .and_then(|r| r["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Deletes the oldest old ReplicaSets beyond `spec.revisionHistoryLimit` that have no Pods
/// left (`cleanupDeployment`).
fn trim_history(
    store: &mut Store,
    dep: &Value,
    res: &ResourceInfo,
    olds: &[Arc<Value>],
    now: &str,
) {
    let ns = dep["metadata"]["namespace"].as_str().unwrap_or_default();
    let limit = dep["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    if olds.len() <= limit {
        return;
    }
    let mut by_rev: Vec<&Value> = olds.iter().map(|rs| &**rs).collect();
    by_rev.sort_by_key(|rs| revision(rs));
    for rs in by_rev.iter().take(olds.len() - limit) {
        let size = Size::of(rs);
        let observed = rs["status"]["observedGeneration"].as_i64().unwrap_or(0);
        if size.replicas != 0
            || size.spec != 0
            || rs["metadata"]["generation"].as_i64().unwrap_or(0) > observed
        {
            continue;
        }
        let rs_name = rs["metadata"]["name"].as_str().unwrap_or_default();
        delete(store, res, ns, rs_name, now);
    }
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
