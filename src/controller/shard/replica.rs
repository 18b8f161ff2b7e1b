//! One replica of a sharded operator: the operator runs with every shard gated, and one task
//! per shard tries to hold that shard's Lease, serving the shard only while holding it under
//! the agreed shard count.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use super::agree::Agreement;
use super::count::{COUNT_ANNOTATION, SET_LABEL};
use super::{ShardConfig, Shards};
use crate::controller::leader::{self, Ended, LeaderElector, StopSignal};
use crate::controller::{Operator, Options, RunError};

/// Runs the operator as one replica of a sharded set until `shutdown`: it reconciles only the
/// resources of the shards whose Leases it holds. On shutdown it stops serving every shard,
/// releases their Leases (so other replicas take them at once), then stops the operator.
pub async fn run_sharded<S>(
    client: kube::Client,
    options: Options,
    config: ShardConfig,
    shutdown: S,
) -> Result<(), RunError>
where
    S: Future<Output = ()>,
{
    config.check().map_err(|e| match e {
        leader::Error::InvalidConfig(reason) => RunError::ShardConfigInvalid(reason),
        other => RunError::ShardConfigInvalid(other.to_string()),
    })?;
    let shards = Arc::new(Shards::new(config.shards));
    tracing::info!(shards = config.shards, ordinal = ?config.ordinal, identity = %config.lease.identity, "starting as a sharded replica");
    let operator = Operator::start_sharded(client.clone(), options, shards.clone()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Aborted when this future is dropped: a replica that is gone renews nothing.
    let tasks: Vec<AbortOnDrop> = (0..config.shards)
        .map(|shard| {
            AbortOnDrop(tokio::spawn(hold(
                client.clone(),
                config.clone(),
                shard,
                shards.clone(),
                stop_rx.clone(),
            )))
        })
        .collect();
    shutdown.await;
    tracing::info!("shutting down: releasing the shards");
    stop_tx.send_replace(true);
    let mut failed = None;
    for mut task in tasks {
        if let Ok(Err(e)) = (&mut task.0).await {
            failed.get_or_insert(e);
        }
    }
    operator.shutdown().await;
    match failed {
        Some(e) => Err(RunError::from(e)),
        None => Ok(()),
    }
}

/// Holds `shard`'s Lease whenever it can, until `stop`: serves the shard while holding it
/// under the agreed count; after losing it, stands by for it again.
async fn hold(
    client: kube::Client,
    config: ShardConfig,
    shard: u32,
    shards: Arc<Shards>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), leader::Error> {
    let lease = config.shard_lease(shard);
    let labels = BTreeMap::from([(SET_LABEL.to_string(), config.lease.name.clone())]);
    let annotations = BTreeMap::from([(COUNT_ANNOTATION.to_string(), config.shards.to_string())]);
    loop {
        let elector = LeaderElector::new(client.clone(), lease.clone())?
            .with_free_grace(config.free_grace(shard))
            .with_metadata(labels.clone(), annotations.clone());
        let (client, config, shards) = (client.clone(), config.clone(), shards.clone());
        let leading = move |mut stop: StopSignal| async move {
            let mut agreement = Agreement::new(
                client,
                &config.lease.namespace,
                &config.lease.name,
                config.shards,
                &config.lease.identity,
                shard,
            );
            if !agreement
                .until_agreed(config.lease.retry_period, &mut stop)
                .await
            {
                return;
            }
            // Dropped with this future when the Lease is lost: the shard stops at once.
            let _serving = shards.serve(shard);
            stop.stopped().await;
        };
        let mut stopped = stop.clone();
        let ended = LeaderElector::run(elector, leading, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
        match ended {
            Ok(Ended::Shutdown | Ended::LeadingFinished) => return Ok(()),
            Err(e @ leader::Error::InvalidConfig(_)) => return Err(e),
            // Lost (a renewal failed past the deadline, or another replica holds it): the
            // shard already stopped; stand by for it again.
            Err(e) => {
                tracing::warn!(shard, error = %e, "the shard's Lease was lost; standing by for it again")
            }
        }
        if *stop.borrow_and_update() {
            return Ok(());
        }
    }
}

/// A shard's task, aborted when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), leader::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
