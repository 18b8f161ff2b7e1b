//! The API verbs on the store: get, list, create, update, patch (incl. server-side apply), delete.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::api::apply::{self, ApplyRequest, Scope, UpdateRequest};
use crate::api::convert::{
    Served, served_cow, served_shared, storage_api_version, to_served, to_storage,
};
use crate::api::defaults::apply_defaults;
use crate::api::errors::{ApiError, Result};
use crate::api::owners::{has_dependents, owner_uids};
use crate::api::patch;
use crate::api::resources::{self, ResourceInfo};
use crate::api::rules;
use crate::api::selectors::{FieldSelector, LabelSelector};
use crate::api::store::{Key, Store, key_of};
use crate::api::validation::validate;
use k8s_rules::typed;
use k8s_rules::types::Schema;

/// Which part of an object a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sub {
    /// The object itself.
    Main,
    /// The `status` subresource.
    Status,
    /// The `scale` subresource.
    Scale,
    /// A namespace's `finalize` subresource: the only way to change `spec.finalizers`.
    Finalize,
}

/// The patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// The `fieldValidation` directive: what to do with unknown fields in a write
/// (<https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header per field (the API server's default).
    Warn,
    /// Refuse the write with 400 BadRequest listing them.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter (absent: `Warn`, the API server's default).
    pub(crate) fn parse(v: Option<&str>) -> Self {
        match v {
            Some("Strict") => Self::Strict,
            Some("Ignore") => Self::Ignore,
            _ => Self::Warn,
        }
    }
}

/// Options common to writes.
#[derive(Debug)]
pub(crate) struct WriteOptions {
    /// The field manager (from `fieldManager` or the user agent).
    pub(crate) manager: String,
    /// `dryRun=All`: compute the result but store nothing.
    pub(crate) dry_run: bool,
    /// `force=true` for server-side apply.
    pub(crate) force: bool,
    /// The current time (RFC 3339).
    pub(crate) now: String,
    /// `fieldValidation`: what unknown fields in the request do.
    pub(crate) validation: FieldValidation,
    /// Warnings for the response (`Warning: 299 - "…"` headers).
    pub(crate) warnings: std::sync::Mutex<Vec<String>>,
}

impl WriteOptions {
    /// Options for a write by the server itself (unknown fields dropped silently).
    pub(crate) fn internal(manager: &str, now: &str) -> Self {
        Self {
            manager: manager.into(),
            dry_run: false,
            force: false,
            now: now.into(),
            validation: FieldValidation::Ignore,
            warnings: Default::default(),
        }
    }

    /// Reports unknown fields as `fieldValidation` says: an error under Strict, warnings under
    /// Warn. `what` is `Kind in version "v"` … `as a Kind`.
    pub(crate) fn unknown_fields(&self, res: &ResourceInfo, fields: &[String]) -> Result<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = fields
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match self.validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                self.warnings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(listed);
                Ok(())
            }
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                res.kind,
                res.version,
                res.kind,
                listed.join(", ")
            ))),
        }
    }
}

/// The type definitions of a resource's objects.
pub(crate) fn schema_of(res: &ResourceInfo) -> Schema<'_> {
    Schema::for_kind(
        &res.api_version(),
        &res.kind,
        res.custom,
        res.schema.as_ref(),
    )
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    /// `Background` (default), `Foreground` or `Orphan`.
    pub(crate) propagation: Option<String>,
    /// Precondition on the uid.
    pub(crate) uid: Option<String>,
    /// Precondition on the resourceVersion.
    pub(crate) resource_version: Option<String>,
    /// Compute but do not delete.
    pub(crate) dry_run: bool,
    /// The current time (RFC 3339).
    pub(crate) now: String,
}

/// Parameters of a list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    /// `labelSelector`.
    pub(crate) labels: LabelSelector,
    /// `fieldSelector`.
    pub(crate) fields: FieldSelector,
    /// `limit`.
    pub(crate) limit: Option<usize>,
    /// `continue`.
    pub(crate) continue_token: Option<String>,
    /// `resourceVersion`.
    pub(crate) resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub(crate) resource_version_match: Option<String>,
}

/// The store key of `name` (in `ns`, if the resource is namespaced).
pub(crate) fn key(res: &ResourceInfo, ns: &str, name: &str) -> Key {
    (
        if res.namespaced {
            ns.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

fn scope_for(res: &ResourceInfo, sub: Sub) -> Scope {
    match (sub, res.status) {
        (Sub::Status, _) => Scope::Status,
        (_, true) => Scope::NoStatus,
        (_, false) => Scope::All,
    }
}

fn rv_of(v: &Value) -> Option<&str> {
    v["metadata"]["resourceVersion"]
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Reads one object (shared with the store where it is stored in the served form).
pub(crate) fn get(store: &Store, res: &ResourceInfo, ns: &str, name: &str) -> Result<Served> {
    store
        .get_shared(&res.storage, &key(res, ns, name))
        .map(|o| served_shared(res, &o))
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))
}

/// Reads the `scale` subresource of an object.
pub(crate) fn get_scale(store: &Store, res: &ResourceInfo, ns: &str, name: &str) -> Result<Value> {
    let obj = get(store, res, ns, name)?;
    Ok(scale_of(res, &obj))
}

fn path_get<'a>(obj: &'a Value, path: &str) -> &'a Value {
    path.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .fold(obj, |cur, seg| &cur[seg])
}

