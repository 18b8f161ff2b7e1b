//! The sandbox as kubectl sees it: apply (server- and client-side), get, watch, delete, wait,
//! scale, api-resources, events and describe. kubectl must be installed: these tests fail
//! loudly, never skip, when it is missing.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::events::{Event, EventType, Recorder};
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: webservers.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: webservers, singular: webserver, kind: WebServer, shortNames: [ws]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Image, type: string, jsonPath: .spec.image}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer, minimum: 0}
              image: {type: string}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn app(image: &str, data: &str, extra_label: bool) -> String {
    let label = if extra_label {
        "\n    extra: \"yes\""
    } else {
        ""
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web{label}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 80}}]
        env: [{{name: MODE, value: demo}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 80}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config}}
data: {{greeting: "{data}"}}
---
apiVersion: example.com/v1alpha1
kind: WebServer
metadata: {{name: site}}
spec: {{image: "{image}", replicas: 1}}
"#
    )
}

fn kubectl_path() -> String {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/local/bin", "/usr/bin"])
    {
        let p = Path::new(dir).join("kubectl");
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!(
        "kubectl is not installed: the sandbox's kubectl tests need it on PATH (they never skip)"
    );
}

async fn start() -> Sandbox {
    let config = SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

async fn kubectl_raw(sb: &Sandbox, args: &[&str]) -> Output {
    tokio::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("kubectl runs")
}

async fn kubectl(sb: &Sandbox, args: &[&str]) -> String {
    let out = kubectl_raw(sb, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    stdout
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Writes `text` to `dir/name` and `kubectl apply --server-side`s it; returns kubectl's output.
async fn apply_file(sb: &Sandbox, dir: &Path, name: &str, text: &str) -> String {
    kubectl(
        sb,
        &["apply", "--server-side", "-f", &write(dir, name, text)],
    )
    .await
}

fn webservers(sb: &Sandbox) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1alpha1", "WebServer"),
        "webservers",
    );
    Api::default_namespaced_with(sb.client(), &ar)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_get_and_delete() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let crd = write(dir.path(), "crd.yaml", CRD);
    kubectl(&sb, &["apply", "--server-side", "-f", &crd]).await;
    kubectl(
        &sb,
        &[
            "wait",
            "--for=condition=Established",
            "crd/webservers.example.com",
            "--timeout=20s",
        ],
    )
    .await;
    let manifests = write(dir.path(), "app.yaml", &app("nginx:1.25", "hello", false));
    let out = kubectl(&sb, &["apply", "--server-side", "-f", &manifests]).await;
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    assert!(
        out.contains("webserver.example.com/site serverside-applied"),
        "{out}"
    );
    // Once the simulated rollout is done, re-applying the same files changes nothing.
    kubectl(
        &sb,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=20s",
        ],
    )
    .await;
    let rv = sb.resource_version();
    kubectl(&sb, &["apply", "--server-side", "-f", &manifests]).await;
    assert_eq!(
        sb.resource_version(),
        rv,
        "an identical server-side apply commits nothing"
    );

    let yaml = kubectl(&sb, &["get", "deploy", "web", "-o", "yaml"]).await;
    let d: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    let json_out = kubectl(
        &sb,
        &["get", "ws", "site", "-o", "json", "--show-managed-fields"],
    )
    .await;
    let ws: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(ws["spec"]["image"], "nginx:1.25");
    assert_eq!(ws["metadata"]["managedFields"][0]["manager"], "kubectl");
    let table = kubectl(&sb, &["get", "webservers,deploy,svc,cm"]).await;
    for name in [
        "webserver.example.com/site",
        "deployment.apps/web",
        "service/web",
        "configmap/web-config",
    ] {
        assert!(table.contains(name), "{name} missing from:\n{table}");
    }
    assert!(
        table.contains("IMAGE") && table.contains("nginx:1.25"),
        "printer columns:\n{table}"
    );

    // An unknown field is an error, not silently pruned: server-side apply makes the
    // configuration a typed value whatever fieldValidation says (KEP-2885), and the API server
    // answers with structured-merge-diff's message (kubernetes/kubernetes#139253).
    let typo = write(
        dir.path(),
        "typo.yaml",
        "apiVersion: example.com/v1alpha1\nkind: WebServer\nmetadata: {name: typo}\nspec: {image: x, replicaz: 2}\n",
    );
    let rejected = kubectl_raw(&sb, &["apply", "--server-side", "-f", &typo]).await;
    assert!(!rejected.status.success());
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains(".spec.replicaz: field not declared in schema"),
        "{stderr}"
    );
    assert!(webservers(&sb).get_opt("typo").await.unwrap().is_none());
    // kubectl's client-side apply asks for strict field validation (`--validate=strict` is its
    // default): the create is refused with the unknown field named.
    let rejected = kubectl_raw(&sb, &["apply", "-f", &typo]).await;
    assert!(!rejected.status.success());
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains(r#"unknown field "spec.replicaz""#),
        "{stderr}"
    );
    assert!(webservers(&sb).get_opt("typo").await.unwrap().is_none());

    let out = kubectl(&sb, &["delete", "-f", &manifests]).await;
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let deploys: Api<Deployment> = Api::default_namespaced(sb.client());
    assert!(deploys.get_opt("web").await.unwrap().is_none());
    assert!(webservers(&sb).get_opt("site").await.unwrap().is_none());
    let missing = kubectl_raw(&sb, &["get", "deploy", "web"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_side_apply_twice() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    kubectl(
        &sb,
        &[
            "apply",
            "-f",
            &write(dir.path(), "crd.yaml", CRD),
            "--validate=false",
        ],
    )
    .await;
    let manifests = write(dir.path(), "app.yaml", &app("nginx:1.25", "hello", true));
    let out = kubectl(&sb, &["apply", "-f", &manifests, "--validate=false"]).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    write(dir.path(), "app.yaml", &app("nginx:1.26", "bye", false));
    let out = kubectl(&sb, &["apply", "-f", &manifests, "--validate=false"]).await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("service/web unchanged"), "{out}");

    let log = sb.request_log();
    assert!(
        log.iter().any(|r| r.verb == "patch"
            && r.resource == "deployments"
            && r.content_type
                .starts_with("application/strategic-merge-patch+json")),
        "client-side apply of a built-in type uses a strategic merge patch"
    );
    assert!(log.iter().any(|r| r.verb == "patch"
        && r.resource == "webservers"
        && r.content_type.starts_with("application/merge-patch+json")));

    let d = Api::<Deployment>::default_namespaced(sb.client())
        .get("web")
        .await
        .unwrap();
    let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("nginx:1.26"));
    assert_eq!(c.env.as_ref().unwrap()[0].name, "MODE");
    assert_eq!(d.metadata.generation, Some(2));
    let labels = d.metadata.labels.clone().unwrap();
    assert!(
        !labels.contains_key("extra"),
        "a label dropped from the file is removed (three-way merge)"
    );
    let last = &d.metadata.annotations.unwrap()["kubectl.kubernetes.io/last-applied-configuration"];
    assert!(last.contains("nginx:1.26"));
    let cm = Api::<ConfigMap>::default_namespaced(sb.client())
        .get("web-config")
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["greeting"], "bye");
    assert_eq!(
        webservers(&sb).get("site").await.unwrap().data["spec"]["image"],
        "nginx:1.26"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_and_scale() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    apply_file(&sb, dir.path(), "crd.yaml", CRD).await;
    apply_file(&sb, dir.path(), "app.yaml", &app("nginx", "x", false)).await;
    let out = kubectl(
        &sb,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=20s",
        ],
    )
    .await;
    assert!(out.contains("condition met"), "{out}");
    let out = kubectl(&sb, &["scale", "deploy", "web", "--replicas=4"]).await;
    assert!(out.contains("scaled"), "{out}");
    assert!(
        sb.request_log()
            .iter()
            .any(|r| r.resource == "deployments/scale" && r.status == 200)
    );
    kubectl(
        &sb,
        &[
            "wait",
            "--for=jsonpath={.status.availableReplicas}=4",
            "deploy/web",
            "--timeout=20s",
        ],
    )
    .await;
    let table = kubectl(&sb, &["get", "deploy", "web"]).await;
    assert!(table.contains("4/4"), "READY column:\n{table}");
    // The scale (an Update by "kubectl") now owns .spec.replicas: a server-side apply of the
    // file conflicts until forced, exactly as on a cluster.
    let app_file = dir.path().join("app.yaml").display().to_string();
    let conflict = kubectl_raw(&sb, &["apply", "--server-side", "-f", &app_file]).await;
    assert!(!conflict.status.success());
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains(r#"conflict with "kubectl" using apps/v1: .spec.replicas"#),
        "{stderr}"
    );
    kubectl(
        &sb,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &app_file,
        ],
    )
    .await;
    let replicas = kubectl(
        &sb,
        &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"],
    )
    .await;
    assert_eq!(replicas, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watch_is_bounded_and_sees_changes() {
    let sb = start().await;
    let child = tokio::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args([
            "get",
            "configmaps",
            "--watch",
            "-o",
            "name",
            "--request-timeout=8s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !sb
        .request_log()
        .iter()
        .any(|r| r.verb == "watch" && r.resource == "configmaps")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl never started watching"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    for name in ["w1", "w2"] {
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await
        .unwrap();
    }
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kubectl watch ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configmap/w1") && stdout.contains("configmap/w2"),
        "watch output: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_api_resources_lists_builtins_and_crds() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let before = kubectl(&sb, &["api-resources"]).await;
    assert!(!before.contains("webservers"));
    for r in [
        "configmaps",
        "deployments",
        "leases",
        "customresourcedefinitions",
        "serviceaccounts",
        "secrets",
        "pods",
        "services",
    ] {
        assert!(before.contains(r), "{r} missing:\n{before}");
    }
    assert!(before.contains("events.k8s.io/v1"));
    apply_file(&sb, dir.path(), "crd.yaml", CRD).await;
    let after = kubectl(&sb, &["api-resources", "--api-group=example.com"]).await;
    let line = after
        .lines()
        .find(|l| l.starts_with("webservers"))
        .unwrap_or_else(|| panic!("no webservers in:\n{after}"));
    assert!(
        line.contains("ws")
            && line.contains("example.com/v1alpha1")
            && line.contains("true")
            && line.contains("WebServer"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_events_show_in_kubectl() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    apply_file(&sb, dir.path(), "crd.yaml", CRD).await;
    apply_file(&sb, dir.path(), "app.yaml", &app("nginx", "x", false)).await;
    let d = Api::<Deployment>::default_namespaced(sb.client())
        .get("web")
        .await
        .unwrap();
    let recorder = Recorder::new(sb.client(), "tera-operator".into());
    let ev = Event {
        type_: EventType::Normal,
        reason: "Applied".into(),
        note: Some("applied 3 objects".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&ev, &d.object_ref(&())).await.unwrap();
    recorder.publish(&ev, &d.object_ref(&())).await.unwrap();
    let events = kubectl(&sb, &["get", "events"]).await;
    assert!(events.contains("Applied"), "{events}");
    let new_api = kubectl(&sb, &["get", "events.v1.events.k8s.io", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&new_api).unwrap();
    assert_eq!(list["items"][0]["note"], "applied 3 objects");
    assert_eq!(
        list["items"][0]["series"]["count"], 2,
        "the repeat was recorded as a series"
    );
    let describe = kubectl(&sb, &["describe", "deploy", "web"]).await;
    assert!(
        describe.contains("Applied") && describe.contains("applied 3 objects"),
        "{describe}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_sends_protobuf_and_it_is_understood() {
    let sb = start().await;
    kubectl(&sb, &["create", "namespace", "shop"]).await;
    kubectl(
        &sb,
        &[
            "create",
            "configmap",
            "cfg",
            "-n",
            "shop",
            "--from-literal=k=v",
        ],
    )
    .await;
    kubectl(
        &sb,
        &[
            "create",
            "secret",
            "generic",
            "pw",
            "-n",
            "shop",
            "--from-literal=p=s3cret",
        ],
    )
    .await;
    kubectl(
        &sb,
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "shop",
            "--image=nginx:1.27",
            "--port=80",
            "--replicas=2",
        ],
    )
    .await;
    kubectl(
        &sb,
        &[
            "create",
            "service",
            "clusterip",
            "web",
            "-n",
            "shop",
            "--tcp=80:8080",
        ],
    )
    .await;
    kubectl(&sb, &["create", "serviceaccount", "bot", "-n", "shop"]).await;
    assert!(
        sb.request_log().iter().any(|r| r.verb == "create"
            && r.content_type
                .starts_with("application/vnd.kubernetes.protobuf")),
        "kubectl create used protobuf"
    );
    let cm: Value = serde_json::from_str(
        &kubectl(&sb, &["get", "cm", "cfg", "-n", "shop", "-o", "json"]).await,
    )
    .unwrap();
    assert_eq!(cm["data"]["k"], "v");
    assert!(cm["metadata"].get("generation").is_none());
    let secret: Value = serde_json::from_str(
        &kubectl(&sb, &["get", "secret", "pw", "-n", "shop", "-o", "json"]).await,
    )
    .unwrap();
    assert_eq!(secret["data"]["p"], "czNjcmV0");
    assert_eq!(secret["type"], "Opaque");
    let d: Value = serde_json::from_str(
        &kubectl(&sb, &["get", "deploy", "web", "-n", "shop", "-o", "json"]).await,
    )
    .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["name"].as_str(), c["image"].as_str()),
        (Some("nginx"), Some("nginx:1.27"))
    );
    assert_eq!(c["ports"][0]["containerPort"], 80);
    assert!(
        c.get("stdin").is_none() && c.get("workingDir").is_none(),
        "zero values are not invented: {c}"
    );
    let svc: Value = serde_json::from_str(
        &kubectl(&sb, &["get", "svc", "web", "-n", "shop", "-o", "json"]).await,
    )
    .unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96."))
    );
    kubectl(
        &sb,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "-n",
            "shop",
            "--timeout=20s",
        ],
    )
    .await;
    kubectl(&sb, &["delete", "namespace", "shop"]).await;
    let left = kubectl(
        &sb,
        &["get", "deploy,svc,cm,secret,sa", "-n", "shop", "-o", "name"],
    )
    .await;
    assert!(
        left.trim().is_empty(),
        "namespace contents are gone: {left}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watch_prints_table_rows() {
    let sb = start().await;
    let child = tokio::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(["get", "deployments", "--watch", "--request-timeout=6s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !sb
        .request_log()
        .iter()
        .any(|r| r.verb == "watch" && r.resource == "deployments")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl never started watching"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    apply_file(&sb, dir.path(), "crd.yaml", CRD).await;
    apply_file(&sb, dir.path(), "app.yaml", &app("nginx", "x", false)).await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kubectl watch ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains("READY") && header.contains("UP-TO-DATE") && header.contains("AVAILABLE"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("web ") && l.contains("2/2")),
        "the rollout shows in the watch:\n{stdout}"
    );
}

/// `kubectl explain` reads the OpenAPI v3 documents: a built-in field's upstream description
/// and type, and a CRD's schema (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_explain/;
/// the API server publishes CRD schemas, https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#publish-validation-schema-in-openapi).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_reads_upstream_and_crd_schemas() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    apply_file(&sb, dir.path(), "crd.yaml", CRD).await;
    let replicas = kubectl(&sb, &["explain", "deployment.spec.replicas"]).await;
    assert!(replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    assert!(replicas.contains("Number of desired pods"), "{replicas}");
    let pod = kubectl(&sb, &["explain", "pods.spec.containers.image"]).await;
    assert!(pod.contains("Container image name"), "{pod}");
    let spec = kubectl(&sb, &["explain", "webserver.spec"]).await;
    assert!(spec.contains("KIND:       WebServer"), "{spec}");
    assert!(
        spec.contains("replicas\t<integer>") && spec.contains("image\t<string>"),
        "{spec}"
    );
    let meta = kubectl(&sb, &["explain", "webserver.metadata.labels"]).await;
    assert!(meta.contains("Map of string keys and values"), "{meta}");
    let missing = kubectl_raw(&sb, &["explain", "deployment.spec.replica"]).await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("field \"replica\" does not exist"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// `kubectl apply --prune -l …` deletes the objects of its default allowlist (kubectl's
/// pkg/util/prune: ConfigMap, Endpoints, PVC, Pod, ReplicationController, Secret, Service, Job,
/// CronJob, Ingress, DaemonSet, Deployment, ReplicaSet, StatefulSet, Namespace,
/// PersistentVolume) that carry the label and were applied before but are no longer in the
/// files (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/declarative-config/#alternative-kubectl-apply-f-directory-prune).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_prune_uses_the_default_allowlist() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let cm = |name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {{set: p}}\ndata: {{a: \"1\"}}\n"
        )
    };
    let both = format!("{}---\n{}", cm("keep"), cm("drop"));
    let first = write(dir.path(), "both.yaml", &both);
    kubectl(&sb, &["apply", "-f", &first]).await;
    let second = write(dir.path(), "one.yaml", &cm("keep"));
    let out = kubectl(&sb, &["apply", "--prune", "-l", "set=p", "-f", &second]).await;
    assert!(out.contains("configmap/drop pruned"), "{out}");
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    assert!(cms.get_opt("drop").await.unwrap().is_none());
    assert!(cms.get_opt("keep").await.unwrap().is_some());
}

/// `kubectl auth can-i` posts a SelfSubjectAccessReview and `kubectl auth whoami` a
/// SelfSubjectReview (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access,
/// https://kubernetes.io/docs/reference/access-authn-authz/authentication/#self-subject-review):
/// the sandbox has no authorization, so everything is allowed, and it says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_and_whoami() {
    let sb = start().await;
    let yes = kubectl(&sb, &["auth", "can-i", "create", "deployments"]).await;
    assert_eq!(yes.trim(), "yes");
    let list = kubectl(&sb, &["auth", "can-i", "--list"]).await;
    assert!(list.contains("*.*"), "{list}");
    let who = kubectl(&sb, &["auth", "whoami", "-o", "json"]).await;
    let who: Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "sandbox-admin");
    assert_eq!(who["kind"], "SelfSubjectReview");
}

/// Runs `kubectl rollout status <target>` while the simulated kubelet is paused, resumes it once
/// kubectl has printed a line containing `waiting`, and returns all kubectl printed and whether
/// it succeeded.
async fn rollout_status_through_a_pause(
    sb: &Sandbox,
    target: &str,
    waiting: &str,
) -> (String, bool) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let mut child = tokio::process::Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(["rollout", "status", target, "--timeout=60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut out = String::new();
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
            if line.contains(waiting) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(seen, Ok(true)),
        "kubectl never printed {waiting:?}:\n{out}"
    );
    sb.hooks().pause_kubelet(false);
    while let Ok(Some(line)) = lines.next_line().await {
        out.push_str(&line);
        out.push('\n');
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err).await;
    }
    let status = child.wait().await.expect("kubectl exits");
    out.push_str(&err);
    (out, status.success())
}

