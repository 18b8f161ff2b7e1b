//! The controller against the sandbox: create, update, drift, deletion, invalid specs, prune.

use crate::support as common;

use common::*;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const CHECKSUM: &str = "configmap.checksum.tera-operator.io/hello";

fn owner_uid(object: &Value) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_renders_children_and_becomes_ready() {
    let h = Harness::start().await;
    let cr = h
        .create(&webservers(), "default", &example("webserver"))
        .await;
    let uid = cr.metadata.uid.clone().expect("uid");

    let deployment = h.get(&deployments(), "default", "hello").await;
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginxinc/nginx-unprivileged:1.28"
    );
    assert_eq!(owner_uid(&deployment).as_deref(), Some(uid.as_str()));
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "tera-operator"
    );
    let service = h.get(&services(), "default", "hello").await;
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(owner_uid(&service).as_deref(), Some(uid.as_str()));
    let configmap = h.get(&configmaps(), "default", "hello").await;
    assert!(
        configmap["data"]["index.html"]
            .as_str()
            .unwrap_or("")
            .contains("Hello from tera-operator")
    );
    assert!(
        configmap["data"]["nginx.conf"]
            .as_str()
            .unwrap_or("")
            .contains("location /healthz")
    );
    assert_eq!(owner_uid(&configmap).as_deref(), Some(uid.as_str()));

    let ready = h
        .wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    assert_eq!(
        ready["status"]["observedGeneration"],
        ready["metadata"]["generation"]
    );
    assert_eq!(condition(&ready, "Stalled")["status"], "False");
    assert_eq!(condition(&ready, "Reconciling")["status"], "False");
    let children = ready["status"]["children"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(children.len(), 3, "{children:?}");
    assert!(children.iter().all(|c| c["ready"] == true));

    // kubectl sees the same condition.
    let kubeconfig = h.sandbox.kubeconfig_path().to_path_buf();
    let output = tokio::process::Command::new("kubectl")
        .args(["--kubeconfig"])
        .arg(&kubeconfig)
        // A private discovery cache: another sandbox may have used this port before.
        .arg("--cache-dir")
        .arg(h.dir.path().join("kube-cache"))
        .args([
            "wait",
            "--for=condition=Ready",
            "webserver/hello",
            "--timeout=20s",
            "-n",
            "default",
        ])
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl wait failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_update_updates_children_and_rolls_the_checksum() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    let before = h
        .wait_for(&deployments(), "default", "hello", "has a checksum", |d| {
            d["spec"]["template"]["metadata"]["annotations"][CHECKSUM].is_string()
        })
        .await;
    let old_sum = before["spec"]["template"]["metadata"]["annotations"][CHECKSUM].clone();

    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"image": "nginx:1.29", "content": {"index.html": "changed"}}}),
    )
    .await;

    let after = h
        .wait_for(
            &deployments(),
            "default",
            "hello",
            "new image and checksum",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
                    && d["spec"]["template"]["metadata"]["annotations"][CHECKSUM] != old_sum
            },
        )
        .await;
    assert!(after["spec"]["template"]["metadata"]["annotations"][CHECKSUM].is_string());
    h.wait_for(&configmaps(), "default", "hello", "new content", |c| {
        c["data"]["index.html"] == "changed"
    })
    .await;
    // Ready again for the new generation (not the Ready of generation 1).
    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "Ready for generation 2",
            |o| condition(o, "Ready")["status"] == "True" && o["status"]["observedGeneration"] == 2,
        )
        .await;
    assert_eq!(cr["metadata"]["generation"], 2);
    assert_eq!(condition(&cr, "Ready")["observedGeneration"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_child_is_recreated() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    let service = h.get(&services(), "default", "hello").await;
    let old_uid = service["metadata"]["uid"].clone();
    h.api(&services(), "default")
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_for(&services(), "default", "hello", "recreated", |s| {
        s["metadata"]["uid"] != old_uid
    })
    .await;
}

/// `tera-operator.io/paused: "true"` stops reconciling one resource: drift and spec changes are
/// left alone and the status says so; removing it catches up at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_resource_is_left_alone_until_resumed() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    // Not paused: its children are watched through the same caches as hello's.
    let witness = example("webserver")
        .replace("name: hello", "name: witness")
        .replace("nodePort: 30080", "nodePort: 30081");
    h.create(&webservers(), "default", &witness).await;
    h.wait_condition(&webservers(), "default", "witness", "True", "Ready")
        .await;
    let ready = h
        .wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let generation = ready["metadata"]["generation"].clone();

    let paused = json!({"metadata": {"annotations": {"tera-operator.io/paused": "true"}}});
    h.merge_patch(&webservers(), "default", "hello", paused)
        .await;
    let cr = h
        .wait_for(&webservers(), "default", "hello", "Paused=True", |o| {
            condition(o, "Paused")["status"] == "True"
        })
        .await;
    assert!(
        condition(&cr, "Paused")["message"]
            .as_str()
            .is_some_and(|m| m.contains("tera-operator.io/paused")),
        "{cr}"
    );
    assert_eq!(
        condition(&cr, "Ready")["status"],
        "True",
        "Ready is kept: {cr}"
    );

    // Drift and a spec change while paused: nothing is done about either.
    h.api(&services(), "default")
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    h.merge_patch(
        &deployments(),
        "default",
        "hello",
        json!({"spec": {"replicas": 1}}),
    )
    .await;
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 2}}),
    )
    .await;
    // Proof that the operator had its chance: the same drift of the witness, made after
    // hello's, is repaired, so its Service and Deployment caches are past hello's changes.
    let witness_service = h.get(&services(), "default", "witness").await;
    h.api(&services(), "default")
        .delete("witness", &DeleteParams::default())
        .await
        .expect("delete");
    h.merge_patch(
        &deployments(),
        "default",
        "witness",
        json!({"spec": {"replicas": 1}}),
    )
    .await;
    h.wait_for(&services(), "default", "witness", "recreated", |s| {
        s["metadata"]["uid"] != witness_service["metadata"]["uid"]
    })
    .await;
    h.wait_for(&deployments(), "default", "witness", "reverted", |d| {
        d["spec"]["replicas"] == 3
    })
    .await;
    // Then two more reconciles of hello, each started by a user dropping the Paused condition
    // and seen when the operator writes it back: the second cannot start before the first has
    // finished (one reconcile of an object at a time), so the first ran to its end after all
    // of the above.
    for _ in 0..2 {
        let cr = h.get(&webservers(), "default", "hello").await;
        let others: Vec<Value> = cr["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .filter(|c| c["type"] != "Paused")
            .cloned()
            .collect();
        h.api(&webservers(), "default")
            .patch_status(
                "hello",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": others}})),
            )
            .await
            .expect("patch status");
        h.wait_for(
            &webservers(),
            "default",
            "hello",
            "Paused=True written again",
            |o| condition(o, "Paused")["status"] == "True",
        )
        .await;
    }
    let deployment = h.get(&deployments(), "default", "hello").await;
    assert_eq!(deployment["spec"]["replicas"], 1, "the edit was left alone");
    let service = h.api(&services(), "default").get_opt("hello").await;
    assert!(matches!(service, Ok(None)), "the Service stayed deleted");
    let cr = h.get(&webservers(), "default", "hello").await;
    assert_eq!(
        cr["status"]["observedGeneration"], generation,
        "the new spec was not observed: {cr}"
    );

    // Resumed: the new spec applies, the Service is back, the Paused condition is gone.
    let resumed = json!({"metadata": {"annotations": {"tera-operator.io/paused": null}}});
    h.merge_patch(&webservers(), "default", "hello", resumed)
        .await;
    h.get(&services(), "default", "hello").await;
    h.wait_for(&deployments(), "default", "hello", "2 replicas", |d| {
        d["spec"]["replicas"] == 2
    })
    .await;
    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "Ready, not paused",
            |o| condition(o, "Ready")["status"] == "True" && condition(o, "Paused").is_null(),
        )
        .await;
    assert_ne!(cr["status"]["observedGeneration"], generation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_field_edits_are_reverted_and_other_fields_kept() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    // replicas
    h.merge_patch(
        &deployments(),
        "default",
        "hello",
        json!({"spec": {"replicas": 1}}),
    )
    .await;
    h.wait_for(
        &deployments(),
        "default",
        "hello",
        "replicas back to 3",
        |d| d["spec"]["replicas"] == 3,
    )
    .await;

    // image (a JSON patch, as `kubectl set image` would send a strategic one)
    h.api(&deployments(), "default")
        .patch(
            "hello",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "replace",
                    "path": "/spec/template/spec/containers/0/image", "value": "evil:latest"}]))
                .expect("json patch"),
            ),
        )
        .await
        .expect("set image");
    h.wait_for(
        &deployments(),
        "default",
        "hello",
        "image back to the example image",
        |d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                == "nginxinc/nginx-unprivileged:1.28"
        },
    )
    .await;

    // nginx.conf data, plus a key and a label the chart does not set
    h.merge_patch(
        &configmaps(),
        "default",
        "hello",
        json!({"metadata": {"labels": {"team": "web"}},
                "data": {"nginx.conf": "broken", "extra": "mine"}}),
    )
    .await;
    let configmap = h
        .wait_for(
            &configmaps(),
            "default",
            "hello",
            "nginx.conf restored",
            |c| {
                c["data"]["nginx.conf"]
                    .as_str()
                    .is_some_and(|s| s.contains("worker_processes"))
            },
        )
        .await;
    assert_eq!(
        configmap["data"]["extra"], "mine",
        "a key the chart does not set was removed"
    );
    assert_eq!(
        configmap["metadata"]["labels"]["team"], "web",
        "a foreign label was removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_spec_is_reported_and_children_are_left_alone() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let before = h.get(&deployments(), "default", "hello").await;

    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": -1}}),
    )
    .await;
    let cr = h
        .wait_condition(&webservers(), "default", "hello", "False", "InvalidSpec")
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(message.contains("/spec/replicas"), "{message}");
    assert_eq!(condition(&cr, "Stalled")["status"], "True");
    assert_eq!(cr["status"]["observedGeneration"], 2);
    let after = h.get(&deployments(), "default", "hello").await;
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(after["spec"]["replicas"], 3);

    // Another mistake is another event, with its own message (not "x2" on the first one's).
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 1, "image": ""}}),
    )
    .await;
    h.wait_for(&webservers(), "default", "hello", "the image error", |o| {
        condition(o, "Ready")["message"]
            .as_str()
            .is_some_and(|m| m.contains("/spec/image"))
    })
    .await;
    let events: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        h.client.clone(),
        "default",
        &builtin("events.k8s.io", "v1", "Event", "events"),
    );
    let notes = eventually("both InvalidSpec events", || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            let notes: Vec<String> = list
                .items
                .iter()
                .filter(|e| e.data["reason"] == "InvalidSpec")
                .filter_map(|e| e.data["note"].as_str().map(str::to_string))
                .collect();
            (notes.len() >= 2).then_some(notes)
        }
    })
    .await;
    assert!(
        notes.iter().any(|n| n.contains("/spec/replicas")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("/spec/image")), "{notes:?}");

    // Fixing the spec recovers.
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 2, "image": "nginx:1.28"}}),
    )
    .await;
    h.wait_for(&deployments(), "default", "hello", "2 replicas", |d| {
        d["spec"]["replicas"] == 2
    })
    .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_resource_garbage_collects_children() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    h.api(&webservers(), "default")
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&deployments(), "default", "hello").await;
    h.wait_gone(&services(), "default", "hello").await;
    h.wait_gone(&configmaps(), "default", "hello").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_backend_is_pruned_and_foreign_objects_are_not() {
    let h = Harness::start().await;
    let cr = h
        .create(&balancers(), "default", &example("balancer"))
        .await;
    let uid = cr.metadata.uid.clone().expect("uid");
    for name in [
        "echo",
        "echo-v1-backend",
        "echo-v2-backend",
        "echo-v3-backend",
    ] {
        h.get(&services(), "default", name).await;
    }
    // Two look-alikes that are not owned: the owner label without the ownerReference, and a
    // managed-by label with another owner.
    let labels =
        json!({"app.kubernetes.io/managed-by": "tera-operator", "tera-operator.io/owner-uid": uid});
    h.apply_as_user(
        &services(),
        "default",
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lookalike", "labels": labels},
        "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    // An object carrying this resource's owner label but controlled by something else that
    // exists (a ConfigMap), so the cluster's garbage collector keeps it.
    let owner = h
        .apply_as_user(
            &configmaps(),
            "default",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "someone"}, "data": {}}),
        )
        .await;
    h.apply_as_user(
        &services(),
        "default",
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "other-owner", "labels": labels,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap",
                "name": "someone", "uid": owner.metadata.uid, "controller": true}]},
        "spec": {"ports": [{"port": 80}]}}),
    )
    .await;

    h.drop_third_backend().await;
    h.wait_gone(&services(), "default", "echo-v3-backend").await;
    let cr = h
        .wait_for(
            &balancers(),
            "default",
            "echo",
            "Ready for generation 2",
            |o| condition(o, "Ready")["status"] == "True" && o["status"]["observedGeneration"] == 2,
        )
        .await;
    assert!(
        !cr["status"]["children"]
            .to_string()
            .contains("echo-v3-backend")
    );
    for name in [
        "echo",
        "echo-v1-backend",
        "echo-v2-backend",
        "lookalike",
        "other-owner",
    ] {
        h.get(&services(), "default", name).await;
    }
    let proxy = h.get(&configmaps(), "default", "echo-proxy").await;
    assert!(
        !proxy["data"]["nginx.conf"]
            .as_str()
            .unwrap_or("")
            .contains("echo-v3-backend")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_resync_sends_no_writes() {
    let mapping = "\
- group: web.tera-operator.io
  version: v1alpha1
  kind: WebServer
  chart: webserver
  reconcilePeriod: 1s
- group: web.tera-operator.io
  version: v1alpha1
  kind: Balancer
  chart: balancer
  reconcilePeriod: 1s
";
    let h = Harness::start_with(Some(mapping), Vec::new()).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.create(&balancers(), "default", &example("balancer"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    h.wait_condition(&balancers(), "default", "echo", "True", "Ready")
        .await;
    // Two full periodic resyncs of both resources, once the events of the last writes settled.
    let writes = h
        .writes_during_resyncs(
            &[
                "web.tera-operator.io/WebServer",
                "web.tera-operator.io/Balancer",
            ],
            4,
        )
        .await;
    assert!(writes.is_empty(), "steady state sent writes: {writes:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_objects_are_refused_unless_helm_managed_and_opted_in() {
    // Adopting Helm releases is the mapping's decision (and the annotation's request).
    let mapping = "\
- group: web.tera-operator.io
  version: v1alpha1
  kind: WebServer
  chart: webserver
  adoptHelmReleases: true
";
    let h = Harness::start_with(Some(mapping), Vec::new()).await;
    // A ConfigMap made by hand, with the name the chart renders: never taken over.
    h.create(
        &configmaps(),
        "default",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  mine: \"yes\"\n",
    )
    .await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    let cr = h
        .wait_condition(
            &webservers(),
            "default",
            "hello",
            "False",
            "AdoptionRefused",
        )
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(message.contains("ConfigMap"), "{message}");
    let cm = h.get(&configmaps(), "default", "hello").await;
    assert_eq!(
        cm["data"],
        json!({"mine": "yes"}),
        "the refused object was changed"
    );
    assert!(
        h.api(&deployments(), "default")
            .get_opt("hello")
            .await
            .expect("get")
            .is_none(),
        "nothing may be applied while an object is refused"
    );

    // A Helm-managed ConfigMap of release "site", and a CR named "site" that opts in: adopted
    // in place (same uid), with our labels and ownerReference.
    let helm_cm = h
        .create(
            &configmaps(),
            "default",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\n  labels:\n    app.kubernetes.io/managed-by: Helm\n  annotations:\n    meta.helm.sh/release-name: site\n    meta.helm.sh/release-namespace: default\ndata:\n  old: \"1\"\n",
        )
        .await;
    let site = example("webserver").replace(
        "name: hello",
        "name: site\n  annotations:\n    tera-operator.io/adopt: \"true\"",
    );
    h.create(&webservers(), "default", &site).await;
    h.wait_condition(&webservers(), "default", "site", "True", "Ready")
        .await;
    let adopted = h.get(&configmaps(), "default", "site").await;
    assert_eq!(adopted["metadata"]["uid"], json!(helm_cm.metadata.uid));
    assert_eq!(
        adopted["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "tera-operator"
    );
    assert_eq!(
        adopted["metadata"]["ownerReferences"][0]["kind"],
        "WebServer"
    );
    assert!(adopted["data"]["nginx.conf"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_writes_nothing_for_settled_resources() {
    let mut h = Harness::start().await;
    // Quantities the API server rewrites (0.1 → 100m, 1024Mi → 1Gi, 1 → "1"): after a restart
    // the operator has no memory of its writes, so only canonical comparison avoids a rewrite.
    let webserver = example("webserver").replace(
        "  image: nginxinc/nginx-unprivileged:1.28\n",
        "  image: nginxinc/nginx-unprivileged:1.28\n  resources:\n    requests: {cpu: \"0.1\", memory: 1024Mi}\n    limits: {cpu: 1}\n",
    );
    h.create(&webservers(), "default", &webserver).await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let deployment = h.get(&deployments(), "default", "hello").await;
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1"}})
    );

    h.operator.take().expect("operator").shutdown().await;
    h.sandbox.hooks().clear_request_log();
    h.start_operator(Vec::new(), false).await;
    let metrics = h.metrics();
    eventually("a reconcile by the restarted operator", || async {
        (metrics.reconcile_count("web.tera-operator.io/WebServer") >= 1).then_some(())
    })
    .await;
    let writes = h.writes();
    assert!(writes.is_empty(), "the restart caused writes: {writes:#?}");
}
