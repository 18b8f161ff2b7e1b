//! values.schema.json: a compiled JSON Schema and violations reported with JSON pointers.

use std::path::Path;

use super::{Error, Result};

/// One way the values break the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer into the values, e.g. `/replicas` (empty for the root).
    pub(crate) pointer: String,
    /// Why, e.g. `-1 is less than the minimum of 0`.
    pub(crate) message: String,
    /// Whether the violation is a missing required property.
    pub(crate) missing_required: bool,
}

/// A compiled values schema.
#[derive(Debug, Clone)]
pub struct ValuesSchema {
    /// The schema document.
    pub(crate) document: serde_json::Value,
    validator: std::sync::Arc<jsonschema::Validator>,
}

impl ValuesSchema {
    /// Reads and compiles a schema file; remote `$ref`s are refused.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFailed {
            path: path.to_path_buf(),
            source,
        })?;
        let document: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::SchemaInvalid {
                path: path.to_path_buf(),
                message: format!("line {} column {}: {}", e.line(), e.column(), e),
            })?;
        Self::compile(path, document)
    }

    /// Compiles an already-parsed schema document.
    pub(crate) fn compile(path: &Path, document: serde_json::Value) -> Result<Self> {
        let validator = jsonschema::validator_for(&document).map_err(|e| Error::SchemaInvalid {
            path: path.to_path_buf(),
            message: format!("{}: {}", pointer_or_root(&e.schema_path().to_string()), e),
        })?;
        Ok(Self {
            document,
            validator: std::sync::Arc::new(validator),
        })
    }

    /// Every violation of the schema by `values`, in a stable order.
    pub(crate) fn violations(&self, values: &serde_json::Value) -> Vec<SchemaViolation> {
        if self.validator.is_valid(values) {
            return Vec::new();
        }
        let mut found: Vec<SchemaViolation> = self
            .validator
            .iter_errors(values)
            .map(|e| SchemaViolation {
                pointer: e.instance_path().to_string(),
                message: e.to_string(),
                missing_required: matches!(
                    e.kind(),
                    jsonschema::error::ValidationErrorKind::Required { .. }
                ),
            })
            .collect();
        found.sort_by(|a, b| (&a.pointer, &a.message).cmp(&(&b.pointer, &b.message)));
        found.dedup();
        found
    }
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}
