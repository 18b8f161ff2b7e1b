//! Pruning a value to a structural schema, as the API server does with unknown fields.

use serde_json::Value;

/// Removes from `value` every object field that `schema` (a structural schema) does not
/// declare, unless the node preserves unknown fields; recurses through `properties`,
/// `additionalProperties` and `items`. This is what the API server does to a custom
/// resource (and to `default`s) before validating it.
pub fn prune(value: &mut Value, schema: &Value) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
        && schema.get("items").is_none()
        && schema.get("additionalProperties").is_none()
    {
        return;
    }
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match value {
        Value::Object(map) => {
            if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for child in map.values_mut() {
                    prune(child, additional);
                }
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            if !preserve && schema.get("type").and_then(Value::as_str) == Some("object") {
                map.retain(|key, _| properties.is_some_and(|p| p.contains_key(key)));
            }
            for (key, child) in map.iter_mut() {
                if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                    prune(child, child_schema);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    prune(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prune_drops_undeclared_fields_only() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "integer"},
            "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "list": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        }});
        let mut value = json!({"a": 1, "b": 2, "m": {"one": {"x": "y", "z": 1}}, "free": {"q": 1},
            "list": [{"k": "v", "extra": true}]});
        prune(&mut value, &schema);
        assert_eq!(
            value,
            json!({"a": 1, "m": {"one": {"x": "y"}}, "free": {"q": 1}, "list": [{"k": "v"}]})
        );
    }
}
