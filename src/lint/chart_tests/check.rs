//! Evaluating assertions: which rendered objects are in scope, and whether each holds.

use serde_json::Value;

use super::Doc;
use super::path;
use super::suite::{Check, PathSpec, Scope};
use crate::render::Rendered;

/// The objects in `scope`, in apply order; `count_only` ignores `documentIndex` (as
/// helm-unittest's `hasDocuments` does).
pub(crate) fn select<'a>(rendered: &'a Rendered, scope: &Scope, count_only: bool) -> Vec<Doc<'a>> {
    rendered
        .objects
        .iter()
        .zip(&rendered.sources)
        .map(|(object, source)| Doc { object, source })
        .filter(|d| scope.templates.is_empty() || scope.templates.contains(&d.source.template))
        .filter(|d| count_only || scope.document_index.is_none_or(|i| d.source.document == i))
        .filter(|d| {
            let Some(s) = &scope.selector else {
                return true;
            };
            let field = |p: &[&str]| crate::render::at(d.object, p).and_then(Value::as_str);
            s.kind
                .as_deref()
                .is_none_or(|k| field(&["kind"]) == Some(k))
                && s.name
                    .as_deref()
                    .is_none_or(|n| field(&["metadata", "name"]) == Some(n))
                && s.path
                    .as_ref()
                    .is_none_or(|(steps, _, v)| path::get(d.object, steps) == Some(v))
        })
        .collect()
}

/// What the scope selects, for messages.
fn describe_scope(scope: &Scope) -> String {
    let mut parts = Vec::new();
    parts.push(if scope.templates.is_empty() {
        "every template".to_string()
    } else {
        scope.templates.join(", ")
    });
    if let Some(i) = scope.document_index {
        parts.push(format!("documentIndex {i}"));
    }
    if let Some(s) = &scope.selector {
        if let Some(k) = &s.kind {
            parts.push(format!("kind {k}"));
        }
        if let Some(n) = &s.name {
            parts.push(format!("name {n}"));
        }
        if let Some((_, text, v)) = &s.path {
            parts.push(format!("{text} = {v}"));
        }
    }
    parts.join(", ")
}

/// `failedTemplate` (or, with `not`, `notFailedTemplate`).
pub(crate) fn failed(
    result: &crate::render::Result<Rendered>,
    message: Option<&str>,
    pattern: Option<&regex::Regex>,
    not: bool,
) -> Result<(), String> {
    match (result, not) {
        (Ok(_), true) => Ok(()),
        (Err(e), true) => Err(format!("rendering failed: {e}")),
        (Ok(r), false) => Err(format!(
            "expected rendering to fail, but it rendered {} object(s)",
            r.objects.len()
        )),
        (Err(e), false) => {
            let text = e.to_string();
            if let Some(m) = message.filter(|m| !text.contains(m)) {
                return Err(format!("expected an error containing {m:?}, got: {text}"));
            }
            if let Some(p) = pattern.filter(|p| !p.is_match(&text)) {
                return Err(format!("expected an error matching /{p}/, got: {text}"));
            }
            Ok(())
        }
    }
}

/// Every other assertion, on the objects in scope.
pub(crate) fn on_documents(
    check: &Check,
    not: bool,
    docs: &[Doc<'_>],
    scope: &Scope,
) -> Result<(), String> {
    let neg = if not { "not " } else { "" };
    match check {
        Check::HasDocuments(count, kind) => {
            let matching: Vec<&Doc<'_>> = docs
                .iter()
                .filter(|d| {
                    kind.as_deref()
                        .is_none_or(|k| d.object.get("kind").and_then(Value::as_str) == Some(k))
                })
                .collect();
            if (matching.len() == *count) != not {
                return Ok(());
            }
            let of = kind
                .as_deref()
                .map(|k| format!(" of kind {k}"))
                .unwrap_or_default();
            let found: Vec<String> = matching.iter().map(|d| d.describe()).collect();
            Err(format!(
                "expected {neg}{count} object(s){of} from {}, found {}{}",
                describe_scope(scope),
                found.len(),
                if found.is_empty() {
                    String::new()
                } else {
                    format!(": {}", found.join("; "))
                }
            ))
        }
        Check::ContainsDocument(kind, api_version, name) => {
            let hit = docs.iter().any(|d| {
                let f = |p: &[&str]| crate::render::at(d.object, p).and_then(Value::as_str);
                f(&["kind"]) == Some(kind.as_str())
                    && api_version
                        .as_deref()
                        .is_none_or(|a| f(&["apiVersion"]) == Some(a))
                    && name
                        .as_deref()
                        .is_none_or(|n| f(&["metadata", "name"]) == Some(n))
            });
            if hit != not {
                return Ok(());
            }
            let found: Vec<String> = docs.iter().map(|d| d.describe()).collect();
            Err(format!(
                "expected {neg}an object of kind {kind}{}{} from {}, found: {}",
                api_version
                    .as_deref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default(),
                name.as_deref()
                    .map(|n| format!(" named {n}"))
                    .unwrap_or_default(),
                describe_scope(scope),
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join("; ")
                }
            ))
        }
        _ => {
            if docs.is_empty() {
                return Err(format!("no object selected ({})", describe_scope(scope)));
            }
            let mut failures = Vec::new();
            for doc in docs {
                let (holds, expected, actual) = one(check, doc.object);
                if holds != not {
                    continue;
                }
                failures.push(format!(
                    "{}: expected {neg}{expected}, got {actual}",
                    doc.describe()
                ));
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        }
    }
}

/// Shown value at a path.
fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing (the path does not exist)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn at<'a>(object: &'a Value, p: &PathSpec) -> Option<&'a Value> {
    path::get(object, &p.steps)
}

