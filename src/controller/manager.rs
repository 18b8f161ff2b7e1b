//! Running the mapped kinds: one kube-runtime Controller per kind and namespace scope, started,
//! reloaded and stopped as the mapping file and charts change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use futures::{StreamExt as _, TryStreamExt as _};
use kube::ResourceExt as _;
use kube::api::{Api, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::children::builtin_gvk;
use super::coalesce::{CHILD_CHANGE_WINDOW, coalesce};
use super::context::{KindContext, Shared};
use super::crds;
use super::custom_resource::{CustomResource, Kind};
use super::held_events::{Holding, owner_key};
use super::reconcile::{error_policy, object_key, reconcile};
use super::reload::{self, FileWatcher};
use super::resync::Resyncs;
use crate::config::{Mapping, Watch};

/// How often kinds whose custom resource is not served yet are looked up again.
pub(crate) const PENDING_RETRY: Duration = Duration::from_secs(2);

/// A kind being served.
struct RunningKind {
    watch: Watch,
    ctx: Arc<KindContext>,
    fingerprint: String,
    resync: Vec<UnboundedSender<()>>,
    stop: Vec<oneshot::Sender<()>>,
    /// The controller tasks, with their ids in [`Shared::liveness`].
    tasks: Vec<(u64, JoinHandle<()>)>,
    routes: Vec<u64>,
    /// True once this kind's child caches listed (or gave up): its reconciles wait for it.
    warm: watch::Receiver<bool>,
    /// Warms them.
    _warming: AbortOnDrop,
}

/// What the manager needs to start kinds.
pub(crate) struct Manager {
    shared: Arc<Shared>,
    mapping_path: PathBuf,
    scopes: Vec<Option<String>>,
    install_crds: bool,
    force_crd_changes: bool,
    running: HashMap<String, RunningKind>,
    pending: HashMap<String, Watch>,
    files: Option<FileWatcher>,
    ready: Arc<AtomicBool>,
}

fn kind_key(watch: &Watch) -> String {
    format!("{}/{}", watch.group, watch.kind)
}

impl Manager {
    /// A manager with nothing running yet.
    pub(crate) fn new(
        shared: Arc<Shared>,
        mapping_path: PathBuf,
        scopes: Vec<Option<String>>,
        install_crds: bool,
        force_crd_changes: bool,
        ready: Arc<AtomicBool>,
    ) -> Self {
        Self {
            shared,
            mapping_path,
            scopes,
            install_crds,
            force_crd_changes,
            running: HashMap::new(),
            pending: HashMap::new(),
            files: None,
            ready,
        }
    }

    /// Serves `mapping`, then follows file changes until `stop` fires; then stops every kind.
    pub(crate) async fn run(
        mut self,
        mapping: Mapping,
        watch_files: bool,
        mut stop: oneshot::Receiver<()>,
    ) {
        let (reload_tx, mut reload_rx) = mpsc::unbounded_channel();
        if watch_files {
            match FileWatcher::start(&self.mapping_path, reload_tx) {
                Ok(files) => self.files = Some(files),
                Err(e) => tracing::error!(error = %e, "hot reload is off"),
            }
        }
        let stores = self.apply_mapping(mapping).await;
        let ready = self.ready.clone();
        // Ends with the manager, however the manager ends.
        let _synced = AbortOnDrop(tokio::spawn(async move {
            for store in stores {
                while !wait_synced(&store, Duration::from_secs(3600)).await {}
            }
            ready.store(true, Ordering::Relaxed);
            tracing::info!("caches synced");
        }));
        // With sharding, a shard taken over brings its resources in: reconcile every resource
        // (those of other shards return at once).
        let mut served = match &self.shared.shards {
            Some(shards) => shards.subscribe(),
            None => watch::channel(std::collections::BTreeSet::new()).1,
        };
        let mut serving = served.borrow_and_update().clone();
        let mut retry = tokio::time::interval(PENDING_RETRY);
        // Polled only while a kind is pending: after a long quiet spell, one retry, not a burst
        // of the ticks "missed" meanwhile.
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Ok(()) = served.changed(), if self.shared.shards.is_some() => {
                    let now = served.borrow_and_update().clone();
                    let gained = now.difference(&serving).next().is_some();
                    serving = now;
                    if gained {
                        for running in self.running.values() {
                            for tx in &running.resync {
                                let _ = tx.unbounded_send(());
                            }
                        }
                    }
                }
                Some(()) = reload_rx.recv() => {
                    super::reload::settle(&mut reload_rx).await;
                    self.reload().await;
                }
                // Only ticks while a kind waits for its CRD: an idle operator never wakes.
                _ = retry.tick(), if !self.pending.is_empty() => {
                    let pending: Vec<Watch> = self.pending.values().cloned().collect();
                    for watch in pending {
                        self.start_kind(watch).await;
                    }
                }
            }
        }
        // Stop every kind at once, against one deadline, so shutdown takes seconds, not
        // seconds per kind.
        let keys: Vec<String> = self.running.keys().cloned().collect();
        futures::future::join_all(
            keys.iter()
                .filter_map(|key| self.running.remove(key).map(|r| (key.clone(), r)))
                .map(|(key, running)| {
                    self.shared.metrics.set_served(&key, false);
                    stop_running(&self.shared, running)
                }),
        )
        .await;
    }

    /// Starts every entry of `mapping`; returns the custom resource stores to wait for.
    async fn apply_mapping(&mut self, mapping: Mapping) -> Vec<Store<CustomResource>> {
        let mut stores = Vec::new();
        for watch in mapping.watches {
            stores.extend(self.start_kind(watch).await);
        }
        stores
    }

    /// Re-reads the mapping file and charts: starts new kinds, restarts changed entries,
    /// reloads changed charts (keeping the last good one when the new one is broken) and
    /// stops removed kinds, deleting nothing.
    async fn reload(&mut self) {
        let mapping = match Mapping::load(&self.mapping_path) {
            Ok(mapping) => mapping,
            Err(e) => {
                tracing::error!(error = %e, "the mapping file is invalid; keeping the running kinds");
                self.shared.metrics.chart_loaded("mapping", false);
                return;
            }
        };
        let wanted: Vec<String> = mapping.watches.iter().map(kind_key).collect();
        let removed: Vec<String> = self
            .running
            .keys()
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
        for key in removed {
            tracing::info!(kind = %key, "mapping entry removed; stopping its controller (nothing is deleted)");
            self.stop_kind(&key).await;
        }
        self.pending.retain(|k, _| wanted.contains(k));
        for watch in mapping.watches {
            let key = kind_key(&watch);
            let same_entry = self.running.get(&key).map(|r| r.watch == watch);
            match same_entry {
                Some(true) => self.reload_chart(&key).await,
                Some(false) => {
                    tracing::info!(kind = %key, "mapping entry changed; restarting its controller");
                    self.stop_kind(&key).await;
                    self.start_kind(watch).await;
                }
                None => {
                    self.start_kind(watch).await;
                }
            }
        }
    }

    /// Reloads the chart of a running kind if its files changed, then re-reconciles every
    /// resource. The new chart must pass [`reload::load_accepted`] and, with `--install-crds`,
    /// its CRD must apply without breaking changes; otherwise the last good chart keeps serving.
    async fn reload_chart(&mut self, key: &str) {
        let Some(running) = self.running.get_mut(key) else {
            return;
        };
        let fingerprint = reload::fingerprint(&running.watch.chart_dir);
        if fingerprint == running.fingerprint {
            return;
        }
        running.fingerprint = fingerprint;
        let mut loaded = reload::load_accepted(&running.watch);
        if self.install_crds
            && let Ok(renderer) = &loaded
            && let Err(e) = crds::install(
                &self.shared.client,
                &running.watch,
                &renderer.chart,
                self.force_crd_changes,
            )
            .await
        {
            loaded = Err(reload::Error::CrdRefused(Box::new(e)));
        }
        match loaded {
            Ok(renderer) => {
                tracing::info!(kind = %key, chart = %running.watch.chart_dir.display(), "chart reloaded");
                running.ctx.replace_chart(renderer);
                self.shared.metrics.chart_loaded(key, true);
            }
            Err(e) => {
                tracing::error!(kind = %key, error = %e, "the new chart is broken; the last good chart keeps serving");
                running.ctx.mark_stale(e.to_string());
                self.shared.metrics.chart_loaded(key, false);
            }
        }
        for tx in &running.resync {
            let _ = tx.unbounded_send(());
        }
    }

    /// Starts serving one kind; a kind whose custom resource is not served yet waits in
    /// `pending`. Returns the custom resource stores of the new controllers.
    async fn start_kind(&mut self, watch: Watch) -> Vec<Store<CustomResource>> {
        let key = kind_key(&watch);
        let fingerprint = reload::fingerprint(&watch.chart_dir);
        let renderer = match reload::load_renderer(&watch) {
            Ok(r) => r,
            Err(e) => {
                if !self.pending.contains_key(&key) {
                    tracing::error!(kind = %key, error = %e, "the chart is broken; the kind is not served until it is fixed");
                }
                self.shared.metrics.chart_loaded(&key, false);
                self.pending.remove(&key);
                return Vec::new();
            }
        };
        if let Some(files) = &mut self.files
            && let Err(e) = files.add(&watch.chart_dir)
        {
            tracing::warn!(kind = %key, error = %e, "chart changes will not be noticed");
        }
        let gvk = GroupVersionKind::gvk(&watch.group, &watch.version, &watch.kind);
        // Retried while the kind waits in `pending` (a failed install may be transient); logged once.
        if self.install_crds
            && let Err(e) = crds::install(
                &self.shared.client,
                &watch,
                &renderer.chart,
                self.force_crd_changes,
            )
            .await
            && !self.pending.contains_key(&key)
        {
            tracing::error!(kind = %key, error = %e, "installing the CRD failed");
        }
        let resource = match kube::discovery::pinned_kind(&self.shared.client, &gvk).await {
            Ok((resource, _)) => resource,
            Err(e) => {
                if !self.pending.contains_key(&key) {
                    if is_not_served(&e) {
                        tracing::warn!(kind = %key, error = %e, "the kind is not served by the API server (is its CRD installed? try --install-crds); waiting for it");
                    } else {
                        tracing::warn!(kind = %key, error = %e, "discovering the kind failed (is the API server reachable?); retrying");
                    }
                }
                self.pending.insert(key, watch);
                return Vec::new();
            }
        };
        self.pending.remove(&key);
        self.shared.metrics.chart_loaded(&key, true);
        let (warm, warming) = self.warm_children(&key, &watch);
        let ctx = Arc::new(KindContext::new(
            self.shared.clone(),
            watch.clone(),
            resource.clone(),
            renderer,
        ));
        let mut running = RunningKind {
            watch: watch.clone(),
            ctx: ctx.clone(),
            fingerprint,
            resync: Vec::new(),
            stop: Vec::new(),
            tasks: Vec::new(),
            routes: Vec::new(),
            warm,
            _warming: warming,
        };
        let mut stores = Vec::new();
        for scope in &self.scopes {
            stores.push(self.start_controller(&mut running, &resource, scope.clone()));
        }
        tracing::info!(kind = %key, chart = %watch.chart_dir.display(), "serving");
        self.shared.metrics.set_served(&key, true);
        self.running.insert(key, running);
        stores
    }

    /// Starts the watches of the built-in kinds `watch` may emit, in the background; the
    /// receiver turns true once they listed (each within
    /// [`SYNC_TIMEOUT`](super::children::SYNC_TIMEOUT) or given up), so this kind's first
    /// reconciles see every child kind its chart may have emitted before (and prune them). A
    /// child kind that cannot be discovered or listed holds up only this kind's reconciles,
    /// never the manager or another kind.
    fn warm_children(&self, key: &str, watch: &Watch) -> (watch::Receiver<bool>, AbortOnDrop) {
        let (warm_tx, warm) = watch::channel(false);
        let children = self.shared.children.clone();
        let kinds: Vec<(String, GroupVersionKind)> = watch
            .allowed_kinds
            .iter()
            .filter_map(|kind| {
                let gvk = kind.builtin_kind().and_then(|b| builtin_gvk(b.kind))?;
                Some((kind.to_string(), gvk))
            })
            .collect();
        let key = key.to_string();
        let warming = tokio::spawn(async move {
            futures::future::join_all(kinds.iter().map(|(kind, gvk)| {
                let (children, key) = (&children, &key);
                async move {
                    if let Err(e) = children.ensure(gvk).await {
                        tracing::warn!(kind = %key, child = %kind, error = %e, "cannot watch a child kind yet");
                    }
                }
            }))
            .await;
            warm_tx.send_replace(true);
        });
        (warm, AbortOnDrop(warming))
    }

    fn start_controller(
        &self,
        running: &mut RunningKind,
        resource: &ApiResource,
        scope: Option<String>,
    ) -> Store<CustomResource> {
        let resource = &Kind::from(resource.clone());
        let client = self.shared.client.clone();
        let scope_name = scope.clone();
        let api: Api<CustomResource> = match &scope {
            Some(ns) => Api::namespaced_with(client, ns, resource),
            None => Api::all_with(client, resource),
        };
        let mut config = watcher::Config::default();
        if let Some(selector) = &running.watch.selector {
            config = config.labels_from(selector);
        }
        let (child_tx, child_rx) = futures::channel::mpsc::unbounded();
        let (resync_tx, resync_rx) = futures::channel::mpsc::unbounded();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        // With watchDependentResources: false, children are still cached (for the comparison)
        // but their changes do not trigger reconciles: drift waits for the next resync.
        // Held events of a reconcile that turn out foreign ask for one more through here.
        let retrigger_tx = child_tx.clone();
        if running.watch.watch_dependent_resources {
            running
                .routes
                .push(self.shared.children.route(resource, scope, child_tx));
        }
        let writer = kube::runtime::reflector::store::Writer::new(resource.clone());
        let store = writer.as_reader();
        running.ctx.add_store(store.clone());
        let forget_ctx = running.ctx.clone();
        let resyncs = Arc::new(Resyncs::default());
        let forget_resyncs = resyncs.clone();
        let echo_ctx = running.ctx.clone();
        let cached = store.clone();
        let cached_resource = resource.clone();
        let objects = watcher(api, config)
            .default_backoff()
            .modify(super::cr_cache::slim)
            .reflect(writer)
            .try_filter_map(move |event| {
                futures::future::ready(Ok(match event {
                    watcher::Event::Delete(object) => {
                        forget_deleted(&forget_ctx, &object);
                        forget_resyncs.forget(&object);
                        None
                    }
                    watcher::Event::Apply(object) => Some(object),
                    // A relist (after a 410, say) delivers every resource again; the cache
                    // keeps the previous list until it is done, so those unchanged since
                    // need no reconcile (the first list reconciles every one).
                    watcher::Event::InitApply(object) => {
                        (!unchanged_since_cached(&cached, &cached_resource, &object))
                            .then_some(object)
                    }
                    watcher::Event::Init | watcher::Event::InitDone => None,
                }))
            })
            // The echo of our own status write tells the reconcile nothing it does not know;
            // a change arriving while the resource's reconcile runs waits for its end, when
            // it may turn out to be that reconcile's echo (see `held_events`).
            .try_filter(move |object| {
                let version = object.metadata.resource_version.as_deref();
                let echo = echo_ctx.own_writes.is_echo(&object_key(object), version);
                let held = !echo && {
                    let namespace = object.metadata.namespace.as_deref().unwrap_or_default();
                    let owner = owner_key(&echo_ctx.key, namespace, &object.name_any());
                    echo_ctx.shared.children.held.hold_resource(&owner, version)
                };
                futures::future::ready(!echo && !held)
            });
        let controller = Controller::for_stream_with(objects, store.clone(), resource.clone())
            .with_config(
                controller::Config::default().concurrency(running.watch.max_concurrent_reconciles),
            )
            .reconcile_on(coalesce(child_rx, CHILD_CHANGE_WINDOW))
            .reconcile_on(resyncs.clone().due(resource.clone()))
            .reconcile_all_on(resync_rx)
            .graceful_shutdown_on(async move {
                let _ = stop_rx.await;
            });
        let key = running.ctx.key.clone();
        let ctx = running.ctx.clone();
        let name = match &scope_name {
            Some(ns) => format!("controller of {key} in {ns}"),
            None => format!("controller of {key}"),
        };
        let warm = running.warm.clone();
        let reconcile_warm = move |object: Arc<CustomResource>, ctx: Arc<KindContext>| {
            let mut warm = warm.clone();
            let retrigger = retrigger_tx.clone();
            let resyncs = resyncs.clone();
            async move {
                // Closed only when the kind stops; then the reconcile may as well run.
                let _ = warm.wait_for(|warm| *warm).await;
                let _holding = Holding::start(ctx.clone(), &object, retrigger);
                let period = ctx.watch.reconcile_period;
                let outcome = match ctx.shared.shards.clone() {
                    None => reconcile(object.clone(), ctx).await,
                    // Another shard's resource does nothing; a lost shard's reconcile stops.
                    Some(shards) => {
                        let uid = object.metadata.uid.clone();
                        match shards
                            .gate(uid.as_deref(), reconcile(object.clone(), ctx))
                            .await
                        {
                            Some(result) => result,
                            None => Ok(controller::Action::await_change()),
                        }
                    }
                };
                // The periodic resync waits in `resyncs`, not in kube-runtime's scheduler.
                resyncs.settle(&object, period, outcome)
            }
        };
        running
            .tasks
            .push(self.shared.liveness.spawn(name, async move {
                controller
                    .run(reconcile_warm, error_policy, ctx)
                    .for_each(|result| {
                        if let Err(e) = result {
                            log_controller_error(&key, &e);
                        }
                        futures::future::ready(())
                    })
                    .await;
            }));
        running.resync.push(resync_tx);
        running.stop.push(stop_tx);
        store
    }

    /// Stops a kind's controllers (running reconciles finish); deletes nothing.
    async fn stop_kind(&mut self, key: &str) {
        let Some(running) = self.running.remove(key) else {
            return;
        };
        self.shared.metrics.set_served(key, false);
        stop_running(&self.shared, running).await;
    }
}

