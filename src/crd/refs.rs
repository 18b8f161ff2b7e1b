//! `$ref` inlining and `allOf` folding: turns one schema node into a single flat object.

use std::path::Path;

use serde_json::{Map, Value};

use super::types::TypeSet;
use super::{Error, Result};

/// A JSON Schema object node.
pub(crate) type Node = Map<String, Value>;

/// Expands local `$ref`s and folds `allOf` branches into their parent, remembering
/// which references are being expanded on the current path so recursion is caught.
pub(crate) struct Flattener<'a> {
    root: &'a Value,
    file: &'a Path,
    /// Decoded JSON pointers of the references expanded on the current path; the
    /// root (`""`) is always there, so `{"$ref": "#"}` is recursive at once.
    stack: Vec<String>,
    /// `$ref`s expanded so far, checked against [`MAX_EXPANSIONS`].
    expansions: usize,
}

/// Most `$ref` expansions one conversion may do (reuse can be exponential).
const MAX_EXPANSIONS: usize = 20_000;

impl<'a> Flattener<'a> {
    /// A flattener of the schema `root`, read from `file` (for messages).
    pub(crate) fn new(root: &'a Value, file: &'a Path) -> Self {
        Flattener {
            root,
            file,
            stack: vec![String::new()],
            expansions: 0,
        }
    }

    /// Flattens `node`: its `$ref` target and `allOf` branches merged into one map.
    /// The references it expanded go on the stack (their properties are converted
    /// next, and must not lead back to them); it adds their number to `pushed`, and the
    /// caller pops them with [`Flattener::pop`] once the node's children are converted.
    pub(crate) fn flatten(&mut self, node: &Node, ptr: &str, pushed: &mut usize) -> Result<Node> {
        let mut expanded = Vec::new();
        let out = self.flatten_into(node, ptr, &mut expanded)?;
        *pushed += expanded.len();
        self.stack.extend(expanded);
        Ok(out)
    }

    /// Flattens `node`, recording in `expanded` every reference it expanded. A
    /// reference is on the stack only while its own target is being flattened, so
    /// siblings (`allOf: [{$ref: X}, {$ref: X}]`) are not mistaken for recursion.
    fn flatten_into(&mut self, node: &Node, ptr: &str, expanded: &mut Vec<String>) -> Result<Node> {
        let mut out: Node = node
            .iter()
            .filter(|(k, _)| *k != "$ref" && *k != "allOf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(reference) = node.get("$ref") {
            let reference = reference
                .as_str()
                .ok_or_else(|| self.unsupported(ptr, "`$ref` must be a string"))?;
            let (target, key) = self.resolve(reference, ptr)?;
            if self.stack.contains(&key) {
                return Err(Error::RefRecursive {
                    file: self.file.to_path_buf(),
                    pointer: ptr.to_string(),
                    reference: reference.to_string(),
                });
            }
            self.expansions += 1;
            if self.expansions > MAX_EXPANSIONS {
                return Err(self.unsupported(
                    ptr,
                    &format!("the schema expands to more than {MAX_EXPANSIONS} $refs once inlined"),
                ));
            }
            self.stack.push(key.clone());
            let flat = self
                .as_node(target, ptr)
                .and_then(|target| self.flatten_into(&target, ptr, expanded));
            self.stack.pop();
            merge_into(&mut out, flat?).map_err(|m| self.unsupported(ptr, &m))?;
            expanded.push(key);
        }
        if let Some(all_of) = node.get("allOf") {
            let branches = all_of
                .as_array()
                .ok_or_else(|| self.unsupported(ptr, "`allOf` must be an array"))?;
            for (i, branch) in branches.iter().enumerate() {
                let branch_ptr = format!("{ptr}/allOf/{i}");
                let branch = self.as_node(branch, &branch_ptr)?;
                let flat = self.flatten_into(&branch, &branch_ptr, expanded)?;
                merge_into(&mut out, flat).map_err(|m| self.unsupported(ptr, &m))?;
            }
        }
        Ok(out)
    }

    /// Forgets the last `count` expanded references.
    pub(crate) fn pop(&mut self, count: usize) {
        let keep = self.stack.len().saturating_sub(count).max(1);
        self.stack.truncate(keep);
    }

