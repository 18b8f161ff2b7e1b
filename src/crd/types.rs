//! JSON Schema `type` sets: parsing, intersection, and what Kubernetes can make of them.

use serde_json::Value;

use super::keywords::TYPES;

/// What a node's set of JSON types becomes in a structural schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// Exactly one Kubernetes type.
    Typed(&'static str),
    /// `integer` or `string`: `x-kubernetes-int-or-string`.
    IntOrString,
    /// Several types Kubernetes cannot name together: preserve-unknown-fields, untyped.
    Any,
}

/// A set of JSON Schema type names (`null` kept separately as nullability).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TypeSet {
    /// The type names other than `null`, in the order first seen.
    pub(crate) types: Vec<&'static str>,
    /// Whether `null` is allowed.
    pub(crate) null: bool,
}

impl TypeSet {
    /// Parses a `type` keyword value: a name or an array of names.
    pub(crate) fn parse(value: &Value) -> Result<TypeSet, String> {
        let names: Vec<&Value> = match value {
            Value::String(_) => vec![value],
            Value::Array(items) => items.iter().collect(),
            _ => return Err("`type` must be a string or an array of strings".into()),
        };
        let mut set = TypeSet::default();
        for name in names {
            match name.as_str() {
                Some("null") => set.null = true,
                Some(name) => match TYPES.iter().find(|t| **t == name) {
                    Some(t) => set.add(t),
                    None => return Err(format!("unknown type {name:?}")),
                },
                None => return Err("`type` must be a string or an array of strings".into()),
            }
        }
        Ok(set)
    }

    /// The types of the given JSON values (for `enum`/`const` without `type`).
    pub(crate) fn of_values<'v>(values: impl IntoIterator<Item = &'v Value>) -> TypeSet {
        let mut set = TypeSet::default();
        for value in values {
            match value {
                Value::Null => set.null = true,
                Value::Bool(_) => set.add("boolean"),
                Value::Number(n) if n.is_i64() || n.is_u64() => set.add("integer"),
                Value::Number(_) => set.add("number"),
                Value::String(_) => set.add("string"),
                Value::Array(_) => set.add("array"),
                Value::Object(_) => set.add("object"),
            }
        }
        set
    }

    /// A single type.
    pub(crate) fn one(t: &'static str) -> TypeSet {
        TypeSet {
            types: vec![t],
            null: false,
        }
    }

    /// Adds a type name (once).
    pub(crate) fn add(&mut self, t: &'static str) {
        if !self.types.contains(&t) {
            self.types.push(t);
        }
    }

    /// Union of two sets.
    pub(crate) fn union(&mut self, other: &TypeSet) {
        for t in &other.types {
            self.add(t);
        }
        self.null |= other.null;
    }

    /// Intersection (as `allOf` of both); `integer` is a subset of `number`.
    pub(crate) fn intersect(&self, other: &TypeSet) -> TypeSet {
        let mut out = TypeSet {
            types: vec![],
            null: self.null && other.null,
        };
        for t in &self.types {
            if other.types.contains(t) {
                out.add(t);
            } else if (*t == "integer" && other.types.contains(&"number"))
                || (*t == "number" && other.types.contains(&"integer"))
            {
                out.add("integer");
            }
        }
        out
    }

    /// The set as a `type` keyword value.
    pub(crate) fn to_value(&self) -> Value {
        let mut names: Vec<Value> = self.types.iter().map(|t| Value::from(*t)).collect();
        if self.null {
            names.push("null".into());
        }
        if names.len() == 1 {
            names.remove(0)
        } else {
            Value::Array(names)
        }
    }

    /// What the set becomes in Kubernetes; `None` when it holds no type but `null`.
    pub(crate) fn shape(&self) -> Option<Shape> {
        let mut types = self.types.clone();
        if types.contains(&"number") {
            types.retain(|t| *t != "integer");
        }
        types.sort_unstable();
        match types.as_slice() {
            [] => None,
            [t] => Some(Shape::Typed(t)),
            ["integer", "string"] => Some(Shape::IntOrString),
            _ => Some(Shape::Any),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let shape = |v: Value| TypeSet::parse(&v).unwrap().shape();
        assert_eq!(shape(json!("string")), Some(Shape::Typed("string")));
        assert_eq!(
            shape(json!(["string", "null"])),
            Some(Shape::Typed("string"))
        );
        assert_eq!(
            shape(json!(["integer", "number"])),
            Some(Shape::Typed("number"))
        );
        assert_eq!(
            shape(json!(["string", "integer"])),
            Some(Shape::IntOrString)
        );
        assert_eq!(shape(json!(["string", "array"])), Some(Shape::Any));
        assert_eq!(shape(json!("null")), None);
        assert!(TypeSet::parse(&json!("int")).is_err());
    }

    #[test]
    fn intersection_narrows_number_to_integer() {
        let a = TypeSet::parse(&json!(["number", "null"])).unwrap();
        let b = TypeSet::parse(&json!("integer")).unwrap();
        assert_eq!(a.intersect(&b).to_value(), json!("integer"));
    }
}
