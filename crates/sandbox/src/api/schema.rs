//! Structural openAPIV3Schema validation and pruning of custom resources, with API-server messages.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde_json::Value;

/// A field error: `(field path, message)`, as in a 422 Invalid cause.
pub(crate) type FieldError = (String, String);

/// How many compiled `pattern`s are kept; past it the cache starts again (schemas have few).
const PATTERN_CACHE: usize = 512;

/// The schema `pattern` compiled once, as the API server compiles a CRD's patterns when the
/// CRD is stored, not on every write (`None`: not a valid regular expression; the CRD's
/// validation reported it, and values are not checked against it).
fn compiled_pattern(pattern: &str) -> Option<Arc<regex::Regex>> {
    static COMPILED: LazyLock<Mutex<HashMap<String, Option<Arc<regex::Regex>>>>> =
        LazyLock::new(Mutex::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = compiled.get(pattern) {
        return known.clone();
    }
    if compiled.len() >= PATTERN_CACHE {
        compiled.clear();
    }
    let regex = regex::Regex::new(pattern).ok().map(Arc::new);
    compiled.insert(pattern.to_string(), regex.clone());
    regex
}

fn show(v: &Value) -> String {
    match v {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(want: &str, v: &Value) -> bool {
    match want {
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Validates `v` against `schema`, appending field errors; `path` is the dotted field path.
pub(crate) fn validate(v: &Value, schema: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let invalid = |errs: &mut Vec<FieldError>, what: String| {
        errs.push((
            path.to_string(),
            format!("Invalid value: {}: {path} in body {what}", show(v)),
        ));
    };
    if v.is_null() {
        if schema["nullable"].as_bool() != Some(true) && schema.get("type").is_some() {
            let t = schema["type"].as_str().unwrap_or_default();
            errs.push((
                path.to_string(),
                format!("Invalid value: \"null\": {path} in body must be of type {t}: \"null\""),
            ));
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        if !(v.is_string() || type_ok("integer", v)) {
            invalid(
                errs,
                format!("must be of type int-or-string: \"{}\"", type_name(v)),
            );
        }
        return;
    }
    if let Some(t) = schema["type"].as_str()
        && !type_ok(t, v)
    {
        errs.push((
            path.to_string(),
            format!(
                "Invalid value: \"{}\": {path} in body must be of type {t}: \"{}\"",
                type_name(v),
                type_name(v)
            ),
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(v)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        errs.push((
            path.to_string(),
            format!(
                "Unsupported value: {v}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    if let Some(n) = v.as_f64() {
        let excl_min = schema["exclusiveMinimum"].as_bool() == Some(true);
        let excl_max = schema["exclusiveMaximum"].as_bool() == Some(true);
        if let Some(min) = schema["minimum"].as_f64() {
            if excl_min && n <= min {
                invalid(
                    errs,
                    format!("should be greater than {}", schema["minimum"]),
                );
            } else if n < min {
                invalid(
                    errs,
                    format!("should be greater than or equal to {}", schema["minimum"]),
                );
            }
        }
        if let Some(max) = schema["maximum"].as_f64() {
            if excl_max && n >= max {
                invalid(errs, format!("should be less than {}", schema["maximum"]));
            } else if n > max {
                invalid(
                    errs,
                    format!("should be less than or equal to {}", schema["maximum"]),
                );
            }
        }
    }
    if let Some(s) = v.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|m| len < *m) {
            invalid(errs, format!("should be at least {min} chars long"));
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| len > *m) {
            invalid(errs, format!("may not be longer than {max}"));
        }
        if let Some(p) = schema["pattern"].as_str()
            && let Some(re) = compiled_pattern(p)
            && !re.is_match(s)
        {
            invalid(errs, format!("should match '{p}'"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(min) = schema["minItems"].as_u64().filter(|m| n < *m) {
            errs.push((
                path.to_string(),
                format!("Invalid value: {n}: {path} in body should have at least {min} items"),
            ));
        }
        if let Some(max) = schema["maxItems"].as_u64().filter(|m| n > *m) {
            errs.push((
                path.to_string(),
                format!("Too many: {n}: must have at most {max} items"),
            ));
        }
        if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
            for (i, item) in items.iter().enumerate() {
                validate(item, item_schema, &format!("{path}[{i}]"), errs);
            }
        }
    }
    if let Some(map) = v.as_object() {
        if let Some(req) = schema["required"].as_array() {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    errs.push((child(path, r), "Required value".into()));
                }
            }
        }
        let props = schema["properties"].as_object();
        for (k, cv) in map {
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                validate(cv, ps, &child(path, k), errs);
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                validate(cv, ap, &format!("{path}[{k}]"), errs);
            }
        }
    }
}

pub(crate) use k8s_rules::structural::prune_at as prune;

/// Fills `default` values of the schema into objects that lack the field (structural-schema
/// defaulting, as the API server does after pruning and before validation).
pub(crate) fn apply_defaults(v: &mut Value, schema: &Value) {
    match v {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (k, ps) in props {
                    if let Some(d) = ps.get("default").filter(|_| !map.contains_key(k)) {
                        map.insert(k.clone(), d.clone());
                    }
                }
                for (k, cv) in map.iter_mut() {
                    if let Some(ps) = props.get(k) {
                        apply_defaults(cv, ps);
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for cv in map.values_mut() {
                    apply_defaults(cv, ap);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = schema.get("items").filter(|s| s.is_object()) {
                for item in items {
                    apply_defaults(item, is);
                }
            }
        }
        _ => {}
    }
}

/// Prunes the fields `schema` does not declare from a custom resource and fills its defaults,
/// without validating (what the API server does to objects it reads back from storage).
pub(crate) fn prune_and_default(obj: &mut Value, schema: &Value) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if schema["x-kubernetes-preserve-unknown-fields"].as_bool() != Some(true) {
        map.retain(|k, _| {
            matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || props.contains_key(k)
        });
    }
    let mut pruned = Vec::new();
    for (k, cv) in map.iter_mut() {
        if let Some(ps) = props.get(k).filter(|_| k != "metadata") {
            prune(cv, ps, k, &mut pruned);
            apply_defaults(cv, ps);
        }
    }
}

/// What checking a custom resource found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Checked {
    /// Schema violations (a 422 Invalid).
    pub(crate) errors: Vec<FieldError>,
    /// Paths of the unknown fields that were pruned (a 400 under `fieldValidation=Strict`).
    pub(crate) pruned: Vec<String>,
}

/// Prunes and validates a custom resource against its root schema.
pub(crate) fn check_custom_resource(obj: &mut Value, schema: &Value) -> Checked {
    let mut out = Checked::default();
    if let (Some(map), Some(props)) = (obj.as_object_mut(), schema["properties"].as_object()) {
        let preserve = schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
        map.retain(|k, _| {
            let keep = preserve
                || matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                || props.contains_key(k);
            if !keep {
                out.pruned.push(k.clone());
            }
            keep
        });
        for (k, ps) in props {
            if let Some(d) = ps.get("default").filter(|_| !map.contains_key(k)) {
                map.insert(k.clone(), d.clone());
            }
        }
        for (k, cv) in map.iter_mut() {
            if k == "metadata" || k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(ps) = props.get(k) {
                prune(cv, ps, k, &mut out.pruned);
                apply_defaults(cv, ps);
                validate(cv, ps, k, &mut out.errors);
            }
        }
        if let Some(req) = schema["required"].as_array() {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    out.errors.push((r.to_string(), "Required value".into()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["image"], "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "image": {"type": "string", "minLength": 1},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }}, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
    }

    #[test]
    fn a_pattern_is_compiled_once_and_a_broken_one_checks_nothing() {
        let first = compiled_pattern("^v[0-9]+$").expect("valid");
        let again = compiled_pattern("^v[0-9]+$").expect("valid");
        assert!(Arc::ptr_eq(&first, &again), "compiled once");
        assert!(first.is_match("v12") && !first.is_match("x"));
        assert!(compiled_pattern("(unclosed").is_none());
    }

    #[test]
    fn reports_paths_like_the_api_server() {
        let mut obj = json!({"metadata": {"name": "x"}, "spec": {"replicas": -1, "mode": "c", "ports": [{"port": 70000}]}});
        let errs = check_custom_resource(&mut obj, &schema()).errors;
        assert!(errs.contains(&(
            "spec.replicas".into(),
            "Invalid value: -1: spec.replicas in body should be greater than or equal to 0".into()
        )));
        assert!(errs.contains(&("spec.image".into(), "Required value".into())));
        assert!(errs.contains(&(
            "spec.mode".into(),
            "Unsupported value: \"c\": supported values: \"a\", \"b\"".into()
        )));
        assert!(errs.iter().any(|(f, _)| f == "spec.ports[0].port"));
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1, "minimum": 0},
            "image": {"type": "string", "default": "nginx"},
            "ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}}}}}});
        let mut obj = json!({"metadata": {}, "spec": {"replicas": 3, "ports": [{}]}});
        let checked = check_custom_resource(&mut obj, &schema);
        assert!(checked.errors.is_empty());
        assert_eq!(
            obj["spec"],
            json!({"replicas": 3, "image": "nginx", "ports": [{"protocol": "TCP"}]})
        );
    }

    #[test]
    fn wrong_type_and_pruning() {
        let mut obj = json!({"metadata": {}, "spec": {"image": "x", "replicas": "two", "unknown": 1, "extra": {"kept": 1}}, "junk": 1});
        let checked = check_custom_resource(&mut obj, &schema());
        assert_eq!(
            checked.pruned,
            vec!["junk".to_string(), "spec.unknown".to_string()]
        );
        let errs = checked.errors;
        assert_eq!(errs, vec![("spec.replicas".to_string(), "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"".to_string())]);
        assert!(obj.get("junk").is_none());
        assert!(obj["spec"].get("unknown").is_none());
        assert_eq!(obj["spec"]["extra"]["kept"], 1);
    }
}
