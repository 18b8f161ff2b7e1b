//! Operations on typed values, as Kubernetes' structured-merge-diff does them
//! (sigs.k8s.io/structured-merge-diff, `typed/` and `fieldpath/`): field sets, merging an
//! applied configuration, removing fields, comparing two objects. The checks of a value
//! against its type are `k8s_rules::typed`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use k8s_rules::typed::item_seg;
pub(crate) use k8s_rules::typed::{Seg, canonical_key, path_string, validate_applied};
use k8s_rules::types::Schema;
use serde_json::{Map, Value};

/// A path into an object.
pub(crate) type Path = Vec<Seg>;
/// A set of paths (structured-merge-diff's `fieldpath.Set`, members only).
pub(crate) type FieldSet = BTreeSet<Path>;

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
    #[cfg(test)]
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    /// The child nodes.
    #[cfg(test)]
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
/// its fields are. `metadata.managedFields` is never compared: the field manager strips it
/// before it computes what changed.
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

/// [`compare`] of the top-level fields `wanted` keeps (the changes under the others left out):
/// what a write that tracks only some of an object's fields needs, without comparing the rest
/// (for a status write, the spec and metadata; for a write of the main resource, the status).
/// Both objects must be non-atomic maps, as the root walk of `compare` then walks each field on
/// its own; otherwise `None`.
pub(crate) fn compare_fields(
    old: &Value,
    new: &Value,
    s: Schema<'_>,
    structs_implicit: bool,
    wanted: impl Fn(&str) -> bool,
) -> Option<Comparison> {
    let (Some(lm), Some(rm)) = (old.as_object(), new.as_object()) else {
        return None;
    };
    if s.atomic(new) {
        return None;
    }
    let mut out = Comparison::default();
    let keys = lm
        .keys()
        .chain(rm.keys().filter(|k| !lm.contains_key(*k)))
        .filter(|k| wanted(k));
    let mut path = Vec::new();
    for k in keys {
        path.push(Seg::F(k.clone()));
        cmp_walk(
            lm.get(k),
            rm.get(k),
            s.field(k).schema(),
            &mut path,
            &mut out,
            structs_implicit,
        );
        path.pop();
    }
    Some(out)
}

/// Whether `path` is the object's top-level `metadata`.
fn is_metadata(path: &Path) -> bool {
    matches!(path.as_slice(), [Seg::F(m)] if m == "metadata")
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
    // Equal subtrees hold no change: most of an updated object is unchanged, and comparing
    // values stops at their first difference where walking them builds every path.
    if let (Some(l), Some(r)) = (l, r)
        && l == r
    {
        return;
    }
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
            if k == "managedFields" && is_metadata(path) {
                continue;
            }
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
}
