//! Breaking changes between a live CRD schema and a newly generated one, judged with the live resources.
//!
//! In the spirit of kro's CRD compatibility check: a change is breaking when resources that
//! exist (or that clients write today) would no longer be accepted as they are. Three kinds
//! are looked for, each under `spec` (the operator writes `status` itself):
//!
//! - a field removed while some live resource sets it (the API server would prune it);
//! - a type narrowed (anything but `integer` → `number`), or a live value the new type or
//!   `enum` no longer admits;
//! - a field newly required without a `default` (every existing resource lacks it on its
//!   next update; fields the chart's values.yaml supplies are never required in the CRD).

use serde_json::Value;

/// One breaking change, at a JSON pointer into the custom resource (`/spec/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakingChange {
    /// Where, e.g. `/spec/replicas` (`*` stands for any list item or map value).
    pub path: String,
    /// What would break.
    pub message: String,
}

impl std::fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The breaking changes from the CRD schema `old` to `new` (both `openAPIV3Schema`), given
/// the live resources of the kind as `(namespace/name, object)`.
pub fn breaking_changes(old: &Value, new: &Value, live: &[(String, Value)]) -> Vec<BreakingChange> {
    let mut out = Vec::new();
    let (old_spec, new_spec) = (spec_of(old), spec_of(new));
    compare(old_spec, new_spec, "/spec".to_string(), &mut out);
    for (name, object) in live {
        if let Some(spec) = object.get("spec") {
            check_live(new_spec, spec, "/spec".to_string(), name, &mut out);
        }
    }
    // One line per path and message, the first resource named.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|c| seen.insert((c.path.clone(), c.message.clone())));
    out
}

