//! Conversion of a chart's JSON Schema (draft 7, 2019-09, 2020-12) into a Kubernetes
//! structural schema.
//!
//! Principle: the CRD schema may be looser than values.schema.json but not stricter,
//! and the API server must not prune a field the values schema declares. (One
//! deliberate exception: fields the schema does not declare at all are pruned; see
//! Objects.) The operator validates the merged values against the full JSON Schema
//! before every render, so whatever Kubernetes cannot express is still enforced there.
//!
//! What becomes of each keyword:
//! - `$ref` (local: `#/$defs/..`, `#/definitions/..`, also spelled with the schema's own
//!   `$id` or file name before the `#`) is inlined; a recursive `$ref`, a
//!   remote one, or an anchor is an error. `allOf` is folded into its parent.
//! - `type: [X, "null"]` → `type: X` + `nullable: true`; `[integer, string]` (or an
//!   `anyOf`/`oneOf` of the two) → `x-kubernetes-int-or-string`; other type mixes → an
//!   untyped `x-kubernetes-preserve-unknown-fields: true` node. A missing `type` is
//!   inferred from `enum`/`const` values or object/array keywords; a node with scalar
//!   validations (`minimum`, `pattern`, …) and no type is an error; a node with no
//!   constraint at all (`{}`, `true`) accepts anything → untyped preserve-unknown-fields.
//! - `const` → `enum: [value]`; draft-6+ numeric `exclusiveMinimum`/`Maximum` → OpenAPI's
//!   `minimum` + `exclusiveMinimum: true`; `format` kept only if Kubernetes knows it;
//!   `pattern` kept only if Go's RE2 can compile it (no lookaround, backreferences).
//! - Objects: `additionalProperties: false` is omitted (the API server prunes unknown
//!   fields; kubectl's strict field validation reports them). A free-form object
//!   (no `properties`, or `additionalProperties: true`) gets preserve-unknown-fields. A
//!   map (`additionalProperties: <schema>` or a single `patternProperties`, without
//!   `properties`) keeps its value schema. `properties` together with a schema for the
//!   other keys cannot be expressed → preserve-unknown-fields. Without
//!   `additionalProperties`, unknown keys are pruned: JSON Schema would allow them, but
//!   a chart cannot rely on undeclared values, and kubectl then flags typos.
//!   `required` names not declared in `properties` are dropped (they could never be
//!   satisfied after pruning).
//! - Arrays: `items` converted; tuples (`prefixItems`, array-form `items`) and arrays
//!   without `items` get untyped preserve-unknown-fields items. `uniqueItems: true`
//!   becomes `x-kubernetes-list-type: set` when the items are non-nullable scalars,
//!   and is dropped otherwise (Kubernetes forbids `uniqueItems`).
//! - `anyOf`/`oneOf`/`not` are kept as value validations only (`enum`, bounds, lengths,
//!   `pattern`, `required`, …); a junctor with a branch that has none is dropped.
//!   Properties declared only inside `anyOf`/`oneOf`/`if`/`then`/`else`/
//!   `dependentSchemas` are hoisted into the parent (typed, without validations) so
//!   they are not pruned.
//! - Dropped silently (the operator enforces them, or they are annotations): `$schema`,
//!   `$id`, `$comment`, `$anchor`, `$defs`, `definitions`, `examples`, `title` (used as
//!   `description` when there is none), `readOnly`, `writeOnly`, `deprecated`,
//!   `content*`, `if`/`then`/`else`, `dependentRequired`, `dependentSchemas`,
//!   `dependencies`, `propertyNames`, `contains`, `min/maxContains`,
//!   `unevaluatedItems`, unknown keywords. `unevaluatedProperties` stands in for a
//!   missing `additionalProperties`.
//! - Kept: `description`, `default` (pruned to the schema; note the API server then
//!   writes it into stored objects), `example`, and the author's own `x-kubernetes-*`
//!   extensions (embedded-resource, list-type, list-map-keys, map-type, validations,
//!   preserve-unknown-fields, int-or-string).

use std::path::Path;

use serde_json::{Value, json};

