//! The Lease record and the pure decision: acquire it, renew it, or wait for its holder.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;

/// What a Lease says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The holder (`None` when nobody holds it, e.g. after a release).
    pub(crate) holder: Option<String>,
    /// How long the holder's claim lasts after its last renewal.
    pub(crate) lease_duration: Duration,
    /// The last renewal, as the holder's clock wrote it (used only to notice changes).
    pub(crate) renew_time: Option<String>,
    /// How many times the lease changed hands.
    pub(crate) transitions: i32,
}

impl Record {
    /// The record of a Lease that does not exist (yet): nobody holds it.
    pub(crate) fn absent() -> Self {
        Self {
            holder: None,
            lease_duration: Duration::ZERO,
            renew_time: None,
            transitions: -1,
        }
    }

    /// The record of a Lease object.
    pub(crate) fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            lease_duration: Duration::from_secs(
                u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
            ),
            renew_time: spec.renew_time.map(|t| t.0.to_string()),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }
}

/// What to do with a Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// We hold it: write a new renew time.
    Renew,
    /// Nobody holds it, or its holder let it expire: take it over.
    Acquire,
    /// Another replica holds it and it has not expired.
    Wait {
        /// The current holder.
        holder: String,
    },
}

/// Decides what `identity` does with `record`, given how long ago (by the local clock)
/// the record was last seen to change, and how long a lease nobody holds must stay free before
/// this replica takes it (`free_grace`: zero for a leader election; a shard's own replica gets
/// the first chance at it, see [`crate::controller::shard`]).
pub(crate) fn decide(
    record: &Record,
    identity: &str,
    unchanged_for: Duration,
    free_grace: Duration,
) -> Decision {
    match &record.holder {
        Some(holder) if holder == identity => Decision::Renew,
        Some(holder) if unchanged_for < record.lease_duration => Decision::Wait {
            holder: holder.clone(),
        },
        None if unchanged_for < free_grace => Decision::Wait {
            holder: String::new(),
        },
        _ => Decision::Acquire,
    }
}