fn scale_of(res: &ResourceInfo, obj: &Value) -> Value {
    let m = &obj["metadata"];
    let (spec_path, status_path, selector_path) = &res.scale_paths;
    let selector = match selector_path {
        Some(p) => path_get(obj, p).as_str().unwrap_or_default().to_string(),
        None => obj["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    };
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                     "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": path_get(obj, spec_path).as_i64().unwrap_or(if res.custom { 0 } else { 1 })},
        "status": {"replicas": path_get(obj, status_path).as_i64().unwrap_or(0), "selector": selector},
    })
}

/// Writes `replicas` at the resource's spec replicas path, creating objects on the way.
fn set_replicas(res: &ResourceInfo, obj: &mut Value, replicas: Value) -> Result<()> {
    if !replicas.is_i64() {
        return Err(ApiError::bad_request("spec.replicas must be an integer"));
    }
    let segs: Vec<&str> = res
        .scale_paths
        .0
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .collect();
    let Some((last, parents)) = segs.split_last() else {
        return Err(ApiError::bad_request("the resource has no replicas path"));
    };
    let mut cur = obj;
    for seg in parents {
        let Some(map) = cur.as_object_mut() else {
            return Err(ApiError::bad_request(format!("{seg} is not a JSON object")));
        };
        let next = map.entry(seg.to_string()).or_insert_with(|| json!({}));
        if next.is_null() {
            *next = json!({});
        }
        cur = next;
    }
    let Some(map) = cur.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the parent of {last} is not a JSON object"
        )));
    };
    map.insert(last.to_string(), replicas);
    Ok(())
}

/// Refuses a field selector on a field the resource does not index, with the API server's
/// 400 "field label not supported" (each kind's field label conversion functions; custom
/// resources offer their CRD's `selectableFields`). events.k8s.io Events are not checked: which
/// of their fields upstream supports was not established here.
pub(crate) fn check_field_selector(
    store: &Store,
    res: &ResourceInfo,
    fields: &FieldSelector,
) -> Result<()> {
    if res.group == "events.k8s.io" {
        return Ok(());
    }
    let kind_fields: &[&str] = match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &[],
    };
    let selectable: Vec<String> = if res.custom {
        store
            .list(resources::CRD_STORAGE, None)
            .filter(|crd| resources::crd_storage(crd) == res.storage)
            .flat_map(|crd| {
                crd["spec"]["versions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|v| v["name"] == res.version.as_str())
            .flat_map(|v| {
                v["selectableFields"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|f| {
                f["jsonPath"]
                    .as_str()
                    .map(|p| p.trim_start_matches('.').to_string())
            })
            .collect()
    } else {
        vec![]
    };
    for path in fields.paths() {
        let ok = ["metadata.name", "metadata.namespace"].contains(&path)
            || kind_fields.contains(&path)
            || selectable.iter().any(|s| s == path);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {path}"
            )));
        }
    }
    Ok(())
}

/// A continue token: the last key served and the resourceVersion of the list's snapshot
/// (0: continue at the latest state, as a token handed out after a 410 does).
fn encode_continue(k: &Key, rv: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([k.0, k.1, rv]).to_string())
}

fn decode_continue(token: &str) -> Result<(Key, u64)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| ApiError::bad_request("invalid continue token"))?;
    let (ns, name, rv): (String, String, u64) = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::bad_request("invalid continue token"))?;
    Ok(((ns, name), rv))
}

fn list_options_invalid(message: String) -> ApiError {
    ApiError::invalid(
        "meta.k8s.io",
        "ListOptions",
        "",
        &[("resourceVersionMatch".into(), message)],
    )
}

