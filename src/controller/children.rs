//! Watching children: one label-filtered cache per child kind, and routing child changes to owners.
//!
//! Every object tera-operator renders carries `app.kubernetes.io/managed-by=tera-operator`, so
//! one watch per child kind (per namespace scope) filtered on that label sees all of them,
//! whichever custom resource kind owns them. A change is routed through the child's controller
//! ownerReference to the controller of the owning kind, which reconciles the owner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use futures::TryStreamExt as _;
use futures::channel::mpsc::UnboundedSender;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::task::JoinHandle;

use super::apply::{AppliedMemory, memory_key};
use super::child_store::{CachedChild, ChildStore, Refusal, Waiters};
use super::custom_resource::{CustomResource, Decoded, Kind};
use super::health::Liveness;
use super::held_events::{HeldEvents, owner_key};
use super::in_flight::InFlight;
use crate::render::{MANAGED_BY, MANAGED_BY_LABEL};

/// How long a new child watch may take to list its objects: reconciles needing it wait until
/// then, and fail at once (with the watch's error) when it has not listed by then.
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// Errors starting child watches.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The API server does not serve the child's kind.
    #[error("discovering {group_version}/{kind} failed: {source}")]
    DiscoveryFailed {
        /// `group/version` (or `version` for the core group).
        group_version: String,
        /// The kind.
        kind: String,
        /// The API error.
        source: kube::Error,
    },
    /// The child's kind turned out cluster-scoped: a namespaced owner cannot own it.
    #[error(
        "{kind} ({group_version}) is cluster-scoped: a namespaced custom resource cannot own it, so it can be neither garbage-collected nor pruned; remove it from allowedKinds"
    )]
    ClusterScoped {
        /// `group/version` (or `version` for the core group).
        group_version: String,
        /// The kind.
        kind: String,
    },
    /// The API server refused to list the child's kind (403: RBAC; 404: not served).
    #[error("listing {group_version}/{kind} failed: {message} ({code})")]
    WatchRefused {
        /// `group/version` (or `version` for the core group).
        group_version: String,
        /// The kind.
        kind: String,
        /// The HTTP status code.
        code: u16,
        /// The API server's message.
        message: String,
    },
    /// The child watch did not list its objects in time.
    #[error("the watch of {kind} did not sync within {seconds}s{}", last_error_suffix(.last_error))]
    WatchNotSynced {
        /// The kind.
        kind: String,
        /// The timeout.
        seconds: u64,
        /// The watch's latest error, if it reported one (a 403, a missing resource).
        last_error: Option<String>,
    },
}

fn last_error_suffix(last_error: &Option<String>) -> String {
    last_error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// `group/Kind` for an apiVersion and kind (`/ConfigMap` for the core group).
pub(crate) fn kind_key(api_version: &str, kind: &str) -> String {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    format!("{group}/{kind}")
}

/// The well-known group/version of common child kinds, so they can be watched before discovery.
pub(crate) fn builtin_gvk(kind: &str) -> Option<GroupVersionKind> {
    let builtin = k8s_rules::kinds::find(kind).filter(|k| k.namespaced)?;
    Some(GroupVersionKind::gvk(builtin.group, builtin.version, kind))
}

/// Where a reconcile request for an owner kind goes.
#[derive(Clone)]
struct Route {
    id: u64,
    namespace: Option<String>,
    resource: Kind,
    sender: UnboundedSender<ObjectRef<CustomResource>>,
}

type Routes = Arc<RwLock<HashMap<String, Vec<Route>>>>;

/// The cache of one child kind: one store per namespace scope.
pub(crate) struct ChildKind {
    /// The child's API resource.
    pub(crate) resource: ApiResource,
    stores: Vec<Arc<ChildStore>>,
    /// Started plus [`SYNC_TIMEOUT`]: how long reconciles wait for the first list.
    sync_deadline: tokio::time::Instant,
    /// The latest error of its watches, until they list again.
    last_error: Arc<Mutex<Option<String>>>,
    liveness: Arc<Liveness>,
    tasks: Vec<(u64, JoinHandle<()>)>,
}

impl Drop for ChildKind {
    fn drop(&mut self) {
        for (id, task) in &self.tasks {
            self.liveness.retire(*id);
            task.abort();
        }
    }
}

impl ChildKind {
    /// Waits until every store has listed its objects, at most until the sync deadline.
    /// `Err(Some(_))`: the API server refused a list; `Err(None)`: the deadline passed.
    async fn wait_synced(&self) -> Result<(), Option<Refusal>> {
        let deadline = self.sync_deadline;
        for store in &self.stores {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            store.wait_synced(left).await?;
        }
        Ok(())
    }

    fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// The cached object, if any.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<CachedChild>> {
        self.stores.iter().find_map(|s| s.get(namespace, name))
    }

    /// Every cached object owned by `uid` (see [`CachedChild::is_owned_by`]), with its resource.
    pub(crate) fn owned_by(&self, uid: &str) -> Vec<(ApiResource, Arc<CachedChild>)> {
        self.stores
            .iter()
            .flat_map(|s| s.owned_by(uid))
            .map(|o| (self.resource.clone(), o))
            .collect()
    }
}

