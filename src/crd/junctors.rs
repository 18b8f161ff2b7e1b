//! Junctors and conditionals: the null-branch pattern, branch types, hoisting the
//! properties branches declare, and keeping `anyOf`/`oneOf`/`not` as value validations.

use serde_json::{Value, json};

use super::Result;
use super::refs::{Node, merge_into};
use super::structural::{Converter, escape};
use super::types::TypeSet;

impl Converter<'_> {
    /// Removes `{"type": "null"}` branches of `anyOf`/`oneOf` (the nullable pattern);
    /// a junctor left with one branch is merged into the node. Returns whether a null
    /// branch was found.
    pub(super) fn absorb_null_branches(
        &mut self,
        flat: &mut Node,
        ptr: &str,
        pushed: &mut usize,
    ) -> Result<bool> {
        let mut nullable = false;
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = flat.get(key).cloned() else {
                continue;
            };
            let is_null = |b: &Value| {
                b.get("type").and_then(Value::as_str) == Some("null")
                    && b.as_object().is_some_and(|m| {
                        m.keys()
                            .all(|k| k == "type" || k == "description" || k == "title")
                    })
            };
            if !branches.iter().any(is_null) {
                continue;
            }
            nullable = true;
            let rest: Vec<Value> = branches.into_iter().filter(|b| !is_null(b)).collect();
            flat.remove(key);
            match rest.as_slice() {
                [] => {}
                [only] => {
                    let branch_ptr = format!("{ptr}/{key}");
                    let node = self.refs.as_node(only, &branch_ptr)?;
                    let branch = self.refs.flatten(&node, &branch_ptr, pushed)?;
                    merge_into(flat, branch).map_err(|m| self.refs.unsupported(ptr, &m))?;
                }
                _ => {
                    flat.insert(key.into(), Value::Array(rest));
                }
            }
        }
        Ok(nullable)
    }

    /// Union of the types of every `anyOf`/`oneOf` branch; `None` when there is no
    /// junctor, or a branch says nothing about its type (then anything goes).
    pub(super) fn branch_types(&mut self, flat: &Node, ptr: &str) -> Result<Option<TypeSet>> {
        let mut union: Option<TypeSet> = None;
        for key in ["anyOf", "oneOf"] {
            let Some(branches) = flat.get(key).and_then(Value::as_array) else {
                continue;
            };
            for (i, branch) in branches.iter().enumerate() {
                let branch_ptr = format!("{ptr}/{key}/{i}");
                let node = self.refs.as_node(branch, &branch_ptr)?;
                let mut pushed = 0;
                let types = self
                    .refs
                    .flatten(&node, &branch_ptr, &mut pushed)
                    .and_then(|b| self.declared_types(&b, &branch_ptr));
                self.refs.pop(pushed);
                match types? {
                    Some(set) => union.get_or_insert_with(TypeSet::default).union(&set),
                    None => return Ok(None),
                }
            }
        }
        Ok(union)
    }

    /// Adds the properties declared only inside junctors and conditionals to the
    /// parent (structure only), so the API server does not prune them.
    pub(super) fn hoist(&mut self, flat: &Node, ptr: &str, properties: &mut Node) -> Result<()> {
        let declared: Vec<String> = properties.keys().cloned().collect();
        let mut sources: Vec<(String, &Value)> = Vec::new();
        for key in ["anyOf", "oneOf"] {
            for (i, branch) in flat
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                sources.push((format!("{ptr}/{key}/{i}"), branch));
            }
        }
        for key in ["if", "then", "else"] {
            if let Some(branch) = flat.get(key) {
                sources.push((format!("{ptr}/{key}"), branch));
            }
        }
        for (name, branch) in flat
            .get("dependentSchemas")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            sources.push((format!("{ptr}/dependentSchemas/{}", escape(name)), branch));
        }
        for (branch_ptr, branch) in sources {
            let node = self.refs.as_node(branch, &branch_ptr)?;
            let mut pushed = 0;
            let result = self
                .refs
                .flatten(&node, &branch_ptr, &mut pushed)
                .and_then(|branch| {
                    for (name, schema) in branch
                        .get("properties")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let child = format!("{branch_ptr}/properties/{}", escape(name));
                        let converted = structure_only(self.convert(schema, &child)?);
                        match properties.get_mut(name) {
                            // The parent's own declaration governs: keep it, add nesting.
                            Some(existing) if declared.contains(name) => {
                                merge_structure(existing, converted)
                            }
                            // Two branches may type the same field differently.
                            Some(existing) if !same_shape(existing, &converted) => {
                                *existing = json!({"x-kubernetes-preserve-unknown-fields": true});
                            }
                            Some(existing) => merge_structure(existing, converted),
                            None => {
                                properties.insert(name.clone(), converted);
                            }
                        }
                    }
                    Ok(())
                });
            self.refs.pop(pushed);
            result?;
        }
        Ok(())
    }

    /// Keeps `anyOf`/`oneOf`/`not` when every branch is a non-empty set of value
    /// validations for the node's type; drops them otherwise (the operator enforces them).
    pub(super) fn junctors(
        &mut self,
        flat: &Node,
        t: &str,
        ptr: &str,
        out: &mut Node,
    ) -> Result<()> {
        for key in ["anyOf", "oneOf", "not"] {
            let branches: Vec<&Value> = match flat.get(key) {
                Some(Value::Array(branches)) if key != "not" => branches.iter().collect(),
                Some(branch) if key == "not" => vec![branch],
                _ => continue,
            };
            let mut kept = Vec::new();
            for (i, branch) in branches.into_iter().enumerate() {
                let branch_ptr = if key == "not" {
                    format!("{ptr}/not")
                } else {
                    format!("{ptr}/{key}/{i}")
                };
                let node = self.refs.as_node(branch, &branch_ptr)?;
                let mut pushed = 0;
                let validations = self
                    .refs
                    .flatten(&node, &branch_ptr, &mut pushed)
                    .and_then(|b| self.validations(&b, t, &branch_ptr));
                self.refs.pop(pushed);
                kept.push(Value::Object(validations?));
            }
            if kept
                .iter()
                .all(|v| v.as_object().is_some_and(|m| !m.is_empty()))
            {
                let value = if key == "not" {
                    kept.remove(0)
                } else {
                    Value::Array(kept)
                };
                out.insert(key.into(), value);
            }
        }
        Ok(())
    }
}

