//! Status fields computed by a chart's status template from the live children: the Balancer's
//! backend counts, the WebServer's ready replicas, failures, resyncs, the CRD and kubectl.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{
    Harness, balancers, builtin, condition, deployments, eventually, example, services, webservers,
};

/// The Balancer's counts as `(active, obsolete)`, once both are there.
fn counts(balancer: &Value) -> Option<(i64, i64)> {
    Some((
        balancer["status"]["activeBackendsNum"].as_i64()?,
        balancer["status"]["obsoleteBackendsNum"].as_i64()?,
    ))
}

async fn wait_counts(h: &Harness, active: i64, obsolete: i64) -> Value {
    h.wait_for(
        &balancers(),
        "default",
        "echo",
        &format!("{active} active and {obsolete} obsolete backends"),
        |b| counts(b) == Some((active, obsolete)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balancer_counts_follow_its_backend_services_and_a_resync_writes_nothing() {
    let mapping = "\
- group: web.tera-operator.io
  version: v1alpha1
  kind: Balancer
  chart: balancer
  reconcilePeriod: 1s
";
    let h = Harness::start_with(Some(mapping), Vec::new()).await;
    h.create(&balancers(), "default", &example("balancer"))
        .await;
    let balancer = wait_counts(&h, 3, 0).await;
    assert_eq!(condition(&balancer, "StatusComputed")["status"], "True");

    // A finalizer holds the v3 backend's Service: once v3 leaves the spec, prune deletes it,
    // but it still exists, so it counts as obsolete.
    h.merge_patch(
        &services(),
        "default",
        "echo-v3-backend",
        json!({"metadata": {"finalizers": ["example.com/hold"]}}),
    )
    .await;
    h.drop_third_backend().await;
    wait_counts(&h, 2, 1).await;
    let held = h.get(&services(), "default", "echo-v3-backend").await;
    assert!(
        held["metadata"]["deletionTimestamp"].is_string(),
        "prune did not delete the obsolete Service: {held:#}"
    );
    // Released, the Service goes, and the count with it (its deletion wakes the Balancer).
    h.merge_patch(
        &services(),
        "default",
        "echo-v3-backend",
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    h.wait_gone(&services(), "default", "echo-v3-backend").await;
    wait_counts(&h, 2, 0).await;

    // A new backend in the spec is active once its Service exists.
    h.merge_patch(
        &balancers(),
        "default",
        "echo",
        json!({"spec": {"backends": [
            {"name": "v1", "weight": 1, "selector": {"version": "v1"}},
            {"name": "v2", "weight": 2, "selector": {"version": "v2"}},
            {"name": "v4", "weight": 4, "selector": {"version": "v4"}}]}}),
    )
    .await;
    wait_counts(&h, 3, 0).await;
    h.get(&services(), "default", "echo-v4-backend").await;
    h.wait_condition(&balancers(), "default", "echo", "True", "Ready")
        .await;

    // Settled: periodic resyncs recompute the same counts and write nothing at all.
    let writes = h
        .writes_during_resyncs(&["web.tera-operator.io/Balancer"], 3)
        .await;
    assert!(writes.is_empty(), "a resync wrote: {writes:#?}");
    let balancer = h.get(&balancers(), "default", "echo").await;
    assert_eq!(counts(&balancer), Some((3, 0)));
}

/// The WebServer's status fields as `(pods, readyReplicas, replicas)`.
fn replicas(webserver: &Value) -> (String, i64, i64) {
    let status = &webserver["status"];
    (
        status["pods"].as_str().unwrap_or("").to_string(),
        status["readyReplicas"].as_i64().unwrap_or(-1),
        status["replicas"].as_i64().unwrap_or(-1),
    )
}

async fn wait_pods(h: &Harness, pods: &str) -> Value {
    h.wait_for(
        &webservers(),
        "default",
        "hello",
        &format!("pods {pods}"),
        |w| w["status"]["pods"] == pods,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webserver_replicas_follow_the_deployment_status() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    let ready = wait_pods(&h, "3/3").await;
    assert_eq!(replicas(&ready), ("3/3".to_string(), 3, 3));

    // No kubelet catches up now: the Deployment wants 5, 3 are ready.
    h.sandbox.hooks().pause_workloads(true);
    h.merge_patch(
        &webservers(),
        "default",
        "hello",
        json!({"spec": {"replicas": 5}}),
    )
    .await;
    let scaling = wait_pods(&h, "3/5").await;
    assert_eq!(replicas(&scaling), ("3/5".to_string(), 3, 5));
    assert_eq!(condition(&scaling, "Ready")["status"], "False");

    // One more pod gets ready (the Deployment's status, as its controller would write it).
    h.api(&deployments(), "default")
        .patch_status(
            "hello",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"readyReplicas": 4}})),
        )
        .await
        .expect("patch the Deployment's status");
    wait_pods(&h, "4/5").await;

    h.sandbox.hooks().pause_workloads(false);
    let done = wait_pods(&h, "5/5").await;
    assert_eq!(done["status"]["availableReplicas"], 5);
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_status_template_is_said_while_the_children_stay_applied() {
    let mut h = Harness::without_operator(None).await;
    let template = h.chart_dir("webserver").join("templates/_status.tera");
    let good = std::fs::read_to_string(&template).expect("status template");
    // Compiles, fails when rendered: a field no WebServer has.
    std::fs::write(
        &template,
        format!("{good}\nextra: {{{{ values.no.such }}}}\n"),
    )
    .expect("write");
    h.start_operator(Vec::new(), false).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;

    let failed = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "StatusComputed=False",
            |w| condition(w, "StatusComputed")["status"] == "False",
        )
        .await;
    let computed = condition(&failed, "StatusComputed");
    assert_eq!(computed["reason"], "StatusFailed");
    let message = computed["message"].as_str().unwrap_or("");
    let lines = good.lines().count();
    assert!(
        message.contains(&format!("templates/_status.tera:{}:", lines + 2)),
        "the message names no file:line: {message}"
    );
    // The children are applied all the same, and become ready.
    h.get(&deployments(), "default", "hello").await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    let events = h
        .api(
            &builtin("events.k8s.io", "v1", "Event", "events"),
            "default",
        )
        .list(&Default::default())
        .await
        .expect("events");
    assert!(
        events
            .items
            .iter()
            .any(|e| e.data["reason"] == "StatusFailed" && e.data["type"] == "Warning"),
        "no StatusFailed Warning event"
    );
    assert!(
        h.metric(
            r#"tera_operator_reconcile_errors_total{kind="web.tera-operator.io/WebServer",reason="StatusFailed"}"#
        ) >= 1.0
    );

    // Fixed (hot reload), the fields are computed and the condition clears.
    std::fs::write(&template, &good).expect("write");
    let fixed = wait_pods(&h, "3/3").await;
    assert_eq!(condition(&fixed, "StatusComputed")["status"], "True");
}

/// The first row's cell under the header `name` of a kubectl table (cells may hold spaces).
fn column(table: &str, name: &str) -> Option<String> {
    let mut lines = table.lines();
    let header = lines.next()?;
    let row = lines.next()?;
    let start = header.split_whitespace().find(|h| *h == name)?;
    let start = header
        .find(&format!("{start} "))
        .or_else(|| header.rfind(start))?;
    let end = header[start..]
        .find(char::is_whitespace)
        .and_then(|gap| {
            let after = start + gap;
            header[after..]
                .find(|c: char| !c.is_whitespace())
                .map(|next| after + next)
        })
        .unwrap_or(row.len());
    Some(row.get(start..end.min(row.len()))?.trim().to_string())
}

async fn kubectl(h: &Harness, args: &[&str]) -> String {
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(h.sandbox.kubeconfig_path())
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("kubectl runs (it must be installed)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crd_keeps_the_fields_and_kubectl_shows_them() {
    // The checked-in CRDs, as a user installs them, and the operator keeping them up to date.
    let mut h = Harness::without_operator(None).await;
    h.sandbox
        .apply_path(Path::new("crds"))
        .expect("kubectl apply -f crds/");
    h.start_operator(Vec::new(), true).await;
    // The CRD declares the computed fields (so the API server keeps them) and prints them.
    let crds = builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    let crds = kube::Api::<kube::api::DynamicObject>::all_with(h.client.clone(), &crds);
    let crd = eventually("the Balancer CRD with its status fields", || {
        let crds = crds.clone();
        async move {
            let crd = serde_json::to_value(crds.get("balancers.web.tera-operator.io").await.ok()?)
                .ok()?;
            crd.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/activeBackendsNum")?;
            Some(crd)
        }
    })
    .await;
    let version = &crd["spec"]["versions"][0];
    let status = &version["schema"]["openAPIV3Schema"]["properties"]["status"];
    assert_eq!(
        status["properties"]["obsoleteBackendsNum"]["type"],
        "integer"
    );
    assert!(status.get("x-kubernetes-preserve-unknown-fields").is_none());
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["jsonPath"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        columns.contains(&".status.activeBackendsNum"),
        "{columns:?}"
    );
    assert!(
        columns.contains(&".status.obsoleteBackendsNum"),
        "{columns:?}"
    );

    h.create(&balancers(), "default", &example("balancer"))
        .await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    wait_counts(&h, 3, 0).await;
    wait_pods(&h, "3/3").await;
    let table = kubectl(&h, &["get", "balancers", "-n", "default"]).await;
    assert_eq!(column(&table, "ACTIVE").as_deref(), Some("3"), "{table}");
    assert_eq!(column(&table, "OBSOLETE").as_deref(), Some("0"), "{table}");
    // The WebServer's PODS column reads as kubectl's READY column of its Deployment.
    let ws = kubectl(&h, &["get", "webservers", "hello", "-n", "default"]).await;
    let deploy = kubectl(&h, &["get", "deployment", "hello", "-n", "default"]).await;
    assert_eq!(
        column(&ws, "PODS"),
        column(&deploy, "READY"),
        "{ws}\n{deploy}"
    );
    assert_eq!(column(&ws, "PODS").as_deref(), Some("3/3"), "{ws}");
}
