//! One reconcile of one custom resource: render, apply what differs, prune, write status.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::SelectorExt as _;
use kube::runtime::controller::Action;
use kube::{Resource as _, ResourceExt as _};
use serde_json::{Value, json};

use super::adopt;
use super::apply::{
    self, add_desired_hash, desired_hash, matches_live, memory_key, server_side_apply,
};
use super::child_store::{CachedChild, ChildId, Waiter};
use super::children;
use super::computed;
use super::context::KindContext;
use super::custom_resource::CustomResource;
use super::handover;
use super::in_flight::InFlight;
use super::prune;
use super::reason::Reason;
use super::status::{self, ChildStatus, Computed, Outcome};

/// How soon a resource whose children are not ready yet is looked at again (child events
/// usually trigger a reconcile sooner).
pub(crate) const PROGRESS_RECHECK: Duration = Duration::from_secs(30);

/// Errors of one reconcile. Conflicts and refusals are re-checked later (see
/// [`PROGRESS_RECHECK`]); the others are retried with per-object backoff.
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
    /// A child kind could not be watched (not served, forbidden), so its live state is
    /// unknown; nothing was applied.
    #[error("{}; nothing was applied", describe_watch_failure(.0))]
    ChildWatchFailed(#[from] children::Error),
    /// Reading a rendered object, to learn who owns it, failed; nothing was applied.
    #[error("reading {kind} {namespace}/{name} to learn who owns it failed: {}; nothing was applied", apply::api_error_text(.source))]
    ReadFailed {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// Server-side apply of a child failed.
    #[error(transparent)]
    ApplyFailed(#[from] apply::Error),
    /// Deleting a child the chart no longer renders failed.
    #[error(transparent)]
    PruneFailed(#[from] prune::Error),
    /// Rendered objects belong to other resources (see [`super::adopt`]); nothing was applied.
    #[error("{}: a child belongs to one resource, so nothing was applied; this {kind} takes them on once their owners delete them or stop rendering them", .conflicts.join("; "))]
    OwnershipConflict {
        /// The kind of the refused custom resource.
        kind: String,
        /// One per object, naming it and its owner.
        conflicts: Vec<String>,
    },
    /// Rendered objects already exist and are not this resource's to change (see
    /// [`super::adopt`]); nothing was applied.
    #[error("{}", .reasons.join("; "))]
    AdoptionRefused {
        /// One reason per refused object.
        reasons: Vec<String>,
    },
    /// A dry run of taking a Helm release over failed for one of its objects, so none of them
    /// was taken over (adoption is all or nothing).
    #[error(
        "nothing of Helm release {release} was taken over, since not all of it can be: a dry run failed: {source}"
    )]
    AdoptionFailed {
        /// The Helm release.
        release: String,
        /// The failed dry run.
        source: apply::Error,
    },
    /// Finishing a takeover failed: dropping Helm's managedFields entries from an object (see
    /// [`super::handover`]) or helm-operator's finalizer from the resource; retried.
    #[error("handing {kind} {namespace}/{name} over from Helm ({step}) failed: {}", apply::api_error_text(.source))]
    HandoverFailed {
        /// What was being done.
        step: &'static str,
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// The status subresource could not be written.
    #[error("writing the status of {namespace}/{name} failed: {}", apply::api_error_text(.source))]
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
            Error::ChildWatchFailed(e) => watch_failure_reason(e),
            Error::ReadFailed { source, .. } => api_reason(source),
            Error::ApplyFailed(apply::Error::ApplyFailed { source, .. }) => api_reason(source),
            Error::PruneFailed(_) => Reason::PruneFailed,
            Error::OwnershipConflict { .. } => Reason::OwnershipConflict,
            Error::AdoptionRefused { .. } => Reason::AdoptionRefused,
            Error::AdoptionFailed {
                source: apply::Error::ApplyFailed { source, .. },
                ..
            } => api_reason(source),
            Error::HandoverFailed { source, .. } => api_reason(source),
            Error::StatusWriteFailed { .. } => Reason::StatusWriteFailed,
        }
    }

    /// The event action of the step that failed.
    fn action(&self) -> &'static str {
        match self {
            Error::AdoptionRefused { .. }
            | Error::AdoptionFailed { .. }
            | Error::HandoverFailed { .. } => "Adopt",
            Error::PruneFailed(_) => "Prune",
            _ => "Apply",
        }
    }

    /// Whether this failure waits for someone else to act (the other owner, the object's
    /// maker) rather than being retried with backoff: re-checked after [`PROGRESS_RECHECK`],
    /// or at once when a freed child's watch event wakes the resource.
    fn waits_for_others(&self) -> bool {
        matches!(
            self,
            Error::OwnershipConflict { .. } | Error::AdoptionRefused { .. }
        )
    }
}