#[tokio::test]
async fn kubectl_rollout_status_fails_on_an_exceeded_progress_deadline() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let v1 = rollout_deployment("nginx:1.27", "v1")
        .replace("replicas: 2", "replicas: 2\n  progressDeadlineSeconds: 30");
    kubectl(&sb, &["apply", "-f", &write(dir.path(), "v1.yaml", &v1)]).await;
    kubectl(
        &sb,
        &["rollout", "status", "deployment/roll", "--timeout=30s"],
    )
    .await;
    sb.hooks().pause_kubelet(true);
    let v2 = v1.replace("nginx:1.27", "nginx:1.28");
    kubectl(&sb, &["apply", "-f", &write(dir.path(), "v2.yaml", &v2)]).await;
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let reason = |d: &Deployment| {
        d.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_.as_deref() == Some("Progressing"))
            })
            .and_then(|c| c.reason.clone())
            .unwrap_or_default()
    };
    eventually("the rollout progressing", || async {
        reason(&deployments.get("roll").await.unwrap()) == "ReplicaSetUpdated"
    })
    .await;
    // The deadline passes on the simulation's clock; no Pod got Ready meanwhile.
    sb.hooks().advance_clock(Duration::from_secs(31));
    eventually("ProgressDeadlineExceeded", || async {
        reason(&deployments.get("roll").await.unwrap()) == "ProgressDeadlineExceeded"
    })
    .await;
    let out = kubectl_raw(
        &sb,
        &["rollout", "status", "deployment/roll", "--timeout=30s"],
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: deployment \"roll\" exceeded its progress deadline"),
        "{stderr}"
    );
}

