//! The elector: acquire the Lease, renew it while leading, detect its loss, release it on shutdown.
//!
//! Leading ends at the renew deadline: `renewDeadline` after the start of the last attempt that
//! renewed the Lease. That attempt wrote the Lease no earlier than it started, and a standby
//! takes over only once it has seen the record unchanged for the lease duration, so a leader
//! that stops at its deadline stops `leaseDuration - renewDeadline` (5s by default) before any
//! standby can start. Every request of an attempt is bounded by the time left before that
//! deadline, and the deadline is watched while an attempt is in flight, so a hanging API server
//! cannot stretch it.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use super::record::{Decision, Record, decide};
use super::{Error, LeaseConfig, Result};

/// How [`LeaderElector::run`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was requested; if this replica was leading, its leading future finished
    /// and the Lease was released.
    Shutdown,
    /// The leading future finished on its own; the Lease was released.
    LeadingFinished,
}

/// Tells the leading future that it should stop (shutdown was requested).
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Resolves once the leading future should wind down.
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// The result of one attempt to acquire or renew.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease now.
    Leading,
    /// Another replica holds it.
    Follower(String),
    /// Another replica wrote it between our read and our write; try again later.
    Contended,
}

/// Elects one leader among the replicas sharing a Lease.
pub struct LeaderElector {
    lease: LeaseApi,
    is_leader: watch::Sender<bool>,
    /// The record last seen and when (by the local clock) it was first seen that way.
    observed: Option<(Record, Instant)>,
}