/// The HTTP status code of an API error, if it is one.
fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// `Forbidden` for a 403, else `ApplyFailed`.
fn api_reason(error: &kube::Error) -> Reason {
    match api_code(error) {
        Some(403) => Reason::Forbidden,
        _ => Reason::ApplyFailed,
    }
}

/// `KindNotServed` when discovery does not know the kind (404, or its group lacks it),
/// `Forbidden` when the operator may not discover, list or watch it, else `ApplyFailed`.
fn watch_failure_reason(error: &children::Error) -> Reason {
    match error {
        children::Error::DiscoveryFailed {
            source: kube::Error::Discovery(_),
            ..
        } => Reason::KindNotServed,
        children::Error::DiscoveryFailed { source, .. } => match api_code(source) {
            Some(404) => Reason::KindNotServed,
            Some(401 | 403) => Reason::Forbidden,
            _ => Reason::ApplyFailed,
        },
        children::Error::WatchRefused { code: 404, .. } => Reason::KindNotServed,
        children::Error::WatchRefused {
            code: 401 | 403, ..
        } => Reason::Forbidden,
        children::Error::ClusterScoped { .. } => Reason::PolicyViolation,
        _ => Reason::ApplyFailed,
    }
}

/// What a failure to watch a child kind means for the user: which kind of which group, why,
/// and what to check.
fn describe_watch_failure(error: &children::Error) -> String {
    let (group_version, kind, why) = match error {
        children::Error::DiscoveryFailed {
            group_version,
            kind,
            source,
        } => (group_version, kind, apply::api_error_text(source)),
        children::Error::WatchRefused {
            group_version,
            kind,
            code,
            message,
        } => (group_version, kind, format!("{message} ({code})")),
        children::Error::WatchNotSynced { .. } | children::Error::ClusterScoped { .. } => {
            return error.to_string();
        }
    };
    match watch_failure_reason(error) {
        Reason::KindNotServed => format!(
            "the API server does not serve kind {kind} of {group_version} (is its CustomResourceDefinition installed?): {why}"
        ),
        Reason::Forbidden => format!(
            "tera-operator may not list and watch kind {kind} of {group_version} (does its ClusterRole grant them? `tera-operator manifests` writes one for the kinds in allowedKinds): {why}"
        ),
        _ => format!("watching kind {kind} of {group_version} failed: {why}"),
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

/// `namespace/name` of the resource `reference` points at, as [`object_key`] writes it.
fn reference_key(reference: &ObjectReference) -> String {
    format!(
        "{}/{}",
        reference.namespace.as_deref().unwrap_or_default(),
        reference.name.as_deref().unwrap_or_default()
    )
}

/// Reconciles one custom resource (kube-runtime reconciler).
pub(crate) async fn reconcile(
    object: Arc<CustomResource>,
    ctx: Arc<KindContext>,
) -> Result<Action> {
    let started = Instant::now();
    // The cache keeps the resource's content packed (see `cr_cache`).
    let result = reconcile_inner(&super::cr_cache::unpacked(&object), &ctx).await;
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
    object: Arc<CustomResource>,
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
    tracing::warn!(kind = %ctx.key, object = %key, error = %error, retry_in = %format_args!("{:.3}s", delay.as_secs_f64()), "reconcile failed");
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
            write_status(ctx, object, &outcome, &Computed::Kept, stale).await?;
            // Retrying cannot help until the resource or the chart changes (both trigger a reconcile).
            return Ok(Action::requeue(period));
        }
    };

    // As the API server will store them (so that live objects can match), with the hash that
    // lets a removed field be seen.
    let mut objects = rendered.objects;
    for object in &mut objects {
        k8s_rules::quantity::canonicalize_object(object);
        add_desired_hash(object);
    }

    // Decided on the whole rendered set before anything is written.
    let adopted = match check_ownership(ctx, &resource_json, &uid, &objects).await {
        Ok(adopted) => adopted,
        Err(e) => {
            let message = e.to_string();
            return report_failure(ctx, object, &reference, stale, e, message).await;
        }
    };

    match apply_all(ctx, &reference, &objects).await {
        Applied::Gone => {
            tracing::debug!(kind = %ctx.key, object = %object_key(object), "deleted meanwhile; nothing applied");
            Ok(Action::await_change())
        }
        Applied::Done { children, desired } => {
            for (release, what) in adopted {
                publish(
                    ctx,
                    &reference,
                    false,
                    Reason::Adopted,
                    "Adopt",
                    format!(
                        "took over {} from Helm release {release} in place",
                        what.join(", ")
                    ),
                )
                .await;
            }
            if ctx.watch.adopt_helm_releases
                && let Err(e) = release_helm_operator_finalizers(ctx, object).await
            {
                let message = e.to_string();
                return report_failure(ctx, object, &reference, stale, e, message).await;
            }
            let pruned = prune_undesired(ctx, &reference, &uid, &desired).await;
            // Everything is applied (and what prune could delete is deleted): the status
            // fields describe the children as they now are, and so does their readiness.
            let (children, live) = live_view(
                &ctx.shared.children.in_flight,
                children,
                ctx.shared.children.owned_by(&uid),
            );
            let computed = computed::compute(
                &chart.renderer,
                &resource_json,
                &namespace,
                &rendered.values,
                &live,
            );
            computed::report(ctx, &reference, &object_key(object), &computed).await;
            if let Err(e) = pruned {
                let outcome = Outcome::Failed {
                    reason: e.reason(),
                    message: e.to_string(),
                };
                if let Err(status_error) =
                    write_status(ctx, object, &outcome, &computed, stale).await
                {
                    tracing::warn!(error = %status_error, "could not report the prune failure in status");
                }
                return Err(e);
            }
            let outcome = Outcome::Applied { children };
            let ready = outcome.is_ready();
            write_status(ctx, object, &outcome, &computed, stale).await?;
            Ok(Action::requeue(if ready {
                period
            } else {
                period.min(PROGRESS_RECHECK)
            }))
        }
        Applied::Failed {
            error,
            applied,
            not_applied,
        } => {
            let list = |items: &[String]| {
                if items.is_empty() {
                    "none".to_string()
                } else {
                    items.join(", ")
                }
            };
            let message = format!(
                "{error}; applied: {}; not applied: {}",
                list(&applied),
                list(&not_applied)
            );
            report_failure(ctx, object, &reference, stale, error, message).await
        }
    }
}