/// The resourceVersion a list reads at, from its `resourceVersion`, `resourceVersionMatch` and
/// `continue` (<https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions>),
/// with the key to continue after.
fn snapshot_of(store: &Store, q: &ListQuery) -> Result<(u64, Option<Key>)> {
    let rv_param = q.resource_version.as_deref().filter(|r| !r.is_empty());
    let exact = match q.resource_version_match.as_deref() {
        None | Some("") => false,
        Some(_) if rv_param.is_none() => {
            return Err(list_options_invalid(
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
                    .into(),
            ));
        }
        Some(_) if q.continue_token.is_some() => {
            return Err(list_options_invalid(
                "Forbidden: resourceVersionMatch is forbidden when continue is provided".into(),
            ));
        }
        Some("Exact") if rv_param == Some("0") => {
            return Err(list_options_invalid(
                "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
                    .into(),
            ));
        }
        Some("Exact") => true,
        Some("NotOlderThan") => false,
        Some(m) => {
            return Err(list_options_invalid(format!(
                "Unsupported value: {m:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""
            )));
        }
    };
    if let Some(token) = &q.continue_token {
        let (after, rv) = decode_continue(token)?;
        if rv != 0 && rv < store.compacted() {
            // etcd3 store's handleCompactedErrorForPaging: 410 with a token that continues at
            // the latest state.
            let mut err = ApiError::new(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            );
            err.list_continue = Some(encode_continue(&after, 0));
            return Err(err);
        }
        return Ok((if rv == 0 { store.rv() } else { rv }, Some(after)));
    }
    let Some(rv_param) = rv_param.filter(|r| *r != "0") else {
        return Ok((store.rv(), None));
    };
    let rv: u64 = rv_param
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}")))?;
    if rv > store.rv() {
        // storage.NewTooLargeResourceVersionError, as the watch cache answers once its wait for
        // the version is over: a Timeout asking to retry after a second.
        let mut err = ApiError::new(
            504,
            "Timeout",
            format!("Too large resource version: {rv}, current: {}", store.rv()),
        );
        err.details = Some(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }));
        return Err(err);
    }
    if !exact {
        return Ok((store.rv(), None));
    }
    if rv < store.compacted() {
        return Err(ApiError::gone_list());
    }
    Ok((rv, None))
}

/// Lists objects as a `…List` object: a consistent snapshot, also across the pages of a paged
/// list while the history reaches back to its first page.
pub(crate) fn list(
    store: &Store,
    res: &ResourceInfo,
    ns: Option<&str>,
    q: &ListQuery,
) -> Result<Value> {
    let ns = ns.filter(|_| res.namespaced);
    let (rv, after) = snapshot_of(store, q)?;
    let candidates = store
        .list_at(&res.storage, ns, after.as_ref(), rv)
        .ok_or_else(ApiError::gone_list)?;
    let matches = |o: &Cow<Value>| {
        q.labels.matches(o) && (q.fields.is_empty() || q.fields.matches(&to_served(res, o)))
    };
    let mut filtered = candidates.into_iter().filter(matches);
    let mut items = Vec::new();
    let limit = q.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
    for o in filtered.by_ref() {
        items.push(to_served(res, &o));
        if items.len() >= limit {
            break;
        }
    }
    let remaining = filtered.count();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if remaining > 0
        && let Some(last) = items.last()
    {
        metadata["continue"] = json!(encode_continue(&key_of(last), rv));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(
        json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(), "metadata": metadata, "items": items}),
    )
}

fn random_suffix(n: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

fn new_uid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b: [u8; 16] = rand::random();
    let mut h = [0u8; 32];
    for (i, x) in b.iter().enumerate() {
        h[2 * i] = HEX[usize::from(x >> 4)];
        h[2 * i + 1] = HEX[usize::from(x & 0xf)];
    }
    // A version-4 UUID: hex digits only, so the groups below are whole characters.
    let h = String::from_utf8_lossy(&h);
    let mut uid = String::with_capacity(36);
    for (n, part) in [&h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]]
        .into_iter()
        .enumerate()
    {
        match n {
            0 => {}
            2 => uid.push_str("-4"),
            3 => uid.push_str("-a"),
            _ => uid.push('-'),
        }
        uid.push_str(part);
    }
    uid
}

fn check_type(res: &ResourceInfo, body: &Value) -> Result<()> {
    let av = body["apiVersion"].as_str().unwrap_or_default();
    let kind = body["kind"].as_str().unwrap_or_default();
    if (!av.is_empty() && av != res.api_version()) || (!kind.is_empty() && kind != res.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            res.api_version()
        )));
    }
    Ok(())
}

/// Whether `a` and `b` are equal once the top-level fields `skipped` are left out of both
/// (compared in place: a write compares whole objects, and copying them cost more than the
/// comparison).
fn equal_except(a: &Value, b: &Value, skipped: &[&str]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |key: &String| !skipped.contains(&key.as_str());
    a.keys().filter(|k| kept(k)).count() == b.keys().filter(|k| kept(k)).count()
        && a.iter()
            .filter(|(k, _)| kept(k))
            .all(|(k, v)| b.get(k) == Some(v))
}

/// Makes `dst` equal to `src`, copying only the parts of `src` that differ (members and items
/// equal in both are left in place).
fn assign(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            d.retain(|k, _| s.contains_key(k));
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(slot) => assign(slot, v),
                    None => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) if d.len() == s.len() => {
            for (slot, v) in d.iter_mut().zip(s) {
                assign(slot, v);
            }
        }
        (d, s) => {
            if *d != *s {
                *d = s.clone();
            }
        }
    }
}

