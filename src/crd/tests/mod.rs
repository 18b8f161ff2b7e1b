//! Tests of CRD generation across modules: conversion tables, checks, a snapshot.

mod check;
mod generate;
mod random;
mod structural;
mod validator;

use std::path::Path;

use serde_json::{Value, json};

/// The schema file name the tests pretend to read.
pub(super) const FILE: &str = "charts/webserver/values.schema.json";

/// Converts `{type: object, properties: {x: schema}}` and returns the converted `x`.
pub(super) fn convert_property(schema: Value) -> Value {
    let root = json!({"type": "object", "properties": {"x": schema}});
    let out = super::structural_schema(&root, Path::new(FILE)).unwrap();
    out["properties"]["x"].clone()
}

/// The error message of converting `schema` (a whole values schema).
pub(super) fn conversion_error(schema: Value) -> String {
    super::structural_schema(&schema, Path::new(FILE))
        .unwrap_err()
        .to_string()
}