/// Reports a failed reconcile on the resource: a Warning event and `Ready=False` with the
/// error's reason and `message`. A failure that waits for others (a conflict, a refusal) is
/// looked at again after [`PROGRESS_RECHECK`] at the latest; any other is returned, for the
/// error policy's backoff.
async fn report_failure(
    ctx: &KindContext,
    object: &DynamicObject,
    reference: &ObjectReference,
    stale: Option<&str>,
    error: Error,
    message: String,
) -> Result<Action> {
    let reason = error.reason();
    tracing::info!(kind = %ctx.key, object = %object_key(object), reason = reason.as_str(), error = %message, "not applied");
    publish(
        ctx,
        reference,
        true,
        reason,
        error.action(),
        message.clone(),
    )
    .await;
    let outcome = Outcome::Failed { reason, message };
    if error.waits_for_others() {
        ctx.shared.metrics.failed(&ctx.key, reason);
        write_status(ctx, object, &outcome, &Computed::Kept, stale).await?;
        return Ok(Action::requeue(
            ctx.watch.reconcile_period.min(PROGRESS_RECHECK),
        ));
    }
    if let Err(status_error) = write_status(ctx, object, &outcome, &Computed::Kept, stale).await {
        tracing::warn!(error = %status_error, "could not report the failure in status");
    }
    Err(error)
}

