//! The API server's structural-schema rules, checked offline with a JSON pointer per violation.

use serde_json::Value;

use super::error::at;
use super::keywords::{CRD_KEYS, TYPES};
use super::structural::escape;
use super::validator::validator_schema;

/// Keywords a node inside `allOf`/`anyOf`/`oneOf`/`not` must not set.
const FORBIDDEN_IN_JUNCTORS: [&str; 5] = [
    "type",
    "description",
    "default",
    "additionalProperties",
    "nullable",
];

/// Check a schema is structural as the API server demands; returns every violation
/// with its path, e.g. `/properties/spec/properties/ports/items: type must not be empty`.
/// Empty means the API server would accept it (as far as these rules go).
pub fn check_structural(schema: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    let mut push = |ptr: &str, message: String| violations.push(format!("{}: {message}", at(ptr)));
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        push("", "type must be object at the root".into());
    }
    if let Some(meta) = schema
        .pointer("/properties/metadata/properties")
        .and_then(Value::as_object)
    {
        for key in meta.keys().filter(|k| *k != "name" && *k != "generateName") {
            push(
                &format!("/properties/metadata/properties/{}", escape(key)),
                "only metadata.name and metadata.generateName may be restricted".into(),
            );
        }
    }
    node(schema, "", false, &mut push);
    violations
}

/// Checks one node outside any junctor; `needs_type` for the root, properties,
/// additionalProperties and items.
fn node(schema: &Value, ptr: &str, needs_type: bool, push: &mut impl FnMut(&str, String)) {
    let Some(map) = schema.as_object() else {
        push(ptr, "must be a schema object".into());
        return;
    };
    common(map, ptr, push);
    let flag = |key: &str| map.get(key) == Some(&Value::Bool(true));
    let int_or_string = flag("x-kubernetes-int-or-string");
    let preserve = flag("x-kubernetes-preserve-unknown-fields");
    match map.get("type") {
        None if needs_type && !int_or_string && !preserve => {
            push(ptr, "`type` must not be empty".into())
        }
        Some(_) if int_or_string => push(
            ptr,
            "`type` must be empty with x-kubernetes-int-or-string".into(),
        ),
        _ => {}
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (name, child) in properties {
            node(
                child,
                &format!("{ptr}/properties/{}", escape(name)),
                true,
                push,
            );
        }
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(false)) => push(ptr, "additionalProperties must not be false".into()),
        Some(Value::Bool(true)) => {
            push(ptr, "additionalProperties: true is not structural; use x-kubernetes-preserve-unknown-fields".into())
        }
        Some(child) => {
            if map.contains_key("properties") {
                push(ptr, "additionalProperties and properties are mutually exclusive".into());
            }
            node(child, &format!("{ptr}/additionalProperties"), true, push);
        }
        None => {}
    }
    match map.get("items") {
        Some(Value::Array(_)) => push(ptr, "items must be a schema object, not an array".into()),
        Some(child) => node(child, &format!("{ptr}/items"), true, push),
        None if map.get("type").and_then(Value::as_str) == Some("array") => {
            push(ptr, "items must be specified for an array".into())
        }
        None => {}
    }
    list_type(map, ptr, push);
    if let Some(default) = map.get("default") {
        default_valid(map, default, ptr, push);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = map.get(key) {
            let Some(branches) = branches.as_array() else {
                push(ptr, format!("{key} must be an array"));
                continue;
            };
            for (i, branch) in branches.iter().enumerate() {
                junctor(
                    branch,
                    schema,
                    &format!("{ptr}/{key}/{i}"),
                    int_or_string,
                    push,
                );
            }
        }
    }
    if let Some(branch) = map.get("not") {
        junctor(branch, schema, &format!("{ptr}/not"), false, push);
    }
}

