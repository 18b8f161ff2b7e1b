//! Server-side apply and `metadata.managedFields`, as the API server's field manager does them
//! with structured-merge-diff (`merge/update.go`): field sets per manager, conflicts, and the
//! removal of fields a manager stops applying.

use serde_json::{Map, Value, json};

use crate::api::typed;
pub(crate) use crate::api::typed::{FieldSet, Path, Seg};
use k8s_rules::types::Schema;

/// Which part of an object a write covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole object.
    All,
    /// Everything but `status` (main resource of a type with a status subresource).
    NoStatus,
    /// Only `status` (the status subresource).
    Status,
}

/// Server-side apply failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Conflicts: `(manager, the manager's apiVersion, field path)`.
    #[error("apply conflicts with other field managers")]
    ApplyConflicts(Vec<(String, String, String)>),
    /// The applied configuration does not fit the schema (structured-merge-diff's message).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// `metadata` fields no manager owns (the field manager's `stripMeta`), besides `apiVersion`,
/// `kind` and `metadata` itself.
const STRIPPED_META: [&str; 9] = [
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
];

/// Whether a path is tracked by a write within `scope` (the reset fields of the subresource
/// and the stripped metadata are not).
fn tracked(p: &[Seg], scope: Scope) -> bool {
    let Some(Seg::F(first)) = p.first() else {
        return false;
    };
    let in_scope = match scope {
        Scope::All => true,
        Scope::NoStatus => first != "status",
        Scope::Status => first == "status",
    };
    if !in_scope {
        return false;
    }
    match p {
        [Seg::F(a)] => !matches!(a.as_str(), "apiVersion" | "kind" | "metadata"),
        [Seg::F(m), Seg::F(f), ..] if m == "metadata" => !STRIPPED_META.contains(&f.as_str()),
        _ => true,
    }
}

fn tracked_set(mut set: FieldSet, scope: Scope) -> FieldSet {
    set.retain(|p| tracked(p, scope));
    set
}

/// The fields an object sets, within `scope`.
#[cfg(test)]
pub(crate) fn field_set(obj: &Value, scope: Scope, schema: Schema<'_>) -> FieldSet {
    tracked_set(
        typed::field_set(&without_managed_fields(obj), schema),
        scope,
    )
}

/// A path as the API server prints it in conflict messages (`.spec.replicas`).
pub(crate) fn path_string(path: &[Seg]) -> String {
    typed::path_string(path)
}

fn seg_key(seg: &Seg) -> String {
    let (prefix, text) = match seg {
        Seg::F(k) => ("f:", k),
        Seg::K(k) => ("k:", k),
        Seg::V(v) => ("v:", v),
    };
    let mut key = String::with_capacity(prefix.len() + text.len());
    key.push_str(prefix);
    key.push_str(text);
    key
}

/// Encodes a field set as a FieldsV1 tree (`.` marks a member that also has members below).
///
/// Built in one pass over the set: it is sorted, so a member comes before the paths below it,
/// and a node that is still empty when a path goes through it is a member seen before.
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    // The root is a member only through the empty path, the first of a sorted set.
    let root_member = set.first().is_some_and(Vec::is_empty);
    for path in set {
        let mut node = &mut root;
        // Whether the node is a member: the root through the empty path, any other node when
        // it was there before this path and is still empty (only a member ends with no child).
        let mut member = root_member;
        for seg in path {
            if member && !node.contains_key(".") {
                node.insert(".".into(), Value::Object(Map::new()));
            }
            let key = seg_key(seg);
            let existed = node.contains_key(&key);
            let child = node.entry(key).or_insert_with(|| Value::Object(Map::new()));
            member = existed && child.as_object().is_some_and(Map::is_empty);
            let Value::Object(child) = child else {
                break;
            };
            node = child;
        }
    }
    Value::Object(root)
}

/// [`to_fields_v1`] through a [`Trie`] of the set.
#[cfg(test)]
fn to_fields_v1_by_trie(set: &FieldSet) -> Value {
    use crate::api::typed::Trie;
    fn node(t: &Trie) -> Value {
        let mut m = Map::new();
        if t.is_member() && !t.children().is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (seg, c) in t.children() {
            m.insert(seg_key(seg), node(c));
        }
        Value::Object(m)
    }
    node(&Trie::of(set))
}