/// One child kind's watch: started once, by whichever reconcile needs it first, and shared.
#[derive(Default)]
struct Slot {
    kind: tokio::sync::OnceCell<Arc<ChildKind>>,
    /// Whether the kind is in [`Children::snapshot`] (once it listed).
    listed: AtomicBool,
}

/// All child caches plus the routes from children to owner controllers.
///
/// Each child kind starts and syncs on its own: no lock is held across an API call or a wait,
/// so a kind whose watch cannot list (a 403, a missing CRD) delays only the reconciles that
/// render that kind, never another kind's.
pub(crate) struct Children {
    /// What tera-operator last applied to each child, kept in step with the caches.
    pub(crate) applied: Arc<AppliedMemory>,
    /// Our applies the caches have not delivered yet.
    pub(crate) in_flight: Arc<InFlight>,
    /// Resources waiting for a child another resource holds, woken by its watch events.
    pub(crate) waiters: Arc<Waiters>,
    /// The events held while their owner's reconcile runs.
    pub(crate) held: Arc<HeldEvents>,
    client: kube::Client,
    scopes: Vec<Option<String>>,
    liveness: Arc<Liveness>,
    kinds: Mutex<HashMap<String, Arc<Slot>>>,
    snapshot: RwLock<Vec<Arc<ChildKind>>>,
    routes: Routes,
    next_id: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Children {
    /// No caches yet; `scopes` are the namespaces watched (`None`: all); the watch tasks are
    /// supervised by `liveness`.
    pub(crate) fn new(
        client: kube::Client,
        scopes: Vec<Option<String>>,
        liveness: Arc<Liveness>,
    ) -> Self {
        Self {
            applied: Arc::default(),
            in_flight: Arc::default(),
            waiters: Arc::default(),
            held: Arc::default(),
            client,
            scopes,
            liveness,
            kinds: Mutex::default(),
            snapshot: RwLock::new(Vec::new()),
            routes: Arc::default(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Routes changes of children owned by `owner` objects in `namespace` (or all) to `sender`;
    /// returns an id for [`Children::unroute`].
    pub(crate) fn route(
        &self,
        owner: &ApiResource,
        namespace: Option<String>,
        sender: UnboundedSender<ObjectRef<CustomResource>>,
    ) -> u64 {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut routes) = self.routes.write() {
            routes
                .entry(kind_key(&owner.api_version, &owner.kind))
                .or_default()
                .push(Route {
                    id,
                    namespace,
                    resource: Kind::from(owner.clone()),
                    sender,
                });
        }
        id
    }

    /// Removes a route added by [`Children::route`].
    pub(crate) fn unroute(&self, id: u64) {
        if let Ok(mut routes) = self.routes.write() {
            for list in routes.values_mut() {
                list.retain(|r| r.id != id);
            }
        }
    }

    /// The cache of a child kind, starting its watch if needed and waiting until it listed, at
    /// most until [`SYNC_TIMEOUT`] after the watch started (so a watch that cannot list fails
    /// its later callers at once). Waits only on this kind.
    pub(crate) async fn ensure(&self, gvk: &GroupVersionKind) -> Result<Arc<ChildKind>> {
        let slot = self.slot(gvk);
        let kind = self.start_in(&slot, gvk).await?;
        match kind.wait_synced().await {
            Ok(()) => {}
            Err(Some(refusal)) => {
                return Err(Error::WatchRefused {
                    group_version: resource_group_version(gvk),
                    kind: gvk.kind.clone(),
                    code: refusal.code,
                    message: refusal.message,
                });
            }
            Err(None) => {
                return Err(Error::WatchNotSynced {
                    kind: gvk.kind.clone(),
                    seconds: SYNC_TIMEOUT.as_secs(),
                    last_error: kind.last_error(),
                });
            }
        }
        if !slot.listed.swap(true, Ordering::AcqRel)
            && let Ok(mut snapshot) = self.snapshot.write()
        {
            snapshot.push(kind.clone());
        }
        Ok(kind)
    }

    /// The slot of `gvk`, created empty if new. The map's lock is held for the lookup only.
    fn slot(&self, gvk: &GroupVersionKind) -> Arc<Slot> {
        let key = format!("{}/{}/{}", gvk.group, gvk.version, gvk.kind);
        lock(&self.kinds).entry(key).or_default().clone()
    }

    /// The watch of `slot`, started by the first caller; concurrent callers for the same kind
    /// wait for that start, a failed start is retried by the next caller.
    async fn start_in(&self, slot: &Slot, gvk: &GroupVersionKind) -> Result<Arc<ChildKind>> {
        slot.kind.get_or_try_init(|| self.watch(gvk)).await.cloned()
    }

    /// Discovers `gvk` and starts its watches, one per namespace scope.
    async fn watch(&self, gvk: &GroupVersionKind) -> Result<Arc<ChildKind>> {
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, gvk)
            .await
            .map_err(|source| Error::DiscoveryFailed {
                group_version: resource_group_version(gvk),
                kind: gvk.kind.clone(),
                source,
            })?;
        if caps.scope == kube::discovery::Scope::Cluster {
            return Err(Error::ClusterScoped {
                group_version: resource_group_version(gvk),
                kind: gvk.kind.clone(),
            });
        }
        let sync_deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
        let last_error = Arc::new(Mutex::new(None));
        let mut stores = Vec::new();
        let mut tasks = Vec::new();
        for scope in &self.scopes {
            let api: Api<Decoded> = match scope {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
                None => Api::all_with(self.client.clone(), &resource),
            };
            let store = Arc::new(ChildStore::default());
            let config =
                watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
            let stream = watcher(api, config).default_backoff().map_ok(decoded_event);
            let name = match scope {
                Some(ns) => format!("watch of {} in {ns}", resource_name(gvk)),
                None => format!("watch of {}", resource_name(gvk)),
            };
            tasks.push(self.liveness.spawn(
                name,
                follow_watch(
                    stream,
                    store.clone(),
                    resource.clone(),
                    Followers {
                        applied: self.applied.clone(),
                        in_flight: self.in_flight.clone(),
                        routes: self.routes.clone(),
                        held: self.held.clone(),
                        waiters: self.waiters.clone(),
                        last_error: last_error.clone(),
                    },
                ),
            ));
            stores.push(store);
        }
        Ok(Arc::new(ChildKind {
            resource,
            stores,
            sync_deadline,
            last_error,
            liveness: self.liveness.clone(),
            tasks,
        }))
    }

    /// Every cached object, of every watched child kind, owned by `uid`.
    pub(crate) fn owned_by(&self, uid: &str) -> Vec<(ApiResource, Arc<CachedChild>)> {
        let kinds = self.snapshot.read().map(|s| s.clone()).unwrap_or_default();
        kinds.iter().flat_map(|k| k.owned_by(uid)).collect()
    }
}

/// Who hears of a child watch's events besides its store.
struct Followers {
    applied: Arc<AppliedMemory>,
    in_flight: Arc<InFlight>,
    routes: Routes,
    held: Arc<HeldEvents>,
    waiters: Arc<Waiters>,
    /// The watch's latest error, cleared when it lists again.
    last_error: Arc<Mutex<Option<String>>>,
}

/// Keeps `store` in step with a child watch: caches every object, remembers observed
/// resourceVersions for [`AppliedMemory`], and tells the owner of every changed child.
async fn follow_watch(
    stream: impl futures::Stream<Item = watcher::Result<watcher::Event<DynamicObject>>>,
    store: Arc<ChildStore>,
    resource: ApiResource,
    followers: Followers,
) {
    let Followers {
        applied,
        in_flight,
        routes,
        held,
        waiters,
        last_error,
    } = followers;
    let mut stream = std::pin::pin!(stream);
    // Objects of a (re)list in progress; those cached before but missing once it is done were
    // deleted while the watch was down, and their owners must hear about it.
    let mut listed: Vec<CachedChild> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(watcher::Event::Apply(object)) => {
                let child = store.apply(typed(object, &resource));
                observe(&applied, &resource, &child);
                in_flight.observed(
                    &child_key(&resource, &child),
                    child.resource_version.as_deref(),
                );
                if !own_write(&applied, &resource, &child) {
                    route_change_to_owner(&routes, &held, &resource, &child);
                }
                wake_waiters(&routes, &waiters, &resource, &child, false);
            }
            Ok(watcher::Event::Delete(object)) => {
                let child = store.delete(object);
                forget(&applied, &resource, &child);
                in_flight.observed(
                    &child_key(&resource, &child),
                    child.resource_version.as_deref(),
                );
                route_to_owner(&routes, &child);
                wake_waiters(&routes, &waiters, &resource, &child, true);
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitApply(object)) => {
                let child = CachedChild::new(typed(object, &resource));
                observe(&applied, &resource, &child);
                // A relist (after a 410, say) delivers every child again: only those that
                // changed while the watch was down concern their owners.
                if changed_since_cached(&store, &child) {
                    route_change_to_owner(&routes, &held, &resource, &child);
                }
                listed.push(child);
            }
            Ok(watcher::Event::InitDone) => {
                for gone in store.replace_all(std::mem::take(&mut listed)) {
                    route_to_owner(&routes, &gone);
                    wake_waiters(&routes, &waiters, &resource, &gone, true);
                }
                applied.observe_all();
                in_flight.relisted(&resource);
                *lock(&last_error) = None;
            }
            Err(e) if history_expired(&e) => {
                tracing::debug!(kind = %resource.kind, error = %e, "child watch history expired; relisting")
            }
            Err(e) => {
                store.watch_failed(&e);
                tracing::warn!(kind = %resource.kind, error = %e, "child watch failed; retrying");
                *lock(&last_error) = Some(e.to_string());
            }
        }
    }
}

