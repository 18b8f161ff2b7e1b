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
            jobs.get("once")
                .await
                .ok()?
                .status
                .filter(|s| s.succeeded == Some(2))
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