/// Decides, before anything is written, whether every rendered object is this resource's to
/// apply (see [`adopt::decide`]); returns the Helm releases to adopt with their objects
/// (`Kind name`).
///
/// Objects in the child caches (everything tera-operator manages) are judged by their cached
/// metadata, so a settled resource costs no request. Any object held by another resource is a
/// conflict: nothing is applied, and the resource is woken when that object is deleted or
/// changes hands. Objects missing from the caches are read (one request each); an object
/// that exists and is not ours refuses the whole apply, unless it belongs to a Helm release
/// this resource may adopt. A Helm release is adopted whole or not at all: every object to
/// take over is first applied as a dry run, and if any of them fails none is taken.
async fn check_ownership(
    ctx: &KindContext,
    owner: &Value,
    uid: &str,
    objects: &[Value],
) -> Result<Vec<(String, Vec<String>)>> {
    let allowed = ctx.watch.adopt_helm_releases;
    let mut conflicts = Vec::new();
    let mut refused = Vec::new();
    let mut missing = Vec::new();
    for object in objects {
        let id = Identity::of(object);
        let cache = ctx
            .shared
            .children
            .ensure(&gvk_of(&id.api_version, &id.kind))
            .await?;
        let Some(child) = cache.get(&id.namespace, &id.name) else {
            missing.push((object, cache));
            continue;
        };
        if child.is_held_by(uid) {
            continue;
        }
        match adopt::decide(Some(&child.to_value()), object, owner, allowed) {
            adopt::Decision::Conflict { reason } => {
                let child_id = ChildId::new(&id.api_version, &id.kind, &id.namespace, &id.name);
                ctx.shared.children.waiters.wait(
                    child_id,
                    Waiter {
                        owner_kind: children::kind_key(
                            &ctx.resource.api_version,
                            &ctx.resource.kind,
                        ),
                        name: str_at(owner, "/metadata/name").to_string(),
                        holder: child.holder().map(str::to_string),
                    },
                );
                conflicts.push(reason);
            }
            adopt::Decision::Refuse { reason } => refused.push(reason),
            adopt::Decision::Create | adopt::Decision::Owned | adopt::Decision::Adopt { .. } => {
                // Not decidable from the cache alone: read it.
                missing.push((object, cache));
            }
        }
    }
    if !conflicts.is_empty() {
        // Decided without reading anything: a standoff costs no request.
        return Err(Error::OwnershipConflict {
            kind: ctx.resource.kind.clone(),
            conflicts,
        });
    }
    let mut adopt = Vec::new();
    for (object, cache) in missing {
        let id = Identity::of(object);
        let api: Api<DynamicObject> = if id.namespace.is_empty() {
            Api::all_with(ctx.shared.client.clone(), &cache.resource)
        } else {
            Api::namespaced_with(ctx.shared.client.clone(), &id.namespace, &cache.resource)
        };
        // Only metadata decides (labels, annotations, ownerReferences).
        let live = api
            .get_metadata_opt(&id.name)
            .await
            .map_err(|source| Error::ReadFailed {
                kind: id.kind.clone(),
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                source,
            })?;
        let Some(live) = live else {
            continue;
        };
        let live = serde_json::to_value(&live).unwrap_or(Value::Null);
        match adopt::decide(Some(&live), object, owner, allowed) {
            adopt::Decision::Create | adopt::Decision::Owned => {}
            adopt::Decision::Adopt { release } => adopt.push((release, object, cache)),
            adopt::Decision::Conflict { reason } => conflicts.push(reason),
            adopt::Decision::Refuse { reason } => refused.push(reason),
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::OwnershipConflict {
            kind: ctx.resource.kind.clone(),
            conflicts,
        });
    }
    if !refused.is_empty() {
        return Err(Error::AdoptionRefused { reasons: refused });
    }
    let mut releases: Vec<(String, Vec<String>)> = Vec::new();
    for (release, object, cache) in adopt {
        server_side_apply(&ctx.shared.client, &cache.resource, true, object, true)
            .await
            .map_err(|source| Error::AdoptionFailed {
                release: release.clone(),
                source,
            })?;
        let id = Identity::of(object);
        let what = format!("{} {}", id.kind, id.name);
        match releases.iter_mut().find(|(r, _)| *r == release) {
            Some((_, objects)) => objects.push(what),
            None => releases.push((release, vec![what])),
        }
    }
    Ok(releases)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
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
    let api: Api<CustomResource> = Api::namespaced_with(
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

/// How [`apply_all`] ended.
enum Applied {
    /// The resource turned out to be gone (deleted while the cache still held it): nothing is
    /// created for an owner that no longer exists.
    Gone,
    /// Every object is applied: the children's readiness and the identities of the desired set.
    Done {
        /// Every rendered child, in apply order.
        children: Vec<ChildStatus>,
        /// The identities of the rendered objects.
        desired: BTreeSet<ChildId>,
    },
    /// An apply failed; the objects before it are applied (`Kind name`), it and the rest not.
    Failed {
        /// The failure.
        error: Error,
        /// Objects live as rendered (written now or already in sync).
        applied: Vec<String>,
        /// The object that failed and those after it.
        not_applied: Vec<String>,
    },
}

/// Applies every rendered object (canonical, with its desired hash) that differs from its live
/// version, in order, stopping at the first failure.
async fn apply_all(ctx: &KindContext, reference: &ObjectReference, objects: &[Value]) -> Applied {
    let mut owner_checked = false;
    let mut children = Vec::with_capacity(objects.len());
    let mut desired = BTreeSet::new();
    let mut applied = Vec::new();
    let mut written = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        let id = Identity::of(object);
        let result = apply_one(ctx, reference, object, &id, &mut owner_checked).await;
        let readiness = match result {
            Ok(Some(readiness)) => {
                if readiness.wrote != Wrote::Nothing {
                    written.push((format!("{} {}", id.kind, id.name), readiness.wrote));
                }
                readiness
            }
            Ok(None) => return Applied::Gone,
            Err(error) => {
                announce_applied(ctx, reference, &written).await;
                return Applied::Failed {
                    error,
                    applied,
                    not_applied: objects[index..]
                        .iter()
                        .map(|o| {
                            let id = Identity::of(o);
                            format!("{} {}", id.kind, id.name)
                        })
                        .collect(),
                };
            }
        };
        applied.push(format!("{} {}", id.kind, id.name));
        desired.insert(ChildId::new(
            &id.api_version,
            &id.kind,
            &id.namespace,
            &id.name,
        ));
        children.push(ChildStatus {
            api_version: id.api_version,
            kind: id.kind,
            name: id.name,
            namespace: id.namespace,
            not_ready: readiness.not_ready,
            seen_at: readiness.seen_at,
        });
    }
    announce_applied(ctx, reference, &written).await;
    Applied::Done { children, desired }
}

/// The rendered children and their cached live objects as one consistent view: an object
/// whose apply the cache has not delivered yet stands in as the server answered it (see
/// [`super::in_flight`]), and each child's readiness is that of the object the status fields
/// are computed from when it is newer than the one its readiness was worked out from at apply
/// time (a Deployment that became ready meanwhile).
fn live_view(
    in_flight: &InFlight,
    mut children: Vec<ChildStatus>,
    mut live: Vec<(ApiResource, Arc<CachedChild>)>,
) -> (Vec<ChildStatus>, Vec<(ApiResource, Arc<CachedChild>)>) {
    let version = |v: Option<&str>| v.and_then(|v| v.parse::<u64>().ok());
    for child in &mut children {
        let group = child.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let is_child = |(resource, cached): &(ApiResource, Arc<CachedChild>)| {
            resource.group == group
                && resource.kind == child.kind
                && *cached.name == *child.name
                && *cached.namespace == *child.namespace
        };
        let index = live.iter().position(is_child);
        let cached_version = index.and_then(|i| live[i].1.resource_version.as_deref());
        let key = memory_key(group, &child.kind, &child.namespace, &child.name);
        let written = in_flight.newer_than(&key, cached_version);
        let index = match (index, written) {
            (Some(i), Some(written)) => {
                live[i] = written;
                Some(i)
            }
            (None, Some(written)) => {
                live.push(written);
                Some(live.len() - 1)
            }
            (index, None) => index,
        };
        let Some((_, current)) = index.map(|i| &live[i]) else {
            continue;
        };
        let current_version = version(current.resource_version.as_deref());
        let newer = match (current_version, version(child.seen_at.as_deref())) {
            (Some(current), Some(seen)) => current > seen,
            _ => false,
        };
        if newer {
            child.not_ready = current.not_ready.as_deref().map(str::to_string);
            child.seen_at = current.resource_version.as_deref().map(str::to_string);
        }
    }
    (children, live)
}

/// What [`apply_one`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrote {
    /// Nothing: the live object already matched (or our write of it is still on its way).
    Nothing,
    /// The object did not exist (in the cache) and was created.
    Created,
    /// An existing object was changed: drift undone, or a new spec or chart applied.
    Changed,
}

