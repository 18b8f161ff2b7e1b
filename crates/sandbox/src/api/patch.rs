//! Patch types: JSON merge patch, JSON patch, and strategic merge patch with the patch strategies
//! and merge keys of the API's type definitions (`x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`).

use serde_json::{Map, Value};

use k8s_rules::types::Schema;

/// A patch that could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The JSON patch document is not a valid list of operations.
    #[error("invalid JSON patch: {0}")]
    JsonPatchInvalid(String),
    /// A JSON patch operation failed (bad path, failed test).
    #[error("the JSON patch could not be applied: {0}")]
    JsonPatchFailed(String),
    /// The strategic merge patch has a malformed directive.
    #[error("invalid strategic merge patch: {0}")]
    StrategicInvalid(String),
}

/// Result alias for this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Applies an RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Applies an RFC 6902 JSON patch.
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<()> {
    let p: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| Error::JsonPatchInvalid(e.to_string()))?;
    json_patch::patch(target, &p).map_err(|e| Error::JsonPatchFailed(e.to_string()))
}

/// Applies a strategic merge patch: like a merge patch, but lists with a merge key are merged
/// item by item, and `$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`
/// directives are honoured.
pub(crate) fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    schema: Schema<'_>,
) -> Result<()> {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => merge_map(t, p, schema),
        (t, p) => {
            *t = strip_directives(p);
            Ok(())
        }
    }
}

fn merge_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    schema: Schema<'_>,
) -> Result<()> {
    if let Some(directive) = patch.get("$patch").and_then(Value::as_str) {
        match directive {
            "replace" => {
                let mut p = patch.clone();
                p.remove("$patch");
                *target = strip_directives(&Value::Object(p))
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                return Ok(());
            }
            "delete" => {
                target.clear();
                return Ok(());
            }
            "merge" => {}
            other => {
                return Err(Error::StrategicInvalid(format!(
                    "unknown $patch directive {other:?}"
                )));
            }
        }
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, pv) in patch {
        if key.starts_with('$') && !key.starts_with("$deleteFromPrimitiveList/") {
            continue;
        }
        let field_schema = schema
            .field(key.trim_start_matches("$deleteFromPrimitiveList/"))
            .schema();
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(del)) = (target.get_mut(field), pv) {
                list.retain(|v| !del.contains(v));
            }
            continue;
        }
        match pv {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(po) => {
                let entry = target
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(t) = entry {
                    merge_map(t, po, field_schema)?;
                }
            }
            Value::Array(items) => {
                let merged = match target.get(key) {
                    Some(Value::Array(live)) => merge_list(live, items, field_schema)?,
                    _ => items
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .map(strip_directives)
                        .collect(),
                };
                target.insert(key.clone(), Value::Array(merged));
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
    Ok(())
}

fn merge_list(live: &[Value], patch: &[Value], schema: Schema<'_>) -> Result<Vec<Value>> {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    let info = schema.patch();
    if !info.merge {
        return Ok(patch.iter().map(strip_directives).collect());
    }
    let Some(key) = info.key else {
        let mut out = live.to_vec();
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return Ok(out);
    };
    let items = schema.items();
    let mut out = live.to_vec();
    for item in patch {
        let k = &item[key];
        let pos = out.iter().position(|l| &l[key] == k);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge_patch(&mut out[i], item, items)?,
            (None, false) => out.push(strip_directives(item)),
        }
    }
    Ok(out)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Schema<'static> {
        Schema::for_kind("v1", "Pod", false, None)
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut live = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
                           {"name": "b", "$patch": "delete"}]}});
        strategic_merge_patch(&mut live, &patch, pod()).unwrap();
        assert_eq!(
            live,
            json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}})
        );
    }

    #[test]
    fn strategic_null_deletes_and_atomic_lists_replace() {
        let mut live = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}});
        strategic_merge_patch(
            &mut live,
            &json!({"metadata": {"labels": {"a": null}}, "spec": {"containers": [{"name": "a", "args": ["z"]}]}}),
            pod(),
        )
        .unwrap();
        assert_eq!(
            live,
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"containers": [{"name": "a", "args": ["z"]}]}})
        );
    }

    #[test]
    fn service_ports_merge_by_port_and_finalizers_as_set() {
        // core/v1 ServiceSpec.ports: `patchStrategy=merge, patchMergeKey=port`; ObjectMeta
        // finalizers: `patchStrategy=merge` (a set of strings).
        let svc = Schema::for_kind("v1", "Service", false, None);
        let mut live = json!({"metadata": {"finalizers": ["a"]}, "spec": {"ports": [{"port": 80, "name": "http"}]}});
        strategic_merge_patch(
            &mut live,
            &json!({"metadata": {"finalizers": ["b", "a"]}, "spec": {"ports": [{"port": 443, "name": "https"}]}}),
            svc,
        )
        .unwrap();
        assert_eq!(live["spec"]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(live["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn json_patch_reports_bad_paths() {
        let mut v = json!({"a": 1});
        json_patch(
            &mut v,
            &json!([{"op": "replace", "path": "/a", "value": 2}]),
        )
        .unwrap();
        assert_eq!(v, json!({"a": 2}));
        assert!(json_patch(&mut v, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert!(json_patch(&mut v, &json!({"op": "x"})).is_err());
    }
}
