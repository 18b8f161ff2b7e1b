//! Test hooks: injected failures, latency, forced watch closes, pausing the workload simulation, the request log.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// The request's content type (empty if none).
    pub content_type: String,
    /// The response status code.
    pub status: u16,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, …; empty for non-resource paths).
    pub verb: String,
    /// The resource plural (with `/status` or `/scale` for subresources; empty for non-resource paths).
    pub resource: String,
}

impl LoggedRequest {
    /// Whether this request was a write (create, update, patch, delete).
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

/// How watches fared since the sandbox started (counted, never reset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// Watch requests served (each one stream).
    pub started: u64,
    /// Watches the server ended because they fell too far behind the changes they select.
    pub lagged: u64,
    /// Watches answered with 410 Gone: their resourceVersion was older than the history.
    pub gone: u64,
}

#[derive(Debug, Default)]
struct WatchCounters {
    started: AtomicU64,
    lagged: AtomicU64,
    gone: AtomicU64,
}

/// How many requests the log keeps (a long-running sandbox must not grow without bound; enough
/// for the about 100,000 requests of 10,000 resources being created, which the scale bench counts).
pub(crate) const REQUEST_LOG_LIMIT: usize = 250_000;

#[derive(Debug, Clone)]
struct Failure {
    remaining: usize,
    verb: String,
    resource: String,
    status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    failures: Vec<Failure>,
    latency: Duration,
    log: std::collections::VecDeque<LoggedRequest>,
}

/// Fault injection and observation handles for tests.
#[derive(Debug)]
pub struct Hooks {
    inner: Mutex<Inner>,
    close: watch::Sender<u64>,
    paused: watch::Sender<bool>,
    kubelet_paused: watch::Sender<bool>,
    clock: watch::Sender<Duration>,
    watches: WatchCounters,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            close: watch::channel(0).0,
            paused: watch::channel(false).0,
            kubelet_paused: watch::channel(false).0,
            clock: watch::channel(Duration::ZERO).0,
            watches: WatchCounters::default(),
        }
    }
}

impl Hooks {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Fails the next `n` requests matching `verb` and `resource` with `status` (500, 429, 409, …).
    /// `verb` is a Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`) or `*`;
    /// `resource` is a plural (`configmaps`, `deployments/status`) or `*`.
    pub fn fail_next(&self, n: usize, verb: &str, resource: &str, status: u16) {
        self.with(|i| {
            i.failures.push(Failure {
                remaining: n,
                verb: verb.into(),
                resource: resource.into(),
                status,
            })
        });
    }

    /// Drops every injected failure not consumed yet.
    pub fn clear_failures(&self) {
        self.with(|i| i.failures.clear());
    }

    /// Delays every request by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|i| i.latency = latency);
    }

    /// The configured latency.
    pub fn latency(&self) -> Duration {
        self.with(|i| i.latency)
    }

    /// Ends every open watch (clients see the stream close and must re-watch).
    pub fn close_watches(&self) {
        self.close.send_modify(|n| *n += 1);
    }

    /// Pauses or resumes the workload simulation.
    pub fn pause_workloads(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// Pauses or resumes only the simulated kubelet: controllers go on (a Deployment's rollout
    /// creates its ReplicaSet and Pods, a StatefulSet its first Pod, a Job its Pods), but no Pod
    /// starts, gets Ready or finishes — how a rollout stalls until its progress deadline.
    pub fn pause_kubelet(&self, paused: bool) {
        self.kubelet_paused.send_replace(paused);
    }

    /// Whether the simulated kubelet is paused.
    pub(crate) fn kubelet_paused(&self) -> bool {
        *self.kubelet_paused.borrow()
    }

    /// Changes when the simulated kubelet is paused or resumed.
    pub(crate) fn kubelet_signal(&self) -> watch::Receiver<bool> {
        self.kubelet_paused.subscribe()
    }

    /// Moves the clock of the time-driven simulation (CronJob schedules, progress deadlines,
    /// `minReadySeconds`) forward by `by`, so a test sees a scheduled run or a deadline pass
    /// without waiting for it. Object timestamps keep the real time.
    pub fn advance_clock(&self, by: Duration) {
        self.clock.send_modify(|offset| *offset += by);
    }

    /// How far [`Hooks::advance_clock`] moved the simulation's clock, and its changes.
    pub(crate) fn clock_signal(&self) -> watch::Receiver<Duration> {
        self.clock.subscribe()
    }

    /// Changes whenever [`Hooks::close_watches`] is called (open watches end on it).
    pub(crate) fn close_signal(&self) -> watch::Receiver<u64> {
        self.close.subscribe()
    }

    /// Whether the workload simulation is paused, and its changes.
    pub(crate) fn paused_signal(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    /// Consumes one matching injected failure, returning its status.
    pub(crate) fn take_failure(&self, verb: &str, resource: &str) -> Option<u16> {
        self.with(|i| {
            let f = i.failures.iter_mut().find(|f| {
                f.remaining > 0
                    && (f.verb == "*" || f.verb == verb)
                    && (f.resource == "*" || f.resource == resource)
            })?;
            f.remaining -= 1;
            let status = f.status;
            i.failures.retain(|f| f.remaining > 0);
            Some(status)
        })
    }

    /// Records a request, keeping at most [`REQUEST_LOG_LIMIT`] entries (oldest dropped first).
    pub(crate) fn log(&self, entry: LoggedRequest) {
        self.with(|i| {
            if i.log.len() >= REQUEST_LOG_LIMIT {
                i.log.pop_front();
            }
            i.log.push_back(entry);
        });
    }

    /// Every request so far.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.with(|i| i.log.iter().cloned().collect())
    }

    /// Forgets the requests logged so far.
    pub fn clear_request_log(&self) {
        self.with(|i| i.log.clear());
    }

    /// How watches fared so far: started, ended for lagging, answered 410 Gone.
    pub fn watch_stats(&self) -> WatchStats {
        let w = &self.watches;
        WatchStats {
            started: w.started.load(Ordering::Relaxed),
            lagged: w.lagged.load(Ordering::Relaxed),
            gone: w.gone.load(Ordering::Relaxed),
        }
    }

    /// Counts a watch served.
    pub(crate) fn watch_started(&self) {
        self.watches.started.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a watch ended because it lagged.
    pub(crate) fn watch_lagged(&self) {
        self.watches.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a watch answered with 410 Gone.
    pub(crate) fn watch_gone(&self) {
        self.watches.gone.fetch_add(1, Ordering::Relaxed);
    }

    /// How many write requests (create/update/patch/delete) are in the log.
    pub fn write_count(&self) -> usize {
        self.with(|i| i.log.iter().filter(|r| r.is_write()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_consumed_in_order() {
        let h = Hooks::default();
        h.fail_next(2, "create", "configmaps", 500);
        assert_eq!(h.take_failure("get", "configmaps"), None);
        assert_eq!(h.take_failure("create", "configmaps"), Some(500));
        assert_eq!(h.take_failure("create", "configmaps"), Some(500));
        assert_eq!(h.take_failure("create", "configmaps"), None);
        h.fail_next(1, "*", "*", 429);
        assert_eq!(h.take_failure("list", "pods"), Some(429));
    }
}