/// Logs the objects written and, when an existing one was changed, publishes a Normal
/// `Applied` event naming all of them. Objects only created publish none: the status (the
/// children list, `Ready`) already says they exist, and at creation an event per resource is
/// one more write per resource that tells nothing new (see docs/production.md, "Events").
async fn announce_applied(
    ctx: &KindContext,
    reference: &ObjectReference,
    written: &[(String, Wrote)],
) {
    if written.is_empty() {
        return;
    }
    let changed = written.iter().any(|(_, wrote)| *wrote == Wrote::Changed);
    let names: Vec<&str> = written.iter().map(|(name, _)| name.as_str()).collect();
    let written = names.join(", ");
    tracing::info!(kind = %ctx.key, object = %reference_key(reference), applied = %written, "applied");
    if changed {
        publish(
            ctx,
            reference,
            false,
            Reason::Applied,
            "Apply",
            format!("applied {written}"),
        )
        .await;
    }
}

/// Applies one object unless its live version already matches; returns its readiness and
/// what was written, or `None` when the owner turned out to be gone.
async fn apply_one(
    ctx: &KindContext,
    reference: &ObjectReference,
    object: &Value,
    id: &Identity,
    owner_checked: &mut bool,
) -> Result<Option<Readiness>> {
    let shared = &ctx.shared;
    let gvk = gvk_of(&id.api_version, &id.kind);
    let cache = shared.children.ensure(&gvk).await?;
    let live = cache.get(&id.namespace, &id.name);
    let key = memory_key(&gvk.group, &id.kind, &id.namespace, &id.name);
    let hash = desired_hash(object).unwrap_or_default().to_string();
    let memory = &shared.children.applied;
    let live_version = live
        .as_ref()
        .and_then(|l| l.resource_version.as_deref().map(str::to_string));
    // Still at the version our apply of this content was answered with is the cheaper test:
    // the cached object is parsed only when it is not.
    let in_sync = live.as_ref().is_some_and(|live| {
        live_version
            .as_deref()
            .is_some_and(|v| memory.unchanged_since_apply(&key, &hash, v))
            || matches_live(object, &live.to_value())
    });
    let helm_fields = live.as_ref().is_some_and(|l| l.helm_fields);
    if in_sync {
        if helm_fields {
            hand_over(ctx, &cache.resource, id).await?;
        }
        let not_ready = live.as_ref().and_then(|l| l.not_ready.as_deref());
        return Ok(Some(Readiness {
            not_ready: not_ready.map(str::to_string),
            seen_at: live_version,
            wrote: Wrote::Nothing,
        }));
    }
    if let Some(not_ready) = memory.cache_behind(&key, &hash) {
        // Our own write of this content has not reached the cache yet.
        return Ok(Some(Readiness {
            not_ready,
            seen_at: memory.written_version(&key),
            wrote: Wrote::Nothing,
        }));
    }
    // Creating a child: make sure the owner still exists first (the cache may still hold a
    // resource whose deletion is taking its children with it).
    if live_version.is_none() && !*owner_checked {
        if !owner_exists(ctx, reference).await {
            return Ok(None);
        }
        *owner_checked = true;
    }
    let result = server_side_apply(&shared.client, &cache.resource, true, object, false).await;
    shared.metrics.wrote(&ctx.key, "apply");
    // The answer is cached once: its readiness, resourceVersion and Helm entries are worked
    // out there, as the child watch will when it delivers the same object.
    let written = Arc::new(CachedChild::new(result?));
    let helm_fields = helm_fields || written.helm_fields;
    let not_ready = written.not_ready.as_deref().map(str::to_string);
    let seen_at = written.resource_version.as_deref().map(str::to_string);
    shared
        .children
        .in_flight
        .wrote(&key, &cache.resource, written);
    if let Some(version) = &seen_at {
        memory.remember(&key, &hash, version, not_ready.clone());
    }
    shared
        .metrics
        .objects_applied
        .get_or_create(&super::metrics::KindLabels {
            kind: ctx.key.clone(),
        })
        .inc();
    if helm_fields {
        hand_over(ctx, &cache.resource, id).await?;
    }
    let wrote = if live_version.is_some() {
        Wrote::Changed
    } else {
        Wrote::Created
    };
    Ok(Some(Readiness {
        not_ready,
        seen_at,
        wrote,
    }))
}

