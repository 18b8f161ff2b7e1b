//! StatefulSets and Jobs get Pods in the sandbox, as their controllers make them: ordinals created in order (or in parallel) and removed and updated from the highest, Job Pods up to `parallelism` that run to completion.
//!
//! Expected behaviour, from the documentation: StatefulSet "Pod Identity", "Deployment and
//! Scaling Guarantees", "Pod Management Policies", "Rolling Updates" and the pod-index label
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/>), Job "Parallel
//! execution", "Completion mode", "Suspending a Job", "Job termination and cleanup"
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/job/>); pkg/controller/statefulset
//! and pkg/controller/job.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

use crate::support::eventually;
use crate::support::watch_log::{logged, record};

async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

fn to_json<T: serde::Serialize>(o: &T) -> Value {
    serde_json::to_value(o).expect("serializes")
}

fn deletions(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(ty, _)| ty == "DELETED")
        .map(|(_, p)| name(p).to_string())
        .collect()
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

/// Position of the first event matching `f`.
fn first(log: &[(String, Value)], f: impl Fn(&str, &Value) -> bool) -> Option<usize> {
    log.iter().position(|(ty, o)| f(ty, o))
}

fn set(name: &str, replicas: i64, policy: &str) -> StatefulSet {
    serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": policy,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "redis:7.2"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"],
                              "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .expect("a StatefulSet")
}

async fn settled(api: &Api<StatefulSet>, name: &str, replicas: i64) -> Value {
    eventually("the StatefulSet to settle", || async {
        let s = to_json(&api.get(name).await.ok()?);
        let st = &s["status"];
        (st["observedGeneration"] == s["metadata"]["generation"]
            && st["readyReplicas"] == replicas
            && st["replicas"] == replicas
            && st["currentRevision"] == st["updateRevision"])
            .then_some(s)
    })
    .await
}

#[tokio::test]
async fn an_ordered_statefulset_creates_scales_down_and_updates_one_ordinal_at_a_time() {
    let sb = start().await;
    let log = record(Api::<Pod>::default_namespaced(sb.client())).await;
    let api: Api<StatefulSet> = Api::default_namespaced(sb.client());
    api.create(&PostParams::default(), &set("db", 3, "OrderedReady"))
        .await
        .unwrap();
    let s = settled(&api, "db", 3).await;
    assert_eq!(s["status"]["updatedReplicas"], 3);
    assert_eq!(s["status"]["availableReplicas"], 3);
    let revision = s["status"]["updateRevision"].as_str().unwrap().to_string();

    let events = logged(&log, "db-2 Ready in the watch", |ev| {
        ev.iter().any(|(_, p)| name(p) == "db-2" && ready(p))
    })
    .await;
    for i in 1..3 {
        let created = first(&events, |ty, p| {
            ty == "ADDED" && name(p) == format!("db-{i}")
        })
        .expect("created");
        let before_ready = first(&events, |_, p| {
            name(p) == format!("db-{}", i - 1) && ready(p)
        })
        .expect("the previous ordinal Ready");
        assert!(
            before_ready < created,
            "db-{i} created before db-{} was Ready",
            i - 1
        );
    }
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    let p1 = to_json(&pods.get("db-1").await.unwrap());
    let labels = &p1["metadata"]["labels"];
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "db-1");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    assert_eq!(labels["controller-revision-hash"], revision.as_str());
    assert_eq!(labels["app"], "db");
    assert_eq!(
        (
            p1["spec"]["hostname"].as_str(),
            p1["spec"]["subdomain"].as_str()
        ),
        (Some("db-1"), Some("db"))
    );
    assert_eq!(p1["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    let volume = p1["spec"]["volumes"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == "data").cloned())
        .expect("the claim template's volume");
    assert_eq!(volume["persistentVolumeClaim"]["claimName"], "data-db-1");
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(sb.client());
    eventually("the Pod's claim Bound", || async {
        let c = to_json(&claims.get("data-db-1").await.ok()?);
        (c["status"]["phase"] == "Bound").then_some(())
    })
    .await;

    // Rolling update: from the highest ordinal down, each once the others are Ready.
    log.lock().unwrap().clear();
    api.patch("db", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "redis:7.4"}]}}}})))
        .await
        .unwrap();
    let s = eventually("the update to complete", || async {
        let s = to_json(&api.get("db").await.ok()?);
        (s["status"]["updateRevision"] != revision.as_str()
            && s["status"]["currentRevision"] == s["status"]["updateRevision"]
            && s["status"]["readyReplicas"] == 3)
            .then_some(s)
    })
    .await;
    assert_eq!(s["status"]["updatedReplicas"], 3);
    let events = logged(&log, "three deletions in the watch", |ev| {
        deletions(ev).len() >= 3
    })
    .await;
    assert_eq!(deletions(&events), ["db-2", "db-1", "db-0"]);

    // Scale down: the highest ordinals go, one at a time.
    log.lock().unwrap().clear();
    api.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    settled(&api, "db", 1).await;
    let events = logged(&log, "two deletions in the watch", |ev| {
        deletions(ev).len() >= 2
    })
    .await;
    assert_eq!(deletions(&events), ["db-2", "db-1"]);
    assert!(
        claims.get("data-db-2").await.is_ok(),
        "claims are retained (Retain policy)"
    );
}

