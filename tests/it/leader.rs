//! Leader election against the sandbox: two electors share one Lease; only one leads, and the
//! other takes over when the leader releases the Lease, stops renewing, or cannot renew.

use crate::support as common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tera_operator::controller::leader::{Ended, Error, LeaderElector, LeaseConfig};
use tera_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Short durations: the real HTTP round trips of the sandbox do not work with paused time.
fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        namespace: "default".into(),
        name: "tera-operator".into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(250),
    }
}

/// Counts replicas inside their leading future; records the most that ever were at once.
#[derive(Default)]
struct Leaders {
    now: AtomicUsize,
    most: AtomicUsize,
}

struct Guard(Arc<Leaders>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Replica {
    is_leader: watch::Receiver<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Ended, Error>>,
}

fn start(sb: &Sandbox, identity: &str, leaders: &Arc<Leaders>) -> Replica {
    let elector = LeaderElector::new(sb.client(), config(identity)).unwrap();
    let is_leader = elector.subscribe();
    let (tx, rx) = oneshot::channel::<()>();
    let leaders = leaders.clone();
    let task = tokio::spawn(elector.run(
        move |mut stop| async move {
            let now = leaders.now.fetch_add(1, Ordering::SeqCst) + 1;
            leaders.most.fetch_max(now, Ordering::SeqCst);
            let _guard = Guard(leaders);
            stop.stopped().await;
        },
        async move {
            let _ = rx.await;
        },
    ));
    Replica {
        is_leader,
        shutdown: Some(tx),
        task,
    }
}

/// Waits (bounded) until `replica` leads.
async fn until_leading(replica: &mut Replica, within: Duration) {
    tokio::time::timeout(within, replica.is_leader.wait_for(|l| *l))
        .await
        .expect("became the leader in time")
        .unwrap();
}

async fn holder(sb: &Sandbox) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(sb.client(), "default");
    leases
        .get("tera-operator")
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity
}

/// Attempts of the standby since entry `since` of the sandbox's log, while the other replica
/// leads: the leader writes the Lease after each of its reads (a renewal), the standby only
/// reads it; one read of the leader may still wait for its write.
fn standby_attempts(sb: &Sandbox, since: usize) -> usize {
    let log = sb.request_log();
    let leases = || log[since..].iter().filter(|r| r.resource == "leases");
    let reads = leases()
        .filter(|r| r.verb == "get" && r.status == 200)
        .count();
    let writes = leases().filter(|r| r.is_write()).count();
    reads.saturating_sub(writes + 1)
}

