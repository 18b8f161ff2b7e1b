//! Garbage collection: dependents of deleted owners (transitively), foreground deletion, the contents of terminating namespaces.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use crate::api::apply::Scope;
use crate::api::owners::{has_finalizer, owner_uids};
use crate::api::store::{Key, Store, key_of};
use crate::api::verbs::{self, DeleteOptions};
use crate::sim::namespaces;

/// One step of a collection pass, on the object at `(storage, key)`.
enum Action {
    /// Delete it (in the background): its owners are gone, or its namespace is.
    Delete(String, Key),
    /// Drop its `foregroundDeletion` finalizer: it is being deleted and no dependent is left.
    DropForeground(String, Key),
    /// Remove its references to these owners, which no longer exist, while another owner does.
    DropOwners(String, Key, Vec<String>),
}

/// Collects garbage to a fixed point: deletes objects whose owners are all gone (or are being
/// deleted in the foreground) and objects in namespaces that no longer exist, removes references
/// to owners that are gone while another owner remains, and completes foreground deletions whose
/// dependents are gone. Failures are logged with the object's identity.
///
/// Each pass acts on what the previous one left (and runs the namespace controller), and ends
/// collection when it writes nothing (every action failed, and the next pass would fail the same way). The loop
/// ends because every write of a pass removes an object, marks one for deletion (which is never
/// collected again) or drops a `foregroundDeletion` finalizer (which collection never adds).
pub(crate) fn collect(store: &mut Store) {
    let now = k8s_rules::now();
    loop {
        let before = store.rv();
        for action in pending(store) {
            run(store, action, &now);
        }
        namespaces::step(store, &now);
        if store.rv() == before {
            return;
        }
    }
}

/// What one pass of collection has to do, given the store as it is.
fn pending(store: &Store) -> Vec<Action> {
    let mut alive: HashMap<String, bool> = HashMap::new();
    let mut referenced: HashSet<String> = HashSet::new();
    let namespaces: HashSet<String> = store
        .list("/namespaces", None)
        .map(|n| key_of(n).1)
        .collect();
    let storages = store.storages();
    for s in &storages {
        for o in store.list(s, None) {
            if let Some(uid) = o["metadata"]["uid"].as_str() {
                let foreground = has_finalizer(o, "foregroundDeletion")
                    && !o["metadata"]["deletionTimestamp"].is_null();
                alive.insert(uid.to_string(), !foreground);
            }
            referenced.extend(owner_uids(o).into_iter().map(String::from));
        }
    }
    let mut actions = Vec::new();
    for s in &storages {
        for o in store.list(s, None) {
            let deleting = !o["metadata"]["deletionTimestamp"].is_null();
            let owners = owner_uids(o);
            let orphaned =
                !owners.is_empty() && !owners.iter().any(|u| alive.get(*u) == Some(&true));
            let (ns, _) = key_of(o);
            let ns_gone = !ns.is_empty() && s != "/namespaces" && !namespaces.contains(&ns);
            if (orphaned || ns_gone) && !deleting {
                actions.push(Action::Delete(s.clone(), key_of(o)));
            } else if !orphaned {
                let dangling: Vec<String> = owners
                    .iter()
                    .filter(|u| !alive.contains_key(**u))
                    .map(|u| u.to_string())
                    .collect();
                if !dangling.is_empty() {
                    actions.push(Action::DropOwners(s.clone(), key_of(o), dangling));
                }
            }
            let uid = o["metadata"]["uid"].as_str().unwrap_or_default();
            if deleting && has_finalizer(o, "foregroundDeletion") && !referenced.contains(uid) {
                actions.push(Action::DropForeground(s.clone(), key_of(o)));
            }
        }
    }
    actions
}

