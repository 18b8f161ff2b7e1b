//! Ownership as the delete verb and the garbage collector read it: ownerReferences and finalizers.

use serde_json::Value;

use crate::api::store::Store;

/// The uids an object names as its owners.
pub(crate) fn owner_uids(obj: &Value) -> Vec<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["uid"].as_str()).collect())
        .unwrap_or_default()
}

/// Whether an object carries the finalizer `f`.
pub(crate) fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

/// Whether any object names `uid` as an owner.
pub(crate) fn has_dependents(store: &Store, uid: &str) -> bool {
    store
        .storages()
        .iter()
        .any(|s| store.list(s, None).any(|o| owner_uids(o).contains(&uid)))
}
