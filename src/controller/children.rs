//! Watching children: one label-filtered cache per child kind, and routing child changes to owners.
//!
//! Every object tera-operator renders carries `app.kubernetes.io/managed-by=tera-operator`, so
//! one watch per child kind (per namespace scope) filtered on that label sees all of them,
//! whichever custom resource kind owns them. A change is routed through the child's controller
//! ownerReference to the controller of the owning kind, which reconciles the owner.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::task::JoinHandle;

use super::apply::{AppliedMemory, memory_key};
use crate::render::{MANAGED_BY, MANAGED_BY_LABEL, OWNER_UID_LABEL};

/// How long a new child watch may take to list its objects before reconciles give up on it.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// Errors starting child watches.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// The child watch did not list its objects in time.
    #[error("the watch of {kind} did not sync within {seconds}s")]
    WatchNotSynced {
        /// The kind.
        kind: String,
        /// The timeout.
        seconds: u64,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `group/Kind` for an apiVersion and kind (`/ConfigMap` for the core group).
pub fn kind_key(api_version: &str, kind: &str) -> String {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    format!("{group}/{kind}")
}

/// The controller ownerReference of an object, if any.
pub fn controller_owner(object: &DynamicObject) -> Option<&OwnerReference> {
    object
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether `object` is owned by the custom resource with `uid`: it carries the owner-uid label
/// **and** a controller ownerReference to that uid. Only such objects are ever pruned.
pub fn is_owned_by(object: &DynamicObject, uid: &str) -> bool {
    let labelled = object
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(OWNER_UID_LABEL))
        .is_some_and(|v| v == uid);
    labelled && controller_owner(object).is_some_and(|r| r.uid == uid)
}

/// The well-known group/version of common child kinds, so they can be watched before discovery.
pub fn builtin_gvk(kind: &str) -> Option<GroupVersionKind> {
    let (group, version) = match kind {
        "ConfigMap" | "Secret" | "Service" | "ServiceAccount" | "PersistentVolumeClaim" | "Pod" => {
            ("", "v1")
        }
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => ("apps", "v1"),
        "Job" | "CronJob" => ("batch", "v1"),
        "Ingress" | "NetworkPolicy" => ("networking.k8s.io", "v1"),
        "Role" | "RoleBinding" => ("rbac.authorization.k8s.io", "v1"),
        "PodDisruptionBudget" => ("policy", "v1"),
        "HorizontalPodAutoscaler" => ("autoscaling", "v2"),
        _ => return None,
    };
    Some(GroupVersionKind::gvk(group, version, kind))
}

/// Where a reconcile request for an owner kind goes.
#[derive(Clone)]
struct Route {
    id: u64,
    namespace: Option<String>,
    resource: ApiResource,
    sender: UnboundedSender<ObjectRef<DynamicObject>>,
}

type Routes = Arc<RwLock<HashMap<String, Vec<Route>>>>;

/// The cache of one child kind: one store per namespace scope.
pub struct ChildKind {
    /// The child's API resource.
    pub resource: ApiResource,
    stores: Vec<Store<DynamicObject>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ChildKind {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ChildKind {
    /// The cached object, if any.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let key = ObjectRef::new_with(name, self.resource.clone()).within(namespace);
        self.stores.iter().find_map(|s| s.get(&key))
    }

    /// Every cached object owned by `uid` (see [`is_owned_by`]), with its resource.
    pub fn owned_by(&self, uid: &str) -> Vec<(ApiResource, Arc<DynamicObject>)> {
        self.stores
            .iter()
            .flat_map(|s| s.state_filter(|o| is_owned_by(o, uid)))
            .map(|o| (self.resource.clone(), o))
            .collect()
    }
}

/// All child caches plus the routes from children to owner controllers.
pub struct Children {
    /// What tera-operator last applied to each child, kept in step with the caches.
    pub applied: Arc<AppliedMemory>,
    client: kube::Client,
    scopes: Vec<Option<String>>,
    kinds: tokio::sync::Mutex<HashMap<String, Arc<ChildKind>>>,
    snapshot: RwLock<Vec<Arc<ChildKind>>>,
    routes: Routes,
    next_id: std::sync::atomic::AtomicU64,
}

impl Children {
    /// No caches yet; `scopes` are the namespaces watched (`None`: all).
    pub fn new(client: kube::Client, scopes: Vec<Option<String>>) -> Self {
        Self {
            applied: Arc::default(),
            client,
            scopes,
            kinds: tokio::sync::Mutex::new(HashMap::new()),
            snapshot: RwLock::new(Vec::new()),
            routes: Arc::default(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Routes changes of children owned by `owner` objects in `namespace` (or all) to `sender`;
    /// returns an id for [`Children::unroute`].
    pub fn route(
        &self,
        owner: &ApiResource,
        namespace: Option<String>,
        sender: UnboundedSender<ObjectRef<DynamicObject>>,
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
                    resource: owner.clone(),
                    sender,
                });
        }
        id
    }

    /// Removes a route added by [`Children::route`].
    pub fn unroute(&self, id: u64) {
        if let Ok(mut routes) = self.routes.write() {
            for list in routes.values_mut() {
                list.retain(|r| r.id != id);
            }
        }
    }

    /// The cache of a child kind, starting its watch (and waiting for it to sync) if needed.
    pub async fn ensure(&self, gvk: &GroupVersionKind) -> Result<Arc<ChildKind>> {
        let key = format!("{}/{}/{}", gvk.group, gvk.version, gvk.kind);
        let mut kinds = self.kinds.lock().await;
        if let Some(kind) = kinds.get(&key) {
            return Ok(kind.clone());
        }
        let (resource, _caps) = kube::discovery::pinned_kind(&self.client, gvk)
            .await
            .map_err(|source| Error::DiscoveryFailed {
                group_version: resource_group_version(gvk),
                kind: gvk.kind.clone(),
                source,
            })?;
        let mut stores = Vec::new();
        let mut tasks = Vec::new();
        for scope in &self.scopes {
            let api: Api<DynamicObject> = match scope {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
                None => Api::all_with(self.client.clone(), &resource),
            };
            let writer = reflector::store::Writer::new(resource.clone());
            let store = writer.as_reader();
            let config =
                watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
            let routes = self.routes.clone();
            let kind_name = resource.kind.clone();
            let stream = watcher(api, config)
                .default_backoff()
                .modify(slim)
                .reflect(writer);
            let reader = store.clone();
            let dyntype = resource.clone();
            let applied = self.applied.clone();
            tasks.push(tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                // Objects cached when a (re)list started: those missing once it is done were
                // deleted while the watch was down, and their owners must hear about it.
                let mut before_relist: Vec<Arc<DynamicObject>> = Vec::new();
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(watcher::Event::Apply(child) | watcher::Event::InitApply(child)) => {
                            observe(&applied, &dyntype, &child);
                            route_to_owner(&routes, &child);
                        }
                        Ok(watcher::Event::Delete(child)) => {
                            observe(&applied, &dyntype, &child);
                            route_to_owner(&routes, &child);
                        }
                        Ok(watcher::Event::Init) => before_relist = reader.state(),
                        Ok(watcher::Event::InitDone) => {
                            applied.observe_all();
                            for gone in std::mem::take(&mut before_relist) {
                                let key = ObjectRef::from_obj_with(&*gone, dyntype.clone());
                                if reader.get(&key).is_none() {
                                    route_to_owner(&routes, &gone);
                                }
                            }
                        }
                        Err(e) => tracing::warn!(kind = %kind_name, error = %e, "child watch failed; retrying"),
                    }
                }
            }));
            stores.push(store);
        }
        let child = Arc::new(ChildKind {
            resource,
            stores,
            tasks,
        });
        for store in &child.stores {
            if !wait_synced(store, SYNC_TIMEOUT).await {
                return Err(Error::WatchNotSynced {
                    kind: gvk.kind.clone(),
                    seconds: SYNC_TIMEOUT.as_secs(),
                });
            }
        }
        kinds.insert(key, child.clone());
        if let Ok(mut snapshot) = self.snapshot.write() {
            snapshot.push(child.clone());
        }
        Ok(child)
    }

    /// Every cached object, of every watched child kind, owned by `uid`.
    pub fn owned_by(&self, uid: &str) -> Vec<(ApiResource, Arc<DynamicObject>)> {
        let kinds = self.snapshot.read().map(|s| s.clone()).unwrap_or_default();
        kinds.iter().flat_map(|k| k.owned_by(uid)).collect()
    }

    /// The resource of a watched child kind by apiVersion and kind.
    pub fn resource_of(&self, api_version: &str, kind: &str) -> Option<ApiResource> {
        let kinds = self.snapshot.read().ok()?;
        kinds
            .iter()
            .find(|k| k.resource.api_version == api_version && k.resource.kind == kind)
            .map(|k| k.resource.clone())
    }
}

