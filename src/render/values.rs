//! Values: chart defaults, deep-merged with the custom resource's spec, with overrides on top.

use serde_json::{Map, Value};

/// `defaults ⊕ spec ⊕ overrides`: maps merge key by key, anything else (lists included) is
/// replaced by the layer above; a `null` in an upper layer removes the key, as in Helm.
pub fn merge_values(defaults: &Value, spec: &Value, overrides: &Value) -> Value {
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

/// JSON pointers of strings (and keys) holding the characters the engine reserves for
/// placeholders; such values are refused rather than risk confusion.
pub fn reserved_character_paths(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if any_reserved(value) {
        walk(value, &mut String::new(), &mut found);
    }
    found
}

/// Placeholders and the alignment marks of multi-line filter output.
fn has_reserved(s: &str) -> bool {
    s.as_bytes().contains(&0xEE) && s.chars().any(|c| ('\u{E000}'..='\u{E003}').contains(&c))
}

fn any_reserved(value: &Value) -> bool {
    match value {
        Value::String(s) => has_reserved(s),
        Value::Array(items) => items.iter().any(any_reserved),
        Value::Object(map) => map.iter().any(|(k, v)| has_reserved(k) || any_reserved(v)),
        _ => false,
    }
}

fn walk(value: &Value, pointer: &mut String, found: &mut Vec<String>) {
    match value {
        Value::String(s) if has_reserved(s) => found.push(pointer.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, pointer, found);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                if has_reserved(key) {
                    found.push(pointer.clone());
                }
                walk(item, pointer, found);
                pointer.truncate(len);
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

    #[test]
    fn finds_reserved_characters_with_pointers() {
        let value = json!({"ok": "x", "bad": "a\u{E000}b", "list": ["y", "\u{E001}"], "k\u{E000}": 1, "a/b": {"c": "\u{E000}"}});
        assert_eq!(
            reserved_character_paths(&value),
            ["/a~1b/c", "/bad", "/k\u{E000}", "/list/1"]
        );
    }
}