/// Decodes a FieldsV1 tree into a field set.
pub(crate) fn from_fields_v1(v: &Value) -> FieldSet {
    fn rec(node: &Map<String, Value>, path: &mut Path, out: &mut FieldSet) {
        for (k, child) in node {
            if k == "." {
                continue;
            }
            let seg = if let Some(f) = k.strip_prefix("f:") {
                Seg::F(f.into())
            } else if let Some(f) = k.strip_prefix("k:") {
                Seg::K(typed::canonical_key(f))
            } else if let Some(f) = k.strip_prefix("v:") {
                Seg::V(
                    serde_json::from_str::<Value>(f)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| f.to_string()),
                )
            } else {
                continue;
            };
            path.push(seg);
            match child.as_object() {
                Some(c) => {
                    if c.is_empty() || c.contains_key(".") {
                        out.insert(path.clone());
                    }
                    rec(c, path, out);
                }
                None => {
                    out.insert(path.clone());
                }
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Some(m) = v.as_object() {
        rec(m, &mut Vec::new(), &mut out);
    }
    out
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The field manager.
    pub(crate) manager: String,
    /// `Apply` or `Update`.
    pub(crate) operation: String,
    /// The API version the fields were written in.
    pub(crate) api_version: String,
    /// When the entry last changed.
    pub(crate) time: String,
    /// The owned fields.
    pub(crate) fields: FieldSet,
    /// `status` for writes to the status subresource.
    pub(crate) subresource: String,
}

impl Entry {
    fn same_slot(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// Reads an object's managedFields.
pub(crate) fn entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj["metadata"]["managedFields"].as_array() else {
        return vec![];
    };
    list.iter().map(entry_of).collect()
}

/// Decodes one managedFields entry.
fn entry_of(e: &Value) -> Entry {
    Entry {
        manager: e["manager"].as_str().unwrap_or_default().into(),
        operation: e["operation"].as_str().unwrap_or("Update").into(),
        api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
        time: e["time"].as_str().unwrap_or_default().into(),
        fields: from_fields_v1(&e["fieldsV1"]),
        subresource: e["subresource"].as_str().unwrap_or_default().into(),
    }
}

/// Encodes one managedFields entry.
fn encode_entry(e: &Entry) -> Value {
    let text = |s: &str| Value::String(s.to_string());
    let mut v = Map::new();
    v.insert("manager".into(), text(&e.manager));
    v.insert("operation".into(), text(&e.operation));
    v.insert("apiVersion".into(), text(&e.api_version));
    v.insert("time".into(), text(&e.time));
    v.insert("fieldsType".into(), text("FieldsV1"));
    v.insert("fieldsV1".into(), to_fields_v1(&e.fields));
    if !e.subresource.is_empty() {
        v.insert("subresource".into(), text(&e.subresource));
    }
    Value::Object(v)
}

/// Writes managedFields into an object (dropping entries that own nothing).
pub(crate) fn set_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(encode_entry)
        .collect();
    put_managed_fields(obj, list);
}

/// Sets an object's managedFields to `list`, or removes them when it is empty.
fn put_managed_fields(obj: &mut Value, list: Vec<Value>) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

fn subresource_name(scope: Scope) -> &'static str {
    if scope == Scope::Status { "status" } else { "" }
}

fn restrict(applied: &Value, scope: Scope) -> Value {
    let mut out = applied.clone();
    if let Some(m) = out.as_object_mut() {
        match scope {
            Scope::All => {}
            Scope::NoStatus => {
                m.remove("status");
            }
            Scope::Status => {
                m.retain(|k, _| {
                    k == "status" || k == "apiVersion" || k == "kind" || k == "metadata"
                });
                if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                    meta.retain(|k, _| k == "name" || k == "namespace");
                }
            }
        }
    }
    out
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    out
}

