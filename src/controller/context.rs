//! What a reconcile needs: the client, caches, metrics and events shared by all kinds, plus one kind's chart.

use std::sync::{Arc, RwLock};

use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use kube::runtime::reflector::{ObjectRef, Store};

use super::backoff::{BASE_DELAY, Backoff, MAX_DELAY};
use super::children::Children;
use super::custom_resource::{CustomResource, Kind};
use super::events::EventSink;
use super::health::Liveness;
use super::metrics::Metrics;
use super::own_writes::OwnWrites;
use crate::config::Watch;
use crate::render::Renderer;
use serde_json::Value;

/// Dependencies shared by the controllers of every kind.
pub(crate) struct Shared {
    /// The API client.
    pub(crate) client: kube::Client,
    /// Child caches and owner routing.
    pub(crate) children: Arc<Children>,
    /// Event publisher.
    pub(crate) events: EventSink,
    /// Metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// The supervised tasks `/healthz` reports on.
    pub(crate) liveness: Arc<Liveness>,
    /// With sharding: the shards this replica serves (only their resources are reconciled).
    pub(crate) shards: Option<Arc<super::shard::Shards>>,
}

/// The chart serving a kind, and why it is stale if the newest version failed to load.
#[derive(Clone)]
pub(crate) struct ChartState {
    /// The last good chart.
    pub(crate) renderer: Arc<Renderer>,
    /// Set while the newest chart on disk is broken: what is wrong with it.
    pub(crate) stale: Option<String>,
}

/// Everything the reconcile of one mapped kind needs.
pub(crate) struct KindContext {
    /// Shared dependencies.
    pub(crate) shared: Arc<Shared>,
    /// The mapping entry.
    pub(crate) watch: Watch,
    /// The custom resource's API resource.
    pub(crate) resource: Kind,
    /// `group/Kind`, the kind's label in metrics and logs.
    pub(crate) key: String,
    chart: RwLock<ChartState>,
    /// The caches of this kind's custom resources (one per namespace scope).
    stores: RwLock<Vec<Store<CustomResource>>>,
    /// Per-object failure backoff, changed only through [`KindContext::reconcile_failed`] and
    /// [`KindContext::reconcile_settled`], which keep the metric in step.
    backoff: Backoff,
    /// Status writes whose watch events are still due (they trigger no reconcile).
    pub(crate) own_writes: OwnWrites,
}

impl KindContext {
    /// A context serving `watch` with `renderer`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        watch: Watch,
        resource: ApiResource,
        renderer: Renderer,
    ) -> Self {
        let key = format!("{}/{}", watch.group, watch.kind);
        Self {
            shared,
            watch,
            resource: Kind::from(resource),
            key,
            chart: RwLock::new(ChartState {
                renderer: Arc::new(renderer),
                stale: None,
            }),
            stores: RwLock::default(),
            backoff: Backoff::new(BASE_DELAY, MAX_DELAY),
            own_writes: OwnWrites::default(),
        }
    }

    /// Adds the cache of one namespace scope's custom resources.
    pub(crate) fn add_store(&self, store: Store<CustomResource>) {
        if let Ok(mut stores) = self.stores.write() {
            stores.push(store);
        }
    }

    /// Whether `object` is still cached (a deleted resource is gone from the cache before its
    /// Delete event is handled).
    pub(crate) fn is_cached(&self, object: &CustomResource) -> bool {
        let key = ObjectRef::from_obj_with(object, self.resource.clone());
        self.stores
            .read()
            .map(|stores| stores.iter().any(|s| s.get(&key).is_some()))
            .unwrap_or(true)
    }

    /// The status of the freshest cached copy of `object`. A reconcile gets the cache's copy
    /// as it was when the reconcile was dispatched; the watch may have delivered a newer one
    /// since (our own last status write, for instance). `None`: not cached, or no status.
    pub(crate) fn latest_status(&self, object: &DynamicObject) -> Option<Value> {
        let name = object.metadata.name.as_deref()?;
        let mut key = ObjectRef::<CustomResource>::new_with(name, self.resource.clone());
        if let Some(namespace) = object.metadata.namespace.as_deref() {
            key = key.within(namespace);
        }
        let stores = self.stores.read().ok()?;
        let latest = stores.iter().find_map(|s| s.get(&key))?;
        // The version the reconcile already holds unpacked: its status, without unpacking the
        // cached copy again (a reconcile asks for the previous status more than once).
        if latest.0.metadata.resource_version.is_some()
            && latest.0.metadata.resource_version == object.metadata.resource_version
        {
            return object.data.get("status").cloned();
        }
        super::cr_cache::status(&latest)
    }

    /// The chart currently serving.
    pub(crate) fn chart(&self) -> Option<ChartState> {
        self.chart.read().ok().map(|c| c.clone())
    }

    /// Replaces the chart with a newly loaded good one.
    pub(crate) fn replace_chart(&self, renderer: Renderer) {
        if let Ok(mut chart) = self.chart.write() {
            chart.renderer = Arc::new(renderer);
            chart.stale = None;
        }
    }

    /// Records a failed reconcile of `key`; returns how long to wait before retrying it.
    pub(crate) fn reconcile_failed(&self, key: &str) -> std::time::Duration {
        let delay = self.backoff.failed(key);
        self.shared
            .metrics
            .set_backing_off(&self.key, self.backoff.len());
        delay
    }

    /// Forgets the failures of `key`: it reconciled, or it was deleted.
    pub(crate) fn reconcile_settled(&self, key: &str) {
        if self.backoff.failures(key) > 0 {
            self.backoff.succeeded(key);
            self.shared
                .metrics
                .set_backing_off(&self.key, self.backoff.len());
        }
    }

    /// Records that the newest chart is broken; the last good one keeps serving.
    pub(crate) fn mark_stale(&self, reason: String) {
        if let Ok(mut chart) = self.chart.write() {
            chart.stale = Some(reason);
        }
    }
}
