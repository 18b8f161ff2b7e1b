//! Checks an object against its API type as a linter reports it: every unknown field (with the
//! nearest declared one), every value of the wrong type and every missing required field, each
//! at a path written as kubectl writes it (`spec.template.spec.containers[0].image`).

use std::collections::HashSet;

use serde_json::Value;

use crate::typed::{item_seg, seg_string};
use crate::types::{Expect, Field, Rel, Scalar, Schema, types};

/// One problem found in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, e.g. `spec.replica` or `data.flag` (empty for the object itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The problems of `object` against its built-in type, found by its `apiVersion` and `kind`;
/// `None` when it is not a built-in kind (a custom resource: its CRD is not known here).
pub fn builtin_object(object: &Value) -> Option<Vec<Problem>> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    types().kind(api_version, kind)?;
    let schema = Schema::for_kind(api_version, kind, false, None);
    let mut problems = Vec::new();
    walk(object, schema, "", &mut problems);
    Some(problems)
}

/// The problems of `value` against `schema` (a built-in type or a CRD schema node).
pub fn value(value: &Value, schema: Schema<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(value, schema, "", &mut problems);
    problems
}

fn push(problems: &mut Vec<Problem>, path: &str, message: String) {
    problems.push(Problem {
        path: path.to_string(),
        message,
    });
}

fn child(path: &str, name: &str) -> String {
    let simple = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => name.to_string(),
        (false, true) => format!("{path}.{name}"),
        (_, false) => format!("{path}[{}]", Value::String(name.to_string())),
    }
}

/// A value as the message shows it: JSON, cut short.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

fn walk(v: &Value, s: Schema<'_>, path: &str, problems: &mut Vec<Problem>) {
    if v.is_null() {
        return;
    }
    match s.expect() {
        Expect::Any => {}
        Expect::Scalar(scalar) => {
            if let Some(want) = scalar_mismatch(scalar, v) {
                push(problems, path, format!("expected {want}, got {}", shown(v)));
            }
        }
        Expect::Object => {
            let Some(map) = v.as_object() else {
                push(
                    problems,
                    path,
                    format!("expected an object, got {}", shown(v)),
                );
                return;
            };
            for (name, c) in map {
                let here = child(path, name);
                match s.field(name) {
                    Field::Unknown => {
                        let hint = nearest(name, &s.field_names())
                            .map(|n| format!(" (did you mean {n:?}?)"))
                            .unwrap_or_default();
                        let of = match s.struct_name() {
                            "" => String::new(),
                            ty => format!(" of {ty}"),
                        };
                        push(problems, &here, format!("unknown field{of}{hint}"));
                    }
                    f => walk(c, f.schema(), &here, problems),
                }
            }
            for name in s.required() {
                if map.get(name).is_none_or(Value::is_null) {
                    push(
                        problems,
                        &child(path, name),
                        "required field is missing".to_string(),
                    );
                }
            }
        }
        Expect::List => {
            let Some(items) = v.as_array() else {
                push(problems, path, format!("expected a list, got {}", shown(v)));
                return;
            };
            let (rel, _) = s.list();
            let item_schema = s.items();
            let mut seen = HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}[{i}]");
                if rel != Rel::Atomic
                    && let Ok(seg) = item_seg(s, item)
                    && !seen.insert(seg.clone())
                {
                    push(
                        problems,
                        &here,
                        format!(
                            "duplicate item {}: server-side apply refuses a list with two items of one key",
                            seg_string(&seg)
                        ),
                    );
                }
                walk(item, item_schema, &here, problems);
            }
        }
    }
}