/// The Lease's API, and the settings that name and time it.
struct LeaseApi {
    api: Api<Lease>,
    config: LeaseConfig,
    /// How long a Lease nobody holds must stay free before this replica takes it.
    free_grace: Duration,
    /// Labels and annotations written on the Lease with every acquisition and renewal.
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

impl LeaderElector {
    /// An elector for the Lease of `config`, talking through `client`.
    pub fn new(client: kube::Client, config: LeaseConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            lease: LeaseApi {
                api: Api::namespaced(client, &config.namespace),
                config,
                free_grace: Duration::ZERO,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
            },
            is_leader: watch::channel(false).0,
            observed: None,
        })
    }

    /// Takes a Lease that nobody holds (never created, or released) only once it has stayed
    /// free for `grace` by the local clock; an expired Lease of a silent holder is still taken
    /// as soon as it expires. Gives another replica the first chance at it (a shard's own one).
    pub(crate) fn with_free_grace(mut self, grace: Duration) -> Self {
        self.lease.free_grace = grace;
        self
    }

    /// Writes these labels and annotations on the Lease whenever it is acquired or renewed
    /// (e.g. the shard count a shard Lease was taken under).
    pub(crate) fn with_metadata(
        mut self,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        self.lease.labels = labels;
        self.lease.annotations = annotations;
        self
    }

    /// The identity this elector holds the Lease as.
    pub(crate) fn identity(&self) -> &str {
        &self.lease.config.identity
    }

    /// Whether this replica leads, now and as it changes.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.is_leader.subscribe()
    }

    /// Waits until this replica holds the Lease, then runs the future `leading` builds while
    /// renewing it. Returns when `shutdown` resolves (after the leading future, told through
    /// its [`StopSignal`], finished, and the Lease was released), when the leading future
    /// finishes on its own (Lease released), or with [`Error::LeadershipLost`] the moment the
    /// renew deadline passes without a renewal, or when another replica took the Lease — then
    /// the leading future is dropped at once, as a leader that lost its lease must stop acting.
    pub async fn run<L, F, S>(self, leading: L, shutdown: S) -> Result<Ended>
    where
        L: FnOnce(StopSignal) -> F,
        F: Future<Output = ()>,
        S: Future<Output = ()>,
    {
        let Self {
            lease,
            is_leader,
            mut observed,
        } = self;
        let config = &lease.config;
        tokio::pin!(shutdown);
        // Standby: try at once, then every retry period; each attempt within a renew deadline.
        let mut renewed_at = loop {
            let started = Instant::now();
            let attempt = tokio::select! {
                () = &mut shutdown => return Ok(Ended::Shutdown),
                attempt = lease.try_acquire_or_renew(&mut observed, started + config.renew_deadline) => attempt,
            };
            match attempt {
                Ok(Attempt::Leading) => break started,
                Ok(Attempt::Follower(holder)) if holder.is_empty() => {
                    tracing::debug!(lease = %config.name, "free, left to another replica for now");
                }
                Ok(Attempt::Follower(holder)) => {
                    tracing::debug!(lease = %config.name, %holder, "standing by");
                }
                Ok(Attempt::Contended) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: acquiring failed"),
            }
            tokio::select! {
                () = &mut shutdown => return Ok(Ended::Shutdown),
                () = tokio::time::sleep_until(started + config.retry_period) => {}
            }
        };
        tracing::info!(lease = %config.name, identity = %config.identity, "became the leader");
        is_leader.send_replace(true);

        let (stop_tx, stop_rx) = watch::channel(false);
        let leading = leading(StopSignal(stop_rx));
        tokio::pin!(leading);
        let mut shutting_down = false;
        // Attempts start one retry period apart (at once when one took longer).
        let mut next_attempt = renewed_at + config.retry_period;
        let ended = 'leading: loop {
            let deadline = renewed_at + config.renew_deadline;
            let (started, attempt) = {
                let (lease, observed, at) = (&lease, &mut observed, next_attempt);
                let renewal = async move {
                    tokio::time::sleep_until(at).await;
                    let started = Instant::now();
                    (
                        started,
                        lease.try_acquire_or_renew(observed, deadline).await,
                    )
                };
                tokio::pin!(renewal);
                loop {
                    tokio::select! {
                        // First: past the deadline, nothing else counts.
                        biased;
                        () = tokio::time::sleep_until(deadline) => {
                            let reason = format!(
                                "not renewed within the renew deadline ({:.1}s)",
                                config.renew_deadline.as_secs_f64()
                            );
                            return Err(lost(&is_leader, config, reason));
                        }
                        () = &mut leading => {
                            break 'leading if shutting_down { Ended::Shutdown } else { Ended::LeadingFinished };
                        }
                        () = &mut shutdown, if !shutting_down => {
                            shutting_down = true;
                            stop_tx.send_replace(true);
                        }
                        outcome = &mut renewal => break outcome,
                    }
                }
            };
            next_attempt = started + config.retry_period;
            match attempt {
                Ok(Attempt::Leading) => renewed_at = started,
                Ok(Attempt::Follower(holder)) => {
                    return Err(lost(&is_leader, config, format!("{holder} holds it now")));
                }
                Ok(Attempt::Contended) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: renewing failed"),
            }
        };
        is_leader.send_replace(false);
        if let Err(e) = lease.release(Instant::now() + config.renew_deadline).await {
            tracing::warn!(error = %e, "leader election: releasing the lease failed");
        }
        Ok(ended)
    }
}

/// Stops leading: tells the subscribers, logs why, and returns [`Error::LeadershipLost`].
fn lost(is_leader: &watch::Sender<bool>, config: &LeaseConfig, reason: String) -> Error {
    is_leader.send_replace(false);
    tracing::error!(lease = %config.name, %reason, "lost the leadership");
    Error::LeadershipLost {
        namespace: config.namespace.clone(),
        name: config.name.clone(),
        reason,
    }
}

