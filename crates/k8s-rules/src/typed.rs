//! Typed checks of objects against the Kubernetes API types (or a CRD's structural schema):
//! what structured-merge-diff refuses in an applied configuration, what the API server's JSON
//! decoding drops or refuses, and the field-path notation both print.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::types::{Expect, Field, Rel, Scalar, Schema};

/// One step of a field path, as in FieldsV1 (`f:`, `k:`, `v:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// A struct field or map key.
    F(String),
    /// An item of a map list, by its key fields (canonical JSON object, fields sorted).
    K(String),
    /// An item of a set list, by its value (JSON).
    V(String),
}

/// The canonical `k:` key of a map-list item: its key fields, sorted by name.
pub fn key_json(fields: &[(&str, Value)]) -> String {
    let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.to_string()), v))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Re-encodes a `k:` key read from FieldsV1 canonically (fields sorted, compact).
pub fn canonical_key(raw: &str) -> String {
    match serde_json::from_str::<Map<String, Value>>(raw) {
        Ok(m) => {
            let fields: Vec<(&str, Value)> =
                m.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            key_json(&fields)
        }
        Err(_) => raw.to_string(),
    }
}

/// The path element of a list item (structured-merge-diff's `listItemToPathElement`).
pub fn item_seg(list: Schema<'_>, item: &Value) -> Result<Seg, String> {
    let (rel, keys) = list.list();
    match rel {
        Rel::Map => {
            let m = match item {
                Value::Object(m) => m,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into());
                }
                _ => {
                    return Err("associative list with keys may not have non-map elements".into());
                }
            };
            let items = list.items();
            let mut fields: Vec<(&str, Value)> = Vec::new();
            for k in &keys {
                if let Some(v) = m.get(*k) {
                    fields.push((k, v.clone()));
                } else if let Some(d) = items.default_of(k) {
                    fields.push((k, d));
                }
            }
            if !keys.is_empty() && fields.is_empty() {
                return Err(format!(
                    "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                ));
            }
            Ok(Seg::K(key_json(&fields)))
        }
        Rel::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(Seg::V(v.to_string())),
        },
        Rel::Atomic => Err("invalid indexing of non-associative list".into()),
    }
}

/// A path element as structured-merge-diff prints it (`.spec`, `[name="web"]`, `[=value]`).
pub fn seg_string(seg: &Seg) -> String {
    match seg {
        Seg::F(k) => format!(".{k}"),
        Seg::K(k) => {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let mut parts: Vec<String> = m.iter().map(|(f, v)| format!("{f}={v}")).collect();
            parts.sort();
            format!("[{}]", parts.join(","))
        }
        Seg::V(v) => format!("[={v}]"),
    }
}

/// A path as the API server prints it (`.spec.template.spec.containers[name="web"].image`).
pub fn path_string(path: &[Seg]) -> String {
    path.iter().map(seg_string).collect()
}

/// Go's `%#v` of a structured-merge-diff value, as its validation messages print them.
fn go_repr(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Array(a) => format!(
            "[]interface {{}}{{{}}}",
            a.iter().map(go_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, c)| format!("{}:{}", Value::String(k.clone()), go_repr(c)))
                .collect();
            parts.sort();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn go_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_plain).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, c)| format!("{k}:{}", go_plain(c)))
                .collect();
            parts.sort();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

