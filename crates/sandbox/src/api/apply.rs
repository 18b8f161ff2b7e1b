//! Server-side apply and `metadata.managedFields`: field sets per manager, conflicts, removals.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::api::patch::{is_set_list, merge_key};

/// One step of a field path, as in FieldsV1 (`f:`, `k:`, `v:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg {
    /// A map field.
    F(String),
    /// A list item identified by its merge key (compact JSON object).
    K(String),
    /// A set-list item identified by its value (compact JSON).
    V(String),
}

/// A path into an object.
pub(crate) type Path = Vec<Seg>;
/// A set of owned fields.
pub(crate) type FieldSet = BTreeSet<Path>;

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

/// Server-side apply failed because other managers own fields with different values.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Conflicts: `(manager, the manager's apiVersion, field path)`.
    #[error("apply conflicts with other field managers")]
    ApplyConflicts(Vec<(String, String, String)>),
}

/// Result alias for this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

const METADATA_TRACKED: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// The fields an object sets, within `scope`.
pub(crate) fn field_set(obj: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        let keep = match (k.as_str(), scope) {
            ("apiVersion" | "kind", _) => false,
            ("status", Scope::NoStatus) => false,
            ("status", _) => true,
            (_, Scope::Status) => false,
            _ => true,
        };
        if !keep {
            continue;
        }
        if k == "metadata" {
            for mk in METADATA_TRACKED {
                if let Some(mv) = v.get(mk) {
                    walk(
                        mv,
                        vec![Seg::F("metadata".into()), Seg::F(mk.into())],
                        mk,
                        &mut out,
                    );
                }
            }
        } else {
            walk(v, vec![Seg::F(k.clone())], k, &mut out);
        }
    }
    out
}

fn key_of(item: &Value, key: &str) -> String {
    json!({ key: item[key] }).to_string()
}

