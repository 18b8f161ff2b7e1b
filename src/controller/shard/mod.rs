//! Sharding across replicas: each resource is served by one shard, each shard by whichever replica holds its Lease.
//!
//! A resource belongs to the shard `jump(fnv64a(uid), shards)` ([`hash`]), as in kube-state-metrics.
//! Every replica runs the operator with all its watches, but reconciles only the resources of
//! the shards it serves ([`Shards::gate`]); a reconcile in flight is dropped the moment its
//! shard is lost. Shard `i` is held through the Lease `<prefix>-<i>` with the leader-election
//! rules ([`crate::controller::leader`]): a replica stops serving a shard at its renew deadline,
//! before any other replica may take the Lease over after the lease duration, so a shard is
//! never served twice, and a dead replica's shards are taken over within the lease duration.
//! A replica gets the first chance at its own shard (its ordinal, e.g. a StatefulSet pod's);
//! other replicas take a free Lease only after it stayed free for a lease duration.
//!
//! Changing the shard count is safe through the count record, the Lease `<prefix>-count`
//! ([`count`], [`agree`]): every shard Lease records the count it was taken under, and a
//! replica serves a shard only after writing the record — conditional on the version it read —
//! with its own count. It may change the recorded count only when, between that read and that
//! write, it saw no shard Lease held under another count; a replica of the old count that took
//! a Lease meanwhile either wrote the record first (the change then fails and is retried, and
//! sees its Lease) or reads the new count and serves nothing.

mod agree;
mod count;
mod hash;
mod owned;
mod replica;

use std::time::Duration;

pub use hash::shard_of;
pub use owned::Shards;
pub use replica::run_sharded;

use super::leader::{self, LeaseConfig};

/// The most shards a set may have.
pub const MAX_SHARDS: u32 = 1000;

/// How a replica takes part in a sharded set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfig {
    /// How many shards the resources are split into (the same on every replica).
    pub shards: u32,
    /// This replica's ordinal: it gets the first chance at shard `ordinal % shards`.
    pub ordinal: Option<u32>,
    /// The shard Leases: `name` is their prefix (shard `i` is `<name>-<i>`, the count record
    /// `<name>-count`); identity and durations as for leader election.
    pub lease: LeaseConfig,
}

impl ShardConfig {
    /// Checks the count, the prefix and the durations.
    pub(crate) fn check(&self) -> Result<(), leader::Error> {
        if self.shards == 0 || self.shards > MAX_SHARDS {
            return Err(leader::Error::InvalidConfig(format!(
                "--shards must be between 1 and {MAX_SHARDS}, not {}",
                self.shards
            )));
        }
        let prefix = &self.lease.name;
        // A label value (the shard set label) and a Lease name with `-count` appended.
        let valid = !prefix.is_empty()
            && prefix.len() <= 57
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-')
            && !prefix.ends_with('-');
        if !valid {
            return Err(leader::Error::InvalidConfig(format!(
                "--shard-lease-prefix {prefix:?} must be at most 57 lowercase letters, digits \
                 and '-', starting and ending with a letter or digit"
            )));
        }
        self.lease.check()
    }

    /// The Lease of `shard`.
    pub(crate) fn shard_lease(&self, shard: u32) -> LeaseConfig {
        LeaseConfig {
            name: format!("{}-{shard}", self.lease.name),
            ..self.lease.clone()
        }
    }

    /// How long `shard`'s Lease must stay free before this replica takes it: none for the
    /// replica's own shard, a lease duration for the others (its own replica goes first).
    pub(crate) fn free_grace(&self, shard: u32) -> Duration {
        match self.ordinal {
            Some(ordinal) if ordinal % self.shards == shard => Duration::ZERO,
            _ => self.lease.lease_duration,
        }
    }
}

/// The ordinal at the end of a pod name (`tera-operator-2` → 2), as a StatefulSet names its
/// pods; `None` for any other name.
pub fn ordinal_of(pod_name: &str) -> Option<u32> {
    let (_, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(shards: u32, ordinal: Option<u32>, prefix: &str) -> ShardConfig {
        ShardConfig {
            shards,
            ordinal,
            lease: LeaseConfig {
                identity: "me".into(),
                ..LeaseConfig::new("ops", prefix)
            },
        }
    }

    #[test]
    fn own_shard_first_others_after_a_lease_duration() {
        let c = config(3, Some(4), "tera-operator-shard");
        assert_eq!(c.free_grace(1), Duration::ZERO);
        assert_eq!(c.free_grace(0), Duration::from_secs(15));
        assert_eq!(c.free_grace(2), Duration::from_secs(15));
        let none = config(3, None, "tera-operator-shard");
        assert!((0..3).all(|s| none.free_grace(s) == Duration::from_secs(15)));
        assert_eq!(c.shard_lease(2).name, "tera-operator-shard-2");
        assert_eq!(c.shard_lease(2).identity, "me");
    }

    #[test]
    fn check_refuses_bad_counts_and_prefixes() {
        assert!(config(3, None, "tera-operator-shard").check().is_ok());
        for (shards, prefix, says) in [
            (0, "ok", "--shards"),
            (1001, "ok", "--shards"),
            (3, "", "--shard-lease-prefix"),
            (3, "Upper", "--shard-lease-prefix"),
            (3, "trailing-", "--shard-lease-prefix"),
            (3, &"x".repeat(58), "--shard-lease-prefix"),
        ] {
            let err = config(shards, None, prefix)
                .check()
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{shards} {prefix}: {err}");
        }
    }

    #[test]
    fn ordinals_come_from_statefulset_pod_names() {
        assert_eq!(ordinal_of("tera-operator-0"), Some(0));
        assert_eq!(ordinal_of("tera-operator-12"), Some(12));
        assert_eq!(ordinal_of("tera-operator-7d9f8-x2b4q"), None);
        assert_eq!(ordinal_of("tera-operator"), None);
        assert_eq!(ordinal_of("op-"), None);
    }
}
