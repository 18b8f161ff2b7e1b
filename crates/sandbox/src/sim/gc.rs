//! Garbage collection: dependents of deleted owners (transitively), foreground deletion, orphaning, namespace contents.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::api::apply::Scope;
use crate::api::store::{Key, Store, key_of};
use crate::api::verbs::{self, DeleteOptions};

fn owner_uids(obj: &Value) -> Vec<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["uid"].as_str()).collect())
        .unwrap_or_default()
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

/// Whether any object names `uid` as an owner.
pub fn has_dependents(store: &Store, uid: &str) -> bool {
    store
        .storages()
        .iter()
        .any(|s| store.list(s, None).any(|o| owner_uids(o).contains(&uid)))
}

/// Removes the ownerReferences to `uid` from every dependent (propagationPolicy=Orphan).
pub fn orphan_dependents(store: &mut Store, uid: &str, now: &str) {
    let mut todo: Vec<(String, Value)> = Vec::new();
    for s in store.storages() {
        for o in store.list(&s, None) {
            if owner_uids(o).contains(&uid) {
                todo.push((s.clone(), o.clone()));
            }
        }
    }
    for (s, old) in todo {
        let Some(res) = store.registry.by_storage(&s).cloned() else {
            continue;
        };
        let mut new = old.clone();
        if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"].as_str() != Some(uid));
        }
        if new["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && let Some(m) = new["metadata"].as_object_mut()
        {
            m.remove("ownerReferences");
        }
        let _ = verbs::internal_commit(
            store,
            &res,
            &old,
            new,
            Scope::NoStatus,
            "kube-controller-manager",
            now,
        );
    }
}

enum Action {
    Delete(String, Key),
    DropForeground(String, Value),
}

/// Runs collection to a fixed point: deletes objects whose owners are all gone (or are being
/// deleted in the foreground), objects in namespaces that no longer exist, and completes
/// foreground deletions whose dependents are gone.
pub fn sweep(store: &mut Store) {
    if store.collecting {
        return;
    }
    store.collecting = true;
    collect(store, &k8s_rules::now());
    store.collecting = false;
}

fn collect(store: &mut Store, now: &str) {
    for _ in 0..1000 {
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
                }
                let uid = o["metadata"]["uid"].as_str().unwrap_or_default();
                if deleting && has_finalizer(o, "foregroundDeletion") && !referenced.contains(uid) {
                    actions.push(Action::DropForeground(s.clone(), o.clone()));
                }
            }
        }
        if actions.is_empty() {
            return;
        }
        for a in actions {
            match a {
                Action::Delete(s, k) => {
                    let Some(res) = store.registry.by_storage(&s).cloned() else {
                        store.remove(&s, &k);
                        continue;
                    };
                    let opts = DeleteOptions {
                        now: now.into(),
                        ..Default::default()
                    };
                    let _ = verbs::delete(store, &res, &k.0, &k.1, &opts);
                }
                Action::DropForeground(s, old) => {
                    let Some(res) = store.registry.by_storage(&s).cloned() else {
                        continue;
                    };
                    let mut new = old.clone();
                    if let Some(f) = new["metadata"]["finalizers"].as_array_mut() {
                        f.retain(|x| x != &json!("foregroundDeletion"));
                    }
                    let _ = verbs::internal_commit(
                        store,
                        &res,
                        &old,
                        new,
                        Scope::NoStatus,
                        "kube-controller-manager",
                        now,
                    );
                }
            }
        }
    }
}
