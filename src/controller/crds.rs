//! `--install-crds`: server-side apply the CRD generated from a chart's values schema.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, GroupVersionKind, Patch, PatchParams};

use super::apply::FIELD_MANAGER;
use crate::chart::Chart;
use crate::config::Watch;

/// How long a newly applied CRD may take to be served.
pub(crate) const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors installing a CRD.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The chart's schema does not make a valid CRD.
    #[error("generating the CRD of {kind} failed: {source}")]
    GenerateFailed {
        /// The kind.
        kind: String,
        /// What was wrong.
        source: crate::crd::Error,
    },
    /// The API server refused the CRD.
    #[error("applying the CRD of {kind} failed: {source}")]
    ApplyFailed {
        /// The kind.
        kind: String,
        /// The API error.
        source: kube::Error,
    },
    /// A CRD of that name already exists and serves another kind; it is not overwritten.
    #[error("CRD {name} already exists for kind {existing}; not overwriting it with kind {kind}")]
    NameTaken {
        /// The CRD name.
        name: String,
        /// The kind the existing CRD serves.
        existing: String,
        /// The kind that wanted the name.
        kind: String,
    },
    /// The existing CRD could not be read.
    #[error("reading the CRD {name} failed: {source}")]
    ReadFailed {
        /// The CRD name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// The CRD was applied but its kind was not served in time.
    #[error("the CRD of {kind} was applied but not served within {seconds}s")]
    NotEstablished {
        /// The kind.
        kind: String,
        /// The timeout.
        seconds: u64,
    },
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Generates the CRD of `watch` from `chart`, applies it, and waits until its kind is served.
pub(crate) async fn install(client: &kube::Client, watch: &Watch, chart: &Chart) -> Result<()> {
    let crd = crate::crd::for_chart(watch, chart).map_err(|source| Error::GenerateFailed {
        kind: watch.kind.clone(),
        source,
    })?;
    let name = crd.metadata.name.clone().unwrap_or_default();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let existing = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadFailed {
            name: name.clone(),
            source,
        })?;
    if let Some(existing) = existing
        && (existing.spec.names.kind != watch.kind || existing.spec.group != watch.group)
    {
        return Err(Error::NameTaken {
            name,
            existing: format!("{}/{}", existing.spec.group, existing.spec.names.kind),
            kind: format!("{}/{}", watch.group, watch.kind),
        });
    }
    let mut body = crate::crd::to_json(&crd).map_err(|source| Error::GenerateFailed {
        kind: watch.kind.clone(),
        source,
    })?;
    if let Some(object) = body.as_object_mut() {
        object.insert("apiVersion".into(), "apiextensions.k8s.io/v1".into());
        object.insert("kind".into(), "CustomResourceDefinition".into());
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| Error::ApplyFailed {
        kind: watch.kind.clone(),
        source,
    })?;
    tracing::info!(crd = %name, "CRD applied");
    let gvk = GroupVersionKind::gvk(&watch.group, &watch.version, &watch.kind);
    let deadline = tokio::time::Instant::now() + ESTABLISH_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if kube::discovery::pinned_kind(client, &gvk).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::NotEstablished {
        kind: watch.kind.clone(),
        seconds: ESTABLISH_TIMEOUT.as_secs(),
    })
}
