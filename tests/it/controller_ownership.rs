//! Safe among neighbours: a child belongs to one resource, Helm releases are adopted only where
//! the mapping allows it and all at once, a kind served at two versions is one child, and every
//! failure shows on the resource.

use crate::support as common;

use std::path::Path;

use common::*;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use serde_json::{Value, json};

const WEBSERVER: &str = "web.tera-operator.io/WebServer";
const BALANCER: &str = "web.tera-operator.io/Balancer";

/// Both bundled kinds, resynced every second (so a steady state is reached quickly and seen).
const FAST_MAPPING: &str = "\
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

/// A WebServer named `name` (a ClusterIP Service, so several can share a namespace).
fn webserver(name: &str) -> String {
    format!(
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n"
    )
}

/// A Balancer named `name` with one backend per name in `backends`.
fn balancer(name: &str, backends: &[&str]) -> String {
    let mut yaml = format!(
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: Balancer\nmetadata:\n  name: {name}\nspec:\n  ports:\n    - name: http\n      port: 80\n  selector:\n    app: echo\n  backends:\n"
    );
    for backend in backends {
        yaml.push_str(&format!(
            "    - name: {backend}\n      weight: 1\n      selector:\n        version: {backend}\n"
        ));
    }
    yaml
}

fn ready(object: &Value) -> &Value {
    condition(object, "Ready")
}

fn message(object: &Value) -> String {
    ready(object)["message"].as_str().unwrap_or("").to_string()
}

/// The controller ownerReference of an object, as `Kind name`.
fn controller(object: &Value) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| Some(format!("{} {}", r["kind"].as_str()?, r["name"].as_str()?)))
}

/// Waits until the resource's Ready condition has a reason other than `Progressing` (its
/// reconcile reached a verdict) and returns the resource.
async fn verdict(h: &Harness, resource: &ApiResource, namespace: &str, name: &str) -> Value {
    h.wait_for(resource, namespace, name, "a Ready verdict", |o| {
        let reason = &ready(o)["reason"];
        reason.is_string() && reason != "Progressing"
    })
    .await
}

/// Waits until a Warning event with `reason` about `name` exists; returns its note.
async fn warning(h: &Harness, namespace: &str, name: &str, reason: &str) -> String {
    let events: Api<DynamicObject> = Api::namespaced_with(
        h.client.clone(),
        namespace,
        &builtin("events.k8s.io", "v1", "Event", "events"),
    );
    eventually(&format!("a Warning {reason} event about {name}"), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.iter().find_map(|e| {
                (e.data["type"] == "Warning"
                    && e.data["reason"] == reason
                    && e.data["regarding"]["name"] == name)
                    .then(|| e.data["note"].as_str().unwrap_or("").to_string())
            })
        }
    })
    .await
}

/// Requests other than watches sent to the sandbox so far (`METHOD path status`).
fn requests(h: &Harness) -> Vec<String> {
    h.sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.verb != "watch" && !r.query.contains("watch=true"))
        .map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.status))
        .collect()
}

/// Waits until each of `kinds` has reconciled `n` more times than now.
async fn reconciles(h: &Harness, kinds: &[&str], n: u64) {
    let metrics = h.metrics();
    let start: Vec<u64> = kinds.iter().map(|k| metrics.reconcile_count(k)).collect();
    eventually(&format!("{n} more reconciles of {kinds:?}"), || async {
        kinds
            .iter()
            .zip(&start)
            .all(|(k, s)| metrics.reconcile_count(k) >= s + n)
            .then_some(())
    })
    .await;
}

