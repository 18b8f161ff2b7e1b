//! Migrating from Helm: decoding a release stored in the cluster into the custom resource that replaces it.
//!
//! [`release::decode`] reads a release record as Helm's Secret driver stores it;
//! [`plan::custom_resource`] turns it into a custom resource of a mapped kind (spec = the
//! release's user-supplied values, plus the adopt annotation); [`plan::plan`] says what the
//! switch-over does; [`helm_release`] reads the release and its live objects from a cluster
//! and puts these together for `tera-operator migrate helm-release`.

mod from_cluster;
pub mod helm_chart;
pub mod helm_operator;
pub(crate) mod live;
pub(crate) mod plan;
pub(crate) mod release;

pub use from_cluster::helm_release;
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
    /// Listing the release's Secrets failed (the cause follows in the error chain).
    #[error("listing Secrets -l {selector} in namespace {namespace}")]
    ListSecretsFailed {
        /// The label selector.
        selector: String,
        /// The namespace.
        namespace: String,
        /// The API error.
        source: Box<kube::Error>,
    },
    /// A revision that did not deploy came after the deployed one, and the live objects match
    /// neither: no revision's values are what runs.
    #[error(
        "release {release}: revision {newer} is {status} after revision {deployed} was deployed, and the live objects match neither, so no revision's values are what runs (migrating either would change running objects). Against revision {newer}: {newer_differences}. Against revision {deployed}: {deployed_differences}. Settle the release first (`helm rollback {release} {deployed}`, or a `helm upgrade` that succeeds), then migrate"
    )]
    NoRevisionRuns {
        /// The release name.
        release: String,
        /// The newer revision.
        newer: u64,
        /// Its status (`failed`, `pending-upgrade`, … or `not deployed`).
        status: String,
        /// The deployed revision.
        deployed: u64,
        /// How the live objects differ from the newer revision, `; `-separated.
        newer_differences: String,
        /// How the live objects differ from the deployed revision, `; `-separated.
        deployed_differences: String,
    },
    /// Finding the API of a kind the release made failed (the cause follows in the chain).
    #[error("finding the API of {kind} ({api_version})")]
    DiscoveryFailed {
        /// The kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
        /// The API error.
        source: Box<kube::Error>,
    },
    /// Reading a live object failed (the cause follows in the error chain).
    #[error("reading {object}")]
    ReadLiveFailed {
        /// `Kind namespace/name`.
        object: String,
        /// The API error.
        source: Box<kube::Error>,
    },
    /// The custom resource could not be written as YAML.
    #[error("writing the custom resource as YAML: {reason}")]
    SerializeFailed {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether the error is the user's (their release, mapping or chart) rather than the
    /// cluster's or ours: `migrate helm-release` exits 1 for those, 2 for the others.
    pub fn is_users(&self) -> bool {
        !matches!(
            self,
            Self::DiscoveryFailed { .. }
                | Self::ReadLiveFailed { .. }
                | Self::SerializeFailed { .. }
        )
    }
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