/// What [`apply_one`] found or made of one child: its readiness, the resourceVersion that
/// readiness is of, and what was written.
struct Readiness {
    /// `None` when ready, else why not.
    not_ready: Option<String>,
    /// The resourceVersion `not_ready` was worked out from, when known.
    seen_at: Option<String>,
    /// What was written.
    wrote: Wrote,
}

/// Removes operator-sdk's helm-operator finalizers from the resource once every object it
/// renders is applied (see [`adopt::HELM_OPERATOR_FINALIZERS`]): with its release taken over,
/// nobody else would, and the resource could never be deleted.
async fn release_helm_operator_finalizers(ctx: &KindContext, object: &DynamicObject) -> Result<()> {
    let Some(kept) = adopt::without_helm_operator_finalizers(object.finalizers()) else {
        return Ok(());
    };
    let name = object.name_any();
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<CustomResource> =
        Api::namespaced_with(ctx.shared.client.clone(), &namespace, &ctx.resource);
    let patch = json!({"metadata": {
        "resourceVersion": object.metadata.resource_version,
        "finalizers": kept,
    }});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::HandoverFailed {
            step: "removing operator-sdk's helm-operator finalizer, which nobody would remove any more",
            kind: ctx.resource.kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
    ctx.shared.metrics.wrote(&ctx.key, "handover");
    tracing::info!(kind = %ctx.key, object = %object_key(object), "removed operator-sdk's helm-operator finalizer");
    Ok(())
}

/// Drops Helm's managedFields entries from the object `id` (see [`handover`]).
async fn hand_over(ctx: &KindContext, resource: &ApiResource, id: &Identity) -> Result<()> {
    let dropped =
        handover::drop_helm_entries(&ctx.shared.client, resource, &id.namespace, &id.name)
            .await
            .map_err(|source| Error::HandoverFailed {
                step: "dropping Helm's managedFields entries, so that values removed later leave the object",
                kind: id.kind.clone(),
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                source,
            })?;
    if dropped {
        ctx.shared.metrics.wrote(&ctx.key, "handover");
        tracing::info!(kind = %ctx.key, object = %format!("{} {}/{}", id.kind, id.namespace, id.name), "dropped Helm's managedFields entries");
    }
    Ok(())
}

async fn prune_undesired(
    ctx: &KindContext,
    reference: &ObjectReference,
    uid: &str,
    desired: &BTreeSet<ChildId>,
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
            &resource.group,
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
        tracing::info!(kind = %ctx.key, object = %reference_key(reference), pruned = %pruned.join(", "), "pruned");
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

/// Writes the status for `outcome` and the `computed` fields through the status subresource,
/// only if it changed.
async fn write_status(
    ctx: &KindContext,
    object: &DynamicObject,
    outcome: &Outcome,
    computed: &Computed,
    stale: Option<&str>,
) -> Result<()> {
    let previous = previous_status(ctx, object);
    let desired = status::desired_status(
        previous.as_ref(),
        object.metadata.generation,
        outcome,
        computed,
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
    let previous = previous_status(ctx, object);
    let desired = status::paused_status(previous.as_ref(), &message, &status::now());
    if patch_status(ctx, object, desired).await? {
        let reference = object.object_ref(&ctx.resource);
        publish(ctx, &reference, false, Reason::Paused, "Reconcile", message).await;
    }
    Ok(Action::await_change())
}

/// The resource's status as last written: ours, while the cache has not delivered our latest
/// write yet (see [`super::own_writes`]), else the cache's newest copy (newer than `object`
/// when the echo of our write arrived after this reconcile was dispatched: the write's pending
/// entry is gone by then, so `object`'s own status would be one write behind).
fn previous_status(ctx: &KindContext, object: &DynamicObject) -> Option<Value> {
    ctx.own_writes
        .written_status(&object_key(object))
        .or_else(|| ctx.latest_status(object))
        .or_else(|| object.data.get("status").cloned())
        .filter(Value::is_object)
}

/// Of a status write's answer, what is read: its resourceVersion (the rest is skipped).
#[derive(serde::Deserialize)]
struct WrittenMeta {
    metadata: WrittenVersion,
}

/// The metadata of [`WrittenMeta`].
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenVersion {
    resource_version: Option<String>,
}

/// Writes `desired` through the status subresource unless the live status already says it;
/// returns whether it wrote.
async fn patch_status(ctx: &KindContext, object: &DynamicObject, desired: Value) -> Result<bool> {
    let previous = previous_status(ctx, object);
    if !status::status_changed(previous.as_ref(), &desired) {
        return Ok(false);
    }
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    // As `Api::patch_status` sends it, but of the answer only the resourceVersion is read:
    // parsing the whole resource again cost a share of the operator's CPU.
    let result = async {
        let mut request =
            kube::core::Request::new(CustomResource::url_path(&ctx.resource, Some(&namespace)))
                .patch_subresource(
                    "status",
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "status": &desired })),
                )
                .map_err(kube::Error::BuildRequest)?;
        request.extensions_mut().insert("patch_status");
        ctx.shared.client.request::<WrittenMeta>(request).await
    }
    .await;
    ctx.shared.metrics.wrote(&ctx.key, "status");
    let written = result.map_err(|source| Error::StatusWriteFailed {
        namespace,
        name,
        source,
    })?;
    if let Some(version) = written.metadata.resource_version {
        ctx.own_writes.wrote(object_key(object), version, desired);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(version: &str, available: i64) -> Arc<CachedChild> {
        let object = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": version,
                         "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": available,
                       "conditions": [{"type": "Available", "status": "True"}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(CachedChild::new(object))
    }

    fn applied(kind: &str, api_version: &str, seen_at: Option<&str>) -> ChildStatus {
        ChildStatus {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "web".into(),
            namespace: "ns".into(),
            not_ready: Some("not yet".into()),
            seen_at: seen_at.map(str::to_string),
        }
    }

    #[test]
    fn readiness_follows_a_newer_cached_child_only() {
        let resource = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let none = InFlight::default();
        let live = vec![(resource.clone(), deployment("7", 1))];
        let (fresher, _) = live_view(
            &none,
            vec![applied("Deployment", "apps/v1", Some("5"))],
            live.clone(),
        );
        assert_eq!(
            fresher[0].not_ready, None,
            "the cache is newer than the apply"
        );
        assert_eq!(fresher[0].seen_at.as_deref(), Some("7"));

        for stays in [
            applied("Deployment", "apps/v1", Some("7")),
            applied("Deployment", "apps/v1", Some("9")),
            applied("Deployment", "apps/v1", None),
            applied("Deployment", "extensions/v1beta1", Some("5")),
            applied("StatefulSet", "apps/v1", Some("5")),
        ] {
            let (kept, _) = live_view(&none, vec![stays.clone()], live.clone());
            assert_eq!(kept, vec![stays]);
        }
        let unready = vec![(resource, deployment("8", 0))];
        let (fresher, _) = live_view(
            &none,
            vec![applied("Deployment", "apps/v1", Some("5"))],
            unready,
        );
        assert_eq!(
            fresher[0].not_ready.as_deref(),
            Some("0 of 1 replicas available, 1 updated")
        );
    }

    #[test]
    fn a_write_the_cache_has_not_delivered_stands_in_for_the_cached_child() {
        let resource = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let in_flight = InFlight::default();
        let key = memory_key("apps", "Deployment", "ns", "web");
        in_flight.wrote(&key, &resource, deployment("9", 0));
        let live = vec![(resource.clone(), deployment("7", 1))];
        let (children, view) = live_view(
            &in_flight,
            vec![applied("Deployment", "apps/v1", Some("9"))],
            live,
        );
        assert_eq!(view.len(), 1);
        assert_eq!(view[0].1.resource_version.as_deref(), Some("9"));
        assert!(children[0].not_ready.is_some(), "as written: not ready");

        // Not cached at all yet: the write is the only view of it.
        let (_, view) = live_view(
            &in_flight,
            vec![applied("Deployment", "apps/v1", Some("9"))],
            Vec::new(),
        );
        assert_eq!(view.len(), 1);
        // The cache caught up (and went past): the cache wins and the write is forgotten.
        let caught_up = vec![(resource, deployment("11", 1))];
        let (children, view) = live_view(
            &in_flight,
            vec![applied("Deployment", "apps/v1", Some("9"))],
            caught_up,
        );
        assert_eq!(view[0].1.resource_version.as_deref(), Some("11"));
        assert_eq!(children[0].not_ready, None);
        assert_eq!(in_flight.len(), 0);
    }
}
