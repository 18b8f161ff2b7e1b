//! `--install-crds`: server-side apply the CRD generated from a chart's values schema, unless the change would break live resources.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, GroupVersionKind, ListParams, Patch, PatchParams};
use serde_json::Value;

use super::apply::FIELD_MANAGER;
use super::custom_resource::{CustomResource, Kind};
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
    /// The new schema would break live (or future) custom resources; the CRD is left as it is.
    #[error(
        "the CRD of {kind} was not updated: the new values.schema.json makes breaking changes: {}; fix the chart or the resources, or force it with --force-crd-changes",
        changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    BreakingChanges {
        /// The kind.
        kind: String,
        /// What would break.
        changes: Vec<crate::crd::BreakingChange>,
    },
    /// The live custom resources could not be listed to judge a schema change.
    #[error("listing the {kind} resources to check the CRD change failed: {source}")]
    ListFailed {
        /// The kind.
        kind: String,
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
/// When a CRD of the kind exists and its schema changes, the change is first checked against
/// the live resources ([`crate::crd::breaking_changes`]): a breaking one is refused unless
/// `force`, and then only logged.
pub(crate) async fn install(
    client: &kube::Client,
    watch: &Watch,
    chart: &Chart,
    force: bool,
) -> Result<()> {
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
    if let Some(existing) = &existing
        && (existing.spec.names.kind != watch.kind || existing.spec.group != watch.group)
    {
        return Err(Error::NameTaken {
            name,
            existing: format!("{}/{}", existing.spec.group, existing.spec.names.kind),
            kind: format!("{}/{}", watch.group, watch.kind),
        });
    }
    if let Some(existing) = &existing {
        let changes = breaking_changes(client, watch, existing, &crd).await?;
        if !changes.is_empty() {
            if !force {
                return Err(Error::BreakingChanges {
                    kind: watch.kind.clone(),
                    changes,
                });
            }
            let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
            tracing::warn!(crd = %name, changes = %changes.join("; "), "applying a breaking CRD change, as --force-crd-changes asks");
        }
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

/// The `openAPIV3Schema` of `crd`'s `version` as JSON (Null when it has none).
fn schema_of(crd: &CustomResourceDefinition, version: &str) -> Value {
    crd.spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| serde_json::to_value(&s.open_api_v3_schema).ok())
        .unwrap_or(Value::Null)
}

/// The breaking changes from `existing` to `generated`, judged with every live resource of
/// the kind; none (and no request) when the schema is unchanged.
async fn breaking_changes(
    client: &kube::Client,
    watch: &Watch,
    existing: &CustomResourceDefinition,
    generated: &CustomResourceDefinition,
) -> Result<Vec<crate::crd::BreakingChange>> {
    let old = schema_of(existing, &watch.version);
    let new = schema_of(generated, &watch.version);
    if old.is_null() || old == new {
        return Ok(Vec::new());
    }
    let resource = Kind::from(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&watch.group, &watch.version, &watch.kind),
        &existing.spec.names.plural,
    ));
    // Decoded as the controller decodes them, so that one resource nested too deeply fails
    // alone rather than the whole list.
    let live = Api::<CustomResource>::all_with(client.clone(), &resource)
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::ListFailed {
            kind: watch.kind.clone(),
            source,
        })?;
    let live: Vec<(String, Value)> = live
        .items
        .into_iter()
        .map(|o| {
            let name = format!(
                "{}/{}",
                o.metadata.namespace.as_deref().unwrap_or_default(),
                o.metadata.name.as_deref().unwrap_or_default()
            );
            (name, serde_json::to_value(o).unwrap_or(Value::Null))
        })
        .collect();
    Ok(crate::crd::breaking_changes(&old, &new, &live))
}