/// Whether the spec part (all but metadata, status, apiVersion and kind) of two objects
/// differs: a new generation.
fn spec_differs(old: &Value, new: &Value) -> bool {
    !equal_except(old, new, &["metadata", "status", "apiVersion", "kind"])
}

/// Whether a write changes nothing but the resourceVersion (a no-op write).
fn same_but_version(old: &Value, new: &Value) -> bool {
    equal_except(old, new, &["metadata"])
        && equal_except(&old["metadata"], &new["metadata"], &["resourceVersion"])
}

/// Commits a computed object: keeps immutable metadata, honours the status subresource,
/// defaults, validates, bumps generation, records managedFields, skips no-op writes, and
/// completes deletions whose finalizers are gone.
fn commit(
    store: &mut Store,
    res: &ResourceInfo,
    old: Option<&Value>,
    new: Value,
    scope: Scope,
    opts: &WriteOptions,
    record: bool,
) -> Result<Served> {
    Ok(commit_stored(store, res, old, new, scope, opts, record)?.served(res))
}

/// What a commit left: the object unchanged (a no-op write), an object to answer with as is
/// (a dry run, a completed deletion), or the object stored (in storage form, not yet converted
/// for an answer, which a write by the server itself does not need).
enum Committed<'o> {
    Unchanged(&'o Value),
    Answer(Value),
    Stored(Arc<Value>),
}

impl Committed<'_> {
    /// The object in the form `res` serves (the stored one itself where that is the form).
    fn served(self, res: &ResourceInfo) -> Served {
        match self {
            Committed::Unchanged(old) => Served::Owned(to_served(res, old)),
            Committed::Answer(v) => Served::Owned(v),
            Committed::Stored(stored) => served_shared(res, &stored),
        }
    }

    /// The object (metadata as served: the conversions leave it alone).
    fn object(&self) -> &Value {
        match self {
            Committed::Unchanged(old) => old,
            Committed::Answer(v) => v,
            Committed::Stored(stored) => stored,
        }
    }
}

/// [`commit`], answering with the object as stored or unchanged.
fn commit_stored<'o>(
    store: &mut Store,
    res: &ResourceInfo,
    old: Option<&'o Value>,
    new: Value,
    scope: Scope,
    opts: &WriteOptions,
    record: bool,
) -> Result<Committed<'o>> {
    let mut new = new;
    if !res.custom && new.is_object() {
        let decoded = typed::decode(&mut new, schema_of(res));
        if let Some(e) = decoded.type_error {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                res.kind, res.version, res.kind
            )));
        }
        opts.unknown_fields(res, &decoded.unknown)?;
        if res.group.is_empty()
            && res.plural == "secrets"
            && let Some(e) = rules::secret_data_error(&new)
        {
            return Err(ApiError::bad_request(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: {e}"
            )));
        }
    }
    let mut new = to_storage(res, new);
    if !new.is_object() || !new["metadata"].is_object() {
        return Err(ApiError::bad_request("the object has no metadata"));
    }
    new["apiVersion"] = json!(storage_api_version(res));
    new["kind"] = json!(res.kind);
    if let Some(old) = old {
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "name",
            "namespace",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        if res.status {
            match scope {
                Scope::NoStatus => match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                },
                // `new` is already the old object with another status (as the simulation and
                // most clients write it): nothing to copy.
                Scope::Status
                    if equal_except(&new, old, &["status", "metadata"])
                        && equal_except(&new["metadata"], &old["metadata"], &["managedFields"])
                        && (new["metadata"].get("managedFields")
                            == old["metadata"].get("managedFields")
                            || !record && new["metadata"].get("managedFields").is_some()) => {}
                Scope::Status => {
                    // The old object with the new status: `new` is made equal to it in place,
                    // which copies only what differs (a copy of the whole object cost more).
                    let managed = new["metadata"]
                        .as_object_mut()
                        .filter(|_| !record)
                        .and_then(|m| m.remove("managedFields"));
                    let status = new.as_object_mut().and_then(|m| m.remove("status"));
                    assign(&mut new, old);
                    match status {
                        Some(s) => new["status"] = s,
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                    if let (Some(mf), false) = (managed, record) {
                        new["metadata"]["managedFields"] = mf;
                    }
                }
                Scope::All => {}
            }
        }
    }
    apply_defaults(store, res, &mut new, old);
    validate(store, res, &mut new, old, opts)?;
    if res.tracks_generation() {
        let generation = match old {
            None => 1,
            Some(o) => {
                let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                if spec_differs(o, &new) { g + 1 } else { g }
            }
        };
        new["metadata"]["generation"] = json!(generation);
    } else if let Some(m) = new["metadata"].as_object_mut() {
        m.remove("generation");
    }
    if record {
        let api_version = res.api_version();
        apply::record_update(
            old,
            &mut new,
            &UpdateRequest {
                manager: &opts.manager,
                api_version: &api_version,
                scope,
                now: &opts.now,
                schema: schema_of(res),
            },
        );
    }
    if let Some(m) = new["metadata"].as_object_mut() {
        if m.get("finalizers")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            m.remove("finalizers");
        }
        if m.get("labels")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
            && old.is_none_or(|o| o["metadata"].get("labels").is_none())
        {
            m.remove("labels");
        }
    }
    if let Some(old) = old
        && same_but_version(old, &new)
    {
        return Ok(Committed::Unchanged(old));
    }
    if opts.dry_run {
        if let (Some(o), Some(m)) = (old, new["metadata"].as_object_mut()) {
            m.insert(
                "resourceVersion".into(),
                o["metadata"]["resourceVersion"].clone(),
            );
        }
        return Ok(Committed::Answer(to_served(res, &new)));
    }
    let finished =
        !new["metadata"]["deletionTimestamp"].is_null() && pending_finalizers(res, &new) == 0;
    if finished {
        let k = key_of(&new);
        store.put(&res.storage, new);
        let gone = remove(store, res, &k);
        return Ok(Committed::Answer(to_served(
            res,
            gone.as_deref().unwrap_or(&Value::Null),
        )));
    }
    let stored = store.put(&res.storage, new);
    if resources::is_crd(res) {
        let served = resources::from_crd(&stored);
        store
            .registry
            .set_crd(&resources::crd_storage(&stored), served);
    }
    Ok(Committed::Stored(stored))
}