use super::keywords::{
    ARRAY_KEYWORDS, OBJECT_KEYWORDS, PASSTHROUGH_EXTENSIONS, SCALAR_KEYWORDS, known_format,
    re2_compatible,
};
use super::refs::{Flattener, Node};
use super::types::{Shape, TypeSet};
use super::{Error, Result};
use k8s_rules::structural::prune;

/// Convert a JSON Schema (draft 7 / 2019-09 / 2020-12 as written by chart authors) into
/// a Kubernetes structural schema (returned as a `serde_json::Value` shaped like
/// JSONSchemaProps). The top level must describe an object. Errors name `schema_file`
/// and the JSON pointer of the offending node.
pub(crate) fn structural_schema(schema: &Value, schema_file: &Path) -> Result<Value> {
    let mut converter = Converter {
        refs: Flattener::new(schema, schema_file),
        file: schema_file,
        nodes: 0,
    };
    let out = converter.convert(schema, "")?;
    if out.get("type").and_then(Value::as_str) != Some("object") {
        return Err(Error::TopLevelNotObject {
            file: schema_file.to_path_buf(),
        });
    }
    Ok(out)
}

/// Most schema nodes a conversion may produce: `$ref`s reused along many paths can
/// expand exponentially, and the API server refuses huge CRDs anyway.
const MAX_NODES: usize = 20_000;

/// Converts one values schema; carries the `$ref` state along the current path.
pub(super) struct Converter<'a> {
    pub(super) refs: Flattener<'a>,
    pub(super) file: &'a Path,
    /// Nodes converted so far, checked against [`MAX_NODES`].
    nodes: usize,
}

