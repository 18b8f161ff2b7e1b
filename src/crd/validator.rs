//! Turning a structural (OpenAPI v3) schema back into a JSON Schema for the `jsonschema` crate.

use serde_json::{Map, Value, json};

use k8s_rules::whole_number;

/// Converts a structural schema (as in a CRD's openAPIV3Schema) into a JSON Schema
/// (2020-12) that validates objects the way the API server would with strict field
/// validation (kubectl's default): `nullable` → `type: [X, "null"]`, OpenAPI's boolean
/// `exclusiveMinimum`/`Maximum` → the numeric form, `x-kubernetes-int-or-string` →
/// `integer` or `string`, `x-kubernetes-list-type: set` → `uniqueItems`, and an
/// object that neither preserves unknown fields nor is a map rejects undeclared
/// fields (`additionalProperties: false`) instead of pruning them. CEL rules
/// (`x-kubernetes-validations`) are not evaluated and are dropped. At the root,
/// `metadata` accepts any object (the API server checks ObjectMeta itself).
pub fn validator_schema(structural: &Value) -> Value {
    let mut out = convert(structural);
    if let Some(metadata) = out
        .pointer_mut("/properties/metadata")
        .and_then(Value::as_object_mut)
    {
        metadata.remove("additionalProperties");
    }
    out
}

fn convert(structural: &Value) -> Value {
    let Some(map) = structural.as_object() else {
        return structural.clone();
    };
    let mut out = Map::new();
    let flag = |key: &str| map.get(key) == Some(&Value::Bool(true));
    let nullable = flag("nullable");
    for (key, value) in map {
        match key.as_str() {
            "properties" => {
                let props = value.as_object().into_iter().flatten();
                out.insert(
                    key.clone(),
                    Value::Object(props.map(|(k, v)| (k.clone(), convert(v))).collect()),
                );
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), convert(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let branches = value.as_array().into_iter().flatten().map(convert);
                out.insert(key.clone(), Value::Array(branches.collect()));
            }
            "type" => {
                let t = if nullable {
                    json!([value, "null"])
                } else {
                    value.clone()
                };
                out.insert(key.clone(), t);
            }
            "enum" if nullable => {
                let mut values = value.as_array().cloned().unwrap_or_default();
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
                out.insert(key.clone(), Value::Array(values));
            }
            "exclusiveMinimum" | "exclusiveMaximum" | "nullable" | "example" => {}
            "minimum" | "maximum" | "multipleOf" => {
                out.insert(key.clone(), whole_number(value));
            }
            "x-kubernetes-list-type" if value == "set" => {
                out.insert("uniqueItems".into(), true.into());
            }
            key if key.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for (exclusive, inclusive) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if flag(exclusive)
            && let Some(bound) = out.remove(inclusive)
        {
            out.insert(exclusive.into(), bound);
        }
    }
    if flag("x-kubernetes-int-or-string") {
        let types = if nullable {
            json!(["integer", "string", "null"])
        } else {
            json!(["integer", "string"])
        };
        out.remove("anyOf");
        out.insert("type".into(), types);
    }
    let object = map.get("type").and_then(Value::as_str) == Some("object");
    if object
        && !map.contains_key("additionalProperties")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        out.insert("additionalProperties".into(), false.into());
    }
    Value::Object(out)
}
