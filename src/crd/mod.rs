//! CustomResourceDefinition generation from a chart's values.schema.json.
//!
//! [`generate`] builds one CRD per mapped kind: names from the kind and the chart's
//! `crd:` hints ([`crate::chart::CrdHints`]), a structural openAPIV3Schema whose `spec` is the chart's
//! values schema converted by [`structural_schema`], a typed `status`, the status
//! subresource and printer columns. [`to_yaml`] prints it byte-for-byte reproducibly.
//!
//! The CRD schema is allowed to be looser than values.schema.json, never stricter: the
//! operator validates the merged values against the full JSON Schema before every
//! render, so anything Kubernetes cannot express is left to that check (see
//! `structural.rs` for every keyword and what becomes of it).

mod check;
mod columns;
mod compat;
mod definition;
mod error;
mod from_chart;
mod junctors;
mod keywords;
mod names;
mod output;
mod refs;
mod relax;
mod status;
mod structural;
mod types;
mod validator;

use crate::chart::{CrdHints, PrinterColumn, Scope};
pub use check::check_structural;
pub use compat::{BreakingChange, breaking_changes};
pub(crate) use definition::{CrdSource, generate};
pub use error::{Error, Result};
pub(crate) use from_chart::for_chart;
pub use from_chart::generate_all;
pub(crate) use names::pluralize;
pub(crate) use output::{file_name, to_json, to_yaml};
pub(crate) use structural::structural_schema;
pub use validator::validator_schema;

pub(crate) use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

#[cfg(test)]
mod tests;
