//! Values: reading values.yaml, and chart defaults deep-merged with a spec and overrides on top.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Error, Result, read};

/// Reads a values file (YAML mapping); a missing or empty file is an empty mapping.
pub(crate) fn load_values(path: &Path) -> Result<Value> {
    if !path.exists() {
        return Ok(Value::Object(Default::default()));
    }
    let text = read(path)?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_yaml::from_str(&text).map_err(|e| Error::YamlInvalid {
        path: path.to_path_buf(),
        message: crate::config::describe_yaml_error(&e),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Default::default())),
        _ => Err(Error::YamlInvalid {
            path: path.to_path_buf(),
            message: "values must be a mapping at the top level".to_string(),
        }),
    }
}

/// `defaults ⊕ spec ⊕ overrides`: maps merge key by key, anything else (lists included) is
/// replaced by the layer above; a `null` in an upper layer removes the key, as in Helm.
pub(crate) fn merge_values(defaults: &Value, spec: &Value, overrides: &Value) -> Value {
    let mut merged = defaults.clone();
    merge_into(&mut merged, spec);
    merge_into(&mut merged, overrides);
    if !merged.is_object() {
        merged = Value::Object(Map::new());
    }
    merged
}

fn merge_into(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base_map), Value::Object(overlay_map)) => {
            for (key, value) in overlay_map {
                if value.is_null() {
                    base_map.remove(key);
                    continue;
                }
                match base_map.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_into(existing, value)
                    }
                    _ => {
                        base_map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) if !overlay.is_null() => *base = overlay.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_table() {
        let cases = [
            (json!({"a": 1}), json!({}), json!({}), json!({"a": 1})),
            (json!({"a": 1}), json!({"a": 2}), json!({}), json!({"a": 2})),
            (
                json!({"a": 1}),
                json!({"a": 2}),
                json!({"a": 3}),
                json!({"a": 3}),
            ),
            (
                json!({"svc": {"type": "ClusterIP", "port": 80}}),
                json!({"svc": {"port": 8080}}),
                json!({}),
                json!({"svc": {"type": "ClusterIP", "port": 8080}}),
            ),
            (
                json!({"l": [1, 2]}),
                json!({"l": [3]}),
                json!({}),
                json!({"l": [3]}),
            ),
            (
                json!({"a": 1, "b": 2}),
                json!({"a": null}),
                json!({}),
                json!({"b": 2}),
            ),
            (
                json!({"m": {"x": 1}}),
                json!({"m": "flat"}),
                json!({}),
                json!({"m": "flat"}),
            ),
            (json!({}), json!(null), json!({}), json!({})),
            (
                json!({"a": 1}),
                json!({"b": {"c": 1}}),
                json!({"b": {"d": 2}}),
                json!({"a": 1, "b": {"c": 1, "d": 2}}),
            ),
        ];
        for (defaults, spec, overrides, expected) in cases {
            assert_eq!(
                merge_values(&defaults, &spec, &overrides),
                expected,
                "{defaults} ⊕ {spec} ⊕ {overrides}"
            );
        }
    }
}
