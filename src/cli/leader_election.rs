//! The `--leader-elect` flags of `run`, and the Lease they ask for.
//!
//! `run` flattens [`LeaderElectionArgs`] into its arguments and passes
//! [`LeaderElectionArgs::lease_config`] to `controller::run`: without `--leader-elect` the
//! operator starts at once; with it, only while this replica holds the Lease.

use std::time::Duration;

use crate::config::parse_duration;
use crate::controller::leader::{self, LeaseConfig};
use clap::Args;

/// The leader-election flags of `run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LeaderElectionArgs {
    /// Reconcile only while holding the leader-election Lease (run several replicas for HA).
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else the pod's own namespace, else `default`).
    #[arg(long)]
    leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "tera-operator")]
    leader_election_id: String,
    /// How long a standby waits for a silent leader's Lease before taking over.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_election_lease_duration: Duration,
    /// How long the leader tries to renew before it stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_election_renew_deadline: Duration,
    /// Time between renewals, and between a standby's attempts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_election_retry_period: Duration,
}

impl LeaderElectionArgs {
    /// The Lease to hold, or `None` without `--leader-elect`.
    pub(crate) fn lease_config(&self) -> Option<LeaseConfig> {
        self.leader_elect.then(|| self.lease_settings())
    }

    /// The Lease these flags describe (namespace, name, durations), elected or not: sharding
    /// times its shard Leases with them.
    pub(crate) fn lease_settings(&self) -> LeaseConfig {
        let namespace = self
            .leader_election_namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(leader::pod_namespace);
        LeaseConfig {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            ..LeaseConfig::new(namespace, self.leader_election_id.clone())
        }
    }
}