/// Carries out one action. An object an earlier action of the pass already removed (a CRD takes
/// its objects along) is skipped.
fn run(store: &mut Store, action: Action, now: &str) {
    match action {
        Action::Delete(s, k) => {
            if store.get(&s, &k).is_none() {
                return;
            }
            let Some(res) = store.registry.by_storage(&s).cloned() else {
                store.remove(&s, &k);
                return;
            };
            let opts = DeleteOptions {
                now: now.into(),
                ..Default::default()
            };
            if let Err(e) = verbs::delete(store, &res, &k.0, &k.1, &opts) {
                tracing::warn!(storage = %s, namespace = %k.0, name = %k.1, error = %e, "garbage collection could not delete an object");
            }
        }
        Action::DropOwners(s, k, uids) => {
            let Some(old) = store.get(&s, &k).cloned() else {
                return;
            };
            let Some(res) = store.registry.by_storage(&s).cloned() else {
                return;
            };
            let mut new = old.clone();
            if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| {
                    !r["uid"]
                        .as_str()
                        .is_some_and(|u| uids.iter().any(|d| d == u))
                });
            }
            if let Err(e) = verbs::internal_commit(
                store,
                &res,
                &old,
                new,
                Scope::NoStatus,
                "kube-controller-manager",
                now,
            ) {
                tracing::warn!(storage = %s, namespace = %k.0, name = %k.1, error = %e, "garbage collection could not remove a dangling owner reference");
            }
        }
        Action::DropForeground(s, k) => {
            let Some(old) = store.get(&s, &k).cloned() else {
                return;
            };
            let Some(res) = store.registry.by_storage(&s).cloned() else {
                return;
            };
            let mut new = old.clone();
            if let Some(f) = new["metadata"]["finalizers"].as_array_mut() {
                f.retain(|x| x != &json!("foregroundDeletion"));
            }
            if let Err(e) = verbs::internal_commit(
                store,
                &res,
                &old,
                new,
                Scope::NoStatus,
                "kube-controller-manager",
                now,
            ) {
                tracing::warn!(storage = %s, namespace = %k.0, name = %k.1, error = %e, "garbage collection could not complete a foreground deletion");
            }
        }
    }
}

/// Whether some owner `obj` names is gone: its kind is served and no object of that kind and
/// name (in `obj`'s namespace, for namespaced owners) has its uid. The collector resolves owners
/// the same way (kube-controller-manager's garbage collector looks them up by kind and name).
pub(crate) fn has_dangling_owner(store: &Store, obj: &serde_json::Value) -> bool {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| {
            let (Some(av), Some(kind), Some(name)) = (
                r["apiVersion"].as_str(),
                r["kind"].as_str(),
                r["name"].as_str(),
            ) else {
                return false;
            };
            let Some(res) = store.registry.find_kind(av, kind) else {
                return false;
            };
            let key = (
                if res.namespaced {
                    ns.to_string()
                } else {
                    String::new()
                },
                name.to_string(),
            );
            store
                .get(&res.storage, &key)
                .is_none_or(|o| o["metadata"]["uid"] != r["uid"])
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::verbs::WriteOptions;
    use serde_json::Value;

    fn opts() -> WriteOptions {
        WriteOptions::internal("test", "2026-01-01T00:00:00Z")
    }

    fn configmap(store: &mut Store, name: &str, owner: Option<&Value>, finalizer: bool) -> Value {
        let cm = store.registry.find("", "v1", "configmaps").unwrap().clone();
        let mut body = json!({"metadata": {"name": name}});
        if let Some(o) = owner {
            body["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
                "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}]);
        }
        if finalizer {
            body["metadata"]["finalizers"] = json!(["example.com/hold"]);
        }
        verbs::create(store, &cm, "default", body, &opts())
            .unwrap()
            .into_owned()
    }

    fn store() -> Store {
        let mut s = Store::new(100);
        let ns = s.registry.find("", "v1", "namespaces").unwrap().clone();
        verbs::create(
            &mut s,
            &ns,
            "",
            json!({"metadata": {"name": "default"}}),
            &opts(),
        )
        .unwrap();
        s
    }

    fn exists(store: &Store, name: &str) -> bool {
        store
            .get("/configmaps", &("default".into(), name.into()))
            .is_some()
    }

    #[test]
    fn dependents_go_transitively_and_held_ones_wait() {
        let mut s = store();
        let owner = configmap(&mut s, "owner", None, false);
        let child = configmap(&mut s, "child", Some(&owner), false);
        configmap(&mut s, "grandchild", Some(&child), false);
        let held = configmap(&mut s, "held", Some(&owner), true);
        let cm = s.registry.find("", "v1", "configmaps").unwrap().clone();
        verbs::delete(&mut s, &cm, "default", "owner", &DeleteOptions::default()).unwrap();
        assert!(
            exists(&s, "child"),
            "verbs leave collection to their caller"
        );
        collect(&mut s);
        assert!(!exists(&s, "child") && !exists(&s, "grandchild"));
        let held = s.get("/configmaps", &key_of(&held)).unwrap();
        assert!(!held["metadata"]["deletionTimestamp"].is_null());
        let before = s.rv();
        collect(&mut s);
        assert_eq!(s.rv(), before, "a second collection finds nothing to do");
    }

    #[test]
    fn foreground_deletion_completes_once_dependents_are_gone() {
        let mut s = store();
        let owner = configmap(&mut s, "owner", None, false);
        configmap(&mut s, "child", Some(&owner), false);
        let cm = s.registry.find("", "v1", "configmaps").unwrap().clone();
        let opts = DeleteOptions {
            propagation: Some("Foreground".into()),
            ..Default::default()
        };
        let out = verbs::delete(&mut s, &cm, "default", "owner", &opts).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        collect(&mut s);
        assert!(!exists(&s, "child") && !exists(&s, "owner"));
    }
}