/// A namespace's `spec.finalizers` changes only through its `finalize` subresource: other writes
/// keep the stored ones (the namespace strategy's PrepareForUpdate).
fn keep_namespace_finalizers(res: &ResourceInfo, old: &Value, new: &mut Value) {
    if !is_namespaces(res) || !new.is_object() {
        return;
    }
    match old["spec"].get("finalizers") {
        Some(f) => new["spec"]["finalizers"] = f.clone(),
        None => {
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("finalizers");
            }
        }
    }
}

/// Whether `res` is the core Namespaces resource.
pub(crate) fn is_namespaces(res: &ResourceInfo) -> bool {
    res.group.is_empty() && res.plural == "namespaces"
}

/// The finalizers an object's deletion waits for: `metadata.finalizers`, and a namespace's
/// `spec.finalizers` (the namespace controller's `kubernetes`).
fn pending_finalizers(res: &ResourceInfo, obj: &Value) -> usize {
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    count(&obj["metadata"]["finalizers"])
        + if is_namespaces(res) {
            count(&obj["spec"]["finalizers"])
        } else {
            0
        }
}

/// Removes an object for good, with what that implies (a CRD's objects go first, then the CRD,
/// as the real server's cleanup finalizer orders it). Collecting its dependents is the caller's
/// business: verbs never collect garbage.
fn remove(store: &mut Store, res: &ResourceInfo, k: &Key) -> Option<Arc<Value>> {
    if resources::is_crd(res)
        && let Some(storage) = store.get(&res.storage, k).map(resources::crd_storage)
    {
        let keys: Vec<Key> = store.list(&storage, None).map(key_of).collect();
        for k in keys {
            store.remove(&storage, &k);
        }
        store.registry.set_crd(&storage, vec![]);
    }
    store.remove(&res.storage, k)
}

fn prepare_new(
    store: &Store,
    res: &ResourceInfo,
    ns: &str,
    mut body: Value,
    now: &str,
) -> Result<Value> {
    check_type(res, &body)?;
    let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err(ApiError::invalid(
            &res.group,
            &res.kind,
            "",
            &[(
                "metadata.name".into(),
                "Required value: name or generateName is required".into(),
            )],
        ));
    };
    let has_name = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !has_name {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", random_suffix(5));
                meta.insert("name".into(), json!(name));
            }
            _ => {
                return Err(ApiError::invalid(
                    &res.group,
                    &res.kind,
                    "",
                    &[(
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
        }
    }
    if res.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(ns));
            }
        }
        let Some(namespace) = store.get("/namespaces", &(String::new(), ns.to_string())) else {
            return Err(ApiError::not_found("", "namespaces", ns));
        };
        if !namespace["metadata"]["deletionTimestamp"].is_null() {
            let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
            return Err(ApiError::namespace_terminating(
                &res.group,
                &res.plural,
                name,
                ns,
            ));
        }
    } else {
        meta.remove("namespace");
    }
    for f in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "managedFields",
    ] {
        meta.remove(f);
    }
    meta.insert("uid".into(), json!(new_uid()));
    meta.insert("creationTimestamp".into(), json!(now));
    if res.status
        && res.plural != "namespaces"
        && let Some(m) = body.as_object_mut()
    {
        m.remove("status");
    }
    Ok(body)
}

/// Creates an object (POST).
pub(crate) fn create(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    body: Value,
    opts: &WriteOptions,
) -> Result<Served> {
    let body = prepare_new(store, res, ns, body, &opts.now)?;
    let k = key_of(&body);
    if store.get(&res.storage, &k).is_some() {
        return Err(ApiError::already_exists(&res.group, &res.plural, &k.1));
    }
    commit(
        store,
        res,
        None,
        body,
        scope_for(res, Sub::Main),
        opts,
        true,
    )
}

