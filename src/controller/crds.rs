//! `--install-crds`: server-side apply the CRD generated from a chart's values schema.

use crate::chart::Chart;
use crate::config::Watch;

/// Errors installing a CRD.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// CRD generation is not available in this build.
    #[error("generating the CRD of {kind} is not available yet")]
    GenerateFailed {
        /// The kind.
        kind: String,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Generates the CRD of `watch` from `chart` and applies it.
pub async fn install(_client: &kube::Client, watch: &Watch, _chart: &Chart) -> Result<()> {
    Err(Error::GenerateFailed {
        kind: watch.kind.clone(),
    })
}
