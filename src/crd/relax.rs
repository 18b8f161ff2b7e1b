//! Relaxing `required` for fields the chart's base values already supply.

use serde_json::Value;

/// Drops from every `required` list (and from `anyOf`/`oneOf` branches' lists) the
/// fields `base` already holds: the CR spec is merged over the chart's defaults (and
/// under overrideValues) before the operator validates it, so the CR itself need not
/// carry them. A junctor left with an empty branch is always satisfied and is removed.
pub(crate) fn relax_required(schema: &mut Value, base: &Value) {
    let (Value::Object(node), Value::Object(values)) = (schema, base) else {
        return;
    };
    let supplied = |name: &Value| {
        name.as_str()
            .and_then(|n| values.get(n))
            .is_some_and(|v| !v.is_null())
    };
    if let Some(Value::Array(required)) = node.get_mut("required") {
        required.retain(|name| !supplied(name));
        if required.is_empty() {
            node.remove("required");
        }
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = node.get_mut(key) else {
            continue;
        };
        let mut satisfied = false;
        for branch in branches.iter_mut() {
            if let Some(Value::Array(required)) = branch.get_mut("required") {
                required.retain(|name| !supplied(name));
                if required.is_empty()
                    && let Some(map) = branch.as_object_mut()
                {
                    map.remove("required");
                }
            }
            satisfied |= branch.as_object().is_some_and(|m| m.is_empty());
        }
        if satisfied {
            node.remove(key);
        }
    }
    if let Some(Value::Object(properties)) = node.get_mut("properties") {
        for (name, child) in properties.iter_mut() {
            if let Some(value) = values.get(name) {
                relax_required(child, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_with_defaults_are_not_required() {
        let mut schema = json!({"type": "object", "required": ["image", "port"], "properties": {
            "image": {"type": "string"}, "port": {"type": "integer"},
            "service": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
        }});
        relax_required(
            &mut schema,
            &json!({"image": "nginx", "service": {"type": "ClusterIP"}}),
        );
        assert_eq!(schema["required"], json!(["port"]));
        assert!(schema["properties"]["service"].get("required").is_none());
    }
}