/// Removes what the applier owned last time and no longer applies, unless another manager (or
/// the applier's new configuration) owns it: structured-merge-diff's `prune`, then
/// `addBackOwnedItems` and `addBackDanglingItems`.
fn prune(merged: &Value, managed: &FieldSet, last: &FieldSet, s: Schema<'_>) -> Value {
    let last_e = typed::ensure_named(last, s);
    let pruned = typed::remove_items(merged, &last_e, s);
    let merged_e = typed::ensure_named(&typed::field_set(merged, s), s);
    let pruned_e = typed::ensure_named(&typed::field_set(&pruned, s), s);
    let managed_e = typed::ensure_named(managed, s);
    let keep: FieldSet = pruned_e.union(&managed_e).cloned().collect();
    let drop: FieldSet = merged_e.difference(&keep).cloned().collect();
    let pruned = typed::remove_items(merged, &drop, s);
    let pruned_e = typed::ensure_named(&typed::field_set(&pruned, s), s);
    let dangling: FieldSet = merged_e
        .difference(&pruned_e)
        .filter(|p| last_e.contains(*p))
        .cloned()
        .collect();
    typed::remove_items(merged, &dangling, s)
}

/// The inputs of one server-side apply.
#[derive(Debug)]
pub(crate) struct ApplyRequest<'a> {
    /// The applied configuration.
    pub(crate) applied: &'a Value,
    /// The field manager.
    pub(crate) manager: &'a str,
    /// Whether to take ownership of conflicting fields.
    pub(crate) force: bool,
    /// The API version the request used.
    pub(crate) api_version: &'a str,
    /// Which part of the object the request covers.
    pub(crate) scope: Scope,
    /// Timestamp for changed managedFields entries.
    pub(crate) now: &'a str,
    /// The type definitions of the object.
    pub(crate) schema: Schema<'a>,
}

/// Applies `req.applied` onto `live` (the current object, or a skeleton for create-if-absent),
/// as structured-merge-diff's `Updater.Apply`: merge, prune what the applier dropped, then
/// detect conflicts with the other managers' fields.
pub(crate) fn apply(live: &Value, req: &ApplyRequest<'_>) -> Result<Value> {
    let s = req.schema;
    let applied = restrict(req.applied, req.scope);
    typed::validate_applied(&applied, s).map_err(Error::Invalid)?;
    // The configuration's whole field set takes part in pruning (it owns `metadata.name`,
    // `apiVersion`…); the field manager strips those only from what it stores (`stripMeta`).
    let applied_set = typed::field_set(&applied, s);
    let new_set = tracked_set(applied_set.clone(), req.scope);
    let sub = subresource_name(req.scope);
    let mine = |e: &Entry| e.same_slot(req.manager, "Apply", sub);
    let mut all = entries(live);
    let live_obj = without_managed_fields(live);
    let merged = typed::merge(Some(&live_obj), Some(&applied), s).unwrap_or(live_obj.clone());
    let last = all.iter().find(|e| mine(e)).map(|e| e.fields.clone());
    // Nothing to prune when the applier still applies everything it applied last time (every
    // path of `last`, and so each of its ancestors, is owned again).
    let mut out = match last.filter(|l| !l.is_subset(&new_set)) {
        Some(last) => {
            let mut managed = applied_set;
            for e in all.iter().filter(|e| !mine(e)) {
                managed.extend(e.fields.iter().cloned());
            }
            prune(&merged, &managed, &last, s)
        }
        None => merged,
    };
    let cmp = typed::compare(&live_obj, &out, s, matches!(s, Schema::Builtin(_)));
    let mut conflicts = Vec::new();
    for e in all.iter().filter(|e| !mine(e)) {
        for p in &e.fields {
            if cmp.modified.contains(p) || cmp.added.contains(p) {
                conflicts.push((e.manager.clone(), e.api_version.clone(), path_string(p)));
            }
        }
    }
    if !conflicts.is_empty() && !req.force {
        conflicts.sort();
        conflicts.dedup();
        return Err(Error::ApplyConflicts(conflicts));
    }
    for e in all.iter_mut().filter(|e| !mine(e)) {
        e.fields.retain(|p| {
            !cmp.modified.contains(p) && !cmp.added.contains(p) && !cmp.removed.contains(p)
        });
    }
    match all.iter_mut().find(|e| mine(e)) {
        Some(e) => {
            if e.fields != new_set || e.api_version != req.api_version {
                e.fields = new_set;
                e.time = req.now.into();
                e.api_version = req.api_version.into();
            }
        }
        None => all.push(Entry {
            manager: req.manager.into(),
            operation: "Apply".into(),
            api_version: req.api_version.into(),
            time: req.now.into(),
            fields: new_set,
            subresource: sub.into(),
        }),
    }
    typed::drop_nulls(&mut out);
    set_entries(&mut out, &all);
    Ok(out)
}

