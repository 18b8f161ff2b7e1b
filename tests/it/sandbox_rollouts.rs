//! Deployment rollouts in the sandbox take the steps kube-controller-manager's take: surge and unavailability bound every step of a RollingUpdate, Recreate empties the old ReplicaSet first, a rollout whose Pods never get Ready runs out of its progress deadline, `minReadySeconds` holds availability back, a paused Deployment does not roll out, old ReplicaSets beyond the history limit go.
//!
//! Expected behaviour, from the Deployment documentation
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/deployment/>: "Max Surge",
//! "Max Unavailable", "Recreate Deployment", "Failed Deployment", "Min Ready Seconds", "Pausing
//! and Resuming a rollout", "Clean up Policy") and pkg/controller/deployment (rolling.go,
//! recreate.go, progress.go).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
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

fn deployment(name: &str, replicas: i64, image: &str, strategy: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "strategy": strategy,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}}))
    .expect("a Deployment")
}

fn to_json<T: serde::Serialize>(o: &T) -> Value {
    serde_json::to_value(o).expect("serializes")
}

fn condition(d: &Value, ty: &str) -> Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty).cloned())
        .unwrap_or(Value::Null)
}

/// Waits until the Deployment's rollout of its current generation is complete.
async fn rolled_out(api: &Api<Deployment>, name: &str) -> Value {
    eventually("the rollout to complete", || async {
        let d = to_json(&api.get(name).await.ok()?);
        let want = &d["spec"]["replicas"];
        let s = &d["status"];
        (s["observedGeneration"] == d["metadata"]["generation"]
            && s["updatedReplicas"] == *want
            && s["availableReplicas"] == *want
            && s["replicas"] == *want
            && condition(&d, "Progressing")["reason"] == "NewReplicaSetAvailable")
            .then_some(d)
    })
    .await
}

async fn set_image(api: &Api<Deployment>, name: &str, image: &str) {
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("patch the template");
}