fn go_type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Validates an applied configuration against its schema as structured-merge-diff does when
/// it makes it a typed value: undeclared fields, values of the wrong kind, list items without
/// their keys, duplicate items. Returns the error text (`.spec.replica: field not declared in
/// schema`).
pub fn validate_applied(v: &Value, s: Schema<'_>) -> Result<(), String> {
    let mut errs = Vec::new();
    val_walk(v, s, "", &mut errs);
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.remove(0)),
        _ => Err(format!(
            "errors:\n{}",
            errs.iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

fn at(path: &str, msg: String) -> String {
    if path.is_empty() {
        msg
    } else {
        format!("{path}: {msg}")
    }
}

fn val_walk(v: &Value, s: Schema<'_>, path: &str, errs: &mut Vec<String>) {
    let boxed = || format!("&value.valueUnstructured{{Value:{}}}", go_repr(v));
    let plain = || format!("&{{{}}}", go_plain(v));
    match s.expect() {
        Expect::Any => {}
        Expect::Scalar(sc) => {
            if v.is_null() {
                return;
            }
            let msg = match sc {
                Scalar::String if !v.is_string() => {
                    Some(format!("expected string, got {}", boxed()))
                }
                Scalar::Integer | Scalar::Int32 | Scalar::Int64 | Scalar::Number
                    if !v.is_number() =>
                {
                    Some(format!(
                        "expected numeric (int or float), got {}",
                        go_type_of(v)
                    ))
                }
                Scalar::Boolean if !v.is_boolean() => {
                    Some(format!("expected boolean, got {}", plain()))
                }
                Scalar::IntOrString | Scalar::Quantity if v.is_object() || v.is_array() => {
                    Some(format!("expected any scalar, got {}", plain()))
                }
                _ => None,
            };
            if let Some(m) = msg {
                errs.push(at(path, m));
            }
        }
        Expect::Object => match v {
            Value::Null => {}
            Value::Object(m) => {
                for (k, c) in m {
                    let child = format!("{path}.{k}");
                    let f = s.field(k);
                    if matches!(f, Field::Unknown) {
                        errs.push(at(&child, "field not declared in schema".into()));
                        return;
                    }
                    val_walk(c, f.schema(), &child, errs);
                }
            }
            _ => errs.push(at(path, format!("expected map, got {}", plain()))),
        },
        Expect::List => match v {
            Value::Null => {}
            Value::Array(items) => {
                let (rel, _) = s.list();
                let is = s.items();
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let pe = if rel == Rel::Atomic {
                        format!("[{i}]")
                    } else {
                        match item_seg(s, item) {
                            Ok(seg) => {
                                let pe = seg_string(&seg);
                                if !seen.insert(seg) {
                                    errs.push(at(path, format!("duplicate entries for key {pe}")));
                                }
                                pe
                            }
                            Err(e) => {
                                errs.push(at(path, format!("element {i}: {e}")));
                                return;
                            }
                        }
                    };
                    val_walk(item, is, &format!("{path}{pe}"), errs);
                }
            }
            _ => errs.push(at(path, format!("expected list, got {}", plain()))),
        },
    }
}

/// What decoding a write's body into the API types found.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    /// Unknown fields, dropped (`spec.template.spec.containers[0].imagee`).
    pub unknown: Vec<String>,
    /// The first value of the wrong type, as Go's encoding/json reports it.
    pub type_error: Option<String>,
}

/// Decodes an object into a built-in kind as the API server's JSON decoding does: unknown
/// fields are dropped and reported, `null` struct fields dropped, the first value of the wrong
/// type reported (`json: cannot unmarshal bool into Go struct field ConfigMap.data of type
/// string`).
pub fn decode(v: &mut Value, s: Schema<'_>) -> Decoded {
    let mut out = Decoded::default();
    dec_walk(v, s, s.struct_name(), &Trail::Root, &mut out);
    out
}

/// Where a decoded value sits, as a chain of borrowed steps on the walk's stack: the paths of
/// messages are only spelled out when there is something to report.
enum Trail<'t> {
    Root,
    /// A map key; `in_struct` when it names a struct field (Go's error paths keep only those).
    Key(&'t Trail<'t>, &'t str, bool),
    Index(&'t Trail<'t>, usize),
}

impl Trail<'_> {
    /// The full path: `spec.template.spec.containers[0].image`.
    fn path(&self) -> String {
        match self {
            Trail::Root => String::new(),
            Trail::Key(up, k, _) => {
                let mut p = up.path();
                if !p.is_empty() {
                    p.push('.');
                }
                p.push_str(k);
                p
            }
            Trail::Index(up, i) => format!("{}[{i}]", up.path()),
        }
    }

    /// The struct fields only, as Go's `UnmarshalTypeError.Field` names them.
    fn go_path(&self) -> String {
        match self {
            Trail::Root => String::new(),
            Trail::Key(up, k, in_struct) => {
                let mut p = up.go_path();
                if *in_struct {
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(k);
                }
                p
            }
            Trail::Index(up, _) => up.go_path(),
        }
    }
}

