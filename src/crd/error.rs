//! The error type of CRD generation: what failed, in which file, at which JSON pointer.

use std::path::PathBuf;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a CRD could not be generated. Schema errors name the schema file and the JSON
/// pointer of the offending node (pointers follow the schema's structure with `$ref`s
/// expanded, so they read like the path of the value they describe).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node has type-specific validations but no `type` Kubernetes can use.
    #[error("{}: {}: `type` is required for a structural schema", .file.display(), at(.pointer))]
    TypeMissing {
        /// The values schema file.
        file: PathBuf,
        /// JSON pointer of the node.
        pointer: String,
    },
    /// A keyword or construct has no structural equivalent.
    #[error("{}: {}: {message}", .file.display(), at(.pointer))]
    SchemaUnsupported {
        /// The values schema file.
        file: PathBuf,
        /// JSON pointer of the node.
        pointer: String,
        /// What is wrong and why.
        message: String,
    },
    /// A `$ref` that cannot be inlined: not local, or pointing nowhere.
    #[error("{}: {}: cannot resolve $ref {reference:?}: {reason}", .file.display(), at(.pointer))]
    RefUnresolved {
        /// The values schema file.
        file: PathBuf,
        /// JSON pointer of the node holding the `$ref`.
        pointer: String,
        /// The `$ref` value.
        reference: String,
        /// Why it cannot be resolved.
        reason: String,
    },
    /// A `$ref` that refers to one of its own ancestors: CRD schemas cannot recurse.
    #[error(
        "{}: {}: $ref {reference:?} is recursive; a CRD schema cannot express recursion",
        .file.display(),
        at(.pointer)
    )]
    RefRecursive {
        /// The values schema file.
        file: PathBuf,
        /// JSON pointer of the node holding the `$ref`.
        pointer: String,
        /// The `$ref` value.
        reference: String,
    },
    /// The values schema's top level does not describe an object.
    #[error("{}: the top level must be an object schema (`\"type\": \"object\"`)", .file.display())]
    TopLevelNotObject {
        /// The values schema file.
        file: PathBuf,
    },
    /// A name (kind, group, version, plural, …) Kubernetes would refuse.
    #[error("Chart.yaml crd.{field}: {value:?} {reason}")]
    InvalidName {
        /// Which name: `kind`, `group`, `plural`, `shortNames`, …
        field: &'static str,
        /// The offending value.
        value: String,
        /// Why Kubernetes would refuse it.
        reason: String,
    },
    /// A scope other than Namespaced was asked for.
    #[error("Chart.yaml crd.scope: {0} is not supported yet; only Namespaced is")]
    ScopeUnsupported(String),
    /// A printer column Kubernetes would refuse.
    #[error("Chart.yaml crd.printerColumns: {name:?}: {reason}")]
    InvalidPrinterColumn {
        /// Column name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The generated schema would be refused by the API server: a `default` its own
    /// schema rejects, author-supplied `x-kubernetes-*` extensions used wrongly (or a
    /// bug in the conversion).
    #[error("{}: the API server would refuse the generated CRD schema:\n  {}", .file.display(), .violations.join("\n  "))]
    NotStructural {
        /// The values schema file.
        file: PathBuf,
        /// Every violation, each starting with its JSON pointer.
        violations: Vec<String>,
    },
    /// Converting between serde representations failed.
    #[error("converting the CRD to JSON failed: {0}")]
    JsonConversionFailed(#[from] serde_json::Error),
    /// The mapping file could not be loaded.
    #[error(transparent)]
    MappingLoadFailed(#[from] crate::config::Error),
    /// A mapped chart could not be loaded.
    #[error(transparent)]
    ChartLoadFailed(#[from] crate::chart::Error),
    /// Serializing the CRD as YAML failed.
    #[error("serializing the CRD as YAML failed: {0}")]
    YamlSerializationFailed(#[from] serde_yaml::Error),
}

/// Renders a JSON pointer for messages: the root (empty pointer) reads as `/`.
pub(crate) fn at(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}