/// Starts two replicas and returns (leader, standby) once one leads and the other has
/// stood by for a few retry periods.
async fn elect(sb: &Sandbox, leaders: &Arc<Leaders>) -> (Replica, Replica, &'static str) {
    let mut a = start(sb, "replica-a", leaders);
    let mut b = start(sb, "replica-b", leaders);
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = a.is_leader.wait_for(|l| *l) => "replica-a",
            _ = b.is_leader.wait_for(|l| *l) => "replica-b",
        }
    })
    .await
    .expect("someone leads");
    // Let the standby try several times: it must keep standing by.
    let since = sb.request_log().len();
    let standby_leads = if first == "replica-a" { &b } else { &a }.is_leader.clone();
    common::eventually("four attempts of the standby", || {
        let done = standby_attempts(sb, since) >= 4 || *standby_leads.borrow();
        async move { done.then_some(()) }
    })
    .await;
    assert_eq!(holder(sb).await.as_deref(), Some(first));
    let (leader, standby) = if first == "replica-a" { (a, b) } else { (b, a) };
    assert!(*leader.is_leader.borrow());
    assert!(!*standby.is_leader.borrow());
    (leader, standby, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lease_is_taken_over_by_the_standby() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let leaders = Arc::new(Leaders::default());
    let (mut leader, mut standby, first) = elect(&sb, &leaders).await;

    let _ = leader.shutdown.take().unwrap().send(());
    let ended = tokio::time::timeout(Duration::from_secs(5), &mut leader.task)
        .await
        .expect("the leader shuts down")
        .unwrap()
        .unwrap();
    assert_eq!(ended, Ended::Shutdown);
    assert!(!*leader.is_leader.borrow());
    // Released: the standby does not wait for the lease to expire, it takes it at its next
    // attempt. Its only reads before its write: that attempt, and perhaps one answered before
    // the release but logged after it.
    let since = sb.request_log().len();
    until_leading(&mut standby, common::WAIT).await;
    let reads = sb.request_log()[since..]
        .iter()
        .filter(|r| r.resource == "leases")
        .take_while(|r| !r.is_write())
        .count();
    assert!(
        reads <= 2,
        "the standby read the released lease {reads} times before taking it"
    );
    let next = holder(&sb).await.unwrap();
    assert_ne!(next, first);
    assert_eq!(
        leaders.most.load(Ordering::SeqCst),
        1,
        "two replicas led at once"
    );

    let leases: Api<Lease> = Api::namespaced(sb.client(), "default");
    let spec = leases.get("tera-operator").await.unwrap().spec.unwrap();
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(3));

    let _ = standby.shutdown.take().unwrap().send(());
    let ended = tokio::time::timeout(Duration::from_secs(5), &mut standby.task)
        .await
        .expect("the second leader shuts down")
        .unwrap()
        .unwrap();
    assert_eq!(ended, Ended::Shutdown);
    assert_eq!(holder(&sb).await, None, "released on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_leader_is_replaced_after_the_lease_expires() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let leaders = Arc::new(Leaders::default());
    let (leader, mut standby, first) = elect(&sb, &leaders).await;

    // A crash: no release, no more renewals.
    leader.task.abort();
    let _ = leader.task.await;
    assert_eq!(
        holder(&sb).await.as_deref(),
        Some(first),
        "a crash releases nothing"
    );
    // After the lease duration (3s) from the standby's last sighting of a renewal.
    until_leading(&mut standby, Duration::from_secs(10)).await;
    assert_ne!(holder(&sb).await.as_deref(), Some(first));
    assert_eq!(
        leaders.most.load(Ordering::SeqCst),
        1,
        "two replicas led at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_that_cannot_renew_stops_leading() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let leaders = Arc::new(Leaders::default());
    let mut solo = start(&sb, "solo", &leaders);
    until_leading(&mut solo, Duration::from_secs(5)).await;

    // Every renewal fails from now on (the API server refuses updates of leases).
    sb.hooks().fail_next(10_000, "update", "leases", 500);
    let result = tokio::time::timeout(Duration::from_secs(10), &mut solo.task)
        .await
        .expect("the leader gives up within the renew deadline")
        .unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err, Error::LeadershipLost { .. }), "{err}");
    assert!(err.to_string().contains("renew deadline"), "{err}");
    assert!(!*solo.is_leader.borrow());
    assert_eq!(
        leaders.now.load(Ordering::SeqCst),
        0,
        "the leading future was stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_that_sees_another_holder_stops_leading() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let leaders = Arc::new(Leaders::default());
    let mut solo = start(&sb, "solo", &leaders);
    until_leading(&mut solo, Duration::from_secs(5)).await;

    // Someone else takes the lease (e.g. after a network partition healed).
    let leases: Api<Lease> = Api::namespaced(sb.client(), "default");
    let mut lease = leases.get("tera-operator").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3600);
    leases
        .replace("tera-operator", &Default::default(), &lease)
        .await
        .unwrap();

    let err = tokio::time::timeout(Duration::from_secs(5), &mut solo.task)
        .await
        .expect("the leader notices")
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("intruder holds it now"), "{err}");
    assert_eq!(leaders.now.load(Ordering::SeqCst), 0);
    assert_eq!(
        holder(&sb).await.as_deref(),
        Some("intruder"),
        "not released: not ours"
    );
}

