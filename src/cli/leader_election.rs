//! Leader election for `run`: the `--leader-elect` flags, and running the operator only while leading.
//!
//! `run` flattens [`LeaderElectionArgs`] into its arguments and calls [`run_operator`] with
//! [`LeaderElectionArgs::lease_config`]: without `--leader-elect` the operator starts at once;
//! with it, a standby replica serves `/healthz` and `/readyz` (so its probes pass) and starts
//! the operator only once it holds the Lease. On shutdown the leader stops the operator, then
//! releases the Lease; a leader that loses the Lease stops at once and `run` fails (exit 2),
//! so the pod restarts as a standby, as controller-runtime operators do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;
use tokio::sync::oneshot;

use super::user_error;
use crate::config::parse_duration;
use crate::controller::metrics::Metrics;
use crate::controller::{Operator, Options, health};
use crate::leader::{self, LeaderElector, LeaseConfig, StopSignal};

/// Where a pod's namespace is mounted in-cluster.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The leader-election flags of `run`.
#[derive(Debug, Clone, Args)]
pub struct LeaderElectionArgs {
    /// Reconcile only while holding the leader-election Lease (run several replicas for HA).
    #[arg(long)]
    pub leader_elect: bool,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else the pod's own namespace, else `default`).
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "tera-operator")]
    pub leader_election_id: String,
    /// How long a standby waits for a silent leader's Lease before taking over.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader tries to renew before it stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// Time between renewals, and between a standby's attempts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
}

impl LeaderElectionArgs {
    /// The Lease to hold, or `None` without `--leader-elect`.
    pub fn lease_config(&self) -> Option<LeaseConfig> {
        if !self.leader_elect {
            return None;
        }
        let namespace = self
            .leader_election_namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
            })
            .or_else(|| {
                std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                    .ok()
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "default".to_string());
        Some(LeaseConfig {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            ..LeaseConfig::new(namespace, self.leader_election_id.clone())
        })
    }
}

/// Runs the operator until `shutdown`: at once without a Lease, else only while leading.
pub async fn run_operator<S>(
    client: kube::Client,
    options: Options,
    lease: Option<LeaseConfig>,
    shutdown: S,
) -> anyhow::Result<()>
where
    S: Future<Output = ()>,
{
    let Some(lease) = lease else {
        let operator = Operator::start(client, options).await.map_err(user_error)?;
        shutdown.await;
        tracing::info!("shutting down");
        operator.shutdown().await;
        return Ok(());
    };
    let elector = LeaderElector::new(client.clone(), lease).map_err(user_error)?;
    tracing::info!(identity = %elector.identity(), "standing by for the leader-election Lease");
    let standby = match options.metrics_addr {
        Some(addr) => Some(Standby::serve(addr).await.map_err(user_error)?),
        None => None,
    };
    let (failed_tx, failed_rx) = oneshot::channel();
    let leading = move |mut stop: StopSignal| async move {
        if let Some(standby) = standby {
            standby.stop().await;
        }
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
        return Err(user_error(e));
    }
    match ended {
        Ok(_) => Ok(()),
        Err(e @ leader::Error::InvalidConfig(_)) => Err(user_error(e)),
        Err(e) => Err(e.into()),
    }
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