/// Writes a chart into `dir/name` with `templates` (file name, text).
fn write_chart(dir: &Path, name: &str, templates: &[(&str, &str)]) {
    let chart = dir.join(name);
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("name: {name}\nversion: 0.1.0\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "{}\n").expect("values.yaml");
    for (file, text) in templates {
        std::fs::write(chart.join("templates").join(file), text).expect("template");
    }
}

/// A mapping serving WebServer with the chart at `chart` (absolute), emitting `allowed` kinds.
fn custom_mapping(chart: &Path, allowed: &str) -> String {
    format!(
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  reconcilePeriod: 1s\n  allowedKinds: [{allowed}]\n",
        chart.display()
    )
}

/// WebServer `shop` and Balancer `shop` both render Service `shop`: the Balancer, created second,
/// is refused (status, event), the WebServer's Service is not touched, a resync of the standoff
/// costs no request at all, and the Balancer takes the Service once the WebServer is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_of_another_resource_is_never_taken() {
    let h = Harness::start_with(Some(FAST_MAPPING), Vec::new()).await;
    h.create(&webservers(), "default", &webserver("shop")).await;
    h.wait_condition(&webservers(), "default", "shop", "True", "Ready")
        .await;
    let before = h.get(&services(), "default", "shop").await;
    assert_eq!(controller(&before).as_deref(), Some("WebServer shop"));

    h.create(&balancers(), "default", &balancer("shop", &["v1"]))
        .await;
    let cr = verdict(&h, &balancers(), "default", "shop").await;
    assert_eq!(ready(&cr)["status"], "False", "{cr}");
    assert_eq!(ready(&cr)["reason"], "OwnershipConflict", "{cr}");
    let text = message(&cr);
    assert!(text.contains("Service shop"), "{text}");
    assert!(text.contains("WebServer shop"), "{text}");
    assert_eq!(condition(&cr, "Stalled")["status"], "True", "{cr}");
    let note = warning(&h, "default", "shop", "OwnershipConflict").await;
    assert!(note.contains("Service shop"), "{note}");

    // Nothing of the Balancer was written: not the Service, not its other children.
    let after = h.get(&services(), "default", "shop").await;
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "the WebServer's Service was written: {after}"
    );
    for (resource, name) in [
        (configmaps(), "shop-proxy"),
        (deployments(), "shop-proxy"),
        (services(), "shop-v1-backend"),
    ] {
        let live = h
            .api(&resource, "default")
            .get_opt(name)
            .await
            .expect("get");
        assert!(live.is_none(), "{} {name} was created", resource.kind);
    }

    // The standoff is steady: resyncs of both sides send nothing (no write, no read).
    reconciles(&h, &[WEBSERVER, BALANCER], 2).await;
    h.sandbox.hooks().clear_request_log();
    reconciles(&h, &[WEBSERVER, BALANCER], 3).await;
    let sent = requests(&h);
    assert!(sent.is_empty(), "the standoff sent requests: {sent:#?}");
    let ws = h.get(&webservers(), "default", "shop").await;
    assert_eq!(ready(&ws)["status"], "True", "{ws}");
    let after = h.get(&services(), "default", "shop").await;
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );

    // The owner lets go (deleted; the Service goes with it): the newcomer takes the name.
    h.api(&webservers(), "default")
        .delete("shop", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_condition(&balancers(), "default", "shop", "True", "Ready")
        .await;
    let service = h.get(&services(), "default", "shop").await;
    assert_eq!(controller(&service).as_deref(), Some("Balancer shop"));
    assert_ne!(service["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"],
        "balancer"
    );
}