fn image(o: &Value) -> &str {
    let spec = if o["kind"] == "Pod" {
        &o["spec"]
    } else {
        &o["spec"]["template"]["spec"]
    };
    spec["containers"][0]["image"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_rolling_update_moves_one_pod_at_a_time_within_surge_and_unavailability() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    api.create(
        &PostParams::default(),
        &deployment("web", 4, "nginx:1.27", strategy),
    )
    .await
    .unwrap();
    rolled_out(&api, "web").await;
    let rs_log = record(Api::<ReplicaSet>::default_namespaced(sb.client())).await;
    let pod_log = record(Api::<Pod>::default_namespaced(sb.client())).await;
    set_image(&api, "web", "nginx:1.28").await;
    let done = rolled_out(&api, "web").await;
    assert_eq!(
        done["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );

    // Replay the ReplicaSets' specs and statuses: the new one grows by one at a time, the
    // total never exceeds replicas + maxSurge (5), and the Pods available never drop below
    // replicas - maxUnavailable (4).
    let mut specs: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    let rs_events = logged(&rs_log, "the new ReplicaSet complete in the watch", |ev| {
        ev.iter()
            .any(|(_, rs)| image(rs) == "nginx:1.28" && rs["status"]["availableReplicas"] == 4)
    })
    .await;
    let pod_events = logged(&pod_log, "the old Pods gone in the watch", |ev| {
        ev.iter()
            .filter(|(ty, p)| ty == "DELETED" && image(p) == "nginx:1.27")
            .count()
            == 4
    })
    .await;
    let mut new_steps = Vec::new();
    for (ty, rs) in rs_events.iter() {
        let name = rs["metadata"]["name"].as_str().unwrap().to_string();
        if ty == "DELETED" {
            specs.remove(&name);
            continue;
        }
        let spec = rs["spec"]["replicas"].as_i64().unwrap();
        let avail = rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
            && new_steps.last() != Some(&spec)
        {
            new_steps.push(spec);
        }
        specs.insert(name, (spec, avail));
        let total: i64 = specs.values().map(|s| s.0).sum();
        let available: i64 = specs.values().map(|s| s.1).sum();
        assert!(total <= 5, "{total} replicas wanted at once: {specs:?}");
        assert!(available >= 4, "{available} available: {specs:?}");
    }
    assert_eq!(new_steps, [1, 2, 3, 4], "the new ReplicaSet's steps");
    let mut alive = std::collections::BTreeSet::new();
    for (ty, pod) in pod_events.iter() {
        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
        if ty == "DELETED" {
            alive.remove(&name);
        } else {
            alive.insert(name);
        }
        assert!(alive.len() <= 5, "{} Pods at once", alive.len());
    }
}

#[tokio::test]
async fn a_percentage_rollout_rounds_surge_up_and_unavailability_down() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    // 10 replicas at 25%/25%: surge 3 (2.5 up), unavailable 2 (2.5 down).
    api.create(
        &PostParams::default(),
        &deployment("pct", 10, "nginx:1.27", json!({})),
    )
    .await
    .unwrap();
    rolled_out(&api, "pct").await;
    sb.hooks().pause_kubelet(true);
    set_image(&api, "pct", "nginx:1.28").await;
    // With no new Pod ever Ready: the new ReplicaSet gets 3 + 2 (surge plus the room the old
    // one's 2 allowed-unavailable Pods leave), the old one goes down to 8.
    let rss: Api<ReplicaSet> = Api::default_namespaced(sb.client());
    let sizes = eventually("the rollout to stall at its bounds", || async {
        let mut sizes: Vec<(String, i64)> = rss
            .list(&Default::default())
            .await
            .ok()?
            .items
            .iter()
            .map(|rs| {
                let rs = to_json(rs);
                (
                    rs["spec"]["template"]["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    rs["spec"]["replicas"].as_i64().unwrap(),
                )
            })
            .collect();
        sizes.sort();
        (sizes == [("nginx:1.27".to_string(), 8), ("nginx:1.28".to_string(), 5)]).then_some(sizes)
    })
    .await;
    assert_eq!(sizes.len(), 2);
    // The Deployment's status follows once the old ReplicaSet's extra Pods are gone.
    let d = eventually("8 available", || async {
        let d = to_json(&api.get("pct").await.ok()?);
        (d["status"]["availableReplicas"] == 8 && d["status"]["replicas"] == 13).then_some(d)
    })
    .await;
    assert_eq!(d["status"]["updatedReplicas"], 5);
    assert_eq!(d["status"]["unavailableReplicas"], 5);
    assert_eq!(condition(&d, "Available")["status"], "True", "8 >= 10 - 2");
    sb.hooks().pause_kubelet(false);
    rolled_out(&api, "pct").await;
}

#[tokio::test]
async fn recreate_removes_the_old_pods_before_the_new_replica_set_exists() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    api.create(
        &PostParams::default(),
        &deployment("rec", 3, "nginx:1.27", json!({"type": "Recreate"})),
    )
    .await
    .unwrap();
    rolled_out(&api, "rec").await;
    let rs_log = record(Api::<ReplicaSet>::default_namespaced(sb.client())).await;
    let pod_log = record(Api::<Pod>::default_namespaced(sb.client())).await;
    set_image(&api, "rec", "nginx:1.28").await;
    rolled_out(&api, "rec").await;
    let rs_events = logged(&rs_log, "the new ReplicaSet in the watch", |ev| {
        ev.iter()
            .any(|(ty, rs)| ty == "ADDED" && image(rs) == "nginx:1.28")
    })
    .await;
    let pod_events = logged(&pod_log, "the old Pods gone in the watch", |ev| {
        ev.iter()
            .filter(|(ty, p)| ty == "DELETED" && image(p) == "nginx:1.27")
            .count()
            == 3
    })
    .await;
    let new_rs_created = rs_events
        .iter()
        .find(|(ty, rs)| {
            ty == "ADDED"
                && rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
        })
        .map(|(_, rs)| {
            rs["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .expect("a new ReplicaSet");
    let old_pods_gone = pod_events
        .iter()
        .filter(|(ty, p)| ty == "DELETED" && p["spec"]["containers"][0]["image"] == "nginx:1.27")
        .map(|(_, p)| {
            p["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .collect::<Vec<_>>();
    assert_eq!(old_pods_gone.len(), 3, "every old Pod deleted");
    assert!(
        old_pods_gone.iter().all(|rv| *rv < new_rs_created),
        "old Pods deleted at {old_pods_gone:?}, the new ReplicaSet created at {new_rs_created}"
    );
}

#[tokio::test]
async fn a_stalled_rollout_exceeds_its_progress_deadline_and_recovers() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let mut d = to_json(&deployment("stuck", 2, "nginx:1.27", json!({})));
    d["spec"]["progressDeadlineSeconds"] = json!(60);
    api.create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    rolled_out(&api, "stuck").await;
    // No Pod gets Ready from now on: the new ReplicaSet's Pod stays unready.
    sb.hooks().pause_kubelet(true);
    set_image(&api, "stuck", "nginx:1.28").await;
    let progressing = eventually("the rollout to progress (its new Pod created)", || async {
        let d = to_json(&api.get("stuck").await.ok()?);
        let c = condition(&d, "Progressing");
        (d["status"]["updatedReplicas"] == 1 && c["reason"] == "ReplicaSetUpdated").then_some(c)
    })
    .await;
    assert_eq!(progressing["status"], "True");
    sb.hooks().advance_clock(Duration::from_secs(61));
    let timed_out = eventually("ProgressDeadlineExceeded", || async {
        let d = to_json(&api.get("stuck").await.ok()?);
        let c = condition(&d, "Progressing");
        (c["reason"] == "ProgressDeadlineExceeded").then_some(c)
    })
    .await;
    assert_eq!(timed_out["status"], "False");
    let rs_name = timed_out["message"].as_str().unwrap();
    assert!(
        rs_name.starts_with("ReplicaSet \"stuck-")
            && rs_name.ends_with("\" has timed out progressing."),
        "{timed_out}"
    );
    // Pods get Ready again: the rollout goes on and completes.
    sb.hooks().pause_kubelet(false);
    let done = rolled_out(&api, "stuck").await;
    assert_eq!(condition(&done, "Progressing")["status"], "True");
}

#[tokio::test]
async fn min_ready_seconds_holds_availability_back() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let mut d = to_json(&deployment("slow", 2, "nginx:1.27", json!({})));
    d["spec"]["minReadySeconds"] = json!(30);
    api.create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    let rss: Api<ReplicaSet> = Api::default_namespaced(sb.client());
    let rs = eventually("both Pods Ready", || async {
        let list = rss.list(&Default::default()).await.ok()?.items;
        let rs = to_json(list.first()?);
        (rs["status"]["readyReplicas"] == 2).then_some(rs)
    })
    .await;
    assert_eq!(rs["spec"]["minReadySeconds"], 30);
    assert!(rs["status"]["availableReplicas"].is_null(), "{rs}");
    let d = to_json(&api.get("slow").await.unwrap());
    assert!(d["status"]["availableReplicas"].is_null(), "{d}");
    assert_eq!(condition(&d, "Available")["status"], "False");
    sb.hooks().advance_clock(Duration::from_secs(31));
    let done = rolled_out(&api, "slow").await;
    assert_eq!(condition(&done, "Available")["status"], "True");
}

#[tokio::test]
async fn a_paused_deployment_does_not_roll_out_until_resumed() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    api.create(
        &PostParams::default(),
        &deployment("held", 2, "nginx:1.27", json!({})),
    )
    .await
    .unwrap();
    rolled_out(&api, "held").await;
    let patch = json!({"spec": {"paused": true, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}});
    api.patch("held", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let paused = eventually("the pause observed", || async {
        let d = to_json(&api.get("held").await.ok()?);
        (d["status"]["observedGeneration"] == 2).then_some(d)
    })
    .await;
    let c = condition(&paused, "Progressing");
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );
    assert_eq!(paused["status"]["updatedReplicas"], Value::Null, "{paused}");
    let rss: Api<ReplicaSet> = Api::default_namespaced(sb.client());
    assert_eq!(rss.list(&Default::default()).await.unwrap().items.len(), 1);
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": false}})),
    )
    .await
    .unwrap();
    rolled_out(&api, "held").await;
    assert_eq!(rss.list(&Default::default()).await.unwrap().items.len(), 2);
}

#[tokio::test]
async fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let mut d = to_json(&deployment("hist", 1, "nginx:1.25", json!({})));
    d["spec"]["revisionHistoryLimit"] = json!(1);
    api.create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    for image in ["nginx:1.26", "nginx:1.27"] {
        rolled_out(&api, "hist").await;
        set_image(&api, "hist", image).await;
    }
    rolled_out(&api, "hist").await;
    let rss: Api<ReplicaSet> = Api::default_namespaced(sb.client());
    let revisions = eventually("one old ReplicaSet left", || async {
        let mut revs: Vec<String> = rss
            .list(&Default::default())
            .await
            .ok()?
            .items
            .iter()
            .map(|rs| {
                to_json(rs)["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        revs.sort();
        (revs.len() == 2).then_some(revs)
    })
    .await;
    assert_eq!(revisions, ["2", "3"]);
}
