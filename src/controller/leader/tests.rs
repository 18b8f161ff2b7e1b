//! Tests of the Lease decision and the leader-election settings.

use std::time::Duration;

use super::record::{Decision, Record, decide};
use super::*;

fn record(holder: Option<&str>, secs: u64) -> Record {
    Record {
        holder: holder.map(str::to_string),
        lease_duration: Duration::from_secs(secs),
        renew_time: None,
        transitions: 0,
    }
}

#[test]
fn decide_renews_own_lease_waits_for_a_live_one_and_takes_an_expired_or_free_one() {
    let d = |r: &Record, unchanged: u64| {
        decide(r, "me", Duration::from_secs(unchanged), Duration::ZERO)
    };
    assert_eq!(d(&record(Some("me"), 15), 100), Decision::Renew);
    assert_eq!(
        d(&record(Some("other"), 15), 14),
        Decision::Wait {
            holder: "other".into()
        }
    );
    assert_eq!(d(&record(Some("other"), 15), 15), Decision::Acquire);
    assert_eq!(d(&record(None, 15), 0), Decision::Acquire);
    assert_eq!(d(&Record::absent(), 0), Decision::Acquire);
}

#[test]
fn decide_with_a_grace_leaves_a_free_lease_alone_for_the_grace_but_not_an_expired_one() {
    let grace = Duration::from_secs(15);
    let d = |r: &Record, unchanged: u64| decide(r, "me", Duration::from_secs(unchanged), grace);
    let nobody = Decision::Wait {
        holder: String::new(),
    };
    for free in [record(None, 1), Record::absent()] {
        assert_eq!(d(&free, 0), nobody);
        assert_eq!(d(&free, 14), nobody);
        assert_eq!(d(&free, 15), Decision::Acquire);
    }
    // A dead holder's lease is taken once expired: the grace never delays a takeover.
    assert_eq!(d(&record(Some("dead"), 15), 15), Decision::Acquire);
    assert_eq!(d(&record(Some("me"), 15), 0), Decision::Renew);
}

#[test]
fn config_check_orders_the_durations() {
    let ok = LeaseConfig::new("ns", "id");
    assert!(ok.check().is_ok());
    assert_eq!(ok.lease_duration_seconds(), 15);
    let bad = LeaseConfig {
        renew_deadline: Duration::from_secs(20),
        ..ok.clone()
    };
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("renew deadline")
    );
    let bad = LeaseConfig {
        retry_period: Duration::from_secs(10),
        ..ok.clone()
    };
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("retry period")
    );
    // client-go's rules: renew deadline < lease duration (equal is refused too), renew
    // deadline > 1.2 × retry period, nothing zero.
    let refused = |config: LeaseConfig, what: &str| {
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains(what), "{config:?}: {err}");
    };
    refused(
        LeaseConfig {
            renew_deadline: Duration::from_secs(15),
            ..ok.clone()
        },
        "shorter than the lease duration",
    );
    refused(
        LeaseConfig {
            renew_deadline: Duration::from_millis(2400),
            lease_duration: Duration::from_secs(3),
            ..ok.clone()
        },
        "divided by 1.2",
    );
    assert!(
        LeaseConfig {
            renew_deadline: Duration::from_millis(2500),
            lease_duration: Duration::from_secs(3),
            ..ok.clone()
        }
        .check()
        .is_ok()
    );
    for zero in [
        LeaseConfig {
            retry_period: Duration::ZERO,
            ..ok.clone()
        },
        LeaseConfig {
            lease_duration: Duration::ZERO,
            renew_deadline: Duration::ZERO,
            ..ok.clone()
        },
    ] {
        refused(zero, "must be positive");
    }
    let fractional = LeaseConfig {
        lease_duration: Duration::from_millis(1500),
        renew_deadline: Duration::from_secs(1),
        retry_period: Duration::from_millis(100),
        ..ok
    };
    assert_eq!(fractional.lease_duration_seconds(), 2);
}