/// Names that collide only once rendered: WebServer `x-proxy` against Balancer `x` (whose proxy
/// ConfigMap and Deployment are `x-proxy`), and Balancer `a` with backend `b-c` against Balancer
/// `a-b` with backend `c` (both render Service `a-b-c-backend`). When `a` stops rendering it, `a-b`
/// takes it on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_names_that_collide_are_refused_until_freed() {
    let h = Harness::start().await;
    h.create(&balancers(), "default", &balancer("x", &["v1"]))
        .await;
    h.create(&balancers(), "default", &balancer("a", &["b-c"]))
        .await;
    h.wait_condition(&balancers(), "default", "x", "True", "Ready")
        .await;
    h.wait_condition(&balancers(), "default", "a", "True", "Ready")
        .await;
    let proxy = h.get(&configmaps(), "default", "x-proxy").await;
    let backend = h.get(&services(), "default", "a-b-c-backend").await;

    h.create(&webservers(), "default", &webserver("x-proxy"))
        .await;
    h.create(&balancers(), "default", &balancer("a-b", &["c"]))
        .await;
    let ws = verdict(&h, &webservers(), "default", "x-proxy").await;
    assert_eq!(ready(&ws)["reason"], "OwnershipConflict", "{ws}");
    let text = message(&ws);
    assert!(text.contains("ConfigMap x-proxy"), "{text}");
    assert!(text.contains("Deployment x-proxy"), "{text}");
    assert!(text.contains("Balancer x"), "{text}");
    let ab = verdict(&h, &balancers(), "default", "a-b").await;
    assert_eq!(ready(&ab)["reason"], "OwnershipConflict", "{ab}");
    let text = message(&ab);
    assert!(text.contains("Service a-b-c-backend"), "{text}");
    assert!(text.contains("Balancer a"), "{text}");
    warning(&h, "default", "a-b", "OwnershipConflict").await;

    let unchanged = |before: &Value, after: &Value| {
        assert_eq!(
            after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "{after}"
        )
    };
    unchanged(&proxy, &h.get(&configmaps(), "default", "x-proxy").await);
    unchanged(
        &backend,
        &h.get(&services(), "default", "a-b-c-backend").await,
    );
    let ws_service = h.api(&services(), "default").get_opt("x-proxy").await;
    assert!(
        matches!(ws_service, Ok(None)),
        "the refused WebServer applied its Service"
    );
    for name in ["x", "a"] {
        let owner = h.get(&balancers(), "default", name).await;
        assert_eq!(ready(&owner)["status"], "True", "{owner}");
    }

    // `a` no longer renders the backend Service: it prunes it, and `a-b` takes the name.
    h.merge_patch(
        &balancers(),
        "default",
        "a",
        json!({"spec": {"backends": [{"name": "d", "weight": 1, "selector": {"version": "d"}}]}}),
    )
    .await;
    h.wait_condition(&balancers(), "default", "a-b", "True", "Ready")
        .await;
    let taken = h.get(&services(), "default", "a-b-c-backend").await;
    assert_eq!(controller(&taken).as_deref(), Some("Balancer a-b"));
    assert_eq!(taken["spec"]["selector"]["version"], "c");
    let ws = h.get(&webservers(), "default", "x-proxy").await;
    assert_eq!(ready(&ws)["reason"], "OwnershipConflict", "{ws}");
}

fn helm_object(kind: &str, name: &str, body: &str) -> String {
    format!(
        "apiVersion: {}\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/managed-by: Helm\n    app: {name}\n  annotations:\n    meta.helm.sh/release-name: {name}\n    meta.helm.sh/release-namespace: default\n{body}",
        if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        }
    )
}

/// Creates a Helm release's ConfigMap, Service and Deployment named `name`.
async fn helm_release(h: &Harness, name: &str) -> Vec<Value> {
    let objects = [
        (
            configmaps(),
            helm_object("ConfigMap", name, "data:\n  old: \"1\"\n"),
        ),
        (
            services(),
            helm_object(
                "Service",
                name,
                &format!("spec:\n  selector:\n    app: {name}\n  ports:\n    - port: 80\n"),
            ),
        ),
        (
            deployments(),
            helm_object(
                "Deployment",
                name,
                &format!(
                    "spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: webserver\n      app.kubernetes.io/instance: {name}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: webserver\n        app.kubernetes.io/instance: {name}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n"
                ),
            ),
        ),
    ];
    let mut created = Vec::new();
    for (resource, yaml) in objects {
        created.push(h.create(&resource, "default", &yaml).await.pipe_json());
    }
    created
}

fn annotated_webserver(name: &str) -> String {
    webserver(name).replace(
        &format!("name: {name}\n"),
        &format!("name: {name}\n  annotations:\n    tera-operator.io/adopt: \"true\"\n"),
    )
}

fn still_helms(object: &Value) {
    assert_eq!(
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm",
        "{object}"
    );
    assert!(controller(object).is_none(), "{object}");
}

/// The annotation on the resource is not enough: the bundled mapping does not allow adoption,
/// so the Helm release's objects stay Helm's and the status says what would allow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_annotation_alone_does_not_adopt_a_helm_release() {
    let h = Harness::start().await;
    let helm = helm_release(&h, "site").await;
    h.create(&webservers(), "default", &annotated_webserver("site"))
        .await;
    let cr = verdict(&h, &webservers(), "default", "site").await;
    assert_eq!(ready(&cr)["reason"], "AdoptionRefused", "{cr}");
    let text = message(&cr);
    assert!(text.contains("adoptHelmReleases"), "{text}");
    assert!(text.contains("Helm release site"), "{text}");
    warning(&h, "default", "site", "AdoptionRefused").await;
    for (resource, before) in [configmaps(), services(), deployments()].iter().zip(&helm) {
        let mut live = h.get(resource, "default", "site").await;
        still_helms(&live);
        // (The sandbox's workload simulation writes the Deployment's status, not its spec; like
        // the deployment controller, it annotates the Deployment with its rollout revision.)
        if let Some(a) = live
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.remove("deployment.kubernetes.io/revision");
        }
        for field in [
            "/metadata/labels",
            "/metadata/annotations",
            "/spec",
            "/data",
        ] {
            assert_eq!(
                live.pointer(field),
                before.pointer(field),
                "{field}: {live}"
            );
        }
    }
}