/// Whether a listed `child` differs from the cached one: new, or at another resourceVersion
/// (an object's every change gives it a new one).
fn changed_since_cached(store: &ChildStore, child: &CachedChild) -> bool {
    store
        .get(&child.namespace, &child.name)
        .is_none_or(|cached| cached.resource_version != child.resource_version)
}

/// A child watch's event with the [`DynamicObject`] it was decoded as.
fn decoded_event(event: watcher::Event<Decoded>) -> watcher::Event<DynamicObject> {
    match event {
        watcher::Event::Apply(object) => watcher::Event::Apply(object.0),
        watcher::Event::Delete(object) => watcher::Event::Delete(object.0),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(object) => watcher::Event::InitApply(object.0),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// `object` with its apiVersion and kind, which list items may leave out (readiness and the
/// comparison read the kind).
fn typed(mut object: DynamicObject, resource: &ApiResource) -> DynamicObject {
    if object.types.is_none() {
        object.types = Some(kube::api::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
    }
    object
}

/// Whether a watch error is the routine 410 Gone (the server compacted the history the watch
/// was at): the watcher relists at once, so it is no failure worth a warning.
pub(super) fn history_expired(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::WatchError(status) if status.code == 410)
}

/// `Kind (group/version)`, naming a watch task (`Kind (version)` for the core group).
fn resource_name(gvk: &GroupVersionKind) -> String {
    format!("{} ({})", gvk.kind, resource_group_version(gvk))
}

fn resource_group_version(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    }
}

/// The [`AppliedMemory`] key of a cached child.
fn child_key(resource: &ApiResource, child: &CachedChild) -> String {
    memory_key(
        &resource.group,
        &resource.kind,
        &child.namespace,
        &child.name,
    )
}

fn observe(applied: &AppliedMemory, resource: &ApiResource, child: &CachedChild) {
    if let Some(version) = &child.resource_version {
        applied.observe(&child_key(resource, child), version);
    }
}

/// Whether `child`, as a watch event delivers it, is the echo of our own apply.
fn own_write(applied: &AppliedMemory, resource: &ApiResource, child: &CachedChild) -> bool {
    child
        .resource_version
        .as_deref()
        .is_some_and(|version| applied.is_own_write(&child_key(resource, child), version))
}

fn forget(applied: &AppliedMemory, resource: &ApiResource, child: &CachedChild) {
    if let Some(version) = &child.resource_version {
        applied.deleted(&child_key(resource, child), version);
    }
}

/// Routes a changed (not deleted) `child` to its owner, unless the owner's reconcile runs:
/// then the change is held until it ends (see [`HeldEvents`]).
fn route_change_to_owner(
    routes: &Routes,
    held: &HeldEvents,
    resource: &ApiResource,
    child: &CachedChild,
) {
    let Some(owner) = &child.controller else {
        return;
    };
    let kind = kind_key(&owner.api_version, &owner.kind);
    let held_now = is_routed(routes, &kind, &child.namespace)
        && held.hold_child(
            &owner_key(&kind, &child.namespace, &owner.name),
            &child_key(resource, child),
            child.resource_version.as_deref(),
        );
    if !held_now {
        send(routes, &kind, &owner.name, &child.namespace);
    }
}

/// Whether changes of children owned by the `group/Kind` `key` in `namespace` go anywhere
/// (they do not for a kind mapped with `watchDependentResources: false`).
fn is_routed(routes: &Routes, key: &str, namespace: &str) -> bool {
    routes.read().is_ok_and(|routes| {
        routes
            .get(key)
            .into_iter()
            .flatten()
            .any(|route| route.namespace.as_deref().is_none_or(|ns| ns == namespace))
    })
}

fn route_to_owner(routes: &Routes, child: &CachedChild) {
    let Some(owner) = &child.controller else {
        return;
    };
    let key = kind_key(&owner.api_version, &owner.kind);
    send(routes, &key, &owner.name, &child.namespace);
}

/// Wakes the resources waiting for `child` if it was deleted or changed hands.
fn wake_waiters(
    routes: &Routes,
    waiters: &Waiters,
    resource: &ApiResource,
    child: &CachedChild,
    deleted: bool,
) {
    for waiter in waiters.woken(&resource.group, &resource.kind, child, deleted) {
        send(routes, &waiter.owner_kind, &waiter.name, &child.namespace);
    }
}

/// Asks the controller of the `group/Kind` `key` for `namespace` to reconcile `name`.
fn send(routes: &Routes, key: &str, name: &str, namespace: &str) {
    let Ok(routes) = routes.read() else {
        return;
    };
    for route in routes.get(key).into_iter().flatten() {
        if route.namespace.as_deref().is_none_or(|ns| ns == namespace) {
            let target = ObjectRef::new_with(name, route.resource.clone()).within(namespace);
            let _ = route.sender.unbounded_send(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(labels: serde_json::Value, owners: serde_json::Value) -> CachedChild {
        CachedChild::new(
            serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s", "namespace": "ns", "labels": labels, "ownerReferences": owners}
            }))
            .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    fn owner_ref(uid: &str, controller: bool) -> serde_json::Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
               "name": "hello", "uid": uid, "controller": controller})
    }

    #[test]
    fn kind_keys_drop_the_version() {
        assert_eq!(
            kind_key("web.tera-operator.io/v1alpha1", "WebServer"),
            "web.tera-operator.io/WebServer"
        );
        assert_eq!(kind_key("v1", "ConfigMap"), "/ConfigMap");
    }

    #[test]
    fn child_changes_route_to_the_owner_in_its_namespace() {
        let routes: Routes = Arc::default();
        let owner = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "web.tera-operator.io",
            "v1alpha1",
            "WebServer",
        ));
        let (tx_all, mut rx_all) = futures::channel::mpsc::unbounded();
        let (tx_other, mut rx_other) = futures::channel::mpsc::unbounded();
        if let Ok(mut r) = routes.write() {
            r.entry(kind_key(&owner.api_version, &owner.kind))
                .or_default()
                .extend([
                    Route {
                        id: 1,
                        namespace: None,
                        resource: Kind::from(owner.clone()),
                        sender: tx_all,
                    },
                    Route {
                        id: 2,
                        namespace: Some("other".into()),
                        resource: Kind::from(owner.clone()),
                        sender: tx_other,
                    },
                ]);
        }
        let child = object(json!({}), json!([owner_ref("u1", true)]));
        route_to_owner(&routes, &child);
        let got = rx_all.try_recv().ok();
        assert_eq!(
            got,
            Some(ObjectRef::new_with("hello", Kind::from(owner.clone())).within("ns"))
        );
        assert!(
            rx_other.try_recv().is_err(),
            "a route for another namespace got the request"
        );
        let unowned = object(json!({}), json!([owner_ref("u1", false)]));
        route_to_owner(&routes, &unowned);
        assert!(rx_all.try_recv().is_err());
    }

    #[test]
    fn a_child_change_waits_while_its_owner_reconciles() {
        let routes: Routes = Arc::default();
        let owner = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "web.tera-operator.io",
            "v1alpha1",
            "WebServer",
        ));
        let service = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Service"));
        let held = HeldEvents::default();
        let child = object(json!({}), json!([owner_ref("u1", true)]));
        let owner_key = owner_key("web.tera-operator.io/WebServer", "ns", "hello");
        held.start(&owner_key);
        route_change_to_owner(&routes, &held, &service, &child);
        assert_eq!(
            held.end(&owner_key),
            Default::default(),
            "no route for the owner's kind (watchDependentResources: false): nothing to hold"
        );
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        if let Ok(mut r) = routes.write() {
            r.entry(kind_key(&owner.api_version, &owner.kind))
                .or_default()
                .push(Route {
                    id: 1,
                    namespace: None,
                    resource: owner.clone().into(),
                    sender: tx,
                });
        }
        held.start(&owner_key);
        route_change_to_owner(&routes, &held, &service, &child);
        assert!(rx.try_recv().is_err(), "held while the owner reconciles");
        let released = held.end(&owner_key);
        assert_eq!(
            released.children,
            vec![(child_key(&service, &child), None)],
            "the child's key and (absent) resourceVersion"
        );
        route_change_to_owner(&routes, &held, &service, &child);
        assert_eq!(
            rx.try_recv().ok(),
            Some(ObjectRef::new_with("hello", Kind::from(owner.clone())).within("ns")),
            "after the reconcile, changes route at once"
        );
    }

    #[test]
    fn builtin_kinds_resolve() {
        assert_eq!(
            builtin_gvk("Deployment"),
            Some(GroupVersionKind::gvk("apps", "v1", "Deployment"))
        );
        assert_eq!(
            builtin_gvk("ConfigMap"),
            Some(GroupVersionKind::gvk("", "v1", "ConfigMap"))
        );
        assert_eq!(builtin_gvk("Widget"), None);
    }

    #[test]
    fn a_watch_that_did_not_sync_says_its_last_error() {
        let error = |last_error: Option<&str>| Error::WatchNotSynced {
            kind: "Secret".into(),
            seconds: 20,
            last_error: last_error.map(str::to_string),
        };
        assert_eq!(
            error(None).to_string(),
            "the watch of Secret did not sync within 20s"
        );
        assert_eq!(
            error(Some("secrets is forbidden (403)")).to_string(),
            "the watch of Secret did not sync within 20s: secrets is forbidden (403)"
        );
    }

    #[test]
    fn only_a_410_is_an_expired_history() {
        let status = |code| {
            watcher::Error::WatchError(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(history_expired(&status(410)));
        assert!(!history_expired(&status(403)));
        assert!(!history_expired(&status(500)));
        assert!(!history_expired(&watcher::Error::NoResourceVersion));
    }

    #[test]
    fn a_relisted_child_concerns_its_owner_only_when_it_changed() {
        let child = |version: &str| {
            CachedChild::new(
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "web", "namespace": "ns", "resourceVersion": version}
                }))
                .unwrap_or_else(|e| panic!("{e}")),
            )
        };
        let store = ChildStore::default();
        assert!(changed_since_cached(&store, &child("7")), "new");
        store.apply(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"}
            }))
            .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(!changed_since_cached(&store, &child("7")));
        assert!(changed_since_cached(&store, &child("8")));
    }
}
