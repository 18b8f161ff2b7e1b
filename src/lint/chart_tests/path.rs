//! Paths into rendered objects as chart tests write them (`spec.template.spec.containers[0].image`,
//! `metadata.annotations["example.com/key"]`), and `set:` keys (Helm `--set` paths).

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A key of an object.
    Key(String),
    /// An item of a list.
    Index(usize),
}

/// Parses `a.b[0]["c.d"]['e']`; a key may be any text without `.` or `[` unless bracketed.
pub(crate) fn parse(text: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '.' if !expect_key => {
                expect_key = true;
                i += 1;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .map(|p| p + i)
                    .ok_or("`[` without `]`")?;
                let inner: String = chars[i + 1..close].iter().collect();
                let quoted = (inner.starts_with('"') && inner.ends_with('"'))
                    || (inner.starts_with('\'') && inner.ends_with('\''));
                if quoted && inner.len() >= 2 {
                    steps.push(Step::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    let n = inner
                        .parse()
                        .map_err(|_| format!("[{inner}]: an index is a number, a key is quoted"))?;
                    steps.push(Step::Index(n));
                }
                i = close + 1;
                expect_key = false;
            }
            _ if expect_key => {
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                if i == start {
                    return Err(format!("empty key at character {}", i + 1));
                }
                steps.push(Step::Key(chars[start..i].iter().collect()));
                expect_key = false;
            }
            c => return Err(format!("unexpected {c:?} at character {}", i + 1)),
        }
    }
    if steps.is_empty() || (expect_key && text.ends_with('.')) {
        return Err("empty path, or a path ending in `.`".to_string());
    }
    Ok(steps)
}

/// The value at `steps` in `value`, if there is one.
pub(crate) fn get<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.as_object()?.get(k),
        Step::Index(i) => v.as_array()?.get(*i),
    })
}

/// The values that a Helm `--set` key (`image.tag`, `args[0]`, `a\.b`) with `value` sets, as a
/// values mapping.
pub(crate) fn set_value(key: &str, value: Value) -> Result<Value, String> {
    let mut one = Map::new();
    crate::config::parse_set(&format!("{key}="), &mut one)?;
    let mut root = Value::Object(one);
    if !replace_only_leaf(&mut root, value) {
        return Err("a key names one path".to_string());
    }
    Ok(root)
}

/// Replaces the single leaf of a tree `parse_set` built; false when there is not exactly one.
fn replace_only_leaf(node: &mut Value, value: Value) -> bool {
    match node {
        Value::Object(m) if m.len() == 1 => m
            .values_mut()
            .next()
            .is_some_and(|c| replace_only_leaf(c, value)),
        Value::Array(items) => {
            let mut real = items.iter_mut().filter(|i| !i.is_null());
            match (real.next(), real.next()) {
                (Some(only), None) => replace_only_leaf(only, value),
                _ => false,
            }
        }
        Value::String(s) if s.is_empty() => {
            *node = value;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_and_find() {
        let object =
            json!({"metadata": {"annotations": {"a.b/c": "x"}}, "spec": {"ports": [{"port": 80}]}});
        let cases = [
            ("spec.ports[0].port", Some(json!(80))),
            ("metadata.annotations[\"a.b/c\"]", Some(json!("x"))),
            ("metadata.annotations['a.b/c']", Some(json!("x"))),
            ("spec.ports[1].port", None),
            ("spec.ports.port", None),
        ];
        for (text, want) in cases {
            let steps = parse(text).unwrap();
            assert_eq!(get(&object, &steps).cloned(), want, "{text}");
        }
        for bad in ["", "a.", "a[x]", "a[0", "a..b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_keys_are_helm_paths_with_typed_values() {
        assert_eq!(
            set_value("image.tag", json!(2)).unwrap(),
            json!({"image": {"tag": 2}})
        );
        assert_eq!(
            set_value("a\\.b", json!({"c": true})).unwrap(),
            json!({"a.b": {"c": true}})
        );
        assert_eq!(
            set_value("args[0]", json!("x")).unwrap(),
            json!({"args": ["x"]})
        );
    }
}