/// Replaces an object (PUT), honouring the resourceVersion precondition.
pub(crate) fn update(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    body: Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Served> {
    let old = store
        .get(&res.storage, &key(res, ns, name))
        .map(|o| to_served(res, o))
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))?;
    if sub == Sub::Scale {
        let replicas = body["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.replicas is required"))?;
        if let Some(rv) = rv_of(&body)
            && Some(rv) != rv_of(&old)
        {
            return Err(ApiError::conflict(&res.group, &res.plural, name));
        }
        let mut new = old.clone();
        set_replicas(res, &mut new, json!(replicas))?;
        let out = commit(store, res, Some(&old), new, Scope::NoStatus, opts, true)?;
        return Ok(Served::Owned(scale_of(res, &out)));
    }
    check_type(res, &body)?;
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    if let Some(rv) = rv_of(&body)
        && Some(rv) != rv_of(&old)
    {
        return Err(ApiError::conflict(&res.group, &res.plural, name));
    }
    if res.custom && rv_of(&body).is_none() {
        // Custom resources do not allow unconditional updates (customresource strategy).
        return Err(ApiError::invalid(
            &res.group,
            &res.kind,
            name,
            &[(
                "metadata.resourceVersion".into(),
                "Invalid value: 0x0: must be specified for an update".into(),
            )],
        ));
    }
    if sub == Sub::Finalize {
        let mut new = old.clone();
        new["spec"]["finalizers"] = match &body["spec"]["finalizers"] {
            Value::Null => json!([]),
            f => f.clone(),
        };
        return commit(store, res, Some(&old), new, Scope::NoStatus, opts, true);
    }
    let mut body = body;
    keep_namespace_finalizers(res, &old, &mut body);
    commit(
        store,
        res,
        Some(&old),
        body,
        scope_for(res, sub),
        opts,
        true,
    )
}

/// Patches an object (PATCH) with any of the four patch types.
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
    let stored = store.get_shared(&res.storage, &key(res, ns, name));
    let old = stored.as_deref().map(|o| served_cow(res, o));
    if kind == PatchType::Apply {
        let old = old.map(Cow::into_owned);
        return server_side_apply(store, res, ns, name, old, body, sub, opts);
    }
    if kind == PatchType::Strategic && res.custom {
        return Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
        ));
    }
    let old = old.ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))?;
    let mut target = if sub == Sub::Scale {
        scale_of(res, &old)
    } else {
        Value::clone(&old)
    };
    match kind {
        PatchType::Merge => patch::merge_patch(&mut target, body),
        PatchType::Json => patch::json_patch(&mut target, body)
            .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?,
        PatchType::Strategic => patch::strategic_merge_patch(&mut target, body, schema_of(res))
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        PatchType::Apply => {}
    }
    if rv_of(&target).is_some_and(|rv| Some(rv) != rv_of(&old)) {
        return Err(ApiError::conflict(&res.group, &res.plural, name));
    }
    keep_namespace_finalizers(res, &old, &mut target);
    if sub == Sub::Scale {
        let mut new = Value::clone(&old);
        set_replicas(res, &mut new, target["spec"]["replicas"].clone())?;
        let out = commit(store, res, Some(&old), new, Scope::NoStatus, opts, true)?;
        return Ok(Served::Owned(scale_of(res, &out)));
    }
    commit(
        store,
        res,
        Some(&old),
        target,
        scope_for(res, sub),
        opts,
        true,
    )
}

#[allow(clippy::too_many_arguments)]
fn server_side_apply(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    old: Option<Value>,
    body: &Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Served> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    if body["apiVersion"].as_str().is_none() || body["kind"].as_str().is_none() {
        return Err(ApiError::bad_request(
            "apiVersion and kind must be set in an applied configuration",
        ));
    }
    check_type(res, body)?;
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    if opts.manager.is_empty() {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml requests require a fieldManager",
        ));
    }
    if !body["metadata"]["managedFields"].is_null() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let skeleton = json!({"apiVersion": res.api_version(), "kind": res.kind, "metadata": {"name": name, "namespace": ns}});
    let live = old.clone().unwrap_or(skeleton);
    let req = ApplyRequest {
        applied: body,
        manager: &opts.manager,
        force: opts.force,
        api_version: &res.api_version(),
        scope: scope_for(res, sub),
        now: &opts.now,
        schema: schema_of(res),
    };
    let merged = apply::apply(&live, &req).map_err(|e| match e {
        apply::Error::ApplyConflicts(c) => {
            ApiError::apply_conflict(&res.group, &res.plural, name, &c)
        }
        // The field manager's plain error, which the API server answers with 500 and no reason
        // (kubernetes/kubernetes#122480, #139253).
        apply::Error::Invalid(msg) => ApiError::new(
            500,
            "",
            format!(
                "failed to create typed patch object ({}/{name}; {}, Kind={}): {msg}",
                if res.namespaced { ns } else { "" },
                if res.group.is_empty() {
                    format!("/{}", res.version)
                } else {
                    res.api_version()
                },
                res.kind
            ),
        ),
    })?;
    match old {
        Some(old) => {
            if let Some(rv) = rv_of(body)
                && Some(rv) != rv_of(&old)
            {
                return Err(ApiError::conflict(&res.group, &res.plural, name));
            }
            let mut merged = merged;
            keep_namespace_finalizers(res, &old, &mut merged);
            commit(store, res, Some(&old), merged, req.scope, opts, false)
        }
        None => {
            if sub != Sub::Main {
                return Err(ApiError::not_found(&res.group, &res.plural, name));
            }
            let managed = merged["metadata"]["managedFields"].clone();
            let mut merged = prepare_new(store, res, ns, merged, &opts.now)?;
            merged["metadata"]["managedFields"] = managed;
            commit(store, res, None, merged, req.scope, opts, false)
        }
    }
}

