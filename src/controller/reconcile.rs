//! One reconcile of one custom resource: render, apply what differs, prune, write status.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::SelectorExt as _;
use kube::runtime::controller::Action;
use kube::{Resource as _, ResourceExt as _};
use serde_json::{Value, json};

use super::adopt;
use super::apply::{
    self, add_desired_hash, desired_hash, matches_live, memory_key, server_side_apply,
};
use super::children;
use super::context::KindContext;
use super::prune::{self, ObjectKey};
use super::reason::Reason;
use super::status::{self, ChildStatus, Outcome};

/// How soon a resource whose children are not ready yet is looked at again (child events
/// usually trigger a reconcile sooner).
pub(crate) const PROGRESS_RECHECK: Duration = Duration::from_secs(30);

/// Errors of one reconcile; each is retried with per-object backoff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The custom resource could not be encoded as JSON.
    #[error("encoding {name} as JSON failed: {source}")]
    EncodeFailed {
        /// Name of the custom resource.
        name: String,
        /// The encoding error.
        source: serde_json::Error,
    },
    /// A child kind could not be watched, so its live state is unknown.
    #[error(transparent)]
    ChildWatchFailed(#[from] children::Error),
    /// Server-side apply of a child failed.
    #[error(transparent)]
    ApplyFailed(#[from] apply::Error),
    /// Deleting a child the chart no longer renders failed.
    #[error(transparent)]
    PruneFailed(#[from] prune::Error),
    /// Rendered objects already exist and are not this resource's to change (see
    /// [`super::adopt`]); nothing was applied.
    #[error("{}", .reasons.join("; "))]
    AdoptionRefused {
        /// One reason per refused object.
        reasons: Vec<String>,
    },
    /// The status subresource could not be written.
    #[error("writing the status of {namespace}/{name} failed: {source}")]
    StatusWriteFailed {
        /// Namespace of the custom resource.
        namespace: String,
        /// Name of the custom resource.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

impl Error {
    /// The metric / condition reason for this error.
    pub(crate) fn reason(&self) -> Reason {
        match self {
            Error::EncodeFailed { .. } => Reason::EncodeFailed,
            Error::ChildWatchFailed(_) | Error::ApplyFailed(_) => Reason::ApplyFailed,
            Error::PruneFailed(_) => Reason::PruneFailed,
            Error::AdoptionRefused { .. } => Reason::AdoptionRefused,
            Error::StatusWriteFailed { .. } => Reason::StatusWriteFailed,
        }
    }
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The annotation that pauses reconciliation of one resource (`"true"`), as Flux's `suspend`
/// or Cluster API's `paused` do.
pub(crate) const PAUSED_ANNOTATION: &str = "tera-operator.io/paused";

/// The key used for per-object backoff and logs: `namespace/name`.
pub(crate) fn object_key(object: &DynamicObject) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// Reconciles one custom resource (kube-runtime reconciler).
pub(crate) async fn reconcile(object: Arc<DynamicObject>, ctx: Arc<KindContext>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&object, &ctx).await;
    let metrics = &ctx.shared.metrics;
    metrics.reconciled(&ctx.key, started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => ctx.reconcile_settled(&object_key(&object)),
        Err(e) => metrics.failed(&ctx.key, e.reason()),
    }
    result
}

/// Decides when a failed reconcile is retried: per-object exponential backoff with a cap.
pub(crate) fn error_policy(
    object: Arc<DynamicObject>,
    error: &Error,
    ctx: Arc<KindContext>,
) -> Action {
    let key = object_key(&object);
    if !ctx.is_cached(&object) {
        // Deleted while this reconcile ran: nothing to retry, and no backoff to keep.
        tracing::debug!(kind = %ctx.key, object = %key, error = %error, "reconcile of a deleted resource failed");
        return Action::await_change();
    }
    let delay = ctx.reconcile_failed(&key);
    tracing::warn!(kind = %ctx.key, object = %key, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_inner(object: &DynamicObject, ctx: &KindContext) -> Result<Action> {
    let period = ctx.watch.reconcile_period;
    if object.metadata.deletion_timestamp.is_some() {
        if let Some(uid) = &object.metadata.uid {
            ctx.shared.events.forget(uid);
        }
        return Ok(Action::await_change());
    }
    if let Some(selector) = &ctx.watch.selector
        && !selector.matches(object.labels())
    {
        return Ok(Action::await_change());
    }
    let Some(uid) = object.metadata.uid.clone() else {
        return Ok(Action::await_change());
    };
    if is_paused(object) {
        return pause(ctx, object).await;
    }
    let Some(chart) = ctx.chart() else {
        return Ok(Action::requeue(period));
    };
    let namespace = object.namespace().unwrap_or_else(|| "default".to_string());
    let name = object.name_any();
    let reference = object.object_ref(&ctx.resource);
    let stale = chart.stale.as_deref();
    if let Some(why) = stale {
        publish(
            ctx,
            &reference,
            true,
            Reason::ChartReloadFailed,
            "Reload",
            why.to_string(),
        )
        .await;
    }
    let resource_json = serde_json::to_value(object).map_err(|source| Error::EncodeFailed {
        name: name.clone(),
        source,
    })?;
    let rendered = match chart.renderer.render(&resource_json, &namespace) {
        Ok(rendered) => rendered,
        Err(e) => {
            let why = Reason::of_render(&e);
            ctx.shared.metrics.failed(&ctx.key, why);
            tracing::info!(kind = %ctx.key, object = %object_key(object), reason = why.as_str(), error = %e, "not applying");
            let outcome = Outcome::Failed {
                reason: why,
                message: e.to_string(),
            };
            publish(ctx, &reference, true, why, "Render", e.to_string()).await;
            write_status(ctx, object, &outcome, stale).await?;
            // Retrying cannot help until the resource or the chart changes (both trigger a reconcile).
            return Ok(Action::requeue(period));
        }
    };

    let adopted = match check_adoption(ctx, &resource_json, &rendered.objects).await {
        Ok(adopted) => adopted,
        Err(e @ Error::AdoptionRefused { .. }) => {
            ctx.shared.metrics.failed(&ctx.key, Reason::AdoptionRefused);
            tracing::info!(kind = %ctx.key, object = %object_key(object), error = %e, "not applying");
            let outcome = Outcome::Failed {
                reason: Reason::AdoptionRefused,
                message: e.to_string(),
            };
            publish(
                ctx,
                &reference,
                true,
                Reason::AdoptionRefused,
                "Adopt",
                e.to_string(),
            )
            .await;
            write_status(ctx, object, &outcome, stale).await?;
            // The resource's annotation (or the objects' owners) must change first.
            return Ok(Action::requeue(period.min(PROGRESS_RECHECK)));
        }
        Err(e) => return Err(e),
    };

    match apply_all(ctx, &reference, rendered.objects).await {
        Ok(None) => {
            tracing::debug!(kind = %ctx.key, object = %object_key(object), "deleted meanwhile; nothing applied");
            Ok(Action::await_change())
        }
        Ok(Some((children, desired))) => {
            for (what, release) in adopted {
                publish(
                    ctx,
                    &reference,
                    false,
                    Reason::Adopted,
                    "Adopt",
                    format!("took over {what} from Helm release {release} in place"),
                )
                .await;
            }
            if let Err(e) = prune_undesired(ctx, &reference, &uid, &desired).await {
                let outcome = Outcome::Failed {
                    reason: Reason::PruneFailed,
                    message: e.to_string(),
                };
                if let Err(status_error) = write_status(ctx, object, &outcome, stale).await {
                    tracing::warn!(error = %status_error, "could not report the prune failure in status");
                }
                return Err(e);
            }
            let outcome = Outcome::Applied { children };
            let ready = outcome.is_ready();
            write_status(ctx, object, &outcome, stale).await?;
            Ok(Action::requeue(if ready {
                period
            } else {
                period.min(PROGRESS_RECHECK)
            }))
        }
        Err(e) => {
            let outcome = Outcome::Failed {
                reason: Reason::ApplyFailed,
                message: e.to_string(),
            };
            publish(
                ctx,
                &reference,
                true,
                Reason::ApplyFailed,
                "Apply",
                e.to_string(),
            )
            .await;
            if let Err(status_error) = write_status(ctx, object, &outcome, stale).await {
                tracing::warn!(error = %status_error, "could not report the apply failure in status");
            }
            Err(e)
        }
    }
}

/// Rendered objects that exist but are not in our caches (so not labelled as ours) are judged
/// by [`adopt::decide`]: Helm-managed ones are adopted when the resource opts in, anything else
/// refuses the whole apply. Returns `(Kind name, release)` of each object to adopt. Costs one
/// read per rendered object missing from the caches, so nothing in the steady state.
async fn check_adoption(
    ctx: &KindContext,
    owner: &Value,
    objects: &[Value],
) -> Result<Vec<(String, String)>> {
    let mut adopted = Vec::new();
    let mut refused = Vec::new();
    for object in objects {
        let Identity {
            api_version,
            kind,
            namespace,
            name,
        } = Identity::of(object);
        let cache = ctx
            .shared
            .children
            .ensure(&gvk_of(&api_version, &kind))
            .await?;
        if cache.get(&namespace, &name).is_some() {
            continue;
        }
        let api: Api<DynamicObject> = if namespace.is_empty() {
            Api::all_with(ctx.shared.client.clone(), &cache.resource)
        } else {
            Api::namespaced_with(ctx.shared.client.clone(), &namespace, &cache.resource)
        };
        // Only metadata decides (labels, annotations, ownerReferences). A failed read is left
        // to the apply that follows, which reports the real error.
        let Ok(Some(live)) = api.get_metadata_opt(&name).await else {
            continue;
        };
        let Ok(live) = serde_json::to_value(&live) else {
            continue;
        };
        match adopt::decide(Some(&live), object, owner, ctx.watch.adopt_helm_releases) {
            adopt::Decision::Create | adopt::Decision::Owned => {}
            adopt::Decision::Adopt { release } => adopted.push((format!("{kind} {name}"), release)),
            adopt::Decision::Refuse { reason } => refused.push(reason),
        }
    }
    if refused.is_empty() {
        Ok(adopted)
    } else {
        Err(Error::AdoptionRefused { reasons: refused })
    }
}

/// Where a rendered object lives: its apiVersion, kind, namespace and name (empty when absent).
struct Identity {
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Identity {
    fn of(object: &Value) -> Self {
        let text = |path: &[&str]| {
            path.iter()
                .try_fold(object, |v, key| v.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Self {
            api_version: text(&["apiVersion"]),
            kind: text(&["kind"]),
            namespace: text(&["metadata", "namespace"]),
            name: text(&["metadata", "name"]),
        }
    }
}

/// The group/version/kind of `apiVersion` + `kind` (`v1` is the core group).
fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// Whether the resource `reference` names still exists with the same uid (a live read).
/// A failed read counts as existing: the apply that follows reports the real error.
async fn owner_exists(ctx: &KindContext, reference: &ObjectReference) -> bool {
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.shared.client.clone(),
        reference.namespace.as_deref().unwrap_or_default(),
        &ctx.resource,
    );
    match api
        .get_opt(reference.name.as_deref().unwrap_or_default())
        .await
    {
        Ok(Some(live)) => live.metadata.uid == reference.uid,
        Ok(None) => false,
        Err(_) => true,
    }
}

/// Publishes an event about the resource (de-duplicated) and counts the write it cost.
async fn publish(
    ctx: &KindContext,
    reference: &ObjectReference,
    warning: bool,
    reason: Reason,
    action: &str,
    note: String,
) {
    if ctx
        .shared
        .events
        .publish(reference, warning, reason, action, note)
        .await
    {
        ctx.shared.metrics.wrote(&ctx.key, "event");
    }
}

/// Applies every rendered object that differs from its live version, in order; returns the
/// children's readiness and the set of desired object keys.
/// `Ok(None)` when the resource turned out to be gone (deleted while the cache still held it):
/// nothing is created for an owner that no longer exists.
async fn apply_all(
    ctx: &KindContext,
    reference: &ObjectReference,
    objects: Vec<Value>,
) -> Result<Option<(Vec<ChildStatus>, BTreeSet<ObjectKey>)>> {
    let shared = &ctx.shared;
    let mut owner_checked = false;
    let mut children = Vec::with_capacity(objects.len());
    let mut desired = BTreeSet::new();
    let mut applied = Vec::new();
    for mut object in objects {
        // As the API server will store it, so that the live object can match.
        k8s_rules::quantity::canonicalize_object(&mut object);
        add_desired_hash(&mut object);
        let Identity {
            api_version,
            kind,
            namespace,
            name,
        } = Identity::of(&object);
        let gvk = gvk_of(&api_version, &kind);
        let cache = shared.children.ensure(&gvk).await?;
        let live = cache.get(&namespace, &name);
        let key = memory_key(&api_version, &kind, &namespace, &name);
        let hash = desired_hash(&object).unwrap_or_default().to_string();
        let memory = &shared.children.applied;
        let live_version = live.as_ref().and_then(|l| l.resource_version.clone());
        let live_json = live.as_ref().map(|o| o.to_value());
        let in_sync = live_json.as_ref().is_some_and(|json| {
            matches_live(&object, json)
                || live_version
                    .as_deref()
                    .is_some_and(|v| memory.unchanged_since_apply(&key, &hash, v))
        });
        let not_ready = match (in_sync, live_json) {
            (true, Some(json)) => status::child_readiness(&json).err(),
            _ => match memory.cache_behind(&key, &hash) {
                // Our own write of this content has not reached the cache yet.
                Some(not_ready) => not_ready,
                None => {
                    // Creating a child: make sure the owner still exists first (the cache may
                    // still hold a resource whose deletion is taking its children with it).
                    if live_version.is_none() && !owner_checked {
                        if !owner_exists(ctx, reference).await {
                            return Ok(None);
                        }
                        owner_checked = true;
                    }
                    let result =
                        server_side_apply(&shared.client, &cache.resource, true, &object).await;
                    shared.metrics.wrote(&ctx.key, "apply");
                    let written = result?;
                    let written = serde_json::to_value(&written).unwrap_or(object.clone());
                    let not_ready = status::child_readiness(&written).err();
                    if let Some(version) = written
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                    {
                        memory.remember(&key, &hash, version, not_ready.clone());
                    }
                    shared
                        .metrics
                        .objects_applied
                        .get_or_create(&super::metrics::KindLabels {
                            kind: ctx.key.clone(),
                        })
                        .inc();
                    applied.push(format!("{kind} {name}"));
                    not_ready
                }
            },
        };
        children.push(ChildStatus {
            api_version: api_version.clone(),
            kind: kind.clone(),
            name: name.clone(),
            not_ready,
        });
        desired.insert((api_version, kind, namespace, name));
    }
    if !applied.is_empty() {
        tracing::info!(kind = %ctx.key, object = ?reference.name, applied = ?applied, "applied");
        publish(
            ctx,
            reference,
            false,
            Reason::Applied,
            "Apply",
            format!("applied {}", applied.join(", ")),
        )
        .await;
    }
    Ok(Some((children, desired)))
}

async fn prune_undesired(
    ctx: &KindContext,
    reference: &ObjectReference,
    uid: &str,
    desired: &BTreeSet<ObjectKey>,
) -> Result<()> {
    let shared = &ctx.shared;
    let owned = shared.children.owned_by(uid);
    let mut pruned = Vec::new();
    for (resource, object) in prune::select(&owned, uid, desired) {
        let result = prune::delete(&shared.client, resource, object).await;
        shared.metrics.wrote(&ctx.key, "delete");
        if let Err(e) = result {
            publish(
                ctx,
                reference,
                true,
                Reason::PruneFailed,
                "Prune",
                e.to_string(),
            )
            .await;
            return Err(e.into());
        }
        let pruned_key = memory_key(
            &resource.api_version,
            &resource.kind,
            &object.namespace,
            &object.name,
        );
        shared.children.applied.retain(|k| k != pruned_key);
        shared
            .metrics
            .objects_pruned
            .get_or_create(&super::metrics::KindLabels {
                kind: ctx.key.clone(),
            })
            .inc();
        pruned.push(format!("{} {}", resource.kind, object.name));
    }
    if !pruned.is_empty() {
        tracing::info!(kind = %ctx.key, object = ?reference.name, pruned = ?pruned, "pruned");
        publish(
            ctx,
            reference,
            false,
            Reason::Pruned,
            "Prune",
            format!("pruned {}", pruned.join(", ")),
        )
        .await;
    }
    Ok(())
}

/// Writes the status for `outcome` through the status subresource, only if it changed.
async fn write_status(
    ctx: &KindContext,
    object: &DynamicObject,
    outcome: &Outcome,
    stale: Option<&str>,
) -> Result<()> {
    let previous = object.data.get("status").filter(|s| s.is_object());
    let desired = status::desired_status(
        previous,
        object.metadata.generation,
        outcome,
        stale
            .map(|why| format!("the newest chart is broken, the last good one is serving: {why}"))
            .as_deref(),
        &status::now(),
    );
    patch_status(ctx, object, desired).await?;
    Ok(())
}

/// Whether the resource carries `tera-operator.io/paused: "true"`.
fn is_paused(object: &DynamicObject) -> bool {
    object
        .annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// A paused resource: nothing is rendered, applied or pruned, and drift is left alone; the
/// status says so (once). Removing the annotation is a change, which reconciles it again.
async fn pause(ctx: &KindContext, object: &DynamicObject) -> Result<Action> {
    let message = format!(
        "reconciliation is paused by the {PAUSED_ANNOTATION} annotation: the children are left as they are"
    );
    let previous = object.data.get("status").filter(|s| s.is_object());
    let desired = status::paused_status(previous, &message, &status::now());
    if patch_status(ctx, object, desired).await? {
        let reference = object.object_ref(&ctx.resource);
        publish(ctx, &reference, false, Reason::Paused, "Reconcile", message).await;
    }
    Ok(Action::await_change())
}

/// Writes `desired` through the status subresource unless the live status already says it;
/// returns whether it wrote.
async fn patch_status(ctx: &KindContext, object: &DynamicObject, desired: Value) -> Result<bool> {
    let previous = object.data.get("status").filter(|s| s.is_object());
    if !status::status_changed(previous, &desired) {
        return Ok(false);
    }
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.shared.client.clone(), &namespace, &ctx.resource);
    let result = api
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": desired })),
        )
        .await;
    ctx.shared.metrics.wrote(&ctx.key, "status");
    result.map_err(|source| Error::StatusWriteFailed {
        namespace,
        name,
        source,
    })?;
    Ok(true)
}
