//! The elector: acquire the Lease, renew it while leading, detect its loss, release it on shutdown.

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
    api: Api<Lease>,
    config: LeaseConfig,
    is_leader: watch::Sender<bool>,
    /// The record last seen and when (by the local clock) it was first seen that way.
    observed: Option<(Record, Instant)>,
}

impl LeaderElector {
    /// An elector for the Lease of `config`, talking through `client`.
    pub fn new(client: kube::Client, config: LeaseConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            is_leader: watch::channel(false).0,
            observed: None,
        })
    }

    /// The identity this elector holds the Lease as.
    pub(crate) fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Whether this replica leads, now and as it changes.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.is_leader.subscribe()
    }

    /// Waits until this replica holds the Lease, then runs the future `leading` builds while
    /// renewing it. Returns when `shutdown` resolves (after the leading future, told through
    /// its [`StopSignal`], finished, and the Lease was released), when the leading future
    /// finishes on its own (Lease released), or with [`Error::LeadershipLost`] when the Lease
    /// could not be renewed within the renew deadline or another replica took it — then the
    /// leading future is dropped at once, as a leader that lost its lease must stop acting.
    pub async fn run<L, F, S>(mut self, leading: L, shutdown: S) -> Result<Ended>
    where
        L: FnOnce(StopSignal) -> F,
        F: Future<Output = ()>,
        S: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        // Standby: try at once, then every retry period.
        loop {
            let attempt = tokio::select! {
                () = &mut shutdown => return Ok(Ended::Shutdown),
                attempt = self.try_acquire_or_renew() => attempt,
            };
            match attempt {
                Ok(Attempt::Leading) => break,
                Ok(Attempt::Follower(holder)) => {
                    tracing::debug!(lease = %self.config.name, %holder, "standing by");
                }
                Ok(Attempt::Contended) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: acquiring failed"),
            }
            tokio::select! {
                () = &mut shutdown => return Ok(Ended::Shutdown),
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
        }
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became the leader");
        self.is_leader.send_replace(true);

        let (stop_tx, stop_rx) = watch::channel(false);
        let leading = leading(StopSignal(stop_rx));
        tokio::pin!(leading);
        let mut last_renewed = Instant::now();
        let mut shutting_down = false;
        let ended = loop {
            let next = tokio::time::sleep(self.config.retry_period);
            tokio::select! {
                () = &mut leading => {
                    break if shutting_down { Ended::Shutdown } else { Ended::LeadingFinished };
                }
                () = &mut shutdown, if !shutting_down => {
                    shutting_down = true;
                    stop_tx.send_replace(true);
                }
                () = next => {
                    match self.try_acquire_or_renew().await {
                        Ok(Attempt::Leading) => last_renewed = Instant::now(),
                        Ok(Attempt::Follower(holder)) => {
                            return Err(self.lost(format!("{holder} holds it now")));
                        }
                        Ok(Attempt::Contended) => {}
                        Err(e) => tracing::warn!(error = %e, "leader election: renewing failed"),
                    }
                    if last_renewed.elapsed() >= self.config.renew_deadline {
                        let reason = format!(
                            "not renewed for {:.1}s (renew deadline {:.1}s)",
                            last_renewed.elapsed().as_secs_f64(),
                            self.config.renew_deadline.as_secs_f64()
                        );
                        return Err(self.lost(reason));
                    }
                }
            }
        };
        self.is_leader.send_replace(false);
        if let Err(e) = self.release().await {
            tracing::warn!(error = %e, "leader election: releasing the lease failed");
        }
        Ok(ended)
    }

    fn lost(&self, reason: String) -> Error {
        self.is_leader.send_replace(false);
        tracing::error!(lease = %self.config.name, %reason, "lost the leadership");
        Error::LeadershipLost {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            reason,
        }
    }

    /// Gives the Lease up if this replica holds it: no holder, so a standby takes it at once.
    pub(crate) async fn release(&mut self) -> Result<()> {
        let Some(mut lease) = self.get().await? else {
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
        match self.replace(&lease).await {
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

    /// One attempt: create the Lease, renew it, take it over if expired, or report its holder.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(mut lease) = self.get().await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
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
                .bounded("creating", self.api.create(&PostParams::default(), &lease))
                .await?
            {
                Ok(created) => {
                    self.observe(&created);
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
        let unchanged_for = self.observe(&lease);
        let decision = decide(&record, &self.config.identity, unchanged_for);
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
        match self.replace(&lease).await {
            Ok(updated) => {
                self.observe(&updated);
                Ok(Attempt::Leading)
            }
            Err(Error::UpdateFailed {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 409 => Ok(Attempt::Contended),
            Err(e) => Err(e),
        }
    }

    /// Notes the record of `lease`; returns how long it has been unchanged by the local clock.
    fn observe(&mut self, lease: &Lease) -> Duration {
        let record = Record::of(lease);
        match &self.observed {
            Some((seen, at)) if *seen == record => at.elapsed(),
            _ => {
                self.observed = Some((record, Instant::now()));
                Duration::ZERO
            }
        }
    }

    async fn get(&self) -> Result<Option<Lease>> {
        self.bounded("reading", self.api.get_opt(&self.config.name))
            .await?
            .map_err(|source| Error::GetFailed {
                namespace: self.config.namespace.clone(),
                name: self.config.name.clone(),
                source,
            })
    }

    /// Writes `lease` back (optimistic concurrency: its resourceVersion must still be current).
    async fn replace(&self, lease: &Lease) -> Result<Lease> {
        self.bounded(
            "updating",
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

    /// Runs one API request with the renew deadline as its timeout.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        request: impl Future<Output = T>,
    ) -> Result<T> {
        tokio::time::timeout(self.config.renew_deadline, request)
            .await
            .map_err(|_| Error::TimedOut {
                operation,
                namespace: self.config.namespace.clone(),
                name: self.config.name.clone(),
                seconds: self.config.renew_deadline.as_secs_f64(),
            })
    }
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.config)
            .field("is_leader", &*self.is_leader.borrow())
            .finish_non_exhaustive()
    }
}
