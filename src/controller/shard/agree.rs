//! The count record's I/O: a replica holding a shard Lease serves it only once the recorded
//! shard count is its own, confirmed or adopted by a write conditional on the record's version.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use tokio::time::Instant;

use super::count::{
    COUNT_ANNOTATION, SET_LABEL, STARTED_ANNOTATION, ShardLease, Step, recorded_count, step,
};
use crate::controller::leader::StopSignal;
use crate::controller::leader::record::{Decision, Record, decide};

/// One shard's side of the count agreement.
pub(crate) struct Agreement {
    api: Api<Lease>,
    /// The count record's name (`<prefix>-count`).
    record: String,
    /// The shard Leases' label selector.
    selector: String,
    mine: u32,
    identity: String,
    shard: u32,
    /// Each shard Lease's record as last seen, and since when (local clock).
    observed: HashMap<String, (Record, Instant)>,
    /// The last reason for waiting that was logged.
    logged: Option<String>,
}

impl Agreement {
    /// The agreement of `shard` out of `mine`, for the Lease set `prefix` in `namespace`.
    pub(crate) fn new(
        client: kube::Client,
        namespace: &str,
        prefix: &str,
        mine: u32,
        identity: &str,
        shard: u32,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            record: record_name(prefix),
            selector: format!("{SET_LABEL}={prefix}"),
            mine,
            identity: identity.to_string(),
            shard,
            observed: HashMap::new(),
            logged: None,
        }
    }

    /// Tries every `retry` until the count is agreed (true) or `stop` fires (false).
    pub(crate) async fn until_agreed(&mut self, retry: Duration, stop: &mut StopSignal) -> bool {
        loop {
            let started = Instant::now();
            let attempt = tokio::select! {
                () = stop.stopped() => return false,
                attempt = self.attempt() => attempt,
            };
            match attempt {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(shard = self.shard, error = %e, "checking the shard count failed; retrying")
                }
            }
            tokio::select! {
                () = stop.stopped() => return false,
                () = tokio::time::sleep_until(started + retry) => {}
            }
        }
    }

    /// One attempt: read the record, then (if it differs) the shard Leases, then write the
    /// record conditionally. Ok(true) once the write went through.
    async fn attempt(&mut self) -> Result<bool, kube::Error> {
        let record = self.api.get_opt(&self.record).await?;
        let agreed = record
            .as_ref()
            .and_then(|r| recorded_count(r.metadata.annotations.as_ref()));
        let leases = if agreed == Some(self.mine) {
            Vec::new()
        } else {
            let list = self
                .api
                .list(&ListParams::default().labels(&self.selector))
                .await?;
            list.items.iter().map(|l| self.view(l)).collect()
        };
        match step(agreed, self.mine, &leases) {
            Step::Wait(reason) => {
                if self.logged.as_ref() != Some(&reason) {
                    tracing::warn!(shard = self.shard, %reason, "holding the shard's Lease, not serving it yet");
                    self.logged = Some(reason);
                }
                Ok(false)
            }
            Step::Confirm | Step::Adopt => self.write(record, agreed).await,
        }
    }

    /// Writes the record with this count and this start, conditional on the version read.
    async fn write(&self, record: Option<Lease>, agreed: Option<u32>) -> Result<bool, kube::Error> {
        let started = format!(
            "{} shard {} at {}",
            self.identity,
            self.shard,
            k8s_openapi::jiff::Timestamp::now()
        );
        let annotations = BTreeMap::from([
            (COUNT_ANNOTATION.to_string(), self.mine.to_string()),
            (STARTED_ANNOTATION.to_string(), started),
        ]);
        let written = match record {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.record.clone()),
                        annotations: Some(annotations),
                        ..ObjectMeta::default()
                    },
                    spec: None,
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease
                    .metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .extend(annotations);
                self.api
                    .replace(&self.record, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => {
                if agreed != Some(self.mine) {
                    tracing::info!(shard = self.shard, shards = self.mine, previous = ?agreed, "recorded the new shard count");
                }
                Ok(true)
            }
            // Another replica wrote the record between our read and our write: read again.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// How a shard Lease looks to this replica: its holder counts only while its record has
    /// changed within its lease duration (by the local clock, as a standby judges a leader).
    fn view(&mut self, lease: &Lease) -> ShardLease {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let record = Record::of(lease);
        let now = Instant::now();
        let since = match self.observed.get(&name) {
            Some((seen, at)) if *seen == record => *at,
            _ => {
                self.observed.insert(name.clone(), (record.clone(), now));
                now
            }
        };
        let live = matches!(
            decide(&record, &self.identity, now - since, Duration::ZERO),
            Decision::Wait { .. } | Decision::Renew
        );
        ShardLease {
            name,
            live_holder: record.holder.filter(|_| live),
            count: recorded_count(lease.metadata.annotations.as_ref()),
        }
    }
}

/// The count record's name for the Lease set `prefix`.
pub(crate) fn record_name(prefix: &str) -> String {
    format!("{prefix}-count")
}