/// Deletes an object: finalizers defer it, propagation decides what happens to dependents.
pub(crate) fn delete(
    store: &mut Store,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Value> {
    if res.group.is_empty()
        && res.plural == "namespaces"
        && ["default", "kube-system", "kube-public"].contains(&name)
    {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )));
    }
    let k = key(res, ns, name);
    let old = store
        .get(&res.storage, &k)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))?;
    if opts
        .uid
        .as_deref()
        .is_some_and(|u| Some(u) != old["metadata"]["uid"].as_str())
        || opts
            .resource_version
            .as_deref()
            .is_some_and(|rv| Some(rv) != rv_of(&old))
    {
        return Err(ApiError::conflict(&res.group, &res.plural, name));
    }
    if opts.dry_run {
        return Ok(to_served(res, &old));
    }
    let uid = old["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let policy = opts.propagation.as_deref().unwrap_or("Background");
    if policy == "Orphan" {
        orphan_dependents(store, &uid, &opts.now);
    }
    let mut finalizers: Vec<Value> = old["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if policy == "Foreground"
        && has_dependents(store, &uid)
        && !finalizers.contains(&json!("foregroundDeletion"))
    {
        finalizers.push(json!("foregroundDeletion"));
    }
    let mut new = old.clone();
    if !finalizers.is_empty() {
        new["metadata"]["finalizers"] = Value::Array(finalizers);
    }
    if pending_finalizers(res, &new) == 0 {
        let gone = remove(store, res, &k);
        return Ok(to_served(res, gone.as_deref().unwrap_or(&Value::Null)));
    }
    if new["metadata"]["deletionTimestamp"].is_null() {
        new["metadata"]["deletionTimestamp"] = json!(opts.now);
        new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        // The registry's markAsDeleting bumps the generation of objects that have one.
        if let Some(g) = new["metadata"]["generation"].as_i64().filter(|g| *g > 0) {
            new["metadata"]["generation"] = json!(g + 1);
        }
        if is_namespaces(res) {
            new["status"]["phase"] = json!("Terminating");
        }
    }
    if new == old {
        return Ok(to_served(res, &old));
    }
    let stored = store.put(&res.storage, new);
    Ok(to_served(res, &stored))
}

/// Removes the ownerReferences to `uid` from every dependent (propagationPolicy=Orphan), as
/// kube-controller-manager; a dependent that cannot be written keeps its reference (and is logged).
fn orphan_dependents(store: &mut Store, uid: &str, now: &str) {
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
        if let Err(e) = internal_commit(
            store,
            &res,
            &old,
            new,
            Scope::NoStatus,
            "kube-controller-manager",
            now,
        ) {
            let (namespace, name) = key_of(&old);
            tracing::warn!(storage = %s, %namespace, %name, owner = uid, error = %e, "orphaning a dependent failed");
        }
    }
}

