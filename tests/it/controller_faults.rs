//! The controller under faults and in restricted namespaces: API errors, conflicts, closed
//! watches, expired history, failed prunes, a bad resource next to good ones, two kinds in two
//! namespaces.

use crate::support as common;

use common::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_despite_errors_conflicts_and_closed_watches() {
    let h = Harness::start().await;
    let hooks = h.sandbox.hooks();
    hooks.fail_next(3, "patch", "deployments", 500);
    hooks.fail_next(2, "patch", "configmaps", 409);
    hooks.fail_next(2, "patch", "webservers/status", 500);
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let failed = h
        .sandbox
        .request_log()
        .iter()
        .filter(|r| r.status >= 409 && r.is_write())
        .count();
    assert!(
        failed >= 7,
        "the injected failures were not all hit ({failed})"
    );

    // Watches closed and history expired: the caches relist and drift is still corrected.
    h.sandbox.expire_history();
    hooks.close_watches();
    let service = h.get(&services(), "default", "hello").await;
    h.api(&services(), "default")
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_for(
        &services(),
        "default",
        "hello",
        "recreated after the watch restart",
        |s| s["metadata"]["uid"] != service["metadata"]["uid"],
    )
    .await;
}

/// A CRD deleted under the operator (its resources and their children go with it) and installed
/// again: the kind's watch fails into 404s, backs off, and serves the kind again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_and_recreated_crd_is_served_again() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let first = h.get(&deployments(), "default", "hello").await;

    let crds = builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    Api::<kube::api::DynamicObject>::all_with(h.client.clone(), &crds)
        .delete("webservers.web.tera-operator.io", &DeleteParams::default())
        .await
        .expect("delete the CRD");
    h.wait_gone(&deployments(), "default", "hello").await;
    eventually("the WebServer watch to fail", || async {
        h.sandbox
            .request_log()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/webservers") && r.status == 404)
            .then_some(())
    })
    .await;

    create_crd(&h.client, "WebServer", "webservers").await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let second = h.get(&deployments(), "default", "hello").await;
    assert_ne!(second["metadata"]["uid"], first["metadata"]["uid"]);
    // Balancers were never interrupted.
    assert!(h.metrics().is_served("web.tera-operator.io/Balancer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_resource_does_not_block_the_others() {
    let h = Harness::start().await;
    let bad = example("webserver")
        .replace("name: hello", "name: bad")
        .replace("replicas: 3", "replicas: -5")
        .replace("nodePort: 30080", "nodePort: 30081");
    h.create(&webservers(), "default", &bad).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let cr = h
        .wait_condition(&webservers(), "default", "bad", "False", "InvalidSpec")
        .await;
    assert!(
        condition(&cr, "Ready")["message"]
            .as_str()
            .unwrap_or("")
            .contains("/spec/replicas")
    );
    assert!(
        h.api(&deployments(), "default")
            .get_opt("bad")
            .await
            .expect("get")
            .is_none(),
        "an invalid resource got children"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kinds_in_two_namespaces() {
    let h = Harness::start_with(None, vec!["team-a".into(), "team-b".into()]).await;
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    for ns in ["team-a", "team-b", "team-c"] {
        let object: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns");
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .expect("namespace");
    }
    h.create(&webservers(), "team-a", &example("webserver"))
        .await;
    h.create(&balancers(), "team-b", &example("balancer")).await;
    h.create(&webservers(), "team-c", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "team-a", "hello", "True", "Ready")
        .await;
    h.wait_condition(&balancers(), "team-b", "echo", "True", "Ready")
        .await;
    let deployment = h.get(&deployments(), "team-a", "hello").await;
    assert_eq!(deployment["metadata"]["namespace"], "team-a");
    h.get(&services(), "team-b", "echo-v1-backend").await;
    // The unwatched namespace was never touched.
    assert!(
        h.api(&deployments(), "team-c")
            .get_opt("hello")
            .await
            .expect("get")
            .is_none()
    );
    let unwatched = h
        .api(&webservers(), "team-c")
        .get("hello")
        .await
        .expect("get");
    assert!(
        unwatched.data.get("status").is_none_or(|s| s.is_null()),
        "{unwatched:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mapping_selector_limits_which_resources_are_served() {
    let mapping = "\
- group: web.tera-operator.io
  version: v1alpha1
  kind: WebServer
  chart: webserver
  selector:
    matchLabels:
      tier: web
";
    let h = Harness::start_with(Some(mapping), Vec::new()).await;
    let plain = example("webserver")
        .replace("name: hello", "name: plain")
        .replace("nodePort: 30080", "nodePort: 30081");
    h.create(&webservers(), "default", &plain).await;
    let labelled =
        example("webserver").replace("name: hello", "name: hello\n  labels:\n    tier: web");
    h.create(&webservers(), "default", &labelled).await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    assert!(
        h.api(&deployments(), "default")
            .get_opt("plain")
            .await
            .expect("get")
            .is_none(),
        "a resource outside the selector got children"
    );
    let plain = h
        .api(&webservers(), "default")
        .get("plain")
        .await
        .expect("get");
    assert!(
        plain.data.get("status").is_none_or(|s| s.is_null()),
        "{plain:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_prune_is_reported_and_retried() {
    let h = Harness::start().await;
    h.create(&balancers(), "default", &example("balancer"))
        .await;
    h.wait_condition(&balancers(), "default", "echo", "True", "Ready")
        .await;
    let hooks = h.sandbox.hooks();
    hooks.fail_next(usize::MAX, "delete", "services", 500);
    h.drop_third_backend().await;
    let cr = h
        .wait_condition(&balancers(), "default", "echo", "False", "PruneFailed")
        .await;
    let message = condition(&cr, "Ready")["message"].as_str().unwrap_or("");
    assert!(message.contains("echo-v3-backend"), "{message}");
    assert_eq!(
        condition(&cr, "Reconciling")["status"],
        "True",
        "a failed prune is retried"
    );
    assert_eq!(condition(&cr, "Stalled")["status"], "False");
    let kind = "web.tera-operator.io/Balancer";
    let metrics = h.metrics();
    eventually("the resource to be counted as backing off", || async {
        (metrics.backing_off_count(kind) == 1).then_some(())
    })
    .await;

    hooks.clear_failures();
    h.wait_gone(&services(), "default", "echo-v3-backend").await;
    h.wait_condition(&balancers(), "default", "echo", "True", "Ready")
        .await;
    eventually("the backoff to be forgotten after success", || async {
        (metrics.backing_off_count(kind) == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_resource_leaves_no_backoff_behind() {
    let h = Harness::start().await;
    h.sandbox
        .hooks()
        .fail_next(usize::MAX, "patch", "deployments", 500);
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "False", "ApplyFailed")
        .await;
    let kind = "web.tera-operator.io/WebServer";
    let metrics = h.metrics();
    eventually("the resource to be counted as backing off", || async {
        (metrics.backing_off_count(kind) == 1).then_some(())
    })
    .await;
    h.api(&webservers(), "default")
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the deleted resource's backoff to be dropped", || async {
        (metrics.backing_off_count(kind) == 0).then_some(())
    })
    .await;
}

/// Changes the spec of the WebServer `witness` and waits until the operator has written the
/// status of that change: a reconcile that started after everything done before the change.
async fn reconcile_witness(h: &Harness, replicas: i64) {
    let changed = h
        .merge_patch(
            &webservers(),
            "default",
            "witness",
            json!({"spec": {"replicas": replicas}}),
        )
        .await;
    let generation = json!(changed.metadata.generation.expect("generation"));
    h.wait_for(
        &webservers(),
        "default",
        "witness",
        "the change observed",
        |o| o["status"]["observedGeneration"] == generation,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_failing_after_its_resource_was_deleted_keeps_no_backoff() {
    let (h, gate) = Harness::start_gated().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    // Reconciled by the same controller task as hello, in the order of their watch events.
    let witness = example("webserver")
        .replace("name: hello", "name: witness")
        .replace("nodePort: 30080", "nodePort: 30081");
    h.create(&webservers(), "default", &witness).await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    h.wait_condition(&webservers(), "default", "witness", "True", "Ready")
        .await;
    let kind = "web.tera-operator.io/WebServer";

    // The spec change makes the operator apply the Deployment; the gate holds that request, so
    // the reconcile is in flight until the test lets it fail.
    gate.hold(
        axum::http::Method::PATCH,
        "/apis/apps/v1/namespaces/default/deployments/hello",
    );
    let api = h.api(&webservers(), "default");
    let two_replicas = Patch::Merge(json!({"spec": {"replicas": 2}}));
    api.patch("hello", &PatchParams::default(), &two_replicas)
        .await
        .expect("patch");
    gate.until_held().await;
    api.delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    // The witness changed after the deletion, so its reconcile proves the operator's cache has
    // dropped hello (one watch, events in order).
    reconcile_witness(&h, 2).await;

    gate.fail_held();
    let failed =
        format!("tera_operator_reconcile_errors_total{{kind=\"{kind}\",reason=\"ApplyFailed\"}}");
    eventually("the failed reconcile to be counted", || async {
        (h.metric(&failed) >= 1.0).then_some(())
    })
    .await;
    // The error policy runs in the same poll that counts the failure; the controller task
    // reconciles the witness only after that poll.
    reconcile_witness(&h, 1).await;
    assert_eq!(
        h.metrics().backing_off_count(kind),
        0,
        "a failure of a deleted resource was kept for retries"
    );
}
