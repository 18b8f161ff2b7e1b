//! Sharding against the sandbox: three replicas in one process, each talking through its own
//! gate (a proxy that logs its requests), split the WebServers between them: each is written
//! by exactly the replica holding its shard; a crashed replica's shard is taken over; and a
//! change of the shard count waits until no shard is held under the old count.

use crate::support::{self as common, Harness, gate::Gate, webservers};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::http::Method;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tera_operator::controller::Options;
use tera_operator::controller::leader::LeaseConfig;
use tera_operator::controller::shard::{ShardConfig, run_sharded, shard_of};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const PREFIX: &str = "tera-operator-shard";
/// Short, but with room: three operators and the sandbox share the test's two threads, and a
/// renewal that misses its deadline hands a shard over mid-test.
const LEASE_DURATION: Duration = Duration::from_secs(6);

/// One operator replica of a sharded set, with its own gate.
struct Replica {
    identity: String,
    gate: Gate,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tera_operator::controller::RunError>>,
}

impl Replica {
    async fn start(h: &Harness, shards: u32, ordinal: u32) -> Self {
        let identity = format!("replica-{ordinal}-of-{shards}");
        let gate = Gate::start(h.client.clone()).await;
        let options = Options {
            config: h.mapping_path(),
            namespaces: Vec::new(),
            metrics_addr: None,
            install_crds: false,
            force_crd_changes: false,
            hot_reload: false,
        };
        // Real durations: the sandbox's real HTTP round trips do not work with paused time.
        let config = ShardConfig {
            shards,
            ordinal: Some(ordinal),
            lease: LeaseConfig {
                namespace: "default".into(),
                name: PREFIX.into(),
                identity: identity.clone(),
                lease_duration: LEASE_DURATION,
                renew_deadline: Duration::from_secs(4),
                retry_period: Duration::from_millis(500),
            },
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run_sharded(gate.client(), options, config, async move {
            let _ = rx.await;
        }));
        Self {
            identity,
            gate,
            shutdown: Some(tx),
            task,
        }
    }

    /// Shuts down as on SIGTERM: stops serving, releases its Leases.
    async fn stop(mut self) {
        let _ = self.shutdown.take().expect("running").send(());
        tokio::time::timeout(common::WAIT, &mut self.task)
            .await
            .expect("the replica shuts down")
            .expect("the replica's task")
            .expect("the replica ends without error");
    }

    /// The names of the objects this replica wrote (its writes other than Leases and Events).
    fn written(&self) -> BTreeSet<String> {
        self.gate
            .requests()
            .into_iter()
            .filter(|(method, path)| {
                *method != Method::GET && !path.contains("/leases") && !path.contains("/events")
            })
            .filter_map(|(_, path)| {
                let path = path.strip_suffix("/status").unwrap_or(&path).to_string();
                path.rsplit('/').next().map(str::to_string)
            })
            .collect()
    }

    /// How many times this replica read the count record.
    fn count_reads(&self) -> usize {
        self.gate
            .requests()
            .iter()
            .filter(|(method, path)| {
                *method == Method::GET && path.ends_with(&format!("/leases/{PREFIX}-count"))
            })
            .count()
    }
}

async fn lease(h: &Harness, name: &str) -> Option<Lease> {
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), "default");
    leases.get_opt(name).await.expect("reading a Lease")
}

async fn holder(h: &Harness, shard: u32) -> Option<String> {
    lease(h, &format!("{PREFIX}-{shard}"))
        .await?
        .spec?
        .holder_identity
}

/// Waits until shard `shard`'s Lease is held by `identity`.
async fn until_held(h: &Harness, shard: u32, identity: &str) {
    common::eventually(&format!("{identity} to hold shard {shard}"), || async {
        (holder(h, shard).await.as_deref() == Some(identity)).then_some(())
    })
    .await;
}

/// The count the record says is in force.
async fn recorded_count(h: &Harness) -> Option<String> {
    lease(h, &format!("{PREFIX}-count"))
        .await?
        .metadata
        .annotations?
        .get("tera-operator.io/shards")
        .cloned()
}

/// Creates WebServers `name-0..n` (one replica, no Service port clash) and returns their uids.
async fn create(h: &Harness, name: &str, n: usize) -> BTreeMap<String, String> {
    let mut uids = BTreeMap::new();
    for i in 0..n {
        let name = format!("{name}-{i}");
        let yaml = format!(
            "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata: {{name: {name}}}\nspec: {{replicas: 1}}\n"
        );
        let created = h.create(&webservers(), "default", &yaml).await;
        uids.insert(name, created.metadata.uid.expect("a uid"));
    }
    uids
}

async fn until_all_ready(h: &Harness, uids: &BTreeMap<String, String>) {
    for name in uids.keys() {
        h.wait_condition(&webservers(), "default", name, "True", "Ready")
            .await;
    }
}

