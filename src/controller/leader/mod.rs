//! Leader election over a coordination.k8s.io/v1 Lease, so that one replica of many reconciles.
//!
//! [`LeaderElector::run`] acquires the Lease named by [`LeaseConfig`], runs the caller's
//! "leading" future while it holds it, renews it every retry period, gives it up (and drops
//! the leading future) the moment the renew deadline passes without a renewal or when it sees
//! another holder, and releases it on shutdown so a standby takes over at once instead of
//! after the lease duration. The rules follow client-go's `leaderelection` package: a lease is
//! expired when its record has not changed for `leaseDurationSeconds` by the local clock (so
//! clock skew between replicas does not matter), a released lease has no holder, and the
//! durations must satisfy client-go's `NewLeaderElector` checks (see [`LeaseConfig::check`]).
//!
//! Leadership never overlaps as long as the replicas' clocks run at about the same rate: the
//! leader stops at the renew deadline, counted from the start of its last successful renewal,
//! while a standby waits the (longer) lease duration from the moment it saw that renewal.

mod elector;
pub(crate) mod record;

use std::time::Duration;

pub use elector::{Ended, LeaderElector, StopSignal};

/// Errors of leader election; each names the Lease and the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured durations cannot work together.
    #[error("leader election: {0}")]
    InvalidConfig(String),
    /// Reading the Lease failed.
    #[error("reading Lease {namespace}/{name} failed: {source}")]
    GetFailed {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// Creating the Lease failed (other than because another replica created it first).
    #[error("creating Lease {namespace}/{name} failed: {source}")]
    CreateFailed {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// Updating the Lease failed (other than because another replica updated it first).
    #[error("updating Lease {namespace}/{name} failed: {source}")]
    UpdateFailed {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// A request to the API server did not answer before its attempt's deadline.
    #[error("{operation} Lease {namespace}/{name} timed out after {seconds:.1}s")]
    TimedOut {
        /// What was attempted.
        operation: &'static str,
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// How long the request was given, in seconds.
        seconds: f64,
    },
    /// The Lease could not be renewed within the renew deadline, or another replica holds it now.
    #[error("lost the leadership of Lease {namespace}/{name}: {reason}")]
    LeadershipLost {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// Why.
        reason: String,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a lease lasts without renewal before a standby may take it.
pub(crate) const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long the leader keeps trying to renew before it gives up leading.
pub(crate) const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often the leader renews, and how often a standby tries to acquire.
pub(crate) const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// client-go's `JitterFactor`: the renew deadline must exceed this many retry periods.
pub(crate) const JITTER_FACTOR: f64 = 1.2;

/// Which Lease to hold, as whom, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease (`--leader-election-id`).
    pub name: String,
    /// This replica's identity, unique among replicas (see [`default_identity`]).
    pub identity: String,
    /// Lease duration; written in whole seconds (rounded up) as `leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops leading.
    pub renew_deadline: Duration,
    /// Time between renewals and between acquisition attempts.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The Lease `namespace/name`, held as [`default_identity`], with the default durations
    /// (15s lease, 10s renew deadline, 2s retry period, as client-go and controller-runtime).
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: default_identity(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// Checks that the durations can work, with client-go's rules (`NewLeaderElector` in
    /// k8s.io/client-go/tools/leaderelection): every duration is positive, the lease duration
    /// is longer than the renew deadline (a leader must stop before a standby may take over),
    /// and the renew deadline is longer than the retry period times [`JITTER_FACTOR`] (a leader
    /// gets more than one attempt before its deadline).
    pub(crate) fn check(&self) -> Result<()> {
        if self.namespace.is_empty() || self.name.is_empty() || self.identity.is_empty() {
            return Err(Error::InvalidConfig(
                "the Lease namespace, name and identity must not be empty".to_string(),
            ));
        }
        if self.lease_duration.is_zero()
            || self.renew_deadline.is_zero()
            || self.retry_period.is_zero()
        {
            return Err(Error::InvalidConfig(format!(
                "the lease duration ({:?}), renew deadline ({:?}) and retry period ({:?}) must be positive",
                self.lease_duration, self.renew_deadline, self.retry_period
            )));
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(Error::InvalidConfig(format!(
                "the renew deadline ({:?}) must be shorter than the lease duration ({:?}), or a \
                 leader could still act after a standby took over",
                self.renew_deadline, self.lease_duration
            )));
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return Err(Error::InvalidConfig(format!(
                "the retry period ({:?}) must be shorter than the renew deadline ({:?}) divided \
                 by {JITTER_FACTOR}, so that a leader gets more than one attempt to renew",
                self.retry_period, self.renew_deadline
            )));
        }
        Ok(())
    }

    /// `leaseDurationSeconds`: the lease duration rounded up to whole seconds.
    pub(crate) fn lease_duration_seconds(&self) -> i32 {
        let secs =
            self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }
}

/// Where a pod's namespace is mounted in-cluster.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The namespace for the Lease when none is given: `$POD_NAMESPACE`, else the pod's own
/// namespace (as its service account mount says), else `default`.
pub fn pod_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "default".to_string())
}

/// This replica's identity: the pod name (`POD_NAME`, else `HOSTNAME`, else `/etc/hostname`)
/// and a random suffix, so two processes on one host never share an identity.
pub(crate) fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "tera-operator".to_string());
    format!("{host}_{}", random_suffix())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..8)
        .map(|_| {
            let i = rand::random_range(0..ALPHABET.len());
            char::from(ALPHABET[i])
        })
        .collect()
}

#[cfg(test)]
mod tests;
