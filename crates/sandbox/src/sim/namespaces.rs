//! The namespace controller: empties a terminating namespace, reports what is left in its status, removes it once empty.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::apply::Scope;
use crate::api::store::{Key, Store, key_of};
use crate::api::verbs::{self, DeleteOptions};

const MANAGER: &str = "kube-controller-manager";

/// One pass over the terminating namespaces, as kube-controller-manager's namespace controller
/// (pkg/controller/namespace/deletion): deletes every object in them not yet being deleted; a
/// namespace with objects left (held by finalizers) gets the `NamespaceContentRemaining` and
/// `NamespaceFinalizersRemaining` conditions, an empty one loses its `kubernetes` finalizer and
/// is removed. Writes only what changes, so a pass with nothing to do writes nothing.
pub(crate) fn step(store: &mut Store, now: &str) {
    let terminating: Vec<String> = store
        .list("/namespaces", None)
        .filter(|n| !n["metadata"]["deletionTimestamp"].is_null())
        .map(|n| key_of(n).1)
        .collect();
    for name in terminating {
        empty(store, &name, now);
        settle(store, &name, now);
    }
}

/// Deletes (in the background) every object in `ns` that is not being deleted yet.
fn empty(store: &mut Store, ns: &str, now: &str) {
    let mut todo: Vec<(String, Key)> = Vec::new();
    for s in store.storages() {
        if s == "/namespaces" {
            continue;
        }
        todo.extend(
            store
                .list(&s, Some(ns))
                .filter(|o| o["metadata"]["deletionTimestamp"].is_null())
                .map(|o| (s.clone(), key_of(o))),
        );
    }
    for (s, k) in todo {
        let Some(res) = store.registry.by_storage(&s).cloned() else {
            store.remove(&s, &k);
            continue;
        };
        if store.get(&s, &k).is_none() {
            continue;
        }
        let opts = DeleteOptions {
            now: now.into(),
            ..Default::default()
        };
        if let Err(e) = verbs::delete(store, &res, &k.0, &k.1, &opts) {
            tracing::warn!(storage = %s, namespace = %k.0, name = %k.1, error = %e, "the namespace controller could not delete an object");
        }
    }
}

/// What is left in `ns`: instances per `resource.group`, and per finalizer.
fn remaining(store: &Store, ns: &str) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut resources = BTreeMap::new();
    let mut finalizers = BTreeMap::new();
    for s in store.storages() {
        if s == "/namespaces" {
            continue;
        }
        for o in store.list(&s, Some(ns)) {
            let label = store
                .registry
                .by_storage(&s)
                .map_or(s.clone(), |r| format!("{}.{}", r.plural, r.group));
            *resources.entry(label).or_insert(0) += 1;
            for f in o["metadata"]["finalizers"].as_array().into_iter().flatten() {
                if let Some(f) = f.as_str() {
                    *finalizers.entry(f.to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    (resources, finalizers)
}

/// Finalizes an empty namespace, or reports what keeps it.
fn settle(store: &mut Store, ns: &str, now: &str) {
    let Some(res) = store.registry.find("", "v1", "namespaces").cloned() else {
        return;
    };
    let Some(current) = store
        .get("/namespaces", &(String::new(), ns.into()))
        .cloned()
    else {
        return;
    };
    let (resources, finalizers) = remaining(store, ns);
    let mut new = current.clone();
    let scope = if resources.is_empty() {
        if let Some(f) = new["spec"]["finalizers"].as_array_mut() {
            f.retain(|x| x != "kubernetes");
        }
        Scope::NoStatus
    } else {
        let old = current["status"]["conditions"].clone();
        new["status"]["conditions"] = json!(conditions(&resources, &finalizers, &old, now));
        Scope::Status
    };
    if new == current {
        return;
    }
    if let Err(e) = verbs::internal_commit(store, &res, &current, new, scope, MANAGER, now) {
        tracing::warn!(namespace = ns, error = %e, "the namespace controller could not update a terminating namespace");
    }
}

/// The deletion conditions the namespace controller reports while content remains; a condition
/// whose status is unchanged keeps its `lastTransitionTime`.
fn conditions(
    resources: &BTreeMap<String, usize>,
    finalizers: &BTreeMap<String, usize>,
    old: &Value,
    now: &str,
) -> Vec<Value> {
    let listed = |m: &BTreeMap<String, usize>, sep: &str| {
        m.iter()
            .map(|(k, n)| format!("{k}{sep}{n} resource instances"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = vec![
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        ),
        (
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            format!(
                "Some resources are remaining: {}",
                listed(resources, " has ")
            ),
        ),
    ];
    out.push(if finalizers.is_empty() {
        (
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        )
    } else {
        (
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                listed(finalizers, " in ")
            ),
        )
    });
    out.into_iter()
        .map(|(ty, status, reason, message)| {
            let since = old
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == ty && c["status"] == status))
                .map_or(json!(now), |c| c["lastTransitionTime"].clone());
            json!({"type": ty, "status": status, "reason": reason, "message": message,
                   "lastTransitionTime": since})
        })
        .collect()
}
