//! `migrate helm-release` against a live cluster: read the release's Secrets and objects, decide which revision runs, write the custom resource and plan.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery;
use serde_json::Value;

use super::plan::object_key;
use super::{Error, Release, Result, Runs};
use crate::config::Watch;

/// The custom resource (YAML) that replaces Helm release `release` in `namespace` with a
/// resource of `watch`'s kind, read from the cluster behind `client`; with `plan`, preceded
/// by the switch-over plan as `#` comments. What the user should know but that does not stop
/// the migration (no deployed revision, a newer revision that did not deploy, values that do
/// not render, adoption not allowed) goes to `warn`, one sentence at a time.
pub async fn helm_release(
    client: &kube::Client,
    watch: &Watch,
    release: &str,
    namespace: &str,
    plan: bool,
    warn: &mut (dyn FnMut(String) + Send),
) -> Result<String> {
    let selector = super::secret_selector(release);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = secrets
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::ListSecretsFailed {
            selector: selector.clone(),
            namespace: namespace.to_string(),
            source: Box::new(source),
        })?;
    let stored = super::latest(release, namespace, &list.items)?;
    if !stored.deployed {
        warn(format!(
            "release {release} has no deployed revision; using revision {}",
            stored.revision
        ));
    }
    let mut helm = stored.decode()?;
    if let Some(newer) = super::newer_than(release, namespace, &list.items, &stored) {
        let newer = newer.decode()?;
        helm = what_runs(client, namespace, helm, newer, warn).await?;
    }
    let cr = super::custom_resource(&helm, watch, namespace);
    let documents = super::rendered_documents(watch, &cr, namespace)
        .inspect_err(|e| {
            warn(format!(
                "the release's values do not render with the {} chart: {e}",
                watch.kind
            ))
        })
        .ok();
    if !super::adoption_allowed(watch) {
        warn(format!(
            "the mapping entry of {} does not allow adopting Helm releases (adoptHelmReleases: true): the operator would take over nothing of release {release}",
            watch.kind
        ));
    }
    let mut out = String::new();
    if plan {
        let rendered = documents
            .as_ref()
            .map(|docs| docs.iter().filter_map(object_key).collect::<BTreeSet<_>>());
        out.push_str(&super::plan(
            &helm,
            watch,
            namespace,
            &super::manifest_objects(&helm.manifest),
            rendered.as_ref(),
            &stored.secrets,
        ));
        if let Some(documents) = &documents {
            out.push_str(&field_plan(client, namespace, &helm, documents).await?);
        }
    }
    let yaml = serde_yaml::to_string(&cr).map_err(|e| Error::SerializeFailed {
        reason: e.to_string(),
    })?;
    out.push_str(&yaml);
    Ok(out)
}

/// Of the deployed revision and a newer one that did not deploy (a failed or pending upgrade),
/// the one whose objects are what runs (see [`super::which_runs`]), saying so through `warn`;
/// an error when the live objects match neither. Never a silent rollback.
async fn what_runs(
    client: &kube::Client,
    namespace: &str,
    deployed: Release,
    newer: Release,
    warn: &mut (dyn FnMut(String) + Send),
) -> Result<Release> {
    let deployed_objects = super::manifest_documents(&deployed.manifest);
    let newer_objects = super::manifest_documents(&newer.manifest);
    let live = fetch_live(
        client,
        namespace,
        deployed_objects.iter().chain(&newer_objects),
    )
    .await?;
    let (n, m, name) = (newer.version, deployed.version, &newer.name);
    let status = if newer.status.is_empty() {
        "not deployed".to_string()
    } else {
        newer.status.clone()
    };
    match super::which_runs(
        super::differences(&newer_objects, &live),
        super::differences(&deployed_objects, &live),
    ) {
        Runs::Newer => {
            warn(format!(
                "revision {n} of release {name} is {status}, yet its objects are what runs (revision {m} is the last deployed): the custom resource takes revision {n}'s values, so that the switch-over changes nothing that runs (revision {m}'s would roll the objects back)"
            ));
            Ok(newer)
        }
        Runs::Deployed => {
            warn(format!(
                "revision {n} of release {name} is {status} and left the objects as revision {m} made them: the custom resource takes revision {m}'s values, which are what runs"
            ));
            Ok(deployed)
        }
        Runs::Neither {
            newer: n_diff,
            deployed: m_diff,
        } => Err(Error::NoRevisionRuns {
            release: name.clone(),
            newer: n,
            status,
            deployed: m,
            newer_differences: n_diff.join("; "),
            deployed_differences: m_diff.join("; "),
        }),
    }
}

/// The live objects of the given ones (by `kind/name`; `None`: absent).
async fn fetch_live<'a>(
    client: &kube::Client,
    namespace: &str,
    objects: impl Iterator<Item = &'a Value>,
) -> Result<BTreeMap<String, Option<Value>>> {
    let mut live = BTreeMap::new();
    for object in objects {
        let (Some(api_version), Some(kind), Some(name)) = (
            object.get("apiVersion").and_then(Value::as_str),
            object.get("kind").and_then(Value::as_str),
            object.pointer("/metadata/name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let key = format!("{kind}/{name}");
        if live.contains_key(&key) {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) =
            discovery::pinned_kind(client, &gvk)
                .await
                .map_err(|source| Error::DiscoveryFailed {
                    kind: kind.to_string(),
                    api_version: api_version.to_string(),
                    source: Box::new(source),
                })?;
        let api: Api<DynamicObject> = if capabilities.scope == discovery::Scope::Cluster {
            Api::all_with(client.clone(), &resource)
        } else {
            Api::namespaced_with(client.clone(), namespace, &resource)
        };
        let object = api
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadLiveFailed {
                object: format!("{kind} {namespace}/{name}"),
                source: Box::new(source),
            })?;
        live.insert(
            key,
            object.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)),
        );
    }
    Ok(live)
}

/// The field-level part of the plan: what the first apply changes on each object the release
/// has, and what the release set that the chart does not render.
async fn field_plan(
    client: &kube::Client,
    namespace: &str,
    helm: &Release,
    rendered: &[Value],
) -> Result<String> {
    let helm_objects: BTreeMap<String, Value> = super::manifest_documents(&helm.manifest)
        .into_iter()
        .filter_map(|o| Some((object_key(&o)?, o)))
        .collect();
    let adopted: Vec<&Value> = rendered
        .iter()
        .filter(|o| object_key(o).is_some_and(|k| helm_objects.contains_key(&k)))
        .collect();
    let live = fetch_live(client, namespace, adopted.iter().copied()).await?;
    let mut changes = BTreeMap::new();
    let mut unmanaged = BTreeMap::new();
    for desired in adopted {
        let Some(key) = object_key(desired) else {
            continue;
        };
        if let Some(Some(object)) = live.get(&key) {
            changes.insert(key.clone(), super::field_changes(desired, object));
        }
        if let Some(theirs) = helm_objects.get(&key) {
            unmanaged.insert(key, super::unmanaged_fields(theirs, desired));
        }
    }
    Ok(super::field_plan(&changes, &unmanaged))
}
