//! The workload and networking kinds charts reach for, served with a simulated status where a
//! controller would set one, so Helm's `--wait` and readiness checks have something to read.
//!
//! Expected status, from the API reference
//! (<https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/>): a StatefulSet's
//! ready and updated replicas reach spec.replicas with currentRevision = updateRevision; a Job
//! that ran its completions has `succeeded` and the `SuccessCriteriaMet` and `Complete`
//! conditions (<https://kubernetes.io/docs/concepts/workloads/controllers/job/#termination-of-job-pods>);
//! a bound PersistentVolumeClaim has phase Bound. A Job's pods need restartPolicy OnFailure or
//! Never, and its template is immutable.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tera_sandbox::{Sandbox, SandboxConfig};

use crate::support::eventually;

fn template(restart: Option<&str>) -> serde_json::Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox:1.36"}]});
    if let Some(r) = restart {
        spec["restartPolicy"] = json!(r);
    }
    json!({"metadata": {"labels": {"app": "x"}}, "spec": spec})
}

#[tokio::test]
async fn statefulsets_jobs_and_claims_get_a_simulated_status() {
    let sb = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .unwrap();
    let pp = PostParams::default();
    let sts: Api<StatefulSet> = Api::default_namespaced(sb.client());
    let set: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}},
                 "template": template(None)}}))
    .unwrap();
    sts.create(&pp, &set).await.unwrap();
    let ready = eventually("the StatefulSet to be ready", || {
        let sts = sts.clone();
        async move {
            let s = sts.get("db").await.ok()?;
            let st = s.status.clone()?;
            (st.ready_replicas == Some(2) && st.observed_generation == Some(1)).then_some(st)
        }
    })
    .await;
    assert_eq!(ready.current_revision, ready.update_revision);

    let jobs: Api<Job> = Api::default_namespaced(sb.client());
    let bad: Job = serde_json::from_value(
        json!({"metadata": {"name": "bad"}, "spec": {"template": template(None)}}),
    )
    .unwrap();
    let err = match jobs.create(&pp, &bad).await.unwrap_err() {
        kube::Error::Api(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("spec.template.spec.restartPolicy: Required value"),
        "{}",
        err.message
    );
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "once"},
        "spec": {"completions": 2, "template": template(Some("Never"))}}))
    .unwrap();
    jobs.create(&pp, &job).await.unwrap();
    let done = eventually("the Job to complete", || {
        let jobs = jobs.clone();
        async move {
            jobs.get("once").await.ok()?.status.filter(|s| {
                s.succeeded == Some(2)
                    && s.conditions.iter().flatten().any(|c| c.type_ == "Complete")
            })
        }
    })
    .await;
    let types: Vec<String> = done
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    let err = jobs
        .patch("once", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("spec.template: Invalid value")),
        "{err:?}"
    );

    let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(sb.client());
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    pvcs.create(&pp, &claim).await.unwrap();
    eventually("the claim to be Bound", || {
        let pvcs = pvcs.clone();
        async move {
            let s = pvcs.get("data").await.ok()?.status?;
            (s.phase.as_deref() == Some("Bound")).then_some(())
        }
    })
    .await;
}

async fn start_fast() -> Sandbox {
    Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn dynamic(
    sb: &Sandbox,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<kube::api::DynamicObject> {
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk(group, version, kind),
        plural,
    );
    Api::default_namespaced_with(sb.client(), &ar)
}

fn obj(v: serde_json::Value) -> kube::api::DynamicObject {
    serde_json::from_value(v).unwrap()
}

/// A CronJob starts a Job when its schedule comes due (the test moves the simulated clock
/// rather than waiting): the Job is named `<cronjob>-<scheduled minute>`, owned by the CronJob,
/// and annotated with its scheduled time; `status.lastScheduleTime` and, once the Job
/// completes, `lastSuccessfulTime` follow
/// (https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/). A bad schedule is
/// refused with 422 on spec.schedule.
#[tokio::test]
async fn cronjobs_start_jobs_on_schedule() {
    let sb = start_fast().await;
    let cronjobs = dynamic(&sb, "batch", "v1", "CronJob", "cronjobs");
    let jobs: Api<Job> = Api::default_namespaced(sb.client());
    let cj = |schedule: &str| {
        obj(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
            "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"from": "tick"}},
                     "spec": {"template": template(Some("Never"))}}}}),
        )
    };
    let bad = cronjobs
        .create(&PostParams::default(), &cj("61 * * * *"))
        .await;
    match bad {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("spec.schedule"), "{}", s.message);
        }
        other => panic!("expected 422, got {other:?}"),
    }
    cronjobs
        .create(&PostParams::default(), &cj("* * * * *"))
        .await
        .unwrap();
    assert!(
        jobs.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    sb.hooks().advance_clock(Duration::from_secs(61));
    let job = eventually("a Job started by the CronJob", || {
        let jobs = jobs.clone();
        async move {
            jobs.list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .next()
        }
    })
    .await;
    let name = job.metadata.name.clone().unwrap();
    assert!(name.starts_with("tick-"), "{name}");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    assert!(
        job.metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp")
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["from"], "tick");
    eventually(
        "lastScheduleTime and lastSuccessfulTime on the CronJob",
        || {
            let cronjobs = cronjobs.clone();
            async move {
                let c = cronjobs.get("tick").await.ok()?;
                let st = &c.data["status"];
                (!st["lastScheduleTime"].is_null()
                    && !st["lastSuccessfulTime"].is_null()
                    && st["active"].is_null())
                .then_some(())
            }
        },
    )
    .await;
}