    /// A schema value as an object node: `true` is `{}`, `false` is refused.
    pub(crate) fn as_node(&self, schema: &Value, ptr: &str) -> Result<Node> {
        match schema {
            Value::Object(map) => Ok(map.clone()),
            Value::Bool(true) => Ok(Node::new()),
            Value::Bool(false) => Err(self.unsupported(
                ptr,
                "the schema `false` accepts nothing and has no CRD equivalent",
            )),
            _ => Err(self.unsupported(ptr, "a schema must be an object or a boolean")),
        }
    }

    /// The error for a construct at `ptr` that has no structural equivalent.
    pub(crate) fn unsupported(&self, ptr: &str, message: &str) -> Error {
        Error::SchemaUnsupported {
            file: self.file.to_path_buf(),
            pointer: ptr.to_string(),
            message: message.to_string(),
        }
    }

    fn resolve(&self, reference: &str, ptr: &str) -> Result<(&'a Value, String)> {
        let unresolved = |reason: &str| Error::RefUnresolved {
            file: self.file.to_path_buf(),
            pointer: ptr.to_string(),
            reference: reference.to_string(),
            reason: reason.to_string(),
        };
        // `#/...`, or the schema's own `$id` (or file name) followed by `#/...`.
        let own_id = self.root.get("$id").and_then(Value::as_str);
        let file_name = self.file.file_name().and_then(|n| n.to_str());
        let fragment = match reference.split_once('#') {
            Some((base, fragment))
                if base.is_empty() || Some(base) == own_id || Some(base) == file_name =>
            {
                fragment
            }
            _ => {
                return Err(unresolved(
                    "only local references (`#/$defs/...`) can be inlined into a CRD",
                ));
            }
        };
        let pointer = percent_decode(fragment).ok_or_else(|| unresolved("bad %-escape"))?;
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(unresolved(
                "anchors are not supported; use a JSON pointer such as `#/$defs/name`",
            ));
        }
        let target = self
            .root
            .pointer(&pointer)
            .ok_or_else(|| unresolved("no such location in the schema"))?;
        Ok((target, pointer))
    }
}

/// Merges `src` into `out` as `allOf` would: properties united (a property in both
/// becomes the `allOf` of the two), `required` united, types intersected. For other
/// keywords present in both, `out` keeps its own: the CRD may be looser than the values
/// schema, because the operator checks the full schema before rendering.
pub(crate) fn merge_into(out: &mut Node, src: Node) -> std::result::Result<(), String> {
    for (key, value) in src {
        match (key.as_str(), out.get_mut(&key)) {
            (_, None) => {
                out.insert(key, value);
            }
            ("properties", Some(Value::Object(mine))) => {
                if let Value::Object(theirs) = value {
                    for (name, schema) in theirs {
                        match mine.get_mut(&name) {
                            Some(existing) if *existing != schema => {
                                let both = Value::Array(vec![existing.take(), schema]);
                                *existing =
                                    Value::Object(Node::from_iter([("allOf".to_string(), both)]));
                            }
                            Some(_) => {}
                            None => {
                                mine.insert(name, schema);
                            }
                        }
                    }
                }
            }
            ("required", Some(Value::Array(mine))) => {
                for name in value.as_array().into_iter().flatten() {
                    if !mine.contains(name) {
                        mine.push(name.clone());
                    }
                }
            }
            ("type", Some(mine)) => {
                let a = TypeSet::parse(mine)?;
                let b = TypeSet::parse(&value)?;
                let both = a.intersect(&b);
                if both.types.is_empty() && !both.null {
                    return Err(format!(
                        "allOf/$ref combine type {} with type {}, which no value satisfies",
                        a.to_value(),
                        b.to_value()
                    ));
                }
                *mine = both.to_value();
            }
            ("additionalProperties" | "items", Some(mine)) if *mine != value => {
                *mine = match (mine.take(), value) {
                    (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Bool(true), other) | (other, Value::Bool(true)) => other,
                    (a, b) => Value::Object(Node::from_iter([(
                        "allOf".to_string(),
                        Value::Array(vec![a, b]),
                    )])),
                };
            }
            _ => {}
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes of a URI fragment.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
