//! Operations on typed values, as Kubernetes' structured-merge-diff does them
//! (sigs.k8s.io/structured-merge-diff, `typed/` and `fieldpath/`): field sets, merging an
//! applied configuration, removing fields, comparing two objects, validating an applied
//! configuration; and the checks the API server's JSON decoding makes on other writes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use crate::api::types::{Expect, Rel, Scalar, Schema};

/// One step of a field path, as in FieldsV1 (`f:`, `k:`, `v:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Seg {
    /// A struct field or map key.
    F(String),
    /// An item of a map list, by its key fields (canonical JSON object, fields sorted).
    K(String),
    /// An item of a set list, by its value (JSON).
    V(String),
}

/// A path into an object.
pub(crate) type Path = Vec<Seg>;
/// A set of paths (structured-merge-diff's `fieldpath.Set`, members only).
pub(crate) type FieldSet = BTreeSet<Path>;

/// The canonical `k:` key of a map-list item: its key fields, sorted by name.
pub(crate) fn key_json(fields: &[(&str, Value)]) -> String {
    let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.to_string()), v))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Re-encodes a `k:` key read from FieldsV1 canonically (fields sorted, compact).
pub(crate) fn canonical_key(raw: &str) -> String {
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
pub(crate) fn item_seg(list: Schema<'_>, item: &Value) -> Result<Seg, String> {
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
pub(crate) fn seg_string(seg: &Seg) -> String {
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
pub(crate) fn path_string(path: &[Seg]) -> String {
    path.iter().map(seg_string).collect()
}

/// The fields a value sets (structured-merge-diff's `ToFieldSet`): leaves, list items, map
/// entries, empty or null values, and atomic lists and maps as a whole.
pub(crate) fn field_set(v: &Value, s: Schema<'_>) -> FieldSet {
    let mut out = FieldSet::new();
    fs_walk(v, s, &mut Vec::new(), &mut out);
    out
}

fn fs_walk(v: &Value, s: Schema<'_>, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) => {
            if s.atomic(v) {
                out.insert(path.clone());
                return;
            }
            for (k, c) in m {
                let f = s.field(k);
                path.push(Seg::F(k.clone()));
                fs_walk(c, f.schema(), path, out);
                if c.is_null() || c.as_object().is_some_and(Map::is_empty) || !f.is_named() {
                    out.insert(path.clone());
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            if s.atomic(v) {
                out.insert(path.clone());
                return;
            }
            let is = s.items();
            for item in items {
                if let Ok(seg) = item_seg(s, item) {
                    path.push(seg);
                    fs_walk(item, is, path, out);
                    out.insert(path.clone());
                    path.pop();
                }
            }
        }
        Value::Null => {}
        _ => {
            out.insert(path.clone());
        }
    }
}

/// Adds the named struct fields that have owned descendants as members
/// (structured-merge-diff's `Set.EnsureNamedFieldsAreMembers`).
pub(crate) fn ensure_named(set: &FieldSet, root: Schema<'_>) -> FieldSet {
    let mut out = set.clone();
    for p in set {
        let mut s = root;
        for i in 0..p.len().saturating_sub(1) {
            match &p[i] {
                Seg::F(name) => {
                    let f = s.field(name);
                    if f.is_named() {
                        out.insert(p[..=i].to_vec());
                    }
                    s = f.schema();
                }
                Seg::K(_) | Seg::V(_) => s = s.items(),
            }
        }
    }
    out
}

/// A set as a tree, for walks that descend an object and the set together.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    member: bool,
    children: BTreeMap<Seg, Trie>,
}

impl Trie {
    /// The tree of a set.
    pub(crate) fn of(set: &FieldSet) -> Trie {
        let mut root = Trie::default();
        for p in set {
            let mut node = &mut root;
            for seg in p {
                node = node.children.entry(seg.clone()).or_default();
            }
            node.member = true;
        }
        root
    }

    /// Whether the node itself is in the set.
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    /// The child nodes.
    pub(crate) fn children(&self) -> &BTreeMap<Seg, Trie> {
        &self.children
    }
}

/// Removes the members of `set` from a value (structured-merge-diff's `RemoveItems`): a
/// removed member takes its whole subtree; a map or list left empty becomes `null`.
pub(crate) fn remove_items(v: &Value, set: &FieldSet, s: Schema<'_>) -> Value {
    if set.is_empty() {
        return v.clone();
    }
    remove_walk(v, &Trie::of(set), s)
}

fn remove_walk(v: &Value, t: &Trie, s: Schema<'_>) -> Value {
    match v {
        Value::Object(m) => {
            if m.is_empty() {
                return v.clone();
            }
            if s.atomic(v) {
                return Value::Null;
            }
            let mut out = Map::new();
            for (k, c) in m {
                match t.children.get(&Seg::F(k.clone())) {
                    Some(ct) if ct.member => {}
                    Some(ct) if !ct.children.is_empty() => {
                        out.insert(k.clone(), remove_walk(c, ct, s.field(k).schema()));
                    }
                    _ => {
                        out.insert(k.clone(), c.clone());
                    }
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                return v.clone();
            }
            if s.atomic(v) {
                return Value::Null;
            }
            let is = s.items();
            let mut out = Vec::new();
            for item in items {
                let Ok(seg) = item_seg(s, item) else {
                    out.push(item.clone());
                    continue;
                };
                match t.children.get(&seg) {
                    Some(ct) if ct.member => {}
                    Some(ct) if !ct.children.is_empty() => out.push(remove_walk(item, ct, is)),
                    _ => out.push(item.clone()),
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
        _ => v.clone(),
    }
}

/// Merges an applied configuration (`rhs`) into the live object (`lhs`), as
/// structured-merge-diff's `Merge` with its keep-the-right-hand-side rule: granular maps and
/// associative lists merge item by item (in the order the algorithm there gives them), atomic
/// ones and scalars are replaced.
pub(crate) fn merge(lhs: Option<&Value>, rhs: Option<&Value>, s: Schema<'_>) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (None, None) => return None,
        (Some(l), None) => return Some(l.clone()),
        (None, Some(r)) => return Some(r.clone()),
        (Some(l), Some(r)) => (l, r),
    };
    let obj = |v: &Value| v.is_object() || v.is_null();
    let arr = |v: &Value| v.is_array() || v.is_null();
    if (l.is_object() || r.is_object()) && obj(l) && obj(r) {
        let (lm, rm) = (l.as_object(), r.as_object());
        let shape = if r.is_object() { r } else { l };
        if s.atomic(shape) || (lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty)) {
            return Some(r.clone());
        }
        let mut out = Map::new();
        if let Some(lm) = lm {
            for (k, lv) in lm {
                let rv = rm.and_then(|m| m.get(k));
                if let Some(v) = merge(Some(lv), rv, s.field(k).schema()) {
                    out.insert(k.clone(), v);
                }
            }
        }
        if let Some(rm) = rm {
            for (k, rv) in rm {
                if lm.is_none_or(|m| !m.contains_key(k)) {
                    out.insert(k.clone(), rv.clone());
                }
            }
        }
        return (!out.is_empty()).then_some(Value::Object(out));
    }
    if (l.is_array() || r.is_array()) && arr(l) && arr(r) {
        let empty = Vec::new();
        let la = l.as_array().unwrap_or(&empty);
        let ra = r.as_array().unwrap_or(&empty);
        let shape = if r.is_array() { r } else { l };
        if s.atomic(shape) || (la.is_empty() && ra.is_empty()) {
            return Some(r.clone());
        }
        return merge_list(la, ra, s).or_else(|| Some(r.clone()));
    }
    Some(r.clone())
}

/// The items of a list with their path elements; `None` if an item has none.
fn indexed<'v>(list: Schema<'_>, items: &'v [Value]) -> Option<Vec<(Seg, &'v Value)>> {
    items
        .iter()
        .map(|i| item_seg(list, i).ok().map(|s| (s, i)))
        .collect()
}

fn merge_list(la: &[Value], ra: &[Value], s: Schema<'_>) -> Option<Value> {
    let (Some(lhs), Some(rhs)) = (indexed(s, la), indexed(s, ra)) else {
        return None;
    };
    let is = s.items();
    let mut observed_l: HashMap<&Seg, &Value> = HashMap::new();
    for (pe, v) in &lhs {
        observed_l.entry(pe).or_insert(v);
    }
    let mut observed_r: HashMap<&Seg, &Value> = HashMap::new();
    for (pe, v) in &rhs {
        observed_r.entry(pe).or_insert(v);
    }
    let mut shared: VecDeque<&Seg> = rhs
        .iter()
        .map(|(pe, _)| pe)
        .filter(|pe| observed_l.contains_key(pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_r: HashSet<&Seg> = HashSet::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let (ll, rl) = (lhs.len(), rhs.len());
    let (mut li, mut ri) = (0, 0);
    while li < ll || ri < rl {
        if li < ll && ri < rl {
            let pe = &lhs[li].0;
            if *pe == rhs[ri].0 {
                merged_r.insert(pe);
                out.extend(merge(
                    observed_l.get(pe).copied(),
                    observed_r.get(pe).copied(),
                    is,
                ));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < ll {
            let pe = &lhs[li].0;
            if !observed_r.contains_key(pe) {
                out.extend(merge(Some(lhs[li].1), None, is));
                li += 1;
                continue;
            } else if merged_r.contains(pe) {
                li += 1;
            }
        }
        if ri < rl {
            let pe = &rhs[ri].0;
            merged_r.insert(pe);
            out.extend(merge(
                observed_l.get(pe).copied(),
                observed_r.get(pe).copied(),
                is,
            ));
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// What changed between two objects (structured-merge-diff's `Comparison`).
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    /// Fields only in the new object.
    pub(crate) added: FieldSet,
    /// Fields in both, with different values.
    pub(crate) modified: FieldSet,
    /// Fields only in the old object.
    pub(crate) removed: FieldSet,
}

/// Compares two objects. A struct that appears or disappears as a whole is not itself recorded
/// when `structs_implicit` (built-in kinds, whose non-pointer structs Go always materialises);
/// its fields are.
pub(crate) fn compare(
    old: &Value,
    new: &Value,
    s: Schema<'_>,
    structs_implicit: bool,
) -> Comparison {
    let mut out = Comparison::default();
    cmp_walk(
        Some(old),
        Some(new),
        s,
        &mut Vec::new(),
        &mut out,
        structs_implicit,
    );
    out
}

fn cmp_leaf(l: Option<&Value>, r: Option<&Value>, path: &Path, out: &mut Comparison) {
    match (l, r) {
        (None, Some(_)) => {
            out.added.insert(path.clone());
        }
        (Some(_), None) => {
            out.removed.insert(path.clone());
        }
        (Some(a), Some(b)) if a != b => {
            out.modified.insert(path.clone());
        }
        _ => {}
    }
}

fn cmp_walk(
    l: Option<&Value>,
    r: Option<&Value>,
    s: Schema<'_>,
    path: &mut Path,
    out: &mut Comparison,
    structs_implicit: bool,
) {
    let present = |v: Option<&Value>, f: fn(&Value) -> bool| v.is_none_or(|v| f(v) || v.is_null());
    let node = |out: &mut Comparison, path: &Path| {
        if path.is_empty() {
            return;
        }
        if l.is_none() {
            out.added.insert(path.clone());
        } else if r.is_none() {
            out.removed.insert(path.clone());
        }
    };
    let any_obj = l.is_some_and(Value::is_object) || r.is_some_and(Value::is_object);
    if any_obj && present(l, Value::is_object) && present(r, Value::is_object) {
        let lm = l.and_then(Value::as_object);
        let rm = r.and_then(Value::as_object);
        let shape = r.filter(|v| v.is_object()).or(l).unwrap_or(&Value::Null);
        if s.atomic(shape) || (lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty)) {
            cmp_leaf(l, r, path, out);
            return;
        }
        let mut keys: Vec<&String> = lm.map(|m| m.keys().collect()).unwrap_or_default();
        if let Some(rm) = rm {
            keys.extend(rm.keys().filter(|k| lm.is_none_or(|m| !m.contains_key(*k))));
        }
        for k in keys {
            path.push(Seg::F(k.clone()));
            cmp_walk(
                lm.and_then(|m| m.get(k)),
                rm.and_then(|m| m.get(k)),
                s.field(k).schema(),
                path,
                out,
                structs_implicit,
            );
            path.pop();
        }
        let implicit = structs_implicit && s.is_struct() && matches!(path.last(), Some(Seg::F(_)));
        if !implicit {
            node(out, path);
        }
        return;
    }
    let any_arr = l.is_some_and(Value::is_array) || r.is_some_and(Value::is_array);
    if any_arr && present(l, Value::is_array) && present(r, Value::is_array) {
        let empty = Vec::new();
        let la = l.and_then(Value::as_array).unwrap_or(&empty);
        let ra = r.and_then(Value::as_array).unwrap_or(&empty);
        let shape = r.filter(|v| v.is_array()).or(l).unwrap_or(&Value::Null);
        if s.atomic(shape) || (la.is_empty() && ra.is_empty()) {
            cmp_leaf(l, r, path, out);
            return;
        }
        let (Some(li), Some(ri)) = (indexed(s, la), indexed(s, ra)) else {
            cmp_leaf(l, r, path, out);
            return;
        };
        let mut lv: HashMap<&Seg, &Value> = HashMap::new();
        let mut order: Vec<&Seg> = Vec::new();
        for (pe, v) in &li {
            if lv.insert(pe, v).is_none() {
                order.push(pe);
            }
        }
        let mut rv: HashMap<&Seg, &Value> = HashMap::new();
        for (pe, v) in &ri {
            if rv.insert(pe, v).is_none() && !lv.contains_key(pe) {
                order.push(pe);
            }
        }
        let is = s.items();
        for pe in order {
            path.push(pe.clone());
            cmp_walk(
                lv.get(pe).copied(),
                rv.get(pe).copied(),
                is,
                path,
                out,
                structs_implicit,
            );
            path.pop();
        }
        node(out, path);
        return;
    }
    cmp_leaf(l, r, path, out);
}

/// Drops `null` values from objects (what decoding into the API types, or pruning non-nullable
/// nulls of custom resources, does with the nulls an apply leaves behind).
pub(crate) fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, c| !c.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
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
pub(crate) fn validate_applied(v: &Value, s: Schema<'_>) -> Result<(), String> {
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
                    if matches!(f, crate::api::types::Field::Unknown) {
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
pub(crate) struct Decoded {
    /// Unknown fields, dropped (`spec.template.spec.containers[0].imagee`).
    pub(crate) unknown: Vec<String>,
    /// The first value of the wrong type, as Go's encoding/json reports it.
    pub(crate) type_error: Option<String>,
}

/// Decodes an object into a built-in kind as the API server's JSON decoding does: unknown
/// fields are dropped and reported, `null` struct fields dropped, the first value of the wrong
/// type reported (`json: cannot unmarshal bool into Go struct field ConfigMap.data of type
/// string`).
pub(crate) fn decode(v: &mut Value, s: Schema<'_>) -> Decoded {
    let mut out = Decoded::default();
    let name = s.struct_name().to_string();
    dec_walk(v, s, &name, "", "", &mut out);
    out
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

fn dec_walk(
    v: &mut Value,
    s: Schema<'_>,
    owner: &str,
    go_path: &str,
    path: &str,
    out: &mut Decoded,
) {
    let type_error = |out: &mut Decoded, v: &Value| {
        if out.type_error.is_none() {
            out.type_error = Some(format!(
                "json: cannot unmarshal {} into Go struct field {owner}.{go_path} of type {}",
                json_kind(v),
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
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let f = s.field(k);
                if matches!(f, crate::api::types::Field::Unknown) {
                    out.unknown.push(child);
                    unknown.push(k.clone());
                    continue;
                }
                let (owner, go_path) = if is_struct {
                    let gp = if go_path.is_empty() {
                        k.clone()
                    } else {
                        format!("{go_path}.{k}")
                    };
                    (inner.to_string(), gp)
                } else {
                    (owner.to_string(), go_path.to_string())
                };
                dec_walk(c, f.schema(), &owner, &go_path, &child, out);
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
                dec_walk(item, is, owner, go_path, &format!("{path}[{i}]"), out);
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
    fn field_sets_follow_the_list_types() {
        // Container ports are keyed by (containerPort, protocol), and protocol defaults to TCP
        // (k8s.io/api core/v1 `+default="TCP"`), as managedFields show them:
        // k:{"containerPort":80,"protocol":"TCP"}. metav1.LabelSelector is atomic: `f:selector: {}`.
        let d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}}}});
        let set = field_set(&d, deployment());
        let strings: Vec<String> = set.iter().map(|p| path_string(p)).collect();
        assert!(
            strings.contains(&".spec.selector".to_string()),
            "{strings:?}"
        );
        assert!(strings.contains(
            &".spec.template.spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"]"
                .to_string()
        ));
        assert!(!strings.iter().any(|s| s.contains("matchLabels")));
        assert!(
            !strings.contains(&".spec".to_string()),
            "struct fields are not members"
        );
    }

    #[test]
    fn merge_orders_set_items_like_structured_merge_diff() {
        let s = Schema::for_kind("v1", "ConfigMap", false, None)
            .field("metadata")
            .schema()
            .field("finalizers")
            .schema();
        // (lhs, rhs, merged) from structured-merge-diff typed/merge_test.go, "setStr".
        let cases = [
            (
                json!(["a", "b", "c"]),
                json!(["d", "e", "f"]),
                json!(["a", "b", "c", "d", "e", "f"]),
            ),
            (
                json!(["a", "b", "c", "g", "f"]),
                json!(["c", "d", "e", "f"]),
                json!(["a", "b", "c", "g", "d", "e", "f"]),
            ),
            (
                json!(["c", "d", "e", "f"]),
                json!(["a", "c", "e"]),
                json!(["a", "c", "d", "e", "f"]),
            ),
            (
                json!(["a", "b", "c", "x", "y", "z"]),
                json!(["d", "e", "f", "x", "y", "z"]),
                json!(["a", "b", "c", "d", "e", "f", "x", "y", "z"]),
            ),
            (
                json!(["c", "a", "g", "f"]),
                json!(["c", "f", "a", "g"]),
                json!(["c", "f", "a", "g"]),
            ),
            (
                json!(["a", "b", "c", "d"]),
                json!(["d", "e", "f", "a"]),
                json!(["b", "c", "d", "e", "f", "a"]),
            ),
            (
                json!(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]),
                json!(["1", "b", "2", "h", "3", "e", "4", "k", "l"]),
                json!([
                    "a", "1", "b", "c", "d", "f", "g", "2", "h", "i", "j", "3", "e", "4", "k", "l"
                ]),
            ),
        ];
        for (l, r, want) in cases {
            assert_eq!(merge(Some(&l), Some(&r), s).unwrap(), want, "{l} + {r}");
        }
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
