//! What one resource costs the API server: writes and reconciles of a new resource, and events.

use crate::support as common;

use common::*;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::json;

const RECONCILES: &str = "tera_operator_reconciles_total{kind=\"web.tera-operator.io/WebServer\"}";

/// The operator's writes so far, as `verb resource` (the test's own are left out by the caller).
fn writes_by_resource(h: &Harness) -> Vec<String> {
    let mut writes: Vec<String> = h
        .sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.verb, r.resource))
        .collect();
    writes.sort();
    writes
}

/// `(reason, note)` of every event about `name`.
async fn events_about(h: &Harness, name: &str) -> Vec<(String, String)> {
    let events: Api<DynamicObject> = Api::namespaced_with(
        h.client.clone(),
        "default",
        &builtin("events.k8s.io", "v1", "Event", "events"),
    );
    let list = events.list(&ListParams::default()).await.expect("events");
    list.items
        .iter()
        .filter(|e| e.data["regarding"]["name"] == name)
        .map(|e| {
            (
                e.data["reason"].as_str().unwrap_or("").to_string(),
                e.data["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The kinds of a WebServer's children, as `(group, kind, plural)`.
const CHILD_KINDS: [(&str, &str, &str); 3] = [
    ("apps", "Deployment", "deployments"),
    ("", "Service", "services"),
    ("", "ConfigMap", "configmaps"),
];

/// Counts the modifications of the children of WebServer `owner` in `default` (found by the
/// instance label), as watches deliver them, from the moment this returns (the watches are open
/// by then).
async fn count_child_modifications(
    h: &Harness,
    owner: &str,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let params = kube::api::WatchParams::default()
        .labels(&format!("app.kubernetes.io/instance={owner}"))
        .timeout(290);
    for (group, kind, plural) in CHILD_KINDS {
        let api: Api<DynamicObject> = Api::namespaced_with(
            h.client.clone(),
            "default",
            &builtin(group, "v1", kind, plural),
        );
        let seen = counter.clone();
        let mut stream = api.watch(&params, "0").await.expect("watch").boxed();
        tokio::spawn(async move {
            while let Ok(Some(event)) = stream.try_next().await {
                if matches!(event, kube::api::WatchEvent::Modified(_)) {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
    }
    counter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_resource_costs_one_write_per_child_and_two_status_writes() {
    let h = Harness::start().await;
    // The Deployment becomes ready only once the first reconcile has written its status: were
    // it to become ready during that reconcile, the reconcile could see it not ready when it
    // applies it and ready when it reads the children for the status (a Ready=False status
    // with every replica available, corrected by one more write), as on a real cluster.
    h.sandbox.hooks().pause_workloads(true);
    h.sandbox.hooks().clear_request_log();
    let child_changes = count_child_modifications(&h, "hello").await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_for(
        &webservers(),
        "default",
        "hello",
        "the first status, waiting for the Deployment",
        |o| {
            condition(o, "Ready")["message"]
                .as_str()
                .is_some_and(|m| m.contains("waiting for Deployment hello"))
        },
    )
    .await;
    h.sandbox.hooks().pause_workloads(false);
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    // A spec change that touches only the Service: its reconcile comes after the echoes of
    // every write above in the resource's watch, so by the time it has written, any reconcile
    // those echoes caused has been counted.
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"service": {"nodePort": 30081}}}),
    )
    .await;
    h.wait_for(
        &webservers(),
        "default",
        "hello",
        "generation 2 observed",
        |o| o["status"]["observedGeneration"] == 2 && condition(o, "Ready")["status"] == "True",
    )
    .await;
    let reconciles = eventually("the spec change's reconcile counted", || async {
        let n = h.metric(RECONCILES);
        (n >= 3.0).then_some(n)
    })
    .await;
    // Every reconcile has a cause: the creation, the spec change, or a change of a child by
    // someone else (the Deployment's status moving as the simulated ReplicaSet's pods become
    // ready, which the WebServer's status template reads; the rollout takes steps as
    // kube-controller-manager's does, and how many a watch sees depends on timing, so they are
    // counted rather than assumed). The echoes of the operator's own writes (4 applies, 3 to 5
    // status writes) start none, even those a watch delivers before the write's response: the
    // sandbox broadcasts a change as it commits it, and the operator holds events that arrive
    // while their resource's reconcile runs until it knows its writes' resourceVersions. Were
    // echoes let through, there would be up to 9 more.
    let writes = writes_by_resource(&h);
    let count = |what: &str| writes.iter().filter(|w| *w == what).count();
    let own_changes: usize = CHILD_KINDS
        .iter()
        .map(|(_, _, plural)| count(&format!("patch {plural}")).saturating_sub(1))
        .sum();
    let by_others = child_changes
        .load(std::sync::atomic::Ordering::SeqCst)
        .saturating_sub(own_changes);
    let allowed = 2 + by_others;
    assert!(
        reconciles <= allowed as f64,
        "{reconciles} reconciles; allowed {allowed}: the creation, the spec change and \
         {by_others} changes of the children by others"
    );
    assert_eq!(count("create webservers"), 1, "{writes:?}");
    assert_eq!(
        count("patch webservers"),
        1,
        "the test's spec change: {writes:?}"
    );
    assert_eq!(count("patch configmaps"), 1, "{writes:?}");
    assert_eq!(count("patch deployments"), 1, "{writes:?}");
    assert_eq!(
        count("patch services"),
        2,
        "created, then changed: {writes:?}"
    );
    // Never two writes in one reconcile; one per step the status template sees: the
    // Deployment's generation not observed yet, then the rollout's steps as on a cluster
    // (observed with 0 updated, 3 updated and none available, some of the Pods available: a
    // reconcile that starts after several sees only the last), Ready, then Ready at
    // generation 2. So at least those three, and at most one more per change by others.
    let status_writes = count("patch webservers/status");
    assert!(
        (3..=2 + by_others).contains(&status_writes),
        "{status_writes} status writes, {by_others} changes of the children by others: {writes:?}"
    );
    // One event: the change of an existing object; the creation published none.
    assert_eq!(count("create events"), 1, "{writes:?}");
    assert_eq!(writes.len(), 7 + status_writes, "{writes:?}");
    let events = events_about(&h, "hello").await;
    assert_eq!(
        events,
        [("Applied".to_string(), "applied Service hello".to_string())]
    );
}