fn json_kind(v: &Value) -> String {
    match v {
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

fn dec_walk(v: &mut Value, s: Schema<'_>, owner: &str, at: &Trail<'_>, out: &mut Decoded) {
    let type_error = |out: &mut Decoded, v: &Value| {
        if out.type_error.is_none() {
            out.type_error = Some(format!(
                "json: cannot unmarshal {} into Go struct field {owner}.{} of type {}",
                json_kind(v),
                at.go_path(),
                s.go_type()
            ));
        }
    };
    if v.is_null() {
        return;
    }
    match s.expect() {
        Expect::Any => {}
        Expect::Scalar(sc) => {
            let ok = match sc {
                Scalar::String => v.is_string(),
                Scalar::Int32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                Scalar::Integer | Scalar::Int64 => v.is_i64() || v.is_u64(),
                Scalar::Number => v.is_number(),
                Scalar::Boolean => v.is_boolean(),
                Scalar::IntOrString => v.is_string() || v.is_i64(),
                Scalar::Quantity => v.is_string() || v.is_number(),
            };
            if !ok {
                type_error(out, v);
            }
        }
        Expect::Object => {
            let Some(m) = v.as_object_mut() else {
                type_error(out, v);
                return;
            };
            let is_struct = s.is_struct();
            let inner = if is_struct { s.struct_name() } else { owner };
            let mut unknown = Vec::new();
            for (k, c) in m.iter_mut() {
                let child = Trail::Key(at, k, is_struct);
                let f = s.field(k);
                if matches!(f, Field::Unknown) {
                    out.unknown.push(child.path());
                    unknown.push(k.clone());
                    continue;
                }
                dec_walk(c, f.schema(), inner, &child, out);
            }
            for k in unknown {
                m.remove(&k);
            }
            if is_struct {
                m.retain(|_, c| !c.is_null());
            }
        }
        Expect::List => {
            let Some(items) = v.as_array_mut() else {
                type_error(out, v);
                return;
            };
            let is = s.items();
            for (i, item) in items.iter_mut().enumerate() {
                dec_walk(item, is, owner, &Trail::Index(at, i), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Schema<'static> {
        Schema::for_kind("apps/v1", "Deployment", false, None)
    }

    #[test]
    fn applied_configurations_are_validated() {
        // Server-side apply refuses fields the schema does not declare, whatever fieldValidation
        // says (KEP-2885: "For apply patch, server side schema validation already occurs and is
        // not optional"), with structured-merge-diff's messages.
        let err = validate_applied(&json!({"spec": {"replica": 1}}), deployment()).unwrap_err();
        assert_eq!(err, ".spec.replica: field not declared in schema");
        let cm = Schema::for_kind("v1", "ConfigMap", false, None);
        let err = validate_applied(&json!({"data": {"flag": true}}), cm).unwrap_err();
        assert_eq!(
            err,
            ".data.flag: expected string, got &value.valueUnstructured{Value:true}"
        );
        let err = validate_applied(
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            deployment(),
        )
        .unwrap_err();
        assert!(
            err.contains(
                "element 0: associative list with keys has an element that omits all key fields"
            ),
            "{err}"
        );
    }

    #[test]
    fn decoding_drops_unknown_fields_and_reports_the_first_wrong_type() {
        let mut d = json!({"spec": {"replica": 2, "template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}}}});
        let got = decode(&mut d, deployment());
        assert_eq!(
            got.unknown,
            vec![
                "spec.replica".to_string(),
                "spec.template.spec.containers[0].imagee".to_string()
            ]
        );
        assert_eq!(got.type_error, None);
        assert_eq!(
            d,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}})
        );
        let mut cm = json!({"data": {"flag": true}});
        let got = decode(&mut cm, Schema::for_kind("v1", "ConfigMap", false, None));
        assert_eq!(
            got.type_error.as_deref(),
            Some("json: cannot unmarshal bool into Go struct field ConfigMap.data of type string")
        );
        let mut d = json!({"spec": {"replicas": "two"}});
        let got = decode(&mut d, deployment());
        assert_eq!(
            got.type_error.as_deref(),
            Some(
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
            )
        );
    }
}