impl LeaseApi {
    /// Gives the Lease up if this replica holds it (no holder, so a standby takes it at once),
    /// every request answered before `deadline`.
    async fn release(&self, deadline: Instant) -> Result<()> {
        let Some(mut lease) = self.get(deadline).await? else {
            return Ok(());
        };
        if Record::of(&lease).holder.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now);
        match self.replace(&lease, deadline).await {
            Ok(_) => {
                tracing::info!(lease = %self.config.name, "released the lease");
                Ok(())
            }
            // Another replica wrote it first: it is not ours to release any more.
            Err(Error::UpdateFailed {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One attempt, every request of it answered before `deadline`: create the Lease, renew
    /// it, take it over if expired, or report its holder.
    async fn try_acquire_or_renew(
        &self,
        observed: &mut Option<(Record, Instant)>,
        deadline: Instant,
    ) -> Result<Attempt> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(mut lease) = self.get(deadline).await? else {
            let unchanged_for = observe_record(observed, Record::absent());
            if let Decision::Wait { holder } = decide(
                &Record::absent(),
                &self.config.identity,
                unchanged_for,
                self.free_grace,
            ) {
                return Ok(Attempt::Follower(holder));
            }
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                    annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(self.config.lease_duration_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self
                .bounded(
                    "creating",
                    deadline,
                    self.api.create(&PostParams::default(), &lease),
                )
                .await?
            {
                Ok(created) => {
                    observe(observed, &created);
                    Ok(Attempt::Leading)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Contended),
                Err(source) => Err(Error::CreateFailed {
                    namespace: self.config.namespace.clone(),
                    name: self.config.name.clone(),
                    source,
                }),
            };
        };
        let record = Record::of(&lease);
        let unchanged_for = observe(observed, &lease);
        let decision = decide(
            &record,
            &self.config.identity,
            unchanged_for,
            self.free_grace,
        );
        if !matches!(decision, Decision::Wait { .. }) {
            let meta = &mut lease.metadata;
            for (labels, ours) in [
                (&mut meta.labels, &self.labels),
                (&mut meta.annotations, &self.annotations),
            ] {
                if !ours.is_empty() {
                    labels
                        .get_or_insert_with(BTreeMap::new)
                        .extend(ours.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        match decision {
            Decision::Wait { holder } => return Ok(Attempt::Follower(holder)),
            Decision::Renew => {}
            Decision::Acquire => {
                spec.holder_identity = Some(self.config.identity.clone());
                spec.acquire_time = Some(now.clone());
                spec.lease_transitions = Some(record.transitions.saturating_add(1));
            }
        }
        spec.lease_duration_seconds = Some(self.config.lease_duration_seconds());
        spec.renew_time = Some(now);
        match self.replace(&lease, deadline).await {
            Ok(updated) => {
                observe(observed, &updated);
                Ok(Attempt::Leading)
            }
            Err(Error::UpdateFailed {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 409 => Ok(Attempt::Contended),
            Err(e) => Err(e),
        }
    }

    async fn get(&self, deadline: Instant) -> Result<Option<Lease>> {
        self.bounded("reading", deadline, self.api.get_opt(&self.config.name))
            .await?
            .map_err(|source| Error::GetFailed {
                namespace: self.config.namespace.clone(),
                name: self.config.name.clone(),
                source,
            })
    }

    /// Writes `lease` back (optimistic concurrency: its resourceVersion must still be current).
    async fn replace(&self, lease: &Lease, deadline: Instant) -> Result<Lease> {
        self.bounded(
            "updating",
            deadline,
            self.api
                .replace(&self.config.name, &PostParams::default(), lease),
        )
        .await?
        .map_err(|source| Error::UpdateFailed {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source,
        })
    }

    /// Runs one API request, given up at `deadline`.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        deadline: Instant,
        request: impl Future<Output = T>,
    ) -> Result<T> {
        let allowed = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout_at(deadline, request)
            .await
            .map_err(|_| Error::TimedOut {
                operation,
                namespace: self.config.namespace.clone(),
                name: self.config.name.clone(),
                seconds: allowed.as_secs_f64(),
            })
    }
}

/// Notes the record of `lease`; returns how long it has been unchanged by the local clock.
fn observe(observed: &mut Option<(Record, Instant)>, lease: &Lease) -> Duration {
    observe_record(observed, Record::of(lease))
}

/// Notes `record`; returns how long it has been unchanged by the local clock.
fn observe_record(observed: &mut Option<(Record, Instant)>, record: Record) -> Duration {
    match observed {
        Some((seen, at)) if *seen == record => at.elapsed(),
        _ => {
            *observed = Some((record, Instant::now()));
            Duration::ZERO
        }
    }
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.lease.config)
            .field("is_leader", &*self.is_leader.borrow())
            .finish_non_exhaustive()
    }
}