/// Checks a node inside a junctor against `outer`, the corresponding node outside
/// every junctor: no forbidden keywords, and no field or item `outer` lacks.
fn junctor(
    schema: &Value,
    outer: &Value,
    ptr: &str,
    int_or_string: bool,
    push: &mut impl FnMut(&str, String),
) {
    let Some(map) = schema.as_object() else {
        push(ptr, "must be a schema object".into());
        return;
    };
    common(map, ptr, push);
    let int_or_string_branch = int_or_string
        && map.len() == 1
        && matches!(
            map.get("type").and_then(Value::as_str),
            Some("integer" | "string")
        );
    for key in FORBIDDEN_IN_JUNCTORS {
        if map.contains_key(key) && !int_or_string_branch {
            push(
                ptr,
                format!("{key} must not be set inside allOf/anyOf/oneOf/not"),
            );
        }
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (name, child) in properties {
            let child_ptr = format!("{ptr}/properties/{}", escape(name));
            match outer.get("properties").and_then(|p| p.get(name)) {
                Some(outer_child) => junctor(child, outer_child, &child_ptr, false, push),
                None => push(
                    &child_ptr,
                    "a field in a junctor must also be specified outside of it".into(),
                ),
            }
        }
    }
    if let Some(items) = map.get("items") {
        match outer.get("items") {
            Some(outer_items) => junctor(items, outer_items, &format!("{ptr}/items"), false, push),
            None => push(
                ptr,
                "items in a junctor must also be specified outside of it".into(),
            ),
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, branch) in map
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            junctor(branch, outer, &format!("{ptr}/{key}/{i}"), false, push);
        }
    }
    if let Some(branch) = map.get("not") {
        junctor(branch, outer, &format!("{ptr}/not"), false, push);
    }
}

/// Rules every node obeys: known keys, a valid type, no uniqueItems, extensions true.
fn common(map: &serde_json::Map<String, Value>, ptr: &str, push: &mut impl FnMut(&str, String)) {
    for key in map.keys() {
        if !CRD_KEYS.contains(&key.as_str()) {
            push(ptr, format!("{key} is not allowed in a CRD schema"));
        }
    }
    if let Some(t) = map.get("type")
        && !t.as_str().is_some_and(|t| TYPES.contains(&t))
    {
        push(ptr, format!("type {t} must be one of {}", TYPES.join(", ")));
    }
    if map.get("uniqueItems") == Some(&Value::Bool(true)) {
        push(
            ptr,
            "uniqueItems cannot be true; use x-kubernetes-list-type: set".into(),
        );
    }
    for key in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
    ] {
        if map.get(key).is_some_and(|v| *v != Value::Bool(true)) {
            push(ptr, format!("{key} must be true or absent"));
        }
    }
}

/// The API server refuses a `default` its own node's schema rejects.
fn default_valid(
    map: &serde_json::Map<String, Value>,
    default: &Value,
    ptr: &str,
    push: &mut impl FnMut(&str, String),
) {
    let mut schema = map.clone();
    schema.remove("default");
    let schema = validator_schema(&Value::Object(schema));
    match jsonschema::validator_for(&schema) {
        Ok(validator) => {
            if let Some(error) = validator.iter_errors(default).next() {
                push(ptr, format!("default {default} is invalid: {error}"));
            }
        }
        Err(error) => push(ptr, format!("cannot check the default: {error}")),
    }
}

/// `x-kubernetes-list-type`: `set` needs scalar items, `map` needs object items whose
/// key fields are required or defaulted.
fn list_type(map: &serde_json::Map<String, Value>, ptr: &str, push: &mut impl FnMut(&str, String)) {
    let items = map.get("items");
    let item_type = items.and_then(|i| i.get("type")).and_then(Value::as_str);
    match map.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") if matches!(item_type, Some("object" | "array")) => {
            push(ptr, "x-kubernetes-list-type: set needs scalar items".into())
        }
        Some("map") => {
            if item_type != Some("object") {
                push(ptr, "x-kubernetes-list-type: map needs object items".into());
            }
            let keys = map
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array);
            if keys.is_none_or(|k| k.is_empty()) {
                push(
                    ptr,
                    "x-kubernetes-list-type: map needs x-kubernetes-list-map-keys".into(),
                );
            }
            for key in keys.into_iter().flatten().filter_map(Value::as_str) {
                let declared =
                    items.and_then(|i| i.pointer(&format!("/properties/{}", escape(key))));
                let required = items
                    .and_then(|i| i.get("required"))
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|n| n == key));
                let defaulted = declared.is_some_and(|d| d.get("default").is_some());
                if declared.is_none() || !(required || defaulted) {
                    push(
                        ptr,
                        format!(
                            "list map key {key:?} must be a required or defaulted property of the items"
                        ),
                    );
                }
            }
        }
        Some("set" | "atomic") | None => {}
        Some(other) => push(
            ptr,
            format!("x-kubernetes-list-type {other:?} must be atomic, set or map"),
        ),
    }
}