/// Asserts that each resource was written by the one replica of `serving` (shard → replica)
/// holding its shard, and by no other of `replicas`.
fn assert_served_once(
    uids: &BTreeMap<String, String>,
    shards: u32,
    serving: &BTreeMap<u32, &Replica>,
    replicas: &[&Replica],
) {
    for (name, uid) in uids {
        let shard = shard_of(uid, shards);
        let writers: Vec<&str> = replicas
            .iter()
            .filter(|r| r.written().contains(name))
            .map(|r| r.identity.as_str())
            .collect();
        assert_eq!(
            writers,
            vec![serving[&shard].identity.as_str()],
            "{name} (shard {shard} of {shards}) was written by {writers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_serve_each_resource_once_and_cover_a_dead_replica() {
    let h = Harness::without_operator(None).await;
    let replicas = [
        Replica::start(&h, 3, 0).await,
        Replica::start(&h, 3, 1).await,
        Replica::start(&h, 3, 2).await,
    ];
    // Each takes the shard of its ordinal first.
    for (shard, replica) in (0..3).zip(&replicas) {
        until_held(&h, shard, &replica.identity).await;
    }
    let before = create(&h, "web", 24).await;
    until_all_ready(&h, &before).await;
    let serving: BTreeMap<u32, &Replica> = (0..3).zip(&replicas).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    assert_served_once(&before, 3, &serving, &all);
    assert_eq!(recorded_count(&h).await.as_deref(), Some("3"));

    // Replica 1 crashes: no release, no more renewals.
    let [zero, one, two] = replicas;
    one.task.abort();
    let crashed = std::time::Instant::now();
    // Resources created meanwhile wait for their shard's new holder.
    let after = create(&h, "late", 9).await;
    let successor = common::eventually("another replica to take shard 1 over", || async {
        holder(&h, 1).await.filter(|holder| *holder != one.identity)
    })
    .await;
    eprintln!(
        "shard 1 taken over by {successor} {:.1}s after the crash (lease duration {:?})",
        crashed.elapsed().as_secs_f64(),
        LEASE_DURATION
    );
    // Taken after the takeover: requests it sent just before the crash have all arrived.
    let dead_writes = one.written();
    until_all_ready(&h, &after).await;
    assert_eq!(
        one.written(),
        dead_writes,
        "the crashed replica wrote nothing more"
    );
    let successor = [&zero, &two]
        .into_iter()
        .find(|r| r.identity == successor)
        .expect("a live replica took it");
    let serving = BTreeMap::from([(0, &zero), (1, successor), (2, &two)]);
    assert_served_once(&after, 3, &serving, &[&zero, &one, &two]);
    // The taken-over Lease says so: one more transition, still under 3 shards.
    let taken = lease(&h, &format!("{PREFIX}-1")).await.expect("the Lease");
    assert_eq!(taken.spec.and_then(|s| s.lease_transitions), Some(1));
    assert_eq!(
        taken.metadata.annotations.expect("annotations")["tera-operator.io/shards"],
        "3"
    );

    zero.stop().await;
    two.stop().await;
    for shard in 0..3 {
        assert_eq!(holder(&h, shard).await, None, "shard {shard} released");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_shard_count_waits_until_the_old_one_is_released() {
    let h = Harness::without_operator(None).await;
    let old = [
        Replica::start(&h, 2, 0).await,
        Replica::start(&h, 2, 1).await,
    ];
    for (shard, replica) in (0..2).zip(&old) {
        until_held(&h, shard, &replica.identity).await;
    }
    let first = create(&h, "first", 6).await;
    until_all_ready(&h, &first).await;
    assert_eq!(recorded_count(&h).await.as_deref(), Some("2"));

    // A replica of the new count (3) joins while the old ones still serve: it takes its own
    // shard's Lease, but serves nothing while Leases are held under 2.
    let newcomer = Replica::start(&h, 3, 2).await;
    until_held(&h, 2, &newcomer.identity).await;
    let reads = newcomer.count_reads();
    common::eventually(
        "the newcomer to check the count three more times",
        || async { (newcomer.count_reads() >= reads + 3).then_some(()) },
    )
    .await;
    assert_eq!(recorded_count(&h).await.as_deref(), Some("2"));
    assert_eq!(
        newcomer.written(),
        BTreeSet::new(),
        "a replica under another count wrote"
    );
    // Resources created now are still served, under the old count.
    let second = create(&h, "second", 6).await;
    until_all_ready(&h, &second).await;
    let serving: BTreeMap<u32, &Replica> = (0..2).zip(&old).collect();
    let [a, b] = &old;
    assert_served_once(&second, 2, &serving, &[a, b, &newcomer]);

    // The old replicas are replaced (a rolling update): once their Leases are released, the
    // new count is recorded and every shard is served under it.
    let [a, b] = old;
    a.stop().await;
    b.stop().await;
    let new = [
        Replica::start(&h, 3, 0).await,
        Replica::start(&h, 3, 1).await,
    ];
    for (shard, replica) in (0..2).zip(&new) {
        until_held(&h, shard, &replica.identity).await;
    }
    common::eventually("the shard count to become 3", || async {
        (recorded_count(&h).await.as_deref() == Some("3")).then_some(())
    })
    .await;
    let third = create(&h, "third", 9).await;
    until_all_ready(&h, &third).await;
    let serving = BTreeMap::from([(0, &new[0]), (1, &new[1]), (2, &newcomer)]);
    assert_served_once(&third, 3, &serving, &[&new[0], &new[1], &newcomer]);

    let [c, d] = new;
    c.stop().await;
    d.stop().await;
    newcomer.stop().await;
}