/// What `scalar` wants when `v` is not one, as the message says it.
fn scalar_mismatch(scalar: Scalar, v: &Value) -> Option<&'static str> {
    let ok = match scalar {
        Scalar::String => v.is_string(),
        Scalar::Int32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Scalar::Integer | Scalar::Int64 => v.is_i64() || v.is_u64(),
        Scalar::Number => v.is_number(),
        Scalar::Boolean => v.is_boolean(),
        Scalar::IntOrString => v.is_string() || v.is_i64() || v.is_u64(),
        Scalar::Quantity => v.is_string() || v.is_number(),
    };
    if ok {
        return None;
    }
    Some(match scalar {
        Scalar::String => "a string",
        Scalar::Int32 => "a 32-bit integer",
        Scalar::Integer | Scalar::Int64 => "an integer",
        Scalar::Number => "a number",
        Scalar::Boolean => "a boolean (true or false)",
        Scalar::IntOrString => "an integer or a string",
        Scalar::Quantity => "a quantity (a string such as \"100m\" or \"1Gi\", or a number)",
    })
}

/// The declared name closest to `name`: the same but for case, or within two edits.
fn nearest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        return Some(same);
    }
    names
        .iter()
        .map(|n| (edit_distance(name, n), *n))
        .filter(|(d, _)| *d <= 2.min(name.len() / 2).max(1))
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(object: Value) -> Vec<String> {
        builtin_object(&object)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
    }

    fn pod_spec() -> Value {
        json!({"containers": [{"name": "web", "image": "nginx"}]})
    }

    #[test]
    fn objects_are_checked_against_their_types() {
        let selector = json!({"matchLabels": {"app": "web"}});
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()});
        // (object, every problem)
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                deployment(json!({"replicas": 2, "selector": selector, "template": template})),
                vec![],
            ),
            (
                deployment(json!({"replica": 2, "selector": selector, "template": template})),
                vec!["spec.replica: unknown field of DeploymentSpec (did you mean \"replicas\"?)"],
            ),
            (
                deployment(json!({"replicas": "2", "selector": selector, "template": template})),
                vec!["spec.replicas: expected a 32-bit integer, got \"2\""],
            ),
            (
                deployment(json!({"replicas": 2})),
                vec![
                    "spec.selector: required field is missing",
                    "spec.template: required field is missing",
                ],
            ),
            (
                deployment(
                    json!({"selector": selector, "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": "http"}]},
                    {"image": "sidecar", "Resources": {}}]}}}),
                ),
                vec![
                    "spec.template.spec.containers[0].ports[0].containerPort: expected a 32-bit integer, got \"http\"",
                    "spec.template.spec.containers[1].Resources: unknown field of Container (did you mean \"resources\"?)",
                    "spec.template.spec.containers[1].name: required field is missing",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a.b/c": 1}}, "data": {"flag": true, "ok": "yes"}}),
                vec![
                    "data.flag: expected a string, got true",
                    "metadata.labels[\"a.b/c\"]: expected a string, got 1",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 80, "targetPort": "http"}], "selector": "app"}}),
                vec![
                    "spec.ports[1]: duplicate item [port=80,protocol=\"TCP\"]: server-side apply refuses a list with two items of one key",
                    "spec.selector: expected an object, got \"app\"",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "b", "resources": {"limits": {"cpu": 0.5, "memory": ["1Gi"]}}}]}}),
                vec![
                    "spec.containers[0].resources.limits.memory: expected a quantity (a string such as \"100m\" or \"1Gi\", or a number), got [\"1Gi\"]",
                ],
            ),
        ];
        for (object, want) in cases {
            assert_eq!(problems(object.clone()), want, "{object}");
        }
    }

    #[test]
    fn custom_resources_are_not_checked_here() {
        assert_eq!(
            builtin_object(
                &json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"x": 1}})
            ),
            None
        );
        assert_eq!(builtin_object(&json!({"kind": "ConfigMap"})), None);
    }

    #[test]
    fn nearest_names() {
        let names = ["replicas", "selector", "template", "paused"];
        assert_eq!(nearest("replica", &names), Some("replicas"));
        assert_eq!(nearest("Selector", &names), Some("selector"));
        assert_eq!(nearest("tempalte", &names), Some("template"));
        assert_eq!(nearest("image", &names), None);
        assert_eq!(nearest("x", &names), None);
    }
}
