//! Writes as requests and the simulation make them: the verb, then garbage collection to a fixpoint.
//!
//! This is the one place where collection follows a write. Verbs never collect; the collector
//! calls them directly. Collection runs after a write that removed an object or marked one for
//! deletion (only those change which owners are alive or waiting for their dependents), and
//! after a write of an object naming an owner that does not exist.

use serde_json::Value;

use crate::api::apply::Scope;
use crate::api::convert::{Served, to_served};
use crate::api::errors::Result;
use crate::api::resources::ResourceInfo;
use crate::api::store::{Store, key_of};
use crate::api::verbs::{self, DeleteOptions, PatchType, Sub, WriteOptions};
use crate::sim::gc;

/// Creates an object (POST). A new object is never marked for deletion, so nothing is collected.
pub(crate) fn create(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    body: Value,
    opts: &WriteOptions,
) -> Result<Served> {
    let out = verbs::create(store, res, ns, body, opts)?;
    collect_if_dangling(store, opts, &out);
    Ok(out)
}

/// Replaces an object (PUT), then collects garbage if that completed its deletion.
pub(crate) fn update(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    body: Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Served> {
    let out = verbs::update(store, res, ns, name, body, sub, opts)?;
    collect_if_removed(store, res, &out);
    collect_if_dangling(store, opts, &out);
    Ok(out)
}

/// Patches an object (PATCH, incl. server-side apply), then collects garbage if that completed
/// its deletion.
#[allow(clippy::too_many_arguments)]
pub(crate) fn patch(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    kind: PatchType,
    body: &Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Served> {
    let out = verbs::patch(store, res, ns, name, kind, body, sub, opts)?;
    collect_if_removed(store, res, &out);
    collect_if_dangling(store, opts, &out);
    Ok(out)
}

/// A write by the server itself (the workload simulation), then garbage collection if that
/// completed a deletion.
pub(crate) fn internal_commit(
    store: &mut Store,
    res: &ResourceInfo,
    old: &Value,
    new: Value,
    scope: Scope,
    manager: &str,
    now: &str,
) -> Result<()> {
    if verbs::internal_commit(store, res, old, new, scope, manager, now)? {
        gc::collect(store);
    }
    Ok(())
}

/// Deletes an object (DELETE), then collects garbage; answers with the object as collection
/// left it, if it is still there (waiting for a finalizer).
pub(crate) fn delete(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Value> {
    let out = verbs::delete(store, res, ns, name, opts)?;
    if opts.dry_run {
        return Ok(out);
    }
    gc::collect(store);
    Ok(store
        .get(&res.storage, &verbs::key(res, ns, name))
        .map_or(out, |o| to_served(res, o)))
}

/// Collects garbage if `out`, what a write stored, names an owner that does not exist: the
/// collector then deletes it, or drops the reference if another owner remains.
fn collect_if_dangling(store: &mut Store, opts: &WriteOptions, out: &Value) {
    if !opts.dry_run && gc::has_dangling_owner(store, out) {
        gc::collect(store);
    }
}

/// Collects garbage if `out`, what a write answered, is an object it removed: marked for deletion
/// and no longer stored (its last finalizer went).
fn collect_if_removed(store: &mut Store, res: &ResourceInfo, out: &Value) {
    if !out["metadata"]["deletionTimestamp"].is_null()
        && store.get(&res.storage, &key_of(out)).is_none()
    {
        gc::collect(store);
    }
}