/// Internal: finishes or advances a write made by the server itself (GC, simulation).
/// Answers whether the write removed the object (marked for deletion, its last finalizer gone).
pub(crate) fn internal_commit(
    store: &mut Store,
    res: &ResourceInfo,
    old: &Value,
    new: Value,
    scope: Scope,
    manager: &str,
    now: &str,
) -> Result<bool> {
    let opts = WriteOptions::internal(manager, now);
    let old = served_cow(res, old);
    let out = commit_stored(store, res, Some(&old), new, scope, &opts, true)?;
    let out = out.object();
    Ok(!out["metadata"]["deletionTimestamp"].is_null()
        && store.get(&res.storage, &key_of(out)).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> WriteOptions {
        WriteOptions::internal("test", "2026-01-01T00:00:00Z")
    }

    fn setup() -> (Store, Arc<ResourceInfo>) {
        let mut s = Store::new(100);
        let ns = s.registry.find("", "v1", "namespaces").unwrap().clone();
        create(
            &mut s,
            &ns,
            "",
            json!({"metadata": {"name": "default"}}),
            &opts(),
        )
        .unwrap();
        let cm = s.registry.find("", "v1", "configmaps").unwrap().clone();
        (s, cm)
    }

    #[test]
    fn uids_are_version_4_uuids() {
        let uid = new_uid();
        let groups: Vec<&str> = uid.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{uid}");
        assert!(
            groups[2].starts_with('4') && groups[3].starts_with('a'),
            "{uid}"
        );
        assert!(
            uid.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn create_sets_metadata_and_rejects_duplicates() {
        let (mut s, cm) = setup();
        let o = create(
            &mut s,
            &cm,
            "default",
            json!({"metadata": {"generateName": "x-"}, "data": {"a": "1"}}),
            &opts(),
        )
        .unwrap();
        assert!(o["metadata"]["name"].as_str().unwrap().starts_with("x-"));
        assert!(
            o["metadata"].get("generation").is_none(),
            "ConfigMaps have no generation"
        );
        assert!(o["metadata"]["uid"].is_string());
        let name = o["metadata"]["name"].as_str().unwrap();
        let err = create(
            &mut s,
            &cm,
            "default",
            json!({"metadata": {"name": name}}),
            &opts(),
        )
        .unwrap_err();
        assert_eq!(err.reason, "AlreadyExists");
        let err = create(
            &mut s,
            &cm,
            "nope",
            json!({"metadata": {"name": "a"}}),
            &opts(),
        )
        .unwrap_err();
        assert_eq!(err.code, 404);
    }

    #[test]
    fn noop_update_keeps_resource_version_and_stale_rv_conflicts() {
        let (mut s, cm) = setup();
        let o = create(
            &mut s,
            &cm,
            "default",
            json!({"metadata": {"name": "a"}, "data": {"a": "1"}}),
            &opts(),
        )
        .unwrap()
        .into_owned();
        let same = update(&mut s, &cm, "default", "a", o.clone(), Sub::Main, &opts()).unwrap();
        assert_eq!(
            same["metadata"]["resourceVersion"],
            o["metadata"]["resourceVersion"]
        );
        let mut changed = o.clone();
        changed["data"]["a"] = json!("2");
        let new = update(
            &mut s,
            &cm,
            "default",
            "a",
            changed.clone(),
            Sub::Main,
            &opts(),
        )
        .unwrap();
        assert_ne!(
            new["metadata"]["resourceVersion"],
            o["metadata"]["resourceVersion"]
        );
        assert!(new["metadata"].get("generation").is_none());
        assert_eq!(
            update(&mut s, &cm, "default", "a", changed, Sub::Main, &opts())
                .unwrap_err()
                .reason,
            "Conflict"
        );
    }

    #[test]
    fn assign_makes_the_target_equal_to_the_source() {
        let src = json!({"a": {"b": [1, {"c": "d"}], "e": null}, "f": "g", "h": [1, 2]});
        for dst in [
            json!({}),
            json!(null),
            json!({"a": {"b": [1, {"c": "x", "y": 1}], "z": 2}, "h": [1], "i": true}),
            json!({"a": [1], "f": {"g": 1}, "h": [2, 1]}),
            src.clone(),
        ] {
            let mut dst = dst;
            assign(&mut dst, &src);
            assert_eq!(dst, src);
        }
    }

    #[test]
    fn a_status_write_keeps_everything_else_as_stored() {
        let (mut s, _) = setup();
        let rs = s
            .registry
            .find("apps", "v1", "replicasets")
            .unwrap()
            .clone();
        let labels = json!({"a": "b"});
        create(
            &mut s,
            &rs,
            "default",
            json!({"metadata": {"name": "r", "labels": labels},
                   "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels},
                                         "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            &opts(),
        )
        .unwrap();
        let k = key(&rs, "default", "r");
        let old = s.get(&rs.storage, &k).unwrap().clone();
        // A status write whose object also differs elsewhere: only the status is taken.
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(3);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("j");
        new["metadata"]["labels"]["x"] = json!("y");
        new["kind"] = json!("ReplicaSet");
        new["status"] = json!({"replicas": 1, "readyReplicas": 1});
        internal_commit(
            &mut s,
            &rs,
            &old,
            new,
            Scope::Status,
            "test",
            "2026-01-01T00:00:01Z",
        )
        .unwrap();
        let stored = s.get(&rs.storage, &k).unwrap().clone();
        assert_eq!(stored["spec"], old["spec"]);
        assert_eq!(stored["kind"], old["kind"]);
        assert_eq!(stored["metadata"]["labels"], old["metadata"]["labels"]);
        assert_eq!(stored["status"]["replicas"], 1);
        assert_eq!(stored["status"]["readyReplicas"], 1);
        assert_ne!(
            stored["metadata"]["resourceVersion"],
            old["metadata"]["resourceVersion"]
        );
    }
}