/// HorizontalPodAutoscalers are one store served as autoscaling/v2 and autoscaling/v1 (the CPU
/// target is v2's `cpu` Utilization metric: pkg/apis/autoscaling/v1/conversion.go); the status
/// reads the target's replicas, the target is scaled into [minReplicas, maxReplicas], and
/// ScalingActive says that there are no metrics
/// (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#support-for-resource-metrics).
#[tokio::test]
async fn autoscalers_pdbs_and_ingresses_get_their_status() {
    use k8s_openapi::api::apps::v1::Deployment;
    let sb = start_fast().await;
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": template(None)}}))
    .unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let v1 = dynamic(
        &sb,
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    );
    let v2 = dynamic(
        &sb,
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    );
    v1.create(&PostParams::default(), &obj(json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 3, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60}})))
        .await
        .unwrap();
    let as_v2 = v2.get("web").await.unwrap();
    assert_eq!(
        as_v2.data["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}])
    );
    eventually("the Deployment scaled to minReplicas", || {
        let deployments = deployments.clone();
        async move { (deployments.get("web").await.ok()?.spec.replicas == Some(3)).then_some(()) }
    })
    .await;
    let status = eventually("the HPA status", || {
        let v1 = v1.clone();
        async move {
            let h = v1.get("web").await.ok()?;
            (h.data["status"]["currentReplicas"] == 3).then_some(h)
        }
    })
    .await;
    assert_eq!(status.data["status"]["desiredReplicas"], 3);
    assert!(status.data["spec"]["metrics"].is_null());
    let conditions = v2.get("web").await.unwrap().data["status"]["conditions"].clone();
    let active = conditions
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "ScalingActive")
        .unwrap();
    assert_eq!(active["status"], "False");
    assert!(
        active["message"]
            .as_str()
            .unwrap()
            .contains("no metrics API")
    );

    // A PodDisruptionBudget counts the Deployment's (simulated) Pods.
    let pdbs = dynamic(
        &sb,
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    );
    pdbs.create(&PostParams::default(), &obj(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "x"}}}})))
        .await
        .unwrap();
    eventually("the PDB to count 3 healthy pods", || {
        let pdbs = pdbs.clone();
        async move {
            let st = pdbs.get("web").await.ok()?.data["status"].clone();
            (st["expectedPods"] == 3
                && st["currentHealthy"] == 3
                && st["desiredHealthy"] == 2
                && st["disruptionsAllowed"] == 1)
                .then_some(())
        }
    })
    .await;

    let ingresses = dynamic(&sb, "networking.k8s.io", "v1", "Ingress", "ingresses");
    ingresses.create(&PostParams::default(), &obj(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})))
        .await
        .unwrap();
    eventually("the Ingress's load-balancer address", || {
        let ingresses = ingresses.clone();
        async move {
            let st = ingresses.get("web").await.ok()?.data["status"].clone();
            (st["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.1").then_some(())
        }
    })
    .await;
}

/// events.k8s.io/v1 Events need their required fields and a note of at most 1 kB
/// (ValidateEventCreate, pkg/apis/core/validation/events.go), and `dryRun` takes only `All`
/// (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run; ValidateDryRun): 422
/// otherwise.
#[tokio::test]
async fn events_v1_fields_and_dry_run_values_are_validated() {
    let sb = start_fast().await;
    let events = dynamic(&sb, "events.k8s.io", "v1", "Event", "events");
    let bare = obj(
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}),
    );
    match events.create(&PostParams::default(), &bare).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(
                s.message.contains("eventTime: Required value"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let mut good = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "type": "Normal", "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
        "action": "Act", "reason": "Acted", "note": "x".repeat(1025)});
    match events
        .create(&PostParams::default(), &obj(good.clone()))
        .await
    {
        Err(kube::Error::Api(s)) => assert!(
            s.message.contains("can have at most 1024 characters"),
            "{}",
            s.message
        ),
        other => panic!("expected 422, got {other:?}"),
    }
    good["note"] = json!("ok");
    events
        .create(&PostParams::default(), &obj(good))
        .await
        .unwrap();

    let req = axum::http::Request::post("/api/v1/namespaces/default/configmaps?dryRun=Server")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&json!({"metadata": {"name": "dry"}})).unwrap())
        .unwrap();
    let text = match sb.client().request_text(req).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            s.message
        }
        other => panic!("expected 422, got {other:?}"),
    };
    assert_eq!(
        text,
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Server\"}: supported values: \"All\""
    );
}