fn spec_of(schema: &Value) -> &Value {
    schema.pointer("/properties/spec").unwrap_or(&Value::Null)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn type_of(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

fn keeps_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// The schema-only changes: types narrowed and fields newly required, where both schemas
/// describe the same node.
fn compare(old: &Value, new: &Value, path: String, out: &mut Vec<BreakingChange>) {
    if old.is_null() || new.is_null() {
        return;
    }
    if let (Some(before), Some(after)) = (type_of(old), type_of(new))
        && before != after
        && !(before == "integer" && after == "number")
    {
        out.push(BreakingChange {
            path: path.clone(),
            message: format!("type narrowed from {before} to {after}"),
        });
        return;
    }
    let required = |schema: &Value| -> Vec<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let was_required = required(old);
    for name in required(new) {
        let has_default = new
            .pointer(&format!("/properties/{}/default", escape(&name)))
            .is_some();
        if !was_required.contains(&name) && !has_default {
            out.push(BreakingChange {
                path: format!("{path}/{}", escape(&name)),
                message: "newly required without a default".to_string(),
            });
        }
    }
    if let (Some(before), Some(after)) = (
        old.get("properties").and_then(Value::as_object),
        new.get("properties").and_then(Value::as_object),
    ) {
        for (name, child) in after {
            if let Some(previous) = before.get(name) {
                compare(previous, child, format!("{path}/{}", escape(name)), out);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let (Some(before), Some(after)) = (old.get(key), new.get(key))
            && before.is_object()
            && after.is_object()
        {
            compare(before, after, format!("{path}/*"), out);
        }
    }
}

/// The changes a live resource's `value` at `path` shows: fields the new schema prunes, and
/// values its type or enum no longer admit.
fn check_live(
    schema: &Value,
    value: &Value,
    path: String,
    name: &str,
    out: &mut Vec<BreakingChange>,
) {
    if schema.is_null() || keeps_unknown(schema) {
        return;
    }
    if let Some(expected) = type_of(schema)
        && !value.is_null()
        && !admits(expected, value)
    {
        out.push(BreakingChange {
            path,
            message: format!("{name} holds {value}, which type {expected} no longer admits"),
        });
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(BreakingChange {
            path,
            message: format!("{name} holds {value}, which the enum no longer admits"),
        });
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in fields {
                let at = format!("{path}/{}", escape(key));
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(child_schema), _) | (None, Some(child_schema)) => {
                        check_live(child_schema, child, at, name, out);
                    }
                    (None, None)
                        if schema.get("additionalProperties") == Some(&Value::Bool(true)) => {}
                    (None, None) => out.push(BreakingChange {
                        path: at,
                        message: format!(
                            "removed, but {name} sets it (the API server would drop it)"
                        ),
                    }),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check_live(item_schema, item, format!("{path}/{index}"), name, out);
                }
            }
        }
        _ => {}
    }
}

/// Whether a value of JSON type `value` is admitted by OpenAPI type `expected`.
fn admits(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(spec: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec, "status": {"type": "object"}}})
    }

    fn spec() -> Value {
        json!({"type": "object", "required": ["image"], "properties": {
            "image": {"type": "string"},
            "replicas": {"type": "integer"},
            "ratio": {"type": "number"},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "ports": {"type": "array", "items": {"type": "object", "properties": {
                "port": {"type": "integer"}, "name": {"type": "string"}}}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
    }

    fn live(spec: Value) -> Vec<(String, Value)> {
        vec![("default/hello".to_string(), json!({"spec": spec}))]
    }

    /// The changes as text, sorted.
    fn paths(changes: &[BreakingChange]) -> Vec<String> {
        let mut lines: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        lines.sort();
        lines
    }

    #[test]
    fn the_same_schema_or_an_additive_change_breaks_nothing() {
        let resources = live(
            json!({"image": "nginx", "replicas": 2, "ports": [{"port": 80}],
            "labels": {"a": "b"}, "extra": {"anything": [1]}}),
        );
        assert!(breaking_changes(&schema(spec()), &schema(spec()), &resources).is_empty());
        let mut wider = spec();
        wider["properties"]["tls"] = json!({"type": "boolean"});
        wider["properties"]["replicas"] = json!({"type": "number"});
        wider["properties"]["mode"]["enum"] = json!(["fast", "slow", "medium"]);
        wider["required"] = json!([]);
        let changes = breaking_changes(&schema(spec()), &schema(wider), &resources);
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_removed_field_breaks_only_when_a_resource_sets_it() {
        let mut narrower = spec();
        narrower["properties"]
            .as_object_mut()
            .map(|p| p.remove("replicas"));
        let unused = live(json!({"image": "nginx"}));
        assert!(breaking_changes(&schema(spec()), &schema(narrower.clone()), &unused).is_empty());
        let used = live(json!({"image": "nginx", "replicas": 2}));
        assert_eq!(
            paths(&breaking_changes(&schema(spec()), &schema(narrower), &used)),
            ["/spec/replicas: removed, but default/hello sets it (the API server would drop it)"]
        );
    }

    #[test]
    fn a_narrowed_type_breaks_and_names_the_path() {
        let mut narrower = spec();
        narrower["properties"]["ratio"] = json!({"type": "integer"});
        narrower["properties"]["ports"]["items"]["properties"]["port"] = json!({"type": "string"});
        let resources = live(json!({"image": "nginx", "ratio": 0.5, "ports": [{"port": 80}]}));
        assert_eq!(
            paths(&breaking_changes(
                &schema(spec()),
                &schema(narrower),
                &resources
            )),
            [
                "/spec/ports/*/port: type narrowed from integer to string",
                "/spec/ports/0/port: default/hello holds 80, which type string no longer admits",
                "/spec/ratio: default/hello holds 0.5, which type integer no longer admits",
                "/spec/ratio: type narrowed from number to integer",
            ]
        );
    }

    #[test]
    fn an_enum_value_in_use_that_goes_breaks() {
        let mut narrower = spec();
        narrower["properties"]["mode"]["enum"] = json!(["fast"]);
        let slow = live(json!({"image": "nginx", "mode": "slow"}));
        assert_eq!(
            paths(&breaking_changes(
                &schema(spec()),
                &schema(narrower.clone()),
                &slow
            )),
            ["/spec/mode: default/hello holds \"slow\", which the enum no longer admits"]
        );
        let fast = live(json!({"image": "nginx", "mode": "fast"}));
        assert!(breaking_changes(&schema(spec()), &schema(narrower), &fast).is_empty());
    }

    #[test]
    fn a_new_required_field_breaks_unless_it_has_a_default() {
        let mut stricter = spec();
        stricter["required"] = json!(["image", "replicas"]);
        assert_eq!(
            paths(&breaking_changes(
                &schema(spec()),
                &schema(stricter.clone()),
                &[]
            )),
            ["/spec/replicas: newly required without a default"]
        );
        stricter["properties"]["replicas"]["default"] = json!(1);
        assert!(breaking_changes(&schema(spec()), &schema(stricter), &[]).is_empty());
    }
}