fn walk(v: &Value, path: Path, field: &str, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(Seg::F(k.clone()));
                walk(c, p, k, out);
            }
        }
        Value::Array(items)
            if is_set_list(field) && items.iter().all(|i| !i.is_object() && !i.is_array()) =>
        {
            if items.is_empty() {
                out.insert(path.clone());
            }
            for i in items {
                let mut p = path.clone();
                p.push(Seg::V(i.to_string()));
                out.insert(p);
            }
        }
        Value::Array(items) => match merge_key(field, items) {
            Some(key) if !items.is_empty() => {
                for item in items {
                    let mut p = path.clone();
                    p.push(Seg::K(key_of(item, key)));
                    out.insert(p.clone());
                    if let Some(m) = item.as_object() {
                        for (k, c) in m {
                            let mut cp = p.clone();
                            cp.push(Seg::F(k.clone()));
                            walk(c, cp, k, out);
                        }
                    }
                }
            }
            _ => {
                out.insert(path);
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

fn item_matches(item: &Value, key_json: &str) -> bool {
    match serde_json::from_str::<Map<String, Value>>(key_json) {
        Ok(k) => k.iter().all(|(f, v)| item.get(f) == Some(v)),
        Err(_) => false,
    }
}

/// The value at `path`, if present.
pub(crate) fn get_at<'a>(obj: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = match seg {
            Seg::F(k) => cur.get(k)?,
            Seg::K(k) => cur.as_array()?.iter().find(|i| item_matches(i, k))?,
            Seg::V(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

fn get_at_mut<'a>(obj: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = obj;
    for seg in path {
        cur = match seg {
            Seg::F(k) => cur.get_mut(k)?,
            Seg::K(k) => cur
                .as_array_mut()?
                .iter_mut()
                .find(|i| item_matches(i, k))?,
            Seg::V(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array_mut()?.iter_mut().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the value at `path`; returns whether something was removed.
pub(crate) fn remove_at(obj: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let Some(parent) = get_at_mut(obj, parent) else {
        return false;
    };
    match last {
        Seg::F(k) => parent.as_object_mut().and_then(|m| m.remove(k)).is_some(),
        Seg::K(k) => match parent.as_array_mut() {
            Some(a) => {
                let before = a.len();
                a.retain(|i| !item_matches(i, k));
                a.len() != before
            }
            None => false,
        },
        Seg::V(v) => match (parent.as_array_mut(), serde_json::from_str::<Value>(v)) {
            (Some(a), Ok(want)) => {
                let before = a.len();
                a.retain(|i| *i != want);
                a.len() != before
            }
            _ => false,
        },
    }
}

/// A path as the API server prints it in conflict messages (`.spec.replicas`).
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::F(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::K(k) => {
                let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = m.iter().map(|(f, v)| format!("{f}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Seg::V(v) => s.push_str(&format!("[{v}]")),
        }
    }
    s
}

fn seg_key(seg: &Seg) -> String {
    match seg {
        Seg::F(k) => format!("f:{k}"),
        Seg::K(k) => format!("k:{k}"),
        Seg::V(v) => format!("v:{v}"),
    }
}

/// Encodes a field set as a FieldsV1 tree.
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for (i, seg) in path.iter().enumerate() {
            let entry = node
                .entry(seg_key(seg))
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(child) = entry else { break };
            node = child;
            if i == path.len() - 1 && matches!(seg, Seg::K(_) | Seg::V(_)) && !node.is_empty() {
                node.insert(".".into(), json!({}));
            }
        }
    }
    // Mark list items that have children as owned themselves.
    fn mark(node: &mut Map<String, Value>, set_has_item: bool) {
        if set_has_item && !node.is_empty() && !node.contains_key(".") {
            node.insert(".".into(), json!({}));
        }
        for (k, v) in node.iter_mut() {
            if let Value::Object(c) = v {
                mark(c, k.starts_with("k:"));
            }
        }
    }
    mark(&mut root, false);
    Value::Object(root)
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
                Seg::K(f.into())
            } else if let Some(f) = k.strip_prefix("v:") {
                Seg::V(f.into())
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
    list.iter()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or("Update").into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            fields: from_fields_v1(&e["fieldsV1"]),
            subresource: e["subresource"].as_str().unwrap_or_default().into(),
        })
        .collect()
}

/// Writes managedFields into an object (dropping entries that own nothing).
pub(crate) fn set_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
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

/// Merges an applied configuration into the live object (maps recursively, keyed lists by key).
fn merge_applied(live: &mut Value, applied: &Value, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                match l.get_mut(k) {
                    Some(lv) if !av.is_null() => merge_applied(lv, av, k),
                    _ if av.is_null() => {
                        l.remove(k);
                    }
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => {
            if is_set_list(field) {
                for v in a {
                    if !l.contains(v) {
                        l.push(v.clone());
                    }
                }
                return;
            }
            let all: Vec<Value> = l.iter().chain(a.iter()).cloned().collect();
            match merge_key(field, &all) {
                Some(key) if !a.is_empty() => {
                    for item in a {
                        match l.iter_mut().find(|i| i[key] == item[key]) {
                            Some(li) => merge_applied(li, item, ""),
                            None => l.push(item.clone()),
                        }
                    }
                }
                _ => *l = a.clone(),
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn is_prefix(prefix: &[Seg], path: &[Seg]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

fn prune_empty_parents(obj: &mut Value, path: &[Seg], owned: &FieldSet) {
    let mut p = path.to_vec();
    while p.len() > 1 {
        p.pop();
        if owned.contains(&p) {
            break;
        }
        let empty = match get_at(obj, &p) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if !empty || (p.len() == 1 && p[0] == Seg::F("metadata".into())) {
            break;
        }
        remove_at(obj, &p);
    }
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
}

/// Applies `req.applied` onto `live` (the current object, or a skeleton for create-if-absent).
pub(crate) fn apply(live: &Value, req: &ApplyRequest<'_>) -> Result<Value> {
    let applied = restrict(req.applied, req.scope);
    let new_set = field_set(&applied, req.scope);
    let sub = subresource_name(req.scope);
    let mut all = entries(live);
    let mut conflicts = Vec::new();
    for e in &all {
        if e.same_slot(req.manager, "Apply", sub) {
            continue;
        }
        for p in new_set.intersection(&e.fields) {
            let a = get_at(&applied, p);
            let is_leaf =
                a.is_some_and(|v| !v.is_object() || v.as_object().is_some_and(Map::is_empty));
            if is_leaf && get_at(live, p) != a {
                conflicts.push((e.manager.clone(), e.api_version.clone(), path_string(p)));
            }
        }
    }
    if !conflicts.is_empty() && !req.force {
        conflicts.sort();
        conflicts.dedup();
        return Err(Error::ApplyConflicts(conflicts));
    }
    let conflicting: BTreeSet<(String, String)> = conflicts
        .iter()
        .map(|(m, _, p)| (m.clone(), p.clone()))
        .collect();
    for e in all.iter_mut() {
        if e.same_slot(req.manager, "Apply", sub) {
            continue;
        }
        if req.force {
            let manager = e.manager.clone();
            e.fields.retain(|p| {
                !(new_set.contains(p) && conflicting.contains(&(manager.clone(), path_string(p))))
            });
        }
    }
    let old_set = all
        .iter()
        .find(|e| e.same_slot(req.manager, "Apply", sub))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut merged = live.clone();
    merge_applied(&mut merged, &applied, "");
    let others: FieldSet = all
        .iter()
        .filter(|e| !e.same_slot(req.manager, "Apply", sub))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut removed: Vec<&Path> = old_set.difference(&new_set).collect();
    removed.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in removed {
        let still_owned = others.iter().any(|o| is_prefix(p, o))
            || new_set.iter().any(|n| is_prefix(p, n) || is_prefix(n, p));
        if !still_owned && remove_at(&mut merged, p) {
            let owned: FieldSet = others.iter().chain(new_set.iter()).cloned().collect();
            prune_empty_parents(&mut merged, p, &owned);
        }
    }
    match all
        .iter_mut()
        .find(|e| e.same_slot(req.manager, "Apply", sub))
    {
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
    set_entries(&mut merged, &all);
    Ok(merged)
}

/// Records a non-apply write (create, update, patch) in managedFields: the manager takes the
/// fields it changed, and fields that disappeared leave every manager.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    scope: Scope,
    now: &str,
) {
    let mut all = old.map(entries).unwrap_or_default();
    let old_set = old.map(|o| field_set(o, scope)).unwrap_or_default();
    let new_set = field_set(new, scope);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| old.is_none_or(|o| get_at(o, p) != get_at(new, p)))
        .cloned()
        .collect();
    let gone: FieldSet = old_set.difference(&new_set).cloned().collect();
    let sub = subresource_name(scope);
    for e in all.iter_mut() {
        e.fields
            .retain(|p| !gone.contains(p) && get_at(new, p).is_some());
        if !e.same_slot(manager, "Update", sub) {
            e.fields.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        match all.iter_mut().find(|e| e.same_slot(manager, "Update", sub)) {
            Some(e) => {
                e.fields.extend(changed);
                e.time = now.into();
                e.api_version = api_version.into();
            }
            None => all.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now.into(),
                fields: changed,
                subresource: sub.into(),
            }),
        }
    }
    set_entries(new, &all);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(applied: &'a Value, manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            applied,
            manager,
            force,
            api_version: "apps/v1",
            scope: Scope::NoStatus,
            now: "2026-01-01T00:00:00Z",
        }
    }

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn fields_v1_round_trips() {
        let set = field_set(&deploy(1, "nginx"), Scope::All);
        let v = to_fields_v1(&set);
        assert!(
            v["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."]
                .is_object()
        );
        assert_eq!(from_fields_v1(&v), set);
    }

    #[test]
    fn reapply_is_a_no_op() {
        let skeleton =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        let first = apply(&skeleton, &req(&deploy(1, "nginx"), "op", true)).unwrap();
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
        let skeleton =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        let a = apply(&skeleton, &req(&deploy(1, "nginx"), "a", false)).unwrap();
        let err = apply(&a, &req(&deploy(3, "nginx"), "b", false)).unwrap_err();
        let Error::ApplyConflicts(c) = err;
        let c: Vec<(String, String)> = c.into_iter().map(|(m, _, p)| (m, p)).collect();
        assert_eq!(c, vec![("a".to_string(), ".spec.replicas".to_string())]);
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

    #[test]
    fn an_update_by_the_same_manager_name_is_another_manager() {
        let skeleton =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        let a = apply(&skeleton, &req(&deploy(1, "nginx"), "kubectl", false)).unwrap();
        let mut scaled = a.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            Some(&a),
            &mut scaled,
            "kubectl",
            "apps/v1",
            Scope::NoStatus,
            "t",
        );
        let err = apply(&scaled, &req(&deploy(1, "nginx"), "kubectl", false)).unwrap_err();
        let Error::ApplyConflicts(c) = err;
        let c: Vec<(String, String)> = c.into_iter().map(|(m, _, p)| (m, p)).collect();
        assert_eq!(
            c,
            vec![("kubectl".to_string(), ".spec.replicas".to_string())]
        );
        let forced = apply(&scaled, &req(&deploy(1, "nginx"), "kubectl", true)).unwrap();
        assert_eq!(forced["spec"]["replicas"], 1);
    }

    #[test]
    fn updates_take_ownership_of_changed_fields() {
        let skeleton =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        let a = apply(&skeleton, &req(&deploy(1, "nginx"), "a", false)).unwrap();
        let mut scaled = a.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            Some(&a),
            &mut scaled,
            "kubectl",
            "apps/v1",
            Scope::NoStatus,
            "t",
        );
        assert!(apply(&scaled, &req(&deploy(1, "nginx"), "a", false)).is_err());
    }
}