/// Drops what caches never need from a watched object: managedFields and kubectl's
/// last-applied annotation (rendered objects never set either, so comparisons are unaffected).
pub fn slim(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Waits until `store` has listed its objects, at most `timeout`; returns whether it did.
///
/// kube's ready signal wakes only the most recent waiter, and the controller's runner waits on
/// its own store too, so this re-polls in short slices instead of waiting once.
pub async fn wait_synced(store: &Store<DynamicObject>, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Ok(result) =
            tokio::time::timeout(Duration::from_millis(50), store.wait_until_ready()).await
        {
            return result.is_ok();
        }
    }
    false
}

fn resource_group_version(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    }
}

fn observe(applied: &AppliedMemory, resource: &ApiResource, child: &DynamicObject) {
    if let Some(version) = &child.metadata.resource_version {
        let key = memory_key(
            &resource.api_version,
            &resource.kind,
            child.metadata.namespace.as_deref().unwrap_or_default(),
            child.metadata.name.as_deref().unwrap_or_default(),
        );
        applied.observe(&key, version);
    }
}

fn route_to_owner(routes: &Routes, child: &DynamicObject) {
    let Some(owner) = controller_owner(child) else {
        return;
    };
    let namespace = child.metadata.namespace.clone().unwrap_or_default();
    let key = kind_key(&owner.api_version, &owner.kind);
    let Ok(routes) = routes.read() else {
        return;
    };
    for route in routes.get(&key).into_iter().flatten() {
        if route.namespace.as_ref().is_none_or(|ns| *ns == namespace) {
            let target =
                ObjectRef::new_with(&owner.name, route.resource.clone()).within(&namespace);
            let _ = route.sender.unbounded_send(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(labels: serde_json::Value, owners: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": "ns", "labels": labels, "ownerReferences": owners}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn owner_ref(uid: &str, controller: bool) -> serde_json::Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
               "name": "hello", "uid": uid, "controller": controller})
    }

    #[test]
    fn owned_needs_label_and_controller_reference() {
        let both = object(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u1", true)]),
        );
        assert!(is_owned_by(&both, "u1"));
        assert!(!is_owned_by(&both, "u2"));
        let label_only = object(json!({OWNER_UID_LABEL: "u1"}), json!([]));
        assert!(!is_owned_by(&label_only, "u1"));
        let ref_only = object(json!({}), json!([owner_ref("u1", true)]));
        assert!(!is_owned_by(&ref_only, "u1"));
        let not_controller = object(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u1", false)]),
        );
        assert!(!is_owned_by(&not_controller, "u1"));
        let other_uid_ref = object(
            json!({OWNER_UID_LABEL: "u1"}),
            json!([owner_ref("u2", true)]),
        );
        assert!(!is_owned_by(&other_uid_ref, "u1"));
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
                        resource: owner.clone(),
                        sender: tx_all,
                    },
                    Route {
                        id: 2,
                        namespace: Some("other".into()),
                        resource: owner.clone(),
                        sender: tx_other,
                    },
                ]);
        }
        let child = object(json!({}), json!([owner_ref("u1", true)]));
        route_to_owner(&routes, &child);
        let got = rx_all.try_recv().ok();
        assert_eq!(
            got,
            Some(ObjectRef::new_with("hello", owner.clone()).within("ns"))
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
}