/// A converted schema reduced to its structure: types and nesting, no validations.
fn structure_only(schema: Value) -> Value {
    let Value::Object(map) = schema else {
        return schema;
    };
    let mut out = Node::new();
    for (key, value) in map {
        match key.as_str() {
            "properties" => {
                let props = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), structure_only(v.clone())));
                out.insert(key, Value::Object(props.collect()));
            }
            "items" | "additionalProperties" => {
                out.insert(key, structure_only(value));
            }
            "type"
            | "nullable"
            | "description"
            | "x-kubernetes-preserve-unknown-fields"
            | "x-kubernetes-int-or-string"
            | "x-kubernetes-embedded-resource"
            | "x-kubernetes-map-type" => {
                out.insert(key, value);
            }
            "anyOf"
                if out.contains_key("x-kubernetes-int-or-string")
                    || value == json!([{"type": "integer"}, {"type": "string"}]) =>
            {
                out.insert(key, value);
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// Whether two converted schemas have the same type (or are both int-or-string / any).
fn same_shape(a: &Value, b: &Value) -> bool {
    let key = |v: &Value| {
        (
            v.get("type").cloned(),
            v.get("x-kubernetes-int-or-string").cloned(),
            v.get("nullable").cloned(),
        )
    };
    key(a) == key(b)
}

/// Adds to `target` the properties and items of `extra` it lacks (target wins).
fn merge_structure(target: &mut Value, extra: Value) {
    let (Value::Object(target), Value::Object(extra)) = (target, extra) else {
        return;
    };
    if target.get("type").and_then(Value::as_str) != extra.get("type").and_then(Value::as_str) {
        return;
    }
    if let (Some(Value::Object(mine)), Some(Value::Object(theirs))) =
        (target.get_mut("properties"), extra.get("properties"))
    {
        for (name, schema) in theirs {
            match mine.get_mut(name) {
                Some(existing) => merge_structure(existing, schema.clone()),
                None => {
                    mine.insert(name.clone(), schema.clone());
                }
            }
        }
    } else if !target.contains_key("additionalProperties")
        && let Some(props) = extra.get("properties")
    {
        target.insert("properties".into(), props.clone());
    }
    if let (Some(mine), Some(theirs)) = (target.get_mut("items"), extra.get("items")) {
        merge_structure(mine, theirs.clone());
    }
}
