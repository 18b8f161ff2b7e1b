//! A values.schema.json inferred from values.yaml: types from the defaults, permissive where the
//! defaults say nothing (empty maps and lists, nulls).

use serde_json::{Map, Value, json};

/// The JSON Schema of values whose defaults are `defaults`.
pub(crate) fn infer(defaults: &Value) -> Value {
    let mut schema = node(defaults);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
    }
    schema
}

fn node(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        // A string default may stand for a quantity or a port name given as a number.
        Value::String(_) => json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        Value::Array(items) => match items.first() {
            Some(first) if items.iter().all(|i| same_kind(i, first)) => {
                json!({"type": "array", "items": node(first)})
            }
            _ => json!({"type": "array"}),
        },
        Value::Object(map) if map.is_empty() => {
            json!({"type": "object", "additionalProperties": true})
        }
        Value::Object(map) => {
            let properties: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), node(v))).collect();
            json!({"type": "object", "properties": properties})
        }
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

#[cfg(test)]
mod tests {
    use super::infer;
    use serde_json::json;

    #[test]
    fn types_come_from_the_defaults() {
        let schema = infer(&json!({
            "replicaCount": 1,
            "image": {"repository": "nginx", "tag": ""},
            "podAnnotations": {},
            "tolerations": [],
            "ports": [{"name": "http", "port": 80}],
            "ratio": 0.5,
            "enabled": false,
            "extra": null
        }));
        let p = &schema["properties"];
        assert_eq!(p["replicaCount"], json!({"type": "integer"}));
        assert_eq!(
            p["image"]["properties"]["tag"]["anyOf"][0]["type"],
            "string"
        );
        assert_eq!(p["podAnnotations"]["additionalProperties"], true);
        assert_eq!(p["tolerations"], json!({"type": "array"}));
        assert_eq!(p["ports"]["items"]["properties"]["port"]["type"], "integer");
        assert_eq!(p["ratio"]["type"], "number");
        assert_eq!(p["enabled"]["type"], "boolean");
        assert_eq!(p["extra"], json!({}));
    }
}