#[tokio::test]
async fn kubectl_rollout_status_follows_a_statefulset() {
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let set = r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "redis:7.2"}]
"#;
    sb.hooks().pause_kubelet(true);
    kubectl(&sb, &["apply", "-f", &write(dir.path(), "sts.yaml", set)]).await;
    let (out, ok) =
        rollout_status_through_a_pause(&sb, "statefulset/db", "Waiting for 2 pods to be ready...")
            .await;
    assert!(ok, "{out}");
    // The API server defaults `updateStrategy.rollingUpdate.partition` to 0, and kubectl's
    // StatefulSetStatusViewer reports any set with a partition as a partitioned roll out.
    assert_eq!(
        out.lines().last(),
        Some("partitioned roll out complete: 2 new pods have been updated..."),
        "{out}"
    );
    // kubectl looks once right after the apply: if the StatefulSet controller has not
    // observed the new generation yet, it says so first (as on a cluster), then counts Pods.
    let pods = out
        .strip_prefix("Waiting for statefulset spec update to be observed...\n")
        .unwrap_or(&out);
    assert!(
        pods.starts_with("Waiting for 2 pods to be ready...\n"),
        "{out}"
    );
}

fn rollout_deployment(image: &str, cause: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: roll
  annotations: {{kubernetes.io/change-cause: "{cause}"}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: roll}}}}
  template:
    metadata: {{labels: {{app: roll}}}}
    spec:
      containers: [{{name: web, image: "{image}"}}]
