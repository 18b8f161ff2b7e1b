//! The shards this replica serves now, and the gate every reconcile passes through.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use super::hash::shard_of;

/// The shards this replica holds and serves, out of `count`. Reconciles of resources in other
/// shards do nothing; a reconcile in flight when its shard is lost is dropped at once.
#[derive(Debug)]
pub struct Shards {
    count: u32,
    held: watch::Sender<BTreeSet<u32>>,
}

impl Shards {
    /// `count` shards, none held yet.
    pub fn new(count: u32) -> Self {
        Self {
            count: count.max(1),
            held: watch::channel(BTreeSet::new()).0,
        }
    }

    /// How many shards the resources are split into.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The shards served now.
    pub fn held(&self) -> BTreeSet<u32> {
        self.held.borrow().clone()
    }

    /// The shards served, now and as they change.
    pub fn subscribe(&self) -> watch::Receiver<BTreeSet<u32>> {
        self.held.subscribe()
    }

    /// The shard of the resource with `uid`.
    pub(crate) fn shard_of(&self, uid: &str) -> u32 {
        shard_of(uid, self.count)
    }

    /// Starts serving `shard`; it is served until the returned guard is dropped.
    pub(crate) fn serve(self: &Arc<Self>, shard: u32) -> Serving {
        self.held.send_modify(|held| {
            held.insert(shard);
        });
        tracing::info!(shard, shards = self.count, "serving the shard");
        Serving {
            shards: self.clone(),
            shard,
        }
    }

    /// Runs `reconcile` for the resource with `uid` if its shard is served, and drops it the
    /// moment that shard is lost; `None` when it did not run or was dropped.
    pub(crate) async fn gate<T>(
        &self,
        uid: Option<&str>,
        reconcile: impl Future<Output = T>,
    ) -> Option<T> {
        let uid = uid?;
        let shard = self.shard_of(uid);
        let mut held = self.held.subscribe();
        if !held.borrow_and_update().contains(&shard) {
            return None;
        }
        tokio::select! {
            biased;
            _ = held.wait_for(|held| !held.contains(&shard)) => None,
            result = reconcile => Some(result),
        }
    }
}

/// A shard being served; dropping it stops serving the shard (and its reconciles) at once.
#[derive(Debug)]
pub(crate) struct Serving {
    shards: Arc<Shards>,
    shard: u32,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let shard = self.shard;
        self.shards.held.send_modify(|held| {
            held.remove(&shard);
        });
        tracing::info!(shard, "stopped serving the shard");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uid of `shard` out of 3.
    fn uid_in(shards: &Shards, shard: u32) -> String {
        (0..)
            .map(|i| format!("uid-{i}"))
            .find(|uid| shards.shard_of(uid) == shard)
            .unwrap()
    }

    #[tokio::test]
    async fn only_resources_of_held_shards_are_reconciled() {
        let shards = Arc::new(Shards::new(3));
        let (zero, one) = (uid_in(&shards, 0), uid_in(&shards, 1));
        assert_eq!(shards.gate(Some(&zero), async { "ran" }).await, None);
        let serving = shards.serve(0);
        assert_eq!(shards.held(), BTreeSet::from([0]));
        assert_eq!(shards.gate(Some(&zero), async { "ran" }).await, Some("ran"));
        assert_eq!(shards.gate(Some(&one), async { "ran" }).await, None);
        assert_eq!(shards.gate(None, async { "ran" }).await, None);
        drop(serving);
        assert!(shards.held().is_empty());
        assert_eq!(shards.gate(Some(&zero), async { "ran" }).await, None);
    }

    #[tokio::test]
    async fn a_reconcile_in_flight_is_dropped_when_its_shard_is_lost() {
        let shards = Arc::new(Shards::new(3));
        let uid = uid_in(&shards, 2);
        let serving = shards.serve(2);
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let gated = {
            let shards = shards.clone();
            tokio::spawn(async move {
                shards
                    .gate(Some(&uid), async {
                        let _ = started_tx.send(());
                        std::future::pending::<&str>().await
                    })
                    .await
            })
        };
        started.await.unwrap();
        drop(serving);
        assert_eq!(gated.await.unwrap(), None, "dropped");
    }
}
