//! Migrating from Helm: decoding a release stored in the cluster into the custom resource that replaces it.
//!
//! [`release::decode`] reads a release record as Helm's Secret driver stores it;
//! [`plan::custom_resource`] turns it into a custom resource of a mapped kind (spec = the
//! release's user-supplied values, plus the adopt annotation); [`plan::plan`] says what the
//! switch-over does. Nothing here talks to a cluster: `tera-operator migrate helm-release`
//! fetches the Secrets and prints the result.

pub mod plan;
pub mod release;

pub use plan::{custom_resource, manifest_objects, plan};
pub use release::{Release, decode, revision, secret_name};

/// Errors decoding a Helm release; each names the Secret and the step that failed.
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
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