impl Converter<'_> {
    pub(super) fn convert(&mut self, schema: &Value, ptr: &str) -> Result<Value> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.refs.unsupported(
                ptr,
                &format!(
                    "the schema expands to more than {MAX_NODES} nodes once $refs are inlined"
                ),
            ));
        }
        let node = self.refs.as_node(schema, ptr)?;
        let mut pushed = 0;
        let result = self
            .refs
            .flatten(&node, ptr, &mut pushed)
            .and_then(|flat| self.convert_flat(flat, ptr, &mut pushed));
        self.refs.pop(pushed);
        result
    }

    fn convert_flat(&mut self, mut flat: Node, ptr: &str, pushed: &mut usize) -> Result<Value> {
        let mut nullable = self.absorb_null_branches(&mut flat, ptr, pushed)?;
        let (shape, null) = self.shape(&flat, ptr)?;
        // OpenAPI-style `nullable: true` written by the author counts too.
        nullable |= null || flat.get("nullable") == Some(&Value::Bool(true));
        let mut out = Node::new();
        match shape {
            Shape::Any => {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
            }
            Shape::IntOrString => {
                out.insert("x-kubernetes-int-or-string".into(), true.into());
                out.insert(
                    "anyOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            Shape::Typed(t) => {
                out.insert("type".into(), t.into());
                out.extend(self.validations(&flat, t, ptr)?);
                for key in PASSTHROUGH_EXTENSIONS {
                    if let Some(value) = flat.get(key) {
                        out.insert(key.into(), value.clone());
                    }
                }
                match t {
                    "object" => self.object(&flat, ptr, &mut out)?,
                    "array" => self.array(&flat, ptr, &mut out)?,
                    _ => {}
                }
                if flat.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
                    out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
                }
                self.junctors(&flat, t, ptr, &mut out)?;
            }
        }
        if nullable {
            out.insert("nullable".into(), true.into());
        }
        let description = flat.get("description").or_else(|| flat.get("title"));
        if let Some(description) = description.and_then(Value::as_str) {
            out.insert("description".into(), description.into());
        }
        if let Some(example) = flat.get("example") {
            out.insert("example".into(), example.clone());
        }
        if let Some(default) = flat.get("default") {
            let mut default = default.clone();
            let as_schema = Value::Object(out.clone());
            prune(&mut default, &as_schema);
            if !default.is_null() || nullable {
                out.insert("default".into(), default);
            }
        }
        Ok(Value::Object(out))
    }

    /// The node's shape and whether `null` is among its types.
    fn shape(&mut self, flat: &Node, ptr: &str) -> Result<(Shape, bool)> {
        if flat.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return Ok((Shape::IntOrString, false));
        }
        if flat.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            && !flat.contains_key("type")
        {
            return Ok((Shape::Any, false));
        }
        let set = match self.declared_types(flat, ptr)? {
            Some(set) => set,
            None => match self.branch_types(flat, ptr)? {
                Some(set) => set,
                None if SCALAR_KEYWORDS.iter().any(|k| flat.contains_key(*k)) => {
                    return Err(Error::TypeMissing {
                        file: self.file.to_path_buf(),
                        pointer: ptr.to_string(),
                    });
                }
                None => return Ok((Shape::Any, false)),
            },
        };
        match set.shape() {
            Some(shape) => Ok((shape, set.null)),
            None => Err(self
                .refs
                .unsupported(ptr, "a value that can only be null has no CRD equivalent")),
        }
    }

    /// Types from `type`, else from `enum`/`const` values, else from object/array keywords.
    pub(super) fn declared_types(&self, flat: &Node, ptr: &str) -> Result<Option<TypeSet>> {
        if let Some(t) = flat.get("type") {
            return TypeSet::parse(t)
                .map(Some)
                .map_err(|m| self.refs.unsupported(ptr, &m));
        }
        if let Some(value) = flat.get("const") {
            return Ok(Some(TypeSet::of_values([value])));
        }
        if let Some(Value::Array(values)) = flat.get("enum") {
            return Ok(Some(TypeSet::of_values(values)));
        }
        let object = OBJECT_KEYWORDS.iter().any(|k| flat.contains_key(*k));
        let array = ARRAY_KEYWORDS.iter().any(|k| flat.contains_key(*k));
        Ok(match (object, array) {
            (true, false) => Some(TypeSet::one("object")),
            (false, true) => Some(TypeSet::one("array")),
            (true, true) => Some(TypeSet {
                types: vec!["object", "array"],
                null: false,
            }),
            (false, false) => None,
        })
    }

    /// Value validations that apply to type `t`, in OpenAPI v3 form.
    pub(super) fn validations(&self, flat: &Node, t: &str, ptr: &str) -> Result<Node> {
        let mut out = Node::new();
        if let Some(value) = flat.get("const") {
            out.insert("enum".into(), json!([value]));
        } else if let Some(values) = flat.get("enum") {
            if !values.is_array() {
                return Err(self.refs.unsupported(ptr, "`enum` must be an array"));
            }
            out.insert("enum".into(), values.clone());
        }
        let copy = |out: &mut Node, keys: &[&str]| {
            for key in keys {
                if let Some(value) = flat.get(*key) {
                    out.insert((*key).into(), value.clone());
                }
            }
        };
        if t != "object"
            && t != "array"
            && let Some(format) = flat
                .get("format")
                .and_then(Value::as_str)
                .filter(|f| known_format(f))
        {
            out.insert("format".into(), format.into());
        }
        match t {
            "integer" | "number" => {
                bound(flat, "minimum", "exclusiveMinimum", |e, m| e >= m, &mut out);
                bound(flat, "maximum", "exclusiveMaximum", |e, m| e <= m, &mut out);
                copy(&mut out, &["multipleOf"]);
            }
            "string" => {
                copy(&mut out, &["minLength", "maxLength"]);
                if let Some(pattern) = flat
                    .get("pattern")
                    .and_then(Value::as_str)
                    .filter(|p| re2_compatible(p))
                {
                    out.insert("pattern".into(), pattern.into());
                }
            }
            "array" => copy(&mut out, &["minItems", "maxItems"]),
            "object" => copy(&mut out, &["minProperties", "maxProperties", "required"]),
            _ => {}
        }
        Ok(out)
    }

    fn object(&mut self, flat: &Node, ptr: &str, out: &mut Node) -> Result<()> {
        let mut properties = Node::new();
        if let Some(props) = flat.get("properties") {
            let props = props
                .as_object()
                .ok_or_else(|| self.refs.unsupported(ptr, "`properties` must be an object"))?;
            for (name, schema) in props {
                let child = format!("{ptr}/properties/{}", escape(name));
                properties.insert(name.clone(), self.convert(schema, &child)?);
            }
        }
        let additional = flat
            .get("additionalProperties")
            .or_else(|| flat.get("unevaluatedProperties"));
        let patterns = flat
            .get("patternProperties")
            .and_then(Value::as_object)
            .filter(|p| !p.is_empty());
        let has_properties = !properties.is_empty();
        let mut preserve = false;
        match (additional, patterns) {
            (Some(Value::Bool(false)), _) => {}
            (Some(Value::Bool(true)), _) => preserve = true,
            (Some(Value::Object(schema)), _) if schema.is_empty() => preserve = true,
            (Some(schema), _) if !has_properties => {
                let value = self.convert(schema, &format!("{ptr}/additionalProperties"))?;
                out.insert("additionalProperties".into(), value);
            }
            (Some(_), _) => preserve = true,
            (None, Some(patterns)) if patterns.len() == 1 && !has_properties => {
                if let Some((pattern, schema)) = patterns.iter().next() {
                    let child = format!("{ptr}/patternProperties/{}", escape(pattern));
                    out.insert("additionalProperties".into(), self.convert(schema, &child)?);
                }
            }
            (None, Some(_)) => preserve = true,
            (None, None) => preserve = !has_properties,
        }
        self.hoist(flat, ptr, &mut properties)?;
        if !properties.is_empty() && out.remove("additionalProperties").is_some() {
            // Hoisted fields next to a map's value schema: Kubernetes cannot say both.
            preserve = true;
        }
        let is_map = out.contains_key("additionalProperties");
        if let Some(Value::Array(required)) = out.get_mut("required") {
            if !preserve && !is_map {
                required.retain(|name| name.as_str().is_some_and(|n| properties.contains_key(n)));
            }
            if required.is_empty() {
                out.remove("required");
            }
        }
        if !properties.is_empty() {
            out.insert("properties".into(), Value::Object(properties));
        }
        if preserve {
            out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        }
        Ok(())
    }

    fn array(&mut self, flat: &Node, ptr: &str, out: &mut Node) -> Result<()> {
        let items = match flat.get("items") {
            Some(schema @ (Value::Object(_) | Value::Bool(_)))
                if !flat.contains_key("prefixItems") =>
            {
                self.convert(schema, &format!("{ptr}/items"))?
            }
            _ => json!({"x-kubernetes-preserve-unknown-fields": true}),
        };
        let scalar = items
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| !matches!(t, "object" | "array"));
        let nullable = items.get("nullable") == Some(&Value::Bool(true));
        if flat.get("uniqueItems") == Some(&Value::Bool(true))
            && scalar
            && !nullable
            && !out.contains_key("x-kubernetes-list-type")
        {
            out.insert("x-kubernetes-list-type".into(), "set".into());
        }
        out.insert("items".into(), items);
        Ok(())
    }
}

/// Copies an inclusive bound, folding in the exclusive one: the numeric (draft 6+)
/// form becomes OpenAPI's `minimum` + `exclusiveMinimum: true` when it is the stricter.
fn bound(
    flat: &Node,
    inclusive: &str,
    exclusive: &str,
    stricter: fn(f64, f64) -> bool,
    out: &mut Node,
) {
    let incl = flat.get(inclusive).filter(|v| v.is_number());
    match (flat.get(exclusive), incl) {
        (Some(Value::Number(e)), m)
            if m.and_then(Value::as_f64)
                .is_none_or(|m| e.as_f64().is_some_and(|e| stricter(e, m))) =>
        {
            out.insert(inclusive.into(), Value::Number(e.clone()));
            out.insert(exclusive.into(), true.into());
        }
        (Some(Value::Bool(true)), Some(m)) => {
            out.insert(inclusive.into(), m.clone());
            out.insert(exclusive.into(), true.into());
        }
        (_, Some(m)) => {
            out.insert(inclusive.into(), m.clone());
        }
        _ => {}
    }
}

/// Escapes a key for a JSON pointer (`~` → `~0`, `/` → `~1`).
pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