#[test]
fn identities_are_unique_per_process_start() {
    let a = default_identity();
    let b = default_identity();
    assert_ne!(a, b);
    assert!(a.contains('_'));
}

/// An in-memory Lease API behind `kube::Client`s: no sockets, so paused time drives it, and
/// each replica's requests can be made slow or left unanswered.
mod fake {
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::Duration;

    use axum::http::{Method, Request, Response, StatusCode};
    use kube::client::Body;
    use serde_json::{Value, json};
    use tokio::time::Instant;

    /// How the API answers one replica.
    #[derive(Debug, Clone, Copy, Default)]
    pub(super) enum Weather {
        /// At once.
        #[default]
        Fair,
        /// Never: every request hangs.
        Hang,
        /// Reads after `reads`; writes never.
        SlowReadsHangingWrites {
            /// How long a read takes.
            reads: Duration,
        },
    }

    #[derive(Default)]
    struct State {
        lease: Option<Value>,
        version: u64,
        weather: HashMap<String, Weather>,
        /// When each replica's writes were stored.
        writes: HashMap<String, Vec<Instant>>,
    }

    /// One Lease, served to any number of replicas.
    #[derive(Default)]
    pub(super) struct Server(Mutex<State>);

    fn respond(code: StatusCode, body: &Value) -> Response<Body> {
        let mut response = Response::new(Body::from(body.to_string().into_bytes()));
        *response.status_mut() = code;
        response
    }

    fn status(code: StatusCode, reason: &str) -> Response<Body> {
        respond(
            code,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "reason": reason, "code": code.as_u16(), "message": reason}),
        )
    }

    impl Server {
        fn state(&self) -> MutexGuard<'_, State> {
            self.0.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// From now on, answers `who` this way.
        pub(super) fn set_weather(&self, who: &str, weather: Weather) {
            self.state().weather.insert(who.to_string(), weather);
        }

        /// When the writes of `who` were stored.
        pub(super) fn writes(&self, who: &str) -> Vec<Instant> {
            self.state().writes.get(who).cloned().unwrap_or_default()
        }

        /// A client for the replica `who`.
        pub(super) fn client(self: &Arc<Self>, who: &str) -> kube::Client {
            let server = self.clone();
            let who = who.to_string();
            let service = tower::service_fn(move |request: Request<Body>| {
                let server = server.clone();
                let who = who.clone();
                async move { Ok::<_, Infallible>(server.serve(&who, request).await) }
            });
            kube::Client::new(service, "default")
        }

        async fn serve(&self, who: &str, request: Request<Body>) -> Response<Body> {
            let weather = self.state().weather.get(who).copied().unwrap_or_default();
            let write = request.method() != Method::GET;
            match weather {
                Weather::Fair => {}
                Weather::Hang => std::future::pending::<()>().await,
                Weather::SlowReadsHangingWrites { .. } if write => {
                    std::future::pending::<()>().await;
                }
                Weather::SlowReadsHangingWrites { reads } => tokio::time::sleep(reads).await,
            }
            let method = request.method().clone();
            let body = match request.into_body().collect_bytes().await {
                Ok(bytes) if !bytes.is_empty() => {
                    serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            };
            let mut state = self.state();
            let stored = |state: &mut State, mut lease: Value| {
                state.version += 1;
                lease["metadata"]["resourceVersion"] = json!(state.version.to_string());
                state.lease = Some(lease.clone());
                state
                    .writes
                    .entry(who.to_string())
                    .or_default()
                    .push(Instant::now());
                respond(StatusCode::OK, &lease)
            };
            match (method, &state.lease) {
                (Method::GET, Some(lease)) => respond(StatusCode::OK, lease),
                (Method::GET, None) => status(StatusCode::NOT_FOUND, "NotFound"),
                (Method::POST, None) => stored(&mut state, body),
                (Method::POST, Some(_)) => status(StatusCode::CONFLICT, "AlreadyExists"),
                (Method::PUT, Some(lease))
                    if lease["metadata"]["resourceVersion"]
                        == body["metadata"]["resourceVersion"] =>
                {
                    stored(&mut state, body)
                }
                (Method::PUT, _) => status(StatusCode::CONFLICT, "Conflict"),
                _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            }
        }
    }
}

