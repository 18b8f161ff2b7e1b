//! The HTTP endpoints for probes and scraping (`/healthz`, `/readyz`, `/metrics`), and the
//! supervision of the operator's long-running tasks that `/healthz` reports.
//!
//! `/healthz` (liveness) answers 200 while every supervised task — the manager and each kind's
//! controller and child watch — still runs, and 503 naming the dead ones once any panicked,
//! returned or was cancelled without being stopped on purpose: a kubelet then restarts the pod.
//! `/readyz` (readiness) answers 200 once the custom resource caches have synced.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt as _;
use tokio::task::{AbortHandle, JoinHandle};

use super::metrics::Metrics;

/// Errors serving the endpoints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address could not be bound.
    #[error("binding the metrics address {addr} failed: {source}")]
    BindFailed {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// What became of a supervised task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Still running.
    Running,
    /// Its future finished although nobody asked it to stop.
    Returned,
    /// It panicked, with this message.
    Panicked(String),
    /// It was aborted, or its runtime went away, although nobody asked it to stop.
    Cancelled,
}

/// Whether the operator is alive, given the state of each supervised task (by name): `Ok`
/// while all run, else one line per dead task. Tasks stopped on purpose are not asked about
/// (see [`Liveness::retire`]).
pub(crate) fn verdict<'a>(
    tasks: impl IntoIterator<Item = (&'a str, &'a TaskState)>,
) -> Result<(), Vec<String>> {
    let dead: Vec<String> = tasks
        .into_iter()
        .filter_map(|(name, state)| match state {
            TaskState::Running => None,
            TaskState::Returned => Some(format!("{name} stopped")),
            TaskState::Panicked(message) => Some(format!("{name} panicked: {message}")),
            TaskState::Cancelled => Some(format!("{name} was cancelled")),
        })
        .collect();
    if dead.is_empty() { Ok(()) } else { Err(dead) }
}

struct Task {
    name: String,
    state: TaskState,
    abort: Option<AbortHandle>,
}

/// The supervised tasks of one operator: spawned through [`Liveness::spawn`], judged by
/// [`verdict`], all aborted at once by [`Liveness::abort_all`].
#[derive(Default)]
pub(crate) struct Liveness {
    tasks: Mutex<BTreeMap<u64, Task>>,
    next_id: AtomicU64,
}

impl Liveness {
    fn tasks(&self) -> MutexGuard<'_, BTreeMap<u64, Task>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spawns `task` as `name`; returns the id for [`Liveness::retire`] and its handle.
    pub(crate) fn spawn<F>(self: &Arc<Self>, name: String, task: F) -> (u64, JoinHandle<()>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.tasks().insert(
            id,
            Task {
                name,
                state: TaskState::Running,
                abort: None,
            },
        );
        let mut sentinel = Sentinel {
            liveness: self.clone(),
            id,
            ended: false,
        };
        let handle = tokio::spawn(async move {
            let outcome = AssertUnwindSafe(task).catch_unwind().await;
            sentinel.ended = true;
            match outcome {
                Ok(()) => sentinel.liveness.ended(id, TaskState::Returned),
                Err(panic) => {
                    sentinel
                        .liveness
                        .ended(id, TaskState::Panicked(panic_message(&*panic)));
                    std::panic::resume_unwind(panic);
                }
            }
        });
        if let Some(task) = self.tasks().get_mut(&id) {
            task.abort = Some(handle.abort_handle());
        }
        (id, handle)
    }

    /// Forgets a task about to be stopped on purpose: its end is no death.
    pub(crate) fn retire(&self, id: u64) {
        self.tasks().remove(&id);
    }

    /// Aborts every supervised task at once (the operator is dropped, e.g. its leadership
    /// ended): no reconcile runs on after this returns, beyond the poll in progress.
    pub(crate) fn abort_all(&self) {
        let tasks = std::mem::take(&mut *self.tasks());
        for abort in tasks.into_values().filter_map(|t| t.abort) {
            abort.abort();
        }
    }

    /// [`verdict`] over the tasks now.
    pub(crate) fn check(&self) -> Result<(), Vec<String>> {
        let tasks = self.tasks();
        verdict(tasks.values().map(|t| (t.name.as_str(), &t.state)))
    }