/// Two operator instances behind `run --leader-elect`: one reconciles; when it shuts down,
/// the other takes over and reconciles the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_one_leads_and_the_other_takes_over() {
    use kube::api::{DynamicObject, Patch, PatchParams};
    use serde_json::json;
    use tera_operator::controller::Options;
    use tera_operator::controller::run as run_operator;

    let sb = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = sb.client();
    common::create_crd(&client, "WebServer", "webservers").await;
    let options = Options {
        config: concat!(env!("CARGO_MANIFEST_DIR"), "/charts/watches.yaml").into(),
        namespaces: Vec::new(),
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        install_crds: false,
        force_crd_changes: false,
        hot_reload: false,
    };
    let mut stops = std::collections::BTreeMap::new();
    let mut tasks = std::collections::BTreeMap::new();
    for identity in ["operator-a", "operator-b"] {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run_operator(
            client.clone(),
            options.clone(),
            Some(config(identity)),
            async move {
                let _ = rx.await;
            },
        ));
        stops.insert(identity, tx);
        tasks.insert(identity, task);
    }

    let webservers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &common::resource("WebServer", "webservers"),
    );
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let apply = |replicas: i64| {
        let webservers = webservers.clone();
        async move {
            let cr = json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                            "metadata": {"name": "hello", "namespace": "default"},
                            "spec": {"replicas": replicas}});
            webservers
                .patch(
                    "hello",
                    &PatchParams::apply("test").force(),
                    &Patch::Apply(&cr),
                )
                .await
                .unwrap();
        }
    };
    let replicas_are = |n: i32| {
        let deployments = deployments.clone();
        move || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get_opt("hello").await.ok().flatten()?;
                (d.spec.replicas == Some(n)).then_some(())
            }
        }
    };

    apply(2).await;
    common::eventually("the leader to reconcile", replicas_are(2)).await;
    let first = holder(&sb).await.expect("a leader holds the lease");
    let other = if first == "operator-a" {
        "operator-b"
    } else {
        "operator-a"
    };
    assert!(!tasks[other].is_finished(), "the standby waits");

    // The leader shuts down (SIGTERM): its operator stops, the lease is released.
    let _ = stops.remove(first.as_str()).unwrap().send(());
    let leader_task = tasks.remove(first.as_str()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), leader_task)
        .await
        .expect("the leader shuts down")
        .unwrap()
        .unwrap();

    apply(3).await;
    common::eventually("the new leader to reconcile", replicas_are(3)).await;
    assert_eq!(holder(&sb).await.as_deref(), Some(other));

    let _ = stops.remove(other).unwrap().send(());
    tokio::time::timeout(Duration::from_secs(10), tasks.remove(other).unwrap())
        .await
        .expect("the second leader shuts down")
        .unwrap()
        .unwrap();
    assert_eq!(holder(&sb).await, None);
}

/// A leader whose API server stops answering (requests hang; they do not fail) stops
/// reconciling at its renew deadline: the elector gives up, and the reconcile that was in
/// flight is cancelled at once, not left to finish while a standby may take the Lease over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_whose_api_hangs_cancels_its_reconciles_at_the_renew_deadline() {
    use kube::api::{DynamicObject, Patch, PatchParams};
    use serde_json::json;
    use tera_operator::controller::{Options, RunError, run as run_operator};

    let sb = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = sb.client();
    common::create_crd(&client, "WebServer", "webservers").await;
    let gate = common::gate::Gate::start(client.clone()).await;
    let options = Options {
        config: concat!(env!("CARGO_MANIFEST_DIR"), "/charts/watches.yaml").into(),
        namespaces: Vec::new(),
        metrics_addr: None,
        install_crds: false,
        hot_reload: false,
        ..Options::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let mut leader = tokio::spawn(run_operator(
        gate.client(),
        options,
        Some(config("operator-a")),
        async move {
            let _ = stopped.await;
        },
    ));
    let webservers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &common::resource("WebServer", "webservers"),
    );
    let apply = |replicas: i64| {
        let webservers = webservers.clone();
        async move {
            let cr = json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                            "metadata": {"name": "hello", "namespace": "default"},
                            "spec": {"replicas": replicas}});
            webservers
                .patch(
                    "hello",
                    &PatchParams::apply("test").force(),
                    &Patch::Apply(&cr),
                )
                .await
                .unwrap();
        }
    };
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    apply(2).await;
    common::eventually("the leader to reconcile", || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get_opt("hello").await.ok().flatten()?;
            (d.spec.replicas == Some(2)).then_some(())
        }
    })
    .await;
    assert_eq!(holder(&sb).await.as_deref(), Some("operator-a"));

    // A reconcile is in flight, its write hanging; then the Lease renewals hang too.
    gate.hang("/deployments/");
    apply(3).await;
    // (Its apply, or, when the child cache has not yet seen the Deployment, the read of its
    // owner before the apply: either way a request of the reconcile hangs.)
    gate.until_holding("the reconcile's request for the Deployment", |held| {
        held.iter().any(|r| r.contains("/deployments/hello"))
    })
    .await;
    gate.hang("/leases/");

    let err = tokio::time::timeout(common::WAIT, &mut leader)
        .await
        .expect("the leader gives up")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, RunError::LeaderElectionFailed(_)), "{err}");
    assert!(err.to_string().contains("renew deadline"), "{err}");
    // The hanging reconcile was cancelled with the leadership: its client gave the request up.
    gate.until_holding("the leader's hanging requests to be given up", |held| {
        held.is_empty()
    })
    .await;
    let _ = stop.send(());
}