/// With the mapping allowing it, a release is adopted whole or not at all: while the Deployment
/// cannot be written, neither the ConfigMap nor the Service is taken over; once it can, all three
/// are, in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_release_is_adopted_whole_or_not_at_all() {
    let mapping = "\
- group: web.tera-operator.io
  version: v1alpha1
  kind: WebServer
  chart: webserver
  adoptHelmReleases: true
";
    let h = Harness::start_with(Some(mapping), Vec::new()).await;
    let helm = helm_release(&h, "site").await;
    let hooks = h.sandbox.hooks();
    hooks.fail_next(usize::MAX, "patch", "deployments", 403);
    h.create(&webservers(), "default", &annotated_webserver("site"))
        .await;
    let cr = verdict(&h, &webservers(), "default", "site").await;
    for (resource, before) in [configmaps(), services()].iter().zip(&helm) {
        let live = h.get(resource, "default", "site").await;
        still_helms(&live);
        assert_eq!(
            live["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "half the release was adopted: {live}"
        );
    }
    assert_eq!(ready(&cr)["status"], "False", "{cr}");
    assert_eq!(ready(&cr)["reason"], "Forbidden", "{cr}");
    let text = message(&cr);
    assert!(text.contains("Deployment"), "{text}");
    assert!(text.contains("Helm release site"), "{text}");

    hooks.clear_failures();
    h.wait_condition(&webservers(), "default", "site", "True", "Ready")
        .await;
    for (resource, before) in [configmaps(), services(), deployments()].iter().zip(&helm) {
        let live = h.get(resource, "default", "site").await;
        assert_eq!(live["metadata"]["uid"], before["metadata"]["uid"]);
        assert_eq!(controller(&live).as_deref(), Some("WebServer site"));
    }
}

/// A kind served at two versions (a CRD with v1 and v2) is one child kind: a chart rendering one
/// object at each version gets both, and resyncs neither delete nor write anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_served_at_two_versions_is_one_child() {
    let charts = tempfile::tempdir().expect("tempdir");
    write_chart(
        charts.path(),
        "widgets",
        &[(
            "widgets.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ release.name }}-one\nspec:\n  size: 1\n---\napiVersion: example.com/v2\nkind: Widget\nmetadata:\n  name: {{ release.name }}-two\nspec:\n  size: 2\n",
        )],
    );
    let mapping = custom_mapping(&charts.path().join("widgets"), "Widget.example.com");
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    let versions: Vec<Value> = ["v1", "v2"]
        .iter()
        .map(|v| {
            json!({"name": v, "served": true, "storage": *v == "v1",
                   "schema": {"openAPIV3Schema": {"type": "object",
                       "x-kubernetes-preserve-unknown-fields": true}}})
        })
        .collect();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": versions}
    });
    let crds: Api<DynamicObject> = Api::all_with(
        h.client.clone(),
        &builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).expect("crd"),
    )
    .await
    .expect("create the CRD");
    let widgets = builtin("example.com", "v1", "Widget", "widgets");
    eventually("Widgets to be served", || {
        let client = h.client.clone();
        async move {
            kube::discovery::pinned_kind(
                &client,
                &kube::core::GroupVersionKind::gvk("example.com", "v2", "Widget"),
            )
            .await
            .ok()
        }
    })
    .await;

    h.create(&webservers(), "default", &webserver("w")).await;
    h.wait_condition(&webservers(), "default", "w", "True", "Ready")
        .await;
    let one = h.get(&widgets, "default", "w-one").await;
    let two = h.get(&widgets, "default", "w-two").await;
    reconciles(&h, &[WEBSERVER], 2).await;
    h.sandbox.hooks().clear_request_log();
    reconciles(&h, &[WEBSERVER], 3).await;
    let writes = h.writes();
    assert!(writes.is_empty(), "resyncs wrote: {writes:#?}");
    for before in [one, two] {
        let name = before["metadata"]["name"].as_str().expect("name");
        let after = h.get(&widgets, "default", name).await;
        assert_eq!(
            after["metadata"]["uid"], before["metadata"]["uid"],
            "{name}"
        );
    }
}