    fn ended(&self, id: u64, state: TaskState) {
        let mut tasks = self.tasks();
        let Some(task) = tasks.get_mut(&id) else {
            // Retired: stopped on purpose.
            return;
        };
        if task.state == TaskState::Running {
            let death = verdict([(task.name.as_str(), &state)])
                .err()
                .unwrap_or_default()
                .join("");
            tracing::error!(task = %task.name, "{death}; /healthz fails from now on");
            task.state = state;
        }
    }
}

/// Records the cancellation of a supervised task (its future dropped before it ended).
struct Sentinel {
    liveness: Arc<Liveness>,
    id: u64,
    ended: bool,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if !self.ended {
            self.liveness.ended(self.id, TaskState::Cancelled);
        }
    }
}

/// The message of a panic payload (`panic!` with a literal or a format string), else a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    liveness: Arc<Liveness>,
}

/// The router serving the three endpoints.
pub(crate) fn router(
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    liveness: Arc<Liveness>,
) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState {
            metrics,
            ready,
            liveness,
        })
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.liveness.check() {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(dead) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy:\n{}\n", dead.join("\n")),
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet").into_response()
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Binds `addr` and serves the endpoints until `shutdown` resolves; returns the bound address.
pub(crate) async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    liveness: Arc<Liveness>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::BindFailed { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::BindFailed { addr, source })?;
    let app = router(metrics, ready, liveness);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_while_every_task_runs() {
        let running = TaskState::Running;
        assert_eq!(verdict([]), Ok(()));
        assert_eq!(
            verdict([("manager", &running), ("controller", &running)]),
            Ok(())
        );
        let returned = TaskState::Returned;
        let panicked = TaskState::Panicked("boom".into());
        let cancelled = TaskState::Cancelled;
        assert_eq!(
            verdict([
                ("manager", &running),
                ("controller of A", &returned),
                ("controller of B", &panicked),
                ("watch of C", &cancelled),
            ]),
            Err(vec![
                "controller of A stopped".to_string(),
                "controller of B panicked: boom".to_string(),
                "watch of C was cancelled".to_string(),
            ])
        );
    }

    #[tokio::test]
    async fn a_task_that_panics_returns_or_is_aborted_is_dead_unless_retired() {
        let liveness = Arc::new(Liveness::default());
        let (_, panics) = liveness.spawn("panicker".into(), async { panic!("on purpose") });
        let (_, returns) = liveness.spawn("returner".into(), async {});
        let (_, aborted) = liveness.spawn("aborted".into(), std::future::pending());
        let (retired, stopped) = liveness.spawn("retired".into(), std::future::pending());
        let (_, runs) = liveness.spawn("runner".into(), std::future::pending());
        assert!(panics.await.unwrap_err().is_panic());
        returns.await.unwrap();
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
        liveness.retire(retired);
        stopped.abort();
        assert!(stopped.await.unwrap_err().is_cancelled());
        assert_eq!(
            liveness.check(),
            Err(vec![
                "panicker panicked: on purpose".to_string(),
                "returner stopped".to_string(),
                "aborted was cancelled".to_string(),
            ])
        );
        assert!(!runs.is_finished());

        liveness.abort_all();
        assert!(runs.await.unwrap_err().is_cancelled());
        assert_eq!(
            liveness.check(),
            Ok(()),
            "aborted on purpose: nothing left to judge"
        );
    }

    #[tokio::test]
    async fn healthz_answers_503_naming_the_dead() {
        use tower::ServiceExt as _;
        let liveness = Arc::new(Liveness::default());
        let app = router(
            Arc::new(Metrics::new()),
            Arc::new(AtomicBool::new(true)),
            liveness.clone(),
        );
        let get = |app: Router| async move {
            let request = axum::http::Request::get("/healthz")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        };
        let (_, running) = liveness.spawn("manager".into(), std::future::pending());
        assert_eq!(get(app.clone()).await, (StatusCode::OK, "ok".to_string()));
        let (_, dies) = liveness.spawn("controller of web/WebServer".into(), async {
            panic!("boom")
        });
        let _ = dies.await;
        assert_eq!(
            get(app).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unhealthy:\ncontroller of web/WebServer panicked: boom\n".to_string()
            )
        );
        running.abort();
    }
}