/// When each replica's leading future started and stopped, and how many led at once at most.
#[derive(Default)]
struct Timeline {
    events: std::sync::Mutex<Vec<(String, bool, tokio::time::Instant)>>,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl Timeline {
    fn record(&self, who: &str, leading: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        if leading {
            let now = self.now.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(now, SeqCst);
        } else {
            self.now.fetch_sub(1, SeqCst);
        }
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push((
            who.to_string(),
            leading,
            tokio::time::Instant::now(),
        ));
    }

    fn when(&self, who: &str, leading: bool) -> Option<tokio::time::Instant> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(w, l, _)| w == who && *l == leading)
            .map(|(_, _, at)| *at)
    }
}

/// Marks the end of a leading future, however it ends (finished or dropped).
struct Leading(std::sync::Arc<Timeline>, String);

impl Drop for Leading {
    fn drop(&mut self) {
        self.0.record(&self.1, false);
    }
}

struct Replica {
    is_leader: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<Result<Ended>>,
}

fn replica(
    server: &std::sync::Arc<fake::Server>,
    who: &str,
    timeline: &std::sync::Arc<Timeline>,
) -> Replica {
    let config = LeaseConfig {
        identity: who.to_string(),
        ..LeaseConfig::new("default", "tera-operator")
    };
    let elector = LeaderElector::new(server.client(who), config).unwrap();
    let is_leader = elector.subscribe();
    let (timeline, name) = (timeline.clone(), who.to_string());
    let task = tokio::spawn(elector.run(
        move |mut stop| async move {
            timeline.record(&name, true);
            let _leading = Leading(timeline, name);
            stop.stopped().await;
        },
        std::future::pending::<()>(),
    ));
    Replica { is_leader, task }
}

/// A leader whose API server stops answering — every request hangs, or reads crawl and
/// writes hang — stops leading no later than the renew deadline after its last renewal was
/// stored, and so before a standby, which waits the lease duration, takes over.
#[tokio::test(start_paused = true)]
async fn a_leader_whose_api_hangs_stops_at_the_renew_deadline_before_a_standby_takes_over() {
    let weathers = [
        fake::Weather::Hang,
        fake::Weather::SlowReadsHangingWrites {
            reads: DEFAULT_RENEW_DEADLINE - Duration::from_millis(100),
        },
    ];
    for weather in weathers {
        let server = std::sync::Arc::new(fake::Server::default());
        let timeline = std::sync::Arc::new(Timeline::default());
        let mut a = replica(&server, "a", &timeline);
        a.is_leader.wait_for(|l| *l).await.unwrap();
        let mut b = replica(&server, "b", &timeline);
        while server.writes("a").len() < 4 {
            tokio::time::sleep(DEFAULT_RETRY_PERIOD / 4).await;
        }
        server.set_weather("a", weather);
        let last_renewal = *server.writes("a").last().unwrap();

        let err = (&mut a.task).await.unwrap().unwrap_err();
        assert!(matches!(err, Error::LeadershipLost { .. }), "{err}");
        assert!(err.to_string().contains("renew deadline"), "{err}");
        assert!(!*a.is_leader.borrow());
        b.is_leader.wait_for(|l| *l).await.unwrap();

        let a_stopped = timeline.when("a", false).unwrap();
        let b_started = timeline.when("b", true).unwrap();
        assert!(
            a_stopped - last_renewal <= DEFAULT_RENEW_DEADLINE,
            "{weather:?}: led for {:?} after its last renewal",
            a_stopped - last_renewal
        );
        assert!(
            a_stopped < b_started,
            "{weather:?}: a stopped {:?} after its last renewal, b started {:?} after it",
            a_stopped - last_renewal,
            b_started - last_renewal
        );
        assert_eq!(
            timeline.most.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{weather:?}: two replicas led at once"
        );
        b.task.abort();
    }
}
