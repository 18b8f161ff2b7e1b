//! The `--shards` flags of `run`, and the shard set they ask for.
//!
//! `run` flattens [`ShardArgs`] into its arguments; with `--shards N` it runs as one replica of
//! a sharded set (`controller::shard::run_sharded`), timed by the `--leader-election-*`
//! durations.

use crate::controller::leader::LeaseConfig;
use crate::controller::shard::{ShardConfig, ordinal_of};
use clap::Args;

/// The sharding flags of `run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ShardArgs {
    /// Split the resources into this many shards, each served by the replica holding its
    /// Lease (run several replicas; the same count on every one).
    #[arg(long, conflicts_with_all = ["leader_elect", "install_crds"])]
    shards: Option<u32>,
    /// Prefix of the shard Leases: shard i is `<prefix>-i`, the agreed count `<prefix>-count`.
    #[arg(long, default_value = "tera-operator-shard", requires = "shards")]
    shard_lease_prefix: String,
    /// This replica's ordinal: it takes shard `ordinal % shards` first (default: the number at
    /// the end of $POD_NAME, as a StatefulSet names its pods).
    #[arg(long, requires = "shards")]
    shard_ordinal: Option<u32>,
}

impl ShardArgs {
    /// The shard set to join, or `None` without `--shards`; `lease` gives the namespace and
    /// durations (from the `--leader-election-*` flags).
    pub(crate) fn shard_config(&self, lease: LeaseConfig) -> Option<ShardConfig> {
        let shards = self.shards?;
        let ordinal = self.shard_ordinal.or_else(|| {
            std::env::var("POD_NAME")
                .ok()
                .and_then(|name| ordinal_of(&name))
        });
        Some(ShardConfig {
            shards,
            ordinal,
            lease: LeaseConfig {
                name: self.shard_lease_prefix.clone(),
                ..lease
            },
        })
    }
}