"#
    )
}

/// Polls `f` until it holds (the simulation acts after `workload_delay`); panics after 20 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Revisions and change causes as `kubectl rollout history` prints them.
fn history_rows(out: &str) -> Vec<(String, String)> {
    out.lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((
                parts.next()?.to_string(),
                parts.collect::<Vec<_>>().join(" "),
            ))
        })
        .collect()
}

/// Deployment → ReplicaSet → Pods as the deployment controller makes them, so that
/// `kubectl rollout status|history|undo` work
/// (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-back-a-deployment):
/// each template gets a ReplicaSet `<name>-<pod-template-hash>` with the revision annotation,
/// the old one scales to 0, undo brings the previous template back as the next revision, and a
/// deleted Pod is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_history_and_undo() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    let sb = start().await;
    let dir = tempfile::tempdir().unwrap();
    let v1 = write(
        dir.path(),
        "v1.yaml",
        &rollout_deployment("nginx:1.27", "v1"),
    );
    let v2 = write(
        dir.path(),
        "v2.yaml",
        &rollout_deployment("nginx:1.28", "v2"),
    );
    kubectl(&sb, &["apply", "-f", &v1]).await;
    let status = kubectl(
        &sb,
        &["rollout", "status", "deployment/roll", "--timeout=30s"],
    )
    .await;
    assert!(status.contains("successfully rolled out"), "{status}");
    // With the kubelet paused the rollout stops at its first step, and kubectl says so; once
    // Pods get Ready again it prints the steps that follow and finishes.
    sb.hooks().pause_kubelet(true);
    kubectl(&sb, &["apply", "-f", &v2]).await;
    let (status, ok) = rollout_status_through_a_pause(
        &sb,
        "deployment/roll",
        "out of 2 new replicas have been updated...",
    )
    .await;
    assert!(ok, "{status}");
    let lines: Vec<&str> = status.lines().collect();
    assert!(
        lines.contains(
            &"Waiting for deployment \"roll\" rollout to finish: 1 out of 2 new replicas have been updated..."
        ),
        "{status}"
    );
    assert_eq!(
        lines.last(),
        Some(&"deployment \"roll\" successfully rolled out"),
        "{status}"
    );
    let rss: Api<ReplicaSet> = Api::default_namespaced(sb.client());
    let pods: Api<Pod> = Api::default_namespaced(sb.client());
    eventually("two ReplicaSets, the old one scaled to 0", || async {
        let list = rss.list(&Default::default()).await.unwrap().items;
        list.len() == 2 && list.iter().any(|rs| rs.spec.replicas == Some(0))
    })
    .await;
    let history = kubectl(&sb, &["rollout", "history", "deployment/roll"]).await;
    assert_eq!(
        history_rows(&history),
        [
            ("1".to_string(), "v1".to_string()),
            ("2".to_string(), "v2".to_string())
        ],
        "{history}"
    );
    let current = rss
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|rs| rs.spec.replicas == Some(2))
        .expect("the new ReplicaSet holds the replicas");
    let hash = current.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(
        current.metadata.name.as_deref(),
        Some(format!("roll-{hash}").as_str())
    );
    let owner = &current.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Deployment", Some(true))
    );
    eventually("two running Pods of the new template", || async {
        let list = pods.list(&Default::default()).await.unwrap().items;
        list.len() == 2
            && list.iter().all(|p| {
                p.metadata.labels.as_ref().unwrap()["pod-template-hash"] == hash
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
    })
    .await;

    let undo = kubectl(&sb, &["rollout", "undo", "deployment/roll"]).await;
    assert!(undo.contains("rolled back"), "{undo}");
    kubectl(
        &sb,
        &["rollout", "status", "deployment/roll", "--timeout=30s"],
    )
    .await;
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let d = deployments.get("roll").await.unwrap();
    let image = d.spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.27"));
    let sb_ref = &sb;
    eventually("revision 1 coming back as revision 3", || async move {
        let rows = history_rows(&kubectl(sb_ref, &["rollout", "history", "deployment/roll"]).await);
        rows == [
            ("2".to_string(), "v2".to_string()),
            ("3".to_string(), "v1".to_string()),
        ]
    })
    .await;

    let victim = pods.list(&Default::default()).await.unwrap().items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    pods.delete(&victim, &Default::default()).await.unwrap();
    eventually("the deleted Pod replaced", || async {
        let list = pods.list(&Default::default()).await.unwrap().items;
        list.len() == 2
            && list
                .iter()
                .all(|p| p.metadata.name.as_deref() != Some(victim.as_str()))
    })
    .await;
}