/// Records a non-apply write (create, update, patch) in managedFields, as structured-merge-diff's
/// `Updater.Update`: the manager takes the fields it added or changed (from every other manager),
/// and fields that disappeared leave every manager.
///
/// As the API server's field manager does, managedFields the request itself changed replace the
/// live ones (how clients hand fields over, e.g. kubectl's client-side-apply upgrade), and a
/// list of empty entries (`[{}]`) clears them; managedFields left out or unchanged keep the
/// live ones (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields>).
pub(crate) fn record_update(old: Option<&Value>, new: &mut Value, req: &UpdateRequest<'_>) {
    let requested = &new["metadata"]["managedFields"];
    let replaced = old
        .is_some_and(|old| requested.is_array() && *requested != old["metadata"]["managedFields"]);
    let empty = json!({});
    let s = req.schema;
    // compare leaves managedFields out, so neither object is copied to strip them; a write of
    // the status or the main resource compares only what it tracks.
    let old_or_empty = old.unwrap_or(&empty);
    let implicit = matches!(s, Schema::Builtin(_));
    let scoped = match req.scope {
        Scope::All => None,
        Scope::Status => typed::compare_fields(old_or_empty, new, s, implicit, |k| k == "status"),
        Scope::NoStatus => typed::compare_fields(old_or_empty, new, s, implicit, |k| k != "status"),
    };
    let cmp = scoped.unwrap_or_else(|| typed::compare(old_or_empty, new, s, implicit));
    let mut changed = cmp.added;
    changed.extend(cmp.modified);
    let changed = tracked_set(changed, req.scope);
    let removed = tracked_set(cmp.removed, req.scope);
    if let Some(old) = old
        && !replaced
        && changed.is_empty()
        && removed.is_empty()
    {
        // Nothing tracked changed: the entries stay as they were, unparsed (a request that
        // carries managedFields and did not replace them carries the live ones).
        if !new["metadata"]["managedFields"].is_array() {
            new["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
        }
        if new["metadata"]["managedFields"]
            .as_array()
            .is_none_or(Vec::is_empty)
            && let Some(metadata) = new["metadata"].as_object_mut()
        {
            metadata.remove("managedFields");
        }
        return;
    }
    let sub = subresource_name(req.scope);
    let Some(old) = old.filter(|_| !replaced) else {
        let mut all: Vec<Entry> = match old {
            Some(_) => entries(new)
                .into_iter()
                .filter(|e| !e.manager.is_empty())
                .collect(),
            None => Vec::new(),
        };
        update_entries(&mut all, changed, &removed, req, sub);
        set_entries(new, &all);
        return;
    };
    // The live entries, as stored: written by `set_entries` (every write of managedFields goes
    // through it or keeps the live ones), so an entry this write leaves alone would be encoded
    // again exactly as it is, and is kept without being decoded and encoded again. `new`
    // carries them already unless the request left managedFields out.
    let live = match new["metadata"]
        .get_mut("managedFields")
        .map(Value::take)
        .filter(Value::is_array)
    {
        Some(requested) => requested,
        None => old["metadata"]["managedFields"].clone(),
    };
    let live = match live {
        Value::Array(list) => list,
        _ => Vec::new(),
    };
    let mut kept = Vec::with_capacity(live.len() + 1);
    let mut decoded = Vec::new();
    for raw in live {
        let untouched = !raw_same_slot(&raw, req.manager, "Update", sub)
            && raw["fieldsV1"].as_object().is_some_and(|f| !f.is_empty())
            && !removed
                .iter()
                .chain(&changed)
                .any(|p| owns(&raw["fieldsV1"], p));
        if untouched {
            kept.push(Kept::Raw(raw));
        } else {
            kept.push(Kept::Decoded(decoded.len()));
            decoded.push(entry_of(&raw));
        }
    }
    let before = decoded.len();
    update_entries(&mut decoded, changed, &removed, req, sub);
    if decoded.len() > before {
        kept.push(Kept::Decoded(before));
    }
    set_entries_with(new, kept, &decoded);
}

/// An entry of the managedFields being written: kept as stored, or decoded (an index into the
/// decoded ones).
enum Kept {
    Raw(Value),
    Decoded(usize),
}

/// Writes entries kept as stored and decoded ones, in order, into an object (dropping decoded
/// entries that own nothing): `set_entries` for a list of which some entries are unchanged.
fn set_entries_with(obj: &mut Value, kept: Vec<Kept>, decoded: &[Entry]) {
    let list: Vec<Value> = kept
        .into_iter()
        .filter_map(|k| match k {
            Kept::Raw(v) => Some(v),
            Kept::Decoded(i) => decoded
                .get(i)
                .filter(|e| !e.fields.is_empty())
                .map(encode_entry),
        })
        .collect();
    put_managed_fields(obj, list);
}

/// Whether a stored entry is in the slot of `manager`, `operation` and `subresource` (as
/// [`Entry::same_slot`] of the entry decoded).
fn raw_same_slot(raw: &Value, manager: &str, operation: &str, subresource: &str) -> bool {
    raw["manager"].as_str().unwrap_or_default() == manager
        && raw["operation"].as_str().unwrap_or("Update") == operation
        && raw["subresource"].as_str().unwrap_or_default() == subresource
}

/// Whether the FieldsV1 tree `fields`, as `set_entries` writes it, has `path` as a member (as
/// the field set `from_fields_v1` decodes would contain it).
fn owns(fields: &Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = fields;
    for seg in parents {
        match node.as_object().and_then(|m| m.get(&seg_key(seg))) {
            Some(child) if child.is_object() => node = child,
            _ => return false,
        }
    }
    match node.as_object().and_then(|m| m.get(&seg_key(last))) {
        Some(Value::Object(c)) => c.is_empty() || c.contains_key("."),
        Some(_) => true,
        None => false,
    }
}

/// The changes of a non-apply write to decoded entries: fields that disappeared leave every
/// entry, changed ones leave the other managers' and join the writer's (`Updater.Update`).
fn update_entries(
    all: &mut Vec<Entry>,
    changed: FieldSet,
    removed: &FieldSet,
    req: &UpdateRequest<'_>,
    sub: &str,
) {
    for e in all.iter_mut() {
        e.fields.retain(|p| !removed.contains(p));
        if !e.same_slot(req.manager, "Update", sub) {
            e.fields.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        match all
            .iter_mut()
            .find(|e| e.same_slot(req.manager, "Update", sub))
        {
            Some(e) => {
                e.fields.extend(changed);
                e.time = req.now.into();
                e.api_version = req.api_version.into();
            }
            None => all.push(Entry {
                manager: req.manager.into(),
                operation: "Update".into(),
                api_version: req.api_version.into(),
                time: req.now.into(),
                fields: changed,
                subresource: sub.into(),
            }),
        }
    }
}

/// The inputs of recording a non-apply write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpdateRequest<'a> {
    /// The field manager.
    pub(crate) manager: &'a str,
    /// The API version the request used.
    pub(crate) api_version: &'a str,
    /// Which part of the object the request covers.
    pub(crate) scope: Scope,
    /// Timestamp for changed managedFields entries.
    pub(crate) now: &'a str,
    /// The type definitions of the object.
    pub(crate) schema: Schema<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Schema<'static> {
        Schema::for_kind("apps/v1", "Deployment", false, None)
    }

    fn req<'a>(applied: &'a Value, manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            applied,
            manager,
            force,
            api_version: "apps/v1",
            scope: Scope::NoStatus,
            now: "2026-01-01T00:00:00Z",
            schema: deployment(),
        }
    }

    fn update(manager: &str) -> UpdateRequest<'_> {
        UpdateRequest {
            manager,
            api_version: "apps/v1",
            scope: Scope::NoStatus,
            now: "t",
            schema: deployment(),
        }
    }

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    fn skeleton() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}})
    }

    fn conflicts(err: Error) -> Vec<(String, String)> {
        let Error::ApplyConflicts(c) = err else {
            panic!("not a conflict: {err}")
        };
        c.into_iter().map(|(m, _, p)| (m, p)).collect()
    }

    #[test]
    fn fields_v1_round_trips() {
        let set = field_set(&deploy(1, "nginx"), Scope::All, deployment());
        let v = to_fields_v1(&set);
        assert!(
            v["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."]
                .is_object()
        );
        assert!(
            v["f:spec"].get(".").is_none(),
            "struct fields are not members"
        );
        assert_eq!(from_fields_v1(&v), set);
    }

    #[test]
    fn fields_v1_in_one_pass_is_as_through_a_trie() {
        let set = field_set(&deploy(1, "nginx"), Scope::All, deployment());
        let mut with_parents = set.clone();
        for p in &set {
            with_parents.insert(p[..p.len() / 2].to_vec());
        }
        for s in [set, with_parents, FieldSet::new()] {
            let mut rooted = s.clone();
            rooted.insert(Vec::new());
            assert_eq!(to_fields_v1(&s), to_fields_v1_by_trie(&s));
            assert_eq!(to_fields_v1(&rooted), to_fields_v1_by_trie(&rooted));
        }
    }

    #[test]
    fn reapply_is_a_no_op() {
        let first = apply(&skeleton(), &req(&deploy(1, "nginx"), "op", true)).unwrap();
        let second = apply(
            &first,
            &ApplyRequest {
                now: "2027-01-01T00:00:00Z",
                ..req(&deploy(1, "nginx"), "op", true)
            },
        )
        .unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn conflicts_without_force_and_takes_over_with_force() {
        let a = apply(&skeleton(), &req(&deploy(1, "nginx"), "a", false)).unwrap();
        let err = apply(&a, &req(&deploy(3, "nginx"), "b", false)).unwrap_err();
        assert_eq!(
            conflicts(err),
            vec![("a".to_string(), ".spec.replicas".to_string())]
        );
        let b = apply(&a, &req(&deploy(3, "nginx"), "b", true)).unwrap();
        assert_eq!(b["spec"]["replicas"], 3);
        let es = entries(&b);
        let a_entry = es.iter().find(|e| e.manager == "a").unwrap();
        assert!(
            !a_entry
                .fields
                .contains(&vec![Seg::F("spec".into()), Seg::F("replicas".into())])
        );
    }

    #[test]
    fn dropped_fields_are_removed_unless_shared() {
        let cm = Schema::for_kind("v1", "ConfigMap", false, None);
        let skeleton = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let one = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let two = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let r = ApplyRequest {
            applied: &one,
            manager: "m",
            force: true,
            api_version: "v1",
            scope: Scope::All,
            now: "t",
            schema: cm,
        };
        let live = apply(&skeleton, &r).unwrap();
        let live = apply(&live, &ApplyRequest { applied: &two, ..r }).unwrap();
        assert_eq!(live["data"], json!({"a": "1"}));
        // Shared with another manager: kept.
        let live = apply(&skeleton, &ApplyRequest { applied: &one, ..r }).unwrap();
        let live = apply(
            &live,
            &ApplyRequest {
                applied: &one,
                manager: "n",
                ..r
            },
        )
        .unwrap();
        let live = apply(&live, &ApplyRequest { applied: &two, ..r }).unwrap();
        assert_eq!(live["data"], json!({"a": "1", "b": "2"}));
    }

    fn with_containers(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn list_items_the_only_owner_stops_applying_are_removed() {
        // https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management:
        // "If you remove a field from a manifest and apply that manifest, Server-Side Apply
        // checks for any other field managers that also own the field. If the field is not owned
        // by any other field managers, it is either deleted from the live object or reset to its
        // default value". Items of map lists (containers by name, env by name, ports by
        // containerPort+protocol, volumeMounts by mountPath) go as a whole.
        let full = with_containers(json!([
            {"name": "web", "image": "nginx",
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80}, {"containerPort": 443}],
             "volumeMounts": [{"name": "content", "mountPath": "/srv"}]},
            {"name": "sidecar", "image": "busybox"}]));
        let live = apply(&skeleton(), &req(&full, "op", false)).unwrap();
        let less = with_containers(json!([
            {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}],
             "ports": [{"containerPort": 80}]}]));
        let live = apply(&live, &req(&less, "op", false)).unwrap();
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80}]}])
        );
    }

    #[test]
    fn an_item_another_applier_owns_stays() {
        let both = with_containers(
            json!([{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}]),
        );
        let live = apply(&skeleton(), &req(&both, "a", false)).unwrap();
        let log = with_containers(json!([{"name": "log", "image": "busybox"}]));
        let live = apply(&live, &req(&log, "b", false)).unwrap();
        let web = with_containers(json!([{"name": "web", "image": "nginx"}]));
        let live = apply(&live, &req(&web, "a", false)).unwrap();
        let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["web", "log"]);
        // Once b stops applying it too, it goes.
        let live = apply(&live, &req(&skeleton(), "b", false)).unwrap();
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "nginx"}])
        );
    }

    #[test]
    fn an_item_goes_even_if_an_updater_owns_a_field_inside_it() {
        // structured-merge-diff (checked by hand with v4.1.2): the applier owned the item
        // `containers[name="log"]`; kubectl (an Update) owns only `.resources.limits.cpu` inside
        // it, not the item, so when the applier drops the item it goes whole.
        let both = with_containers(
            json!([{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}]),
        );
        let live = apply(&skeleton(), &req(&both, "a", false)).unwrap();
        let mut edited = live.clone();
        edited["spec"]["template"]["spec"]["containers"][1]["resources"] =
            json!({"limits": {"cpu": "1"}});
        record_update(Some(&live), &mut edited, &update("kubectl"));
        let web = with_containers(json!([{"name": "web", "image": "nginx"}]));
        let live = apply(&edited, &req(&web, "a", false)).unwrap();
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "nginx"}])
        );
    }

    #[test]
    fn a_map_entry_another_manager_owns_stays() {
        // structured-merge-diff (checked by hand with v4.1.2): labels {foo, keep} applied by a,
        // x added by an updater; a applying only `keep` removes foo and keeps x.
        let labels = |l: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": l}});
        let live = apply(
            &skeleton(),
            &req(&labels(json!({"foo": "1", "keep": "2"})), "a", false),
        )
        .unwrap();
        let mut edited = live.clone();
        edited["metadata"]["labels"]["x"] = json!("3");
        record_update(Some(&live), &mut edited, &update("ctrl"));
        let live = apply(&edited, &req(&labels(json!({"keep": "2"})), "a", false)).unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"keep": "2", "x": "3"}));
        let live = apply(&live, &req(&skeleton(), "a", false)).unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"x": "3"}));
    }

    #[test]
    fn dropping_all_metadata_an_applier_set_keeps_the_name() {
        let labelled = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns", "labels": {"a": "1"}, "annotations": {"b": "2"}},
            "spec": {"replicas": 2}});
        let live = apply(&skeleton(), &req(&labelled, "a", false)).unwrap();
        let bare = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns"}, "spec": {"replicas": 3}});
        let live = apply(&live, &req(&bare, "a", false)).unwrap();
        assert_eq!(live["metadata"]["name"], "d");
        assert!(live["metadata"].get("labels").is_none(), "{live}");
        assert!(live["metadata"].get("annotations").is_none());
        assert_eq!(live["spec"]["replicas"], 3);
    }

    #[test]
    fn an_update_by_the_same_manager_name_is_another_manager() {
        let a = apply(&skeleton(), &req(&deploy(1, "nginx"), "kubectl", false)).unwrap();
        let mut scaled = a.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&a), &mut scaled, &update("kubectl"));
        let err = apply(&scaled, &req(&deploy(1, "nginx"), "kubectl", false)).unwrap_err();
        assert_eq!(
            conflicts(err),
            vec![("kubectl".to_string(), ".spec.replicas".to_string())]
        );
        let forced = apply(&scaled, &req(&deploy(1, "nginx"), "kubectl", true)).unwrap();
        assert_eq!(forced["spec"]["replicas"], 1);
    }

    /// `record_update` as it was before entries the write leaves alone were kept as stored:
    /// every entry decoded, changed and encoded again.
    fn record_update_decoding_all(old: Option<&Value>, new: &mut Value, req: &UpdateRequest<'_>) {
        let requested = &new["metadata"]["managedFields"];
        let replaced = old.is_some_and(|old| {
            requested.is_array() && *requested != old["metadata"]["managedFields"]
        });
        let s = req.schema;
        let cmp = typed::compare(old.unwrap_or(&json!({})), new, s, true);
        let mut changed = cmp.added;
        changed.extend(cmp.modified);
        let changed = tracked_set(changed, req.scope);
        let removed = tracked_set(cmp.removed, req.scope);
        let mut all = match old {
            Some(_) if replaced => entries(new)
                .into_iter()
                .filter(|e| !e.manager.is_empty())
                .collect(),
            Some(old) => entries(old),
            None => Vec::new(),
        };
        let sub = subresource_name(req.scope);
        update_entries(&mut all, changed, &removed, req, sub);
        set_entries(new, &all);
    }

    #[test]
    fn entries_a_write_leaves_alone_are_kept_as_decoding_all_would_write_them() -> Result<()> {
        let applied = apply(&skeleton(), &req(&deploy(1, "nginx"), "op", true))?;
        let mut other = applied.clone();
        other["metadata"]["annotations"] = json!({"a": "1"});
        record_update(Some(&applied), &mut other, &update("kubectl"));
        let status = |s: Value, manager: &'static str| {
            UpdateRequest {
                scope: Scope::Status,
                ..update(manager)
            }
            .with_status(s)
        };
        let steps: Vec<(Value, UpdateRequest<'_>)> = vec![
            status(json!({"replicas": 1}), "kcm"),
            status(json!({"replicas": 1, "readyReplicas": 1}), "kcm"),
            status(json!({"readyReplicas": 1}), "other"),
            (json!({"spec": {"replicas": 2}}), update("kcm")),
            (json!({"spec": {"replicas": 3}}), update("kubectl")),
            (json!({"metadata": {"annotations": null}}), update("kcm")),
            (json!({"spec": {"template": null}}), update("kcm")),
        ];
        let mut live = other;
        for (change, r) in steps {
            let mut written = live.clone();
            merge_into(&mut written, &change);
            let mut lazily = written.clone();
            record_update(Some(&live), &mut lazily, &r);
            let mut eagerly = written.clone();
            record_update_decoding_all(Some(&live), &mut eagerly, &r);
            assert_eq!(lazily, eagerly, "after {change}");
            // Without managedFields in the request, the live ones are read.
            if let Some(m) = written["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            let mut left_out = written;
            record_update(Some(&live), &mut left_out, &r);
            assert_eq!(left_out, eagerly, "after {change}, managedFields left out");
            live = lazily;
        }
        assert!(entries(&live).iter().any(|e| e.manager == "op"), "{live}");
        Ok(())
    }

    fn merge_into(target: &mut Value, patch: &Value) {
        crate::api::patch::merge_patch(target, patch);
    }

    impl<'a> UpdateRequest<'a> {
        fn with_status(self, status: Value) -> (Value, UpdateRequest<'a>) {
            (json!({ "status": status }), self)
        }
    }

    #[test]
    fn updates_take_ownership_of_changed_fields() {
        let a = apply(&skeleton(), &req(&deploy(1, "nginx"), "a", false)).unwrap();
        let mut scaled = a.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&a), &mut scaled, &update("kubectl"));
        assert!(apply(&scaled, &req(&deploy(1, "nginx"), "a", false)).is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut bad = deploy(1, "nginx");
        bad["spec"]["replica"] = json!(1);
        let err = apply(&skeleton(), &req(&bad, "a", false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".spec.replica: field not declared in schema"
        );
    }
}