/// Whether a per-object check holds on `object`, what it expects, and what is there.
fn one(check: &Check, object: &Value) -> (bool, String, String) {
    match check {
        Check::Equal(p, value) => {
            let got = at(object, p);
            (
                got == Some(value),
                format!("{}: {value}", p.text),
                show(got),
            )
        }
        Check::Contains {
            path: p,
            content,
            count,
            any,
        } => {
            let got = at(object, p);
            let n = got
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter(|i| {
                            if *any {
                                subset(i, content)
                            } else {
                                *i == content
                            }
                        })
                        .count()
                })
                .unwrap_or(0);
            let holds = match count {
                Some(c) => n == *c,
                None => n > 0,
            };
            let times = count.map(|c| format!(" {c} time(s)")).unwrap_or_default();
            (
                holds,
                format!("{} to contain {content}{times}", p.text),
                show(got),
            )
        }
        Check::Exists(p) => {
            let got = at(object, p);
            (got.is_some(), format!("{} to exist", p.text), show(got))
        }
        Check::NullOrEmpty(p) => {
            let got = at(object, p);
            let empty = match got {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Bool(b)) => !b,
                Some(Value::Number(n)) => n.as_f64() == Some(0.0),
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
            };
            (empty, format!("{} to be null or empty", p.text), show(got))
        }
        Check::Kind(of) => {
            let got = object.get("kind");
            (
                got == Some(&Value::String(of.clone())),
                format!("kind {of}"),
                show(got),
            )
        }
        Check::ApiVersion(of) => {
            let got = object.get("apiVersion");
            (
                got == Some(&Value::String(of.clone())),
                format!("apiVersion {of}"),
                show(got),
            )
        }
        Check::MatchRegex(p, re) => {
            let got = at(object, p);
            let holds = got.and_then(Value::as_str).is_some_and(|s| re.is_match(s));
            (holds, format!("{} to match /{re}/", p.text), show(got))
        }
        Check::LengthEqual(p, count) => {
            let got = at(object, p);
            let n = match got {
                Some(Value::Array(a)) => Some(a.len()),
                Some(Value::Object(o)) => Some(o.len()),
                _ => None,
            };
            (
                n == Some(*count),
                format!("{} to have {count} item(s)", p.text),
                match n {
                    Some(n) => format!("{n}: {}", show(got)),
                    None => show(got),
                },
            )
        }
        Check::Subset(p, content) => {
            let got = at(object, p);
            (
                got.is_some_and(|g| subset(g, content)),
                format!("{} to contain {content}", p.text),
                show(got),
            )
        }
        Check::HasDocuments(..)
        | Check::ContainsDocument(..)
        | Check::Snapshot(_)
        | Check::Failed { .. } => (true, String::new(), String::new()),
    }
}

/// Whether `value` contains `part`: objects key by key (recursively), anything else equal.
fn subset(value: &Value, part: &Value) -> bool {
    match (value, part) {
        (Value::Object(v), Value::Object(p)) => p
            .iter()
            .all(|(k, pv)| v.get(k).is_some_and(|vv| subset(vv, pv))),
        _ => value == part,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subsets() {
        let v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        assert!(subset(&v, &json!({"a": {"b": 1}})));
        assert!(subset(&v, &json!({"d": [1]})));
        assert!(!subset(&v, &json!({"a": {"b": 2}})));
        assert!(!subset(&v, &json!({"e": 1})));
    }
}