/// A chart rendering a kind the API server does not serve (a CRD not installed): Ready=False
/// within seconds, naming the kind and its group, with a Warning event; nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_kind_is_reported_on_the_resource() {
    let charts = tempfile::tempdir().expect("tempdir");
    write_chart(
        charts.path(),
        "monitored",
        &[
            (
                "configmap.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  a: \"1\"\n",
            ),
            (
                "monitor.yaml",
                "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: {{ release.name }}\nspec:\n  endpoints: [{port: http}]\n",
            ),
        ],
    );
    let mapping = custom_mapping(
        &charts.path().join("monitored"),
        "ConfigMap, ServiceMonitor.monitoring.coreos.com",
    );
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    h.create(&webservers(), "default", &webserver("mon")).await;
    let cr = verdict(&h, &webservers(), "default", "mon").await;
    assert_eq!(ready(&cr)["status"], "False", "{cr}");
    assert_eq!(ready(&cr)["reason"], "KindNotServed", "{cr}");
    let text = message(&cr);
    assert!(text.contains("ServiceMonitor"), "{text}");
    assert!(text.contains("monitoring.coreos.com"), "{text}");
    let note = warning(&h, "default", "mon", "KindNotServed").await;
    assert!(note.contains("ServiceMonitor"), "{note}");
    let cm = h.api(&configmaps(), "default").get_opt("mon").await;
    assert!(matches!(cm, Ok(None)), "half the chart was applied");
}

/// A write the API server forbids (403): Ready=False naming the object, a Warning event, and the
/// status says what was applied and what was not. Once allowed, the resource becomes Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_write_is_reported_with_what_was_applied() {
    let h = Harness::start().await;
    let hooks = h.sandbox.hooks();
    hooks.fail_next(usize::MAX, "patch", "deployments", 403);
    h.create(&webservers(), "default", &webserver("hello"))
        .await;
    let cr = verdict(&h, &webservers(), "default", "hello").await;
    assert_eq!(ready(&cr)["status"], "False", "{cr}");
    assert_eq!(ready(&cr)["reason"], "Forbidden", "{cr}");
    let text = message(&cr);
    assert!(text.contains("Deployment default/hello"), "{text}");
    assert!(
        text.contains("applied: ConfigMap hello, Service hello"),
        "{text}"
    );
    assert!(text.contains("not applied: Deployment hello"), "{text}");
    let note = warning(&h, "default", "hello", "Forbidden").await;
    assert!(note.contains("Deployment"), "{note}");

    hooks.clear_failures();
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
}

/// A child kind the operator may not list (403 on the watch): reported within seconds (not after
/// the watch's sync timeout), with a Warning event; nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_child_kind_is_reported_within_seconds() {
    let charts = tempfile::tempdir().expect("tempdir");
    write_chart(
        charts.path(),
        "secretive",
        &[
            (
                "configmap.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  a: \"1\"\n",
            ),
            (
                "gadget.yaml",
                "apiVersion: web.tera-operator.io/v1alpha1\nkind: Balancer\nmetadata:\n  name: {{ release.name }}\nspec: {}\n",
            ),
        ],
    );
    let mapping = custom_mapping(
        &charts.path().join("secretive"),
        "ConfigMap, Balancer.web.tera-operator.io",
    );
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    h.sandbox
        .hooks()
        .fail_next(usize::MAX, "list", "balancers", 403);
    h.create(&webservers(), "default", &webserver("hush")).await;
    let cr = verdict(&h, &webservers(), "default", "hush").await;
    assert_eq!(ready(&cr)["reason"], "Forbidden", "{cr}");
    let text = message(&cr);
    assert!(text.contains("Balancer"), "{text}");
    assert!(text.contains("web.tera-operator.io"), "{text}");
    warning(&h, "default", "hush", "Forbidden").await;
    let cm = h.api(&configmaps(), "default").get_opt("hush").await;
    assert!(matches!(cm, Ok(None)), "half the chart was applied");
}
