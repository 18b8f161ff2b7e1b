//! Values the engine refuses: strings holding the characters it reserves for placeholders.

use serde_json::Value;

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

    #[test]
    fn finds_reserved_characters_with_pointers() {
        let value = json!({"ok": "x", "bad": "a\u{E000}b", "list": ["y", "\u{E001}"], "k\u{E000}": 1, "a/b": {"c": "\u{E000}"}});
        assert_eq!(
            reserved_character_paths(&value),
            ["/a~1b/c", "/bad", "/k\u{E000}", "/list/1"]
        );
    }
}
