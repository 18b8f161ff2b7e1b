//! Migrating from Helm: decoding a release stored in the cluster into the custom resource that replaces it.
//!
//! [`release::decode`] reads a release record as Helm's Secret driver stores it;
//! [`plan::custom_resource`] turns it into a custom resource of a mapped kind (spec = the
//! release's user-supplied values, plus the adopt annotation); [`plan::plan`] says what the
//! switch-over does. Nothing here talks to a cluster: `tera-operator migrate helm-release`
//! fetches the Secrets and prints the result.

pub mod helm_chart;
pub mod helm_operator;
pub(crate) mod live;
pub(crate) mod plan;
pub(crate) mod release;

pub use live::{
    Runs, differences, field_changes, manifest_documents, unmanaged_fields, which_runs,
};
pub use plan::{
    adoption_allowed, custom_resource, field_plan, manifest_objects, mapped_kind, plan,
    rendered_documents, rendered_objects,
};
pub use release::{Release, Stored, latest, newer_than, secret_selector};

/// Errors finding and decoding a Helm release, and checking its chart; each names what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The release data could not be decoded.
    #[error("Secret {secret}: decoding the Helm release failed at the {step} step: {reason}")]
    DecodeFailed {
        /// The release Secret.
        secret: String,
        /// `base64`, `gzip` or `JSON`.
        step: &'static str,
        /// Why.
        reason: String,
    },
    /// No release Secret of that name was found.
    #[error("no Helm release {release} in namespace {namespace}: no Secret labelled {selector}")]
    ReleaseNotFound {
        /// The release name.
        release: String,
        /// Its namespace.
        namespace: String,
        /// The label selector the Secrets were listed with.
        selector: String,
    },
    /// The chosen release Secret holds no release.
    #[error("Secret {namespace}/{secret} has no `{key}` key: not a Helm release record")]
    ReleaseKeyMissing {
        /// Namespace of the Secret.
        namespace: String,
        /// The Secret.
        secret: String,
        /// The missing key.
        key: &'static str,
    },
    /// No mapping entry serves the kind asked for.
    #[error("{mapping}: no mapping entry serves kind {kind} (mapped: {mapped})")]
    KindNotMapped {
        /// The mapping file.
        mapping: String,
        /// The kind.
        kind: String,
        /// The kinds that are mapped, comma-separated.
        mapped: String,
    },
    /// Several mapping entries serve the kind, in different groups.
    #[error("{mapping}: kind {kind} is mapped in several groups ({groups})")]
    KindMappedTwice {
        /// The mapping file.
        mapping: String,
        /// The kind.
        kind: String,
        /// The groups, comma-separated.
        groups: String,
    },
    /// The chart of the mapped kind could not be loaded.
    #[error(transparent)]
    ChartLoadFailed(#[from] crate::chart::Error),
    /// The custom resource does not render with the chart of its kind.
    #[error(transparent)]
    RenderFailed(#[from] crate::render::Error),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
