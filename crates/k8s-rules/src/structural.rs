//! Pruning to a structural schema: what the API server drops from a custom resource (and from
//! `default`s) before validating it, following `apiextensions-apiserver`'s `pruning` package.
//!
//! - A field that its object's schema does not declare is dropped, unless the node has
//!   `x-kubernetes-preserve-unknown-fields: true` (then unknown fields stay, declared ones are
//!   still pruned below) or `additionalProperties` (then every field is checked against it;
//!   `additionalProperties: true` keeps everything below).
//! - `apiVersion`, `kind` and `metadata` of an embedded resource
//!   (`x-kubernetes-embedded-resource`) are never dropped.
//! - Array items are pruned with `items`.

use serde_json::Value;

/// Removes from `value` every object field that `schema` does not declare (see the module).
pub fn prune(value: &mut Value, schema: &Value) {
    prune_at(value, schema, "", &mut Vec::new());
}

/// As [`prune`], recording the path of each dropped field in `removed` (`spec.a.b`,
/// `spec.list[0].x`, `spec.map[key].y`), starting from `path`.
pub fn prune_at(value: &mut Value, schema: &Value, path: &str, removed: &mut Vec<String>) {
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema
                .get("additionalProperties")
                .filter(|a| a.is_object() || a.as_bool() == Some(true));
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            map.retain(|key, _| {
                let keep = preserve
                    || additional.is_some()
                    || properties.is_some_and(|p| p.contains_key(key))
                    || (embedded && is_meta_field(key));
                if !keep {
                    removed.push(child(path, key));
                }
                keep
            });
            for (key, child_value) in map.iter_mut() {
                if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                    prune_at(child_value, child_schema, &child(path, key), removed);
                } else if let Some(additional) = additional.filter(|a| a.is_object()) {
                    prune_at(child_value, additional, &format!("{path}[{key}]"), removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(item, item_schema, &format!("{path}[{i}]"), removed);
                }
            }
        }
        _ => {}
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool) == Some(true)
}

fn is_meta_field(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pruned(mut value: Value, schema: Value) -> (Value, Vec<String>) {
        let mut removed = Vec::new();
        prune_at(&mut value, &schema, "spec", &mut removed);
        (value, removed)
    }

    #[test]
    fn undeclared_fields_are_dropped_and_named() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "integer"},
            "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "list": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        }});
        let value = json!({"a": 1, "b": 2, "m": {"one": {"x": "y", "z": 1}}, "free": {"q": 1},
            "list": [{"k": "v", "extra": true}]});
        let (value, removed) = pruned(value, schema);
        assert_eq!(
            value,
            json!({"a": 1, "m": {"one": {"x": "y"}}, "free": {"q": 1}, "list": [{"k": "v"}]})
        );
        assert_eq!(removed, ["spec.b", "spec.list[0].extra", "spec.m[one].z"]);
    }

    #[test]
    fn preserved_nodes_still_prune_their_declared_properties() {
        let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "object", "properties": {"x": {"type": "string"}}}}});
        let (value, removed) = pruned(
            json!({"unknown": {"deep": 1}, "known": {"x": "a", "y": "b"}}),
            schema,
        );
        assert_eq!(value, json!({"unknown": {"deep": 1}, "known": {"x": "a"}}));
        assert_eq!(removed, ["spec.known.y"]);
    }

    #[test]
    fn additional_properties_true_keeps_everything_below() {
        let schema = json!({"type": "object", "additionalProperties": true});
        let (value, removed) = pruned(json!({"a": {"b": 1}}), schema);
        assert_eq!(value, json!({"a": {"b": 1}}));
        assert!(removed.is_empty());
    }

    #[test]
    fn embedded_resources_keep_their_type_and_metadata() {
        let schema = json!({"type": "object", "x-kubernetes-embedded-resource": true,
            "properties": {"spec": {"type": "object"}}});
        let (value, removed) = pruned(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "junk": 1}),
            schema,
        );
        assert_eq!(
            value,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}})
        );
        assert_eq!(removed, ["spec.junk"]);
    }

    #[test]
    fn scalars_and_schemaless_arrays_are_left_alone() {
        let schema = json!({"type": "array"});
        let (value, removed) = pruned(json!([{"a": 1}, 2]), schema);
        assert_eq!(value, json!([{"a": 1}, 2]));
        assert!(removed.is_empty());
    }
}