/// Whether a discovery error says the kind is not served (no such group, version or kind), as
/// opposed to the API server being unreachable or refusing the request.
fn is_not_served(error: &kube::Error) -> bool {
    match error {
        kube::Error::Discovery(_) => true,
        kube::Error::Api(status) => status.code == 404,
        _ => false,
    }
}

/// Logs what a kind's controller stream reports. A failing watch (the CRD deleted, RBAC
/// withdrawn, the API server unreachable) is a warning: the watch retries with backoff and
/// nothing else would tell. An expired watch history is routine (the watcher relists at once).
/// Reconcile failures were already logged and evented where they happened.
fn log_controller_error<E: std::error::Error>(
    key: &str,
    error: &controller::Error<E, watcher::Error>,
) {
    match error {
        controller::Error::QueueError(e) if !super::children::history_expired(e) => {
            tracing::warn!(kind = %key, error = %e, "watching the custom resources failed; retrying with backoff");
        }
        other => tracing::debug!(kind = %key, error = %other, "controller event"),
    }
}

/// Aborts a helper task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits until `store` has listed its objects, at most `timeout`; returns whether it did.
///
/// kube's ready signal wakes only the most recent waiter, and the controller's runner waits on
/// its own store too, so this re-polls in short slices instead of waiting once.
async fn wait_synced(store: &Store<CustomResource>, timeout: Duration) -> bool {
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

/// Whether `object`, listed again, is what the cache already holds (same resourceVersion).
fn unchanged_since_cached(
    cache: &Store<CustomResource>,
    resource: &Kind,
    object: &CustomResource,
) -> bool {
    let Some(version) = object.metadata.resource_version.as_deref() else {
        return false;
    };
    cache
        .get(&ObjectRef::from_obj_with(object, resource.clone()))
        .is_some_and(|cached| cached.metadata.resource_version.as_deref() == Some(version))
}

/// Drops what was remembered about a deleted custom resource: its failure backoff, a status
/// write's echo still due and its recent events (a resource deleted without a finalizer is
/// never reconciled again).
fn forget_deleted(ctx: &KindContext, object: &CustomResource) {
    let key = object_key(object);
    ctx.own_writes.forget(&key);
    ctx.reconcile_settled(&key);
    if let Some(uid) = &object.metadata.uid {
        ctx.shared.events.forget(uid);
    }
}

/// How long stopping controllers wait for running reconciles before aborting them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Signals a kind's controllers to stop and waits for them, aborting what is still running
/// after [`STOP_GRACE`] (an interrupted apply is simply redone by the next reconcile).
async fn stop_running(shared: &Shared, running: RunningKind) {
    for id in running.routes {
        shared.children.unroute(id);
    }
    // Stopped on purpose: their end is no death for /healthz.
    let tasks: Vec<JoinHandle<()>> = running
        .tasks
        .into_iter()
        .map(|(id, task)| {
            shared.liveness.retire(id);
            task
        })
        .collect();
    for stop in running.stop {
        let _ = stop.send(());
    }
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    if tokio::time::timeout(STOP_GRACE, futures::future::join_all(tasks))
        .await
        .is_err()
    {
        for abort in aborts {
            abort.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_kind_reads_as_not_served() {
        let missing = kube::error::DiscoveryError::MissingKind("Site".into());
        assert!(is_not_served(&kube::Error::Discovery(missing)));
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(is_not_served(&status(404)));
        assert!(!is_not_served(&status(403)));
        let unreachable = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!is_not_served(&kube::Error::ReadEvents(unreachable)));
    }

    #[test]
    fn a_relisted_resource_at_its_cached_version_is_unchanged() {
        let resource = Kind::from(ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("web.tera-operator.io", "v1alpha1", "WebServer"),
            "webservers",
        ));
        let at = |version: &str| -> CustomResource {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                "metadata": {"name": "hello", "namespace": "default", "resourceVersion": version}
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let mut writer = kube::runtime::reflector::store::Writer::new(resource.clone());
        let cache = writer.as_reader();
        assert!(
            !unchanged_since_cached(&cache, &resource, &at("7")),
            "not cached yet"
        );
        writer.apply_watcher_event(&watcher::Event::Apply(at("7")));
        assert!(unchanged_since_cached(&cache, &resource, &at("7")));
        assert!(
            !unchanged_since_cached(&cache, &resource, &at("9")),
            "changed while the watch was down"
        );
    }
}