#[tokio::test]
async fn a_parallel_statefulset_creates_every_ordinal_at_once() {
    let sb = start().await;
    sb.hooks().pause_kubelet(true);
    let api: Api<StatefulSet> = Api::default_namespaced(sb.client());
    api.create(&PostParams::default(), &set("par", 3, "Parallel"))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    // No Pod is Ready (the kubelet is paused), yet all three exist.
    let names = eventually("three Pods", || async {
        let mut names: Vec<String> = pods
            .list(&Default::default())
            .await
            .ok()?
            .items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        (names.len() == 3).then_some(names)
    })
    .await;
    assert_eq!(names, ["par-0", "par-1", "par-2"]);
    let s = to_json(&api.get("par").await.unwrap());
    assert!(s["status"]["readyReplicas"].is_null(), "{s}");
    sb.hooks().pause_kubelet(false);
    settled(&api, "par", 3).await;
}

#[tokio::test]
async fn an_ordered_statefulset_waits_for_its_first_pod() {
    let sb = start().await;
    sb.hooks().pause_kubelet(true);
    let api: Api<StatefulSet> = Api::default_namespaced(sb.client());
    api.create(&PostParams::default(), &set("one", 2, "OrderedReady"))
        .await
        .unwrap();
    let s = eventually("the first Pod counted", || async {
        let s = to_json(&api.get("one").await.ok()?);
        (s["status"]["replicas"] == 1).then_some(s)
    })
    .await;
    assert_eq!(s["status"]["availableReplicas"], 0);
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    let names: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["one-0"], "one-1 waits for one-0 to be Ready");
    sb.hooks().pause_kubelet(false);
    settled(&api, "one", 2).await;
}

fn job(name: &str, spec: Value) -> Job {
    let mut spec = spec;
    spec["template"] = json!({"spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox:1.36"}]}});
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("a Job")
}

async fn complete(api: &Api<Job>, name: &str) -> Value {
    eventually("the Job to complete", || async {
        let j = to_json(&api.get(name).await.ok()?);
        let complete = j["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Complete" && c["status"] == "True")
        });
        complete.then_some(j)
    })
    .await
}

#[tokio::test]
async fn a_job_runs_parallelism_pods_until_completions_succeed() {
    let sb = start().await;
    let log = record(Api::<Pod>::default_namespaced(sb.client())).await;
    let api: Api<Job> = Api::default_namespaced(sb.client());
    api.create(
        &PostParams::default(),
        &job("batch", json!({"completions": 4, "parallelism": 2})),
    )
    .await
    .unwrap();
    let j = complete(&api, "batch").await;
    let st = &j["status"];
    assert_eq!(st["succeeded"], 4);
    assert!(st["active"].is_null(), "{st}");
    assert!(
        st["startTime"].is_string() && st["completionTime"].is_string(),
        "{st}"
    );
    let types: Vec<&str> = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    let uid = j["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );

    let events = logged(&log, "four Pods succeeded in the watch", |ev| {
        ev.iter()
            .filter(|(_, p)| p["status"]["phase"] == "Succeeded")
            .map(|(_, p)| name(p))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == 4
    })
    .await;
    let mut running = std::collections::BTreeMap::new();
    let mut created = std::collections::BTreeSet::new();
    for (ty, p) in &events {
        if ty == "ADDED" {
            created.insert(name(p).to_string());
        }
        let active = ty != "DELETED" && p["status"]["phase"] != "Succeeded";
        running.insert(name(p).to_string(), active);
        let n = running.values().filter(|a| **a).count();
        assert!(n <= 2, "{n} Pods running at once");
    }
    assert_eq!(created.len(), 4, "one Pod per completion: {created:?}");
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    for p in pods.list(&Default::default()).await.unwrap().items {
        let p = to_json(&p);
        assert_eq!(p["status"]["phase"], "Succeeded");
        assert_eq!(p["metadata"]["labels"]["job-name"], "batch");
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
    }
}

#[tokio::test]
async fn an_indexed_job_completes_each_index() {
    let sb = start().await;
    let api: Api<Job> = Api::default_namespaced(sb.client());
    api.create(
        &PostParams::default(),
        &job(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ),
    )
    .await
    .unwrap();
    let j = complete(&api, "idx").await;
    assert_eq!(j["status"]["completedIndexes"], "0-2");
    assert_eq!(j["status"]["succeeded"], 3);
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    let mut indexes: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            let p = to_json(p);
            let i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(p["spec"]["hostname"], format!("idx-{i}"));
            i
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
}

#[tokio::test]
async fn a_suspended_job_runs_no_pods_until_resumed() {
    let sb = start().await;
    let api: Api<Job> = Api::default_namespaced(sb.client());
    api.create(
        &PostParams::default(),
        &job("later", json!({"suspend": true})),
    )
    .await
    .unwrap();
    let j = eventually("the Job suspended", || async {
        let j = to_json(&api.get("later").await.ok()?);
        let c = j["status"]["conditions"].as_array()?.first()?.clone();
        (c["type"] == "Suspended").then_some(j)
    })
    .await;
    assert_eq!(j["status"]["conditions"][0]["reason"], "JobSuspended");
    assert!(j["status"]["startTime"].is_null(), "{j}");
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    assert!(
        pods.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    api.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    let j = complete(&api, "later").await;
    let suspended = j["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Suspended")
        .cloned()
        .unwrap();
    assert_eq!(
        (suspended["status"].as_str(), suspended["reason"].as_str()),
        (Some("False"), Some("JobResumed"))
    );
    assert_eq!(j["status"]["succeeded"], 1);
}
