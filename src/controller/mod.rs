//! The controller: keeps every mapped kind true — apply, prune, drift correction, status, hot reload.
//!
//! [`Operator::start`] loads the mapping file and runs one kube-runtime `Controller` over
//! `DynamicObject` per mapped kind (and per namespace when restricted), all in one process.
//! Children are watched through shared, label-filtered caches ([`children`]) that route
//! changes to the owning resource; each reconcile ([`reconcile`]) renders the resource,
//! applies only what differs from the cache ([`apply`]), prunes what is no longer rendered
//! ([`prune`]) and writes status only when it changed ([`status`]). [`run`] runs it until
//! shutdown, only while holding the leader-election Lease ([`leader`]) when asked to.

pub(crate) mod accept;
pub mod adopt;
pub(crate) mod apply;
pub(crate) mod backoff;
pub(crate) mod child_store;
pub(crate) mod children;
pub(crate) mod coalesce;
pub(crate) mod computed;
mod connect;
pub(crate) mod context;
pub(crate) mod cr_cache;
pub(crate) mod crds;
pub(crate) mod custom_resource;
pub mod diff;
pub(crate) mod events;
pub(crate) mod handover;
pub(crate) mod health;
pub(crate) mod held_events;
pub(crate) mod in_flight;
pub(crate) mod interned;
pub mod leader;
pub(crate) mod manager;
pub mod metrics;
pub(crate) mod own_writes;
pub(crate) mod owned_fields;
pub(crate) mod packed;
pub(crate) mod prune;
pub(crate) mod reason;
pub(crate) mod reconcile;
pub(crate) mod reload;
pub(crate) mod resync;
mod run;
pub mod shard;
pub(crate) mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Mapping;
pub use connect::{ConnectError, connect};
pub use run::{Error as RunError, run};

use context::Shared;
use manager::Manager;
use metrics::Metrics;
use shard::Shards;

/// Errors starting the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mapping file could not be loaded.
    #[error(transparent)]
    MappingLoadFailed(#[from] crate::config::Error),
    /// The metrics and health endpoints could not be served.
    #[error(transparent)]
    HealthServeFailed(#[from] health::Error),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to run the operator.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The mapping file.
    pub config: PathBuf,
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Where to serve `/healthz`, `/readyz` and `/metrics` (port 0 picks one); `None`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Apply each kind's generated CRD before serving it, and again when its chart changes.
    pub install_crds: bool,
    /// Apply a CRD change even when it breaks live resources (see [`crate::crd::breaking_changes`]).
    pub force_crd_changes: bool,
    /// Watch the mapping file and charts for changes.
    pub hot_reload: bool,
}

/// A running operator.
pub struct Operator {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    stop_health: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    health_task: Option<JoinHandle<()>>,
    endpoints: Option<SocketAddr>,
    liveness: Arc<health::Liveness>,
    /// The manager's id in `liveness`.
    manager_id: u64,
}

impl Operator {
    /// Loads the mapping and starts serving every mapped kind with `client`.
    pub async fn start(client: kube::Client, options: Options) -> Result<Self> {
        Self::start_with(client, options, None).await
    }

    /// Like [`Operator::start`], but reconciles only the resources of the shards `shards`
    /// holds (see [`shard`]); the shards are taken and given up by whoever holds `shards`.
    pub async fn start_sharded(
        client: kube::Client,
        options: Options,
        shards: Arc<Shards>,
    ) -> Result<Self> {
        Self::start_with(client, options, Some(shards)).await
    }

    async fn start_with(
        client: kube::Client,
        options: Options,
        shards: Option<Arc<Shards>>,
    ) -> Result<Self> {
        let mapping = Mapping::load(&options.config)?;
        let metrics = Arc::new(Metrics::new());
        let ready = Arc::new(AtomicBool::new(false));
        let liveness = Arc::new(health::Liveness::default());
        let (stop_health, health_rx) = oneshot::channel::<()>();
        let (health_task, endpoints) = match options.metrics_addr {
            Some(addr) => {
                let (bound, task) = health::serve(
                    addr,
                    metrics.clone(),
                    ready.clone(),
                    liveness.clone(),
                    async {
                        let _ = health_rx.await;
                    },
                )
                .await?;
                tracing::info!(addr = %bound, "serving /healthz, /readyz and /metrics");
                (Some(task), Some(bound))
            }
            None => (None, None),
        };
        let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
            vec![None]
        } else {
            options.namespaces.iter().cloned().map(Some).collect()
        };
        let shared = Arc::new(Shared {
            client: client.clone(),
            children: Arc::new(children::Children::new(
                client.clone(),
                scopes.clone(),
                liveness.clone(),
            )),
            events: events::EventSink::new(client),
            metrics: metrics.clone(),
            liveness: liveness.clone(),
            shards,
        });
        let manager = Manager::new(
            shared,
            options.config.clone(),
            scopes,
            options.install_crds,
            options.force_crd_changes,
            ready.clone(),
        );
        let (stop, stop_rx) = oneshot::channel();
        let (manager_id, task) = liveness.spawn(
            "manager".to_string(),
            manager.run(mapping, options.hot_reload, stop_rx),
        );
        Ok(Self {
            metrics,
            ready,
            stop: Some(stop),
            stop_health: Some(stop_health),
            task,
            health_task,
            endpoints,
            liveness,
            manager_id,
        })
    }

    /// The operator's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served (the port bound when 0 was asked).
    pub fn endpoints_addr(&self) -> Option<SocketAddr> {
        self.endpoints
    }

    /// Whether the initial caches have synced.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Stops every controller (running reconciles finish) and the endpoints.
    pub async fn shutdown(mut self) {
        self.liveness.retire(self.manager_id);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(stop) = self.stop_health.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.health_task.take() {
            let _ = task.await;
        }
    }
}

/// Dropping the operator stops it at once, without grace: every controller, reconcile and
/// watch is cancelled (a leader that lost its Lease must not act on).
impl Drop for Operator {
    fn drop(&mut self) {
        self.liveness.abort_all();
        self.task.abort();
        if let Some(task) = &self.health_task {
            task.abort();
        }
    }
}
