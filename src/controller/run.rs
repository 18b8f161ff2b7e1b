//! Running the operator until shutdown: at once, or only while holding the leader-election Lease.
//!
//! Without a Lease the operator starts at once. With one, a standby replica serves `/healthz`
//! and `/readyz` (so its probes pass) and starts the operator only once it holds the Lease. On
//! shutdown the leader stops the operator, then releases the Lease; a leader whose renew
//! deadline passes, or that sees another holder, drops the operator — every controller and
//! reconcile is cancelled there and then, without grace — and [`run`] fails, so the pod
//! restarts as a standby, as controller-runtime operators do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::oneshot;

use super::health::Liveness;
use super::leader::{self, LeaderElector, LeaseConfig, StopSignal};
use super::metrics::Metrics;
use super::{Operator, Options, health};

/// Why running the operator failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operator could not start (the mapping file, the metrics address).
    #[error(transparent)]
    StartFailed(#[from] super::Error),
    /// A standby's `/healthz`, `/readyz` and `/metrics` could not be served.
    #[error(transparent)]
    StandbyServeFailed(#[from] health::Error),
    /// The leader-election settings cannot work together.
    #[error(transparent)]
    LeaseConfigInvalid(leader::Error),
    /// The sharding settings cannot work (the count, the Lease prefix, the durations).
    #[error("sharding: {0}")]
    ShardConfigInvalid(String),
    /// Leader election failed while running: the Lease was lost or could not be written.
    #[error(transparent)]
    LeaderElectionFailed(leader::Error),
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl From<leader::Error> for Error {
    fn from(error: leader::Error) -> Self {
        match error {
            e @ leader::Error::InvalidConfig(_) => Error::LeaseConfigInvalid(e),
            e => Error::LeaderElectionFailed(e),
        }
    }
}

/// Runs the operator until `shutdown`: at once without a Lease, else only while leading.
pub async fn run<S>(
    client: kube::Client,
    options: Options,
    lease: Option<LeaseConfig>,
    shutdown: S,
) -> Result<()>
where
    S: Future<Output = ()>,
{
    let Some(lease) = lease else {
        let operator = Operator::start(client, options).await?;
        shutdown.await;
        tracing::info!("shutting down");
        operator.shutdown().await;
        return Ok(());
    };
    let elector = LeaderElector::new(client.clone(), lease)?;
    tracing::info!(identity = %elector.identity(), "standing by for the leader-election Lease");
    let standby = match options.metrics_addr {
        Some(addr) => Some(Standby::serve(addr).await?),
        None => None,
    };
    let (failed_tx, failed_rx) = oneshot::channel();
    let leading = move |mut stop: StopSignal| async move {
        if let Some(standby) = standby {
            standby.stop().await;
        }
        // Dropped with this future when the leadership ends: that cancels everything at once.
        match Operator::start(client, options).await {
            Ok(operator) => {
                stop.stopped().await;
                tracing::info!("shutting down");
                operator.shutdown().await;
            }
            Err(e) => {
                let _ = failed_tx.send(e);
            }
        }
    };
    let ended = elector.run(leading, shutdown).await;
    if let Ok(e) = failed_rx.await {
        return Err(e.into());
    }
    ended?;
    Ok(())
}

/// `/healthz`, `/readyz` and `/metrics` of a standby replica, until it leads.
struct Standby {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Standby {
    async fn serve(addr: std::net::SocketAddr) -> Result<Self, health::Error> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (_, task) = health::serve(
            addr,
            Arc::new(Metrics::new()),
            Arc::new(AtomicBool::new(true)),
            // Nothing to supervise yet: alive while it serves.
            Arc::new(Liveness::default()),
            async move {
                let _ = stopped.await;
            },
        )
        .await?;
        Ok(Self { stop, task })
    }

    /// Stops serving and waits until the port is free for the operator's own endpoints.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
