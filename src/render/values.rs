//! Values the engine refuses: strings holding the characters it reserves for placeholders, and
//! values nested deeper than [`MAX_DEPTH`].

use serde_json::Value;

/// How deeply values (and so specs) may nest: mappings and lists in mappings and lists, the
/// values themselves counting as the first level. Real configuration rarely nests ten deep;
/// the limit keeps every recursive step of a render (schema validation, templates, YAML) far
/// from the recursion limits of the libraries beneath it (serde_json, serde_yaml: 128).
pub(crate) const MAX_DEPTH: usize = 64;

/// The JSON pointer of the first mapping or list nested deeper than [`MAX_DEPTH`] levels, if
/// any. Walks with its own stack, so any depth is safe.
pub(crate) fn too_deep(value: &Value) -> Option<String> {
    // The common case first, cheaply: no pointers unless something is too deep.
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    let mut exceeded = false;
    while let Some((value, depth)) = stack.pop() {
        let items: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            exceeded = true;
            break;
        }
        stack.extend(
            items
                .filter(|item| item.is_array() || item.is_object())
                .map(|item| (item, depth + 1)),
        );
    }
    if !exceeded {
        return None;
    }
    // (value, its depth, its pointer), depth first in document order.
    let mut stack: Vec<(&Value, usize, String)> = vec![(value, 1, String::new())];
    while let Some((value, depth, pointer)) = stack.pop() {
        let children: Vec<(String, &Value)> = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (i.to_string(), item))
                .collect(),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| (key.replace('~', "~0").replace('/', "~1"), item))
                .collect(),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return Some(pointer);
        }
        for (segment, item) in children.into_iter().rev() {
            if item.is_array() || item.is_object() {
                stack.push((item, depth + 1, format!("{pointer}/{segment}")));
            }
        }
    }
    None
}

/// JSON pointers of strings (and keys) holding the characters the engine reserves for
/// placeholders; such values are refused rather than risk confusion.
pub(crate) fn reserved_character_paths(value: &Value) -> Vec<String> {
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

    fn nested(levels: usize) -> Value {
        (1..levels).fold(json!({"leaf": 1}), |inner, _| json!({"a": inner}))
    }

    #[test]
    fn depth_is_bounded_and_the_path_named() {
        assert_eq!(too_deep(&nested(MAX_DEPTH)), None);
        let pointer = too_deep(&nested(MAX_DEPTH + 1)).unwrap();
        assert_eq!(pointer, "/a".repeat(MAX_DEPTH));
        let lists = (0..MAX_DEPTH).fold(json!(1), |inner, _| json!([0, inner]));
        assert_eq!(too_deep(&lists), None);
        let lists = json!({"x": lists});
        assert_eq!(
            too_deep(&lists).unwrap(),
            format!("/x{}", "/1".repeat(MAX_DEPTH - 1))
        );
        assert_eq!(too_deep(&json!({"a/b": {"c": 1}})), None);
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
