//! Safe among neighbours: kinds outside the namespace and of other groups, bounds on what a
//! custom resource can make the operator do, and what ships meeting the `restricted` Pod
//! Security Standard.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use tera_operator::chart::Chart;
use tera_operator::config::Mapping;
use tera_operator::render::Renderer;

use crate::support::examples::example_and_watch;
use crate::support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A chart in a temporary directory with `templates` and a free-form values schema, mapped as
/// `web.tera-operator.io/v1alpha1` WebServer by a mapping file next to it listing `allowed`.
struct TempChart {
    dir: tempfile::TempDir,
}

impl TempChart {
    fn new(templates: &[(&str, &str)], allowed: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("chart");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: free\nversion: 0.1.0\n").unwrap();
        std::fs::write(
            chart.join("values.schema.json"),
            r#"{"type": "object", "additionalProperties": true}"#,
        )
        .unwrap();
        for (name, text) in templates {
            std::fs::write(chart.join("templates").join(name), text).unwrap();
        }
        std::fs::write(
            dir.path().join("watches.yaml"),
            format!(
                "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: chart\n  allowedKinds: {allowed}\n"
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn mapping_path(&self) -> PathBuf {
        self.dir.path().join("watches.yaml")
    }

    fn chart_dir(&self) -> PathBuf {
        self.dir.path().join("chart")
    }

    fn renderer(&self) -> Renderer {
        let mapping = Mapping::load(&self.mapping_path()).unwrap();
        let watch = mapping
            .find("web.tera-operator.io/v1alpha1", "WebServer")
            .unwrap();
        Renderer::new(Chart::load(&self.chart_dir()).unwrap(), watch).unwrap()
    }
}

fn resource(spec: Value) -> Value {
    json!({
        "apiVersion": "web.tera-operator.io/v1alpha1",
        "kind": "WebServer",
        "metadata": {"name": "site", "namespace": "default", "uid": "0b8c5a7e-0000-4000-8000-000000000001"},
        "spec": spec,
    })
}

/// Writes a mapping with one entry listing `allowed` (YAML) next to the bundled webserver chart.
fn mapping_with(allowed: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watches.yaml");
    std::fs::write(
        &path,
        format!(
            "# a comment\n- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  allowedKinds:\n{allowed}",
            root().join("charts/webserver").display()
        ),
    )
    .unwrap();
    (dir, path)
}

// 8. Kinds outside the namespace, and kinds of other groups.

#[test]
fn cluster_scoped_allowed_kinds_are_refused_naming_file_and_line() {
    for kind in [
        "ClusterRole",
        "Namespace",
        "ClusterRoleBinding.rbac.authorization.k8s.io",
    ] {
        let (_dir, path) = mapping_with(&format!("    - ConfigMap\n    - {kind}\n"));
        let err = Mapping::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:8: ", path.display())),
            "{kind}: {err}"
        );
        assert!(err.contains("cluster-scoped"), "{kind}: {err}");
    }
}

#[test]
fn unknown_bare_kinds_are_refused_and_qualified_ones_accepted() {
    let (_dir, path) = mapping_with("    - ConfigMap\n    - Gadget\n");
    let err = Mapping::load(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:8: ", path.display())), "{err}");
    assert!(err.contains("allowedKinds lists Gadget"), "{err}");
    assert!(err.contains("Gadget.example.com"), "{err}");

    let (_dir, path) = mapping_with(
        "    - ConfigMap\n    - ServiceMonitor.monitoring.coreos.com\n    - HTTPRoute.gateway.networking.k8s.io\n    - {kind: Person, group: example.com, plural: people}\n",
    );
    Mapping::load(&path).unwrap();
}

#[test]
fn policy_checks_the_group_as_well_as_the_kind() {
    let templates = [
        (
            "monitor.yaml",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: site\nspec:\n  endpoints: [{port: http}]\n",
        ),
        (
            "route.yaml",
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: site\n",
        ),
    ];
    let chart = TempChart::new(
        &templates,
        "[ConfigMap, ServiceMonitor.monitoring.coreos.com, HTTPRoute.gateway.networking.k8s.io]",
    );
    let rendered = chart.renderer().render(&resource(json!({})), "default");
    let rendered = rendered.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.objects.len(), 2);

    // A kind of the same name in another group is another kind.
    let knative = [(
        "ksvc.yaml",
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: site\n",
    )];
    let chart = TempChart::new(&knative, "[ConfigMap, Service]");
    let err = chart
        .renderer()
        .render(&resource(json!({})), "default")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kind Service.serving.knative.dev is not allowed"),
        "{err}"
    );
    let chart = TempChart::new(&knative, "[Service.serving.knative.dev]");
    chart
        .renderer()
        .render(&resource(json!({})), "default")
        .unwrap();

    // And a built-in kind under a group that is not its own is refused.
    let old = [(
        "old.yaml",
        "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: site\n",
    )];
    let chart = TempChart::new(&old, "[Deployment]");
    let err = chart
        .renderer()
        .render(&resource(json!({})), "default")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kind Deployment.extensions is not allowed"),
        "{err}"
    );
}

// 9. Bounds.

/// `{"a": {"a": … {"leaf": 1}}}`, `levels` mappings deep.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({"leaf": 1}), |inner, _| json!({"a": inner}))
}

#[test]
fn specs_nested_deeper_than_64_levels_are_invalid_naming_the_path() {
    let chart = TempChart::new(
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {{ values | to_json | quote }}\n",
        )],
        "[ConfigMap]",
    );
    let renderer = chart.renderer();
    // The spec is the first level: 63 below it are fine.
    renderer
        .render(&resource(json!({"x": nested(63)})), "default")
        .unwrap();
    let err = renderer
        .render(&resource(json!({"x": nested(64)})), "default")
        .unwrap_err();
    assert!(
        matches!(err, tera_operator::render::Error::InvalidSpec { .. }),
        "{err}"
    );
    let message = err.to_string();
    let path = format!("/spec/x{}", "/a".repeat(63));
    assert!(
        message.contains(&format!("{path}: nested more than 64 levels deep")),
        "{message}"
    );
}

#[test]
fn rendered_output_is_bounded_per_template() {
    // 100,000 iterations interpolating 100 bytes each: 10 MB of text.
    let chart = TempChart::new(
        &[(
            "big.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{% for i in range(end=values.n) %}  k{{ i }}: \"{{ values.s }}\"\n{% endfor %}",
        )],
        "[ConfigMap]",
    );
    let renderer = chart.renderer();
    let spec = |n: u32| json!({"n": n, "s": "x".repeat(100)});
    renderer.render(&resource(spec(100)), "default").unwrap();
    let err = renderer
        .render(&resource(spec(100_000)), "default")
        .unwrap_err()
        .to_string();
    assert!(err.contains("templates/big.yaml"), "{err}");
    assert!(err.contains("exceeds the limit of 4 MiB"), "{err}");

    // Under the template limit, but more than one object can hold.
    let err = renderer
        .render(&resource(spec(20_000)), "default")
        .unwrap_err()
        .to_string();
    assert!(err.contains("templates/big.yaml"), "{err}");
    assert!(
        err.contains("more than the 1536 KiB Kubernetes stores in one object"),
        "{err}"
    );
}

#[test]
fn indenting_multi_line_filter_output_is_bounded_too() {
    // A list written after a long line is indented under the column where it starts: 200 lines
    // of 100,000 spaces each would be 20 MB.
    let chart = TempChart::new(
        &[(
            "wide.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ values.long | to_json }} {{ values.items | to_yaml }}\n",
        )],
        "[ConfigMap]",
    );
    let items: Vec<u32> = (0..200).collect();
    let err = chart
        .renderer()
        .render(
            &resource(json!({"long": "x".repeat(100_000), "items": items})),
            "default",
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("templates/wide.yaml"), "{err:.300}");
    assert!(err.contains("indented under the column"), "{err:.300}");
    assert!(err.contains("exceeds the limit of 4 MiB"), "{err:.300}");
}

/// The `release` key of a Helm release Secret holding `json` gzipped, as Helm writes it.
fn helm_release_secret(name: &str, gzipped: Vec<u8>) -> k8s_openapi::api::core::v1::Secret {
    let data = base64::engine::general_purpose::STANDARD.encode(gzipped);
    serde_json::from_value(json!({
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v1"),
            "labels": {"owner": "helm", "name": name, "version": "1", "status": "deployed"}},
        "data": {"release": base64::engine::general_purpose::STANDARD.encode(data)},
    }))
    .unwrap()
}

#[test]
fn a_gzip_bomb_in_a_helm_release_is_refused() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..65 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "fits a Secret");
    let secrets = [helm_release_secret("site", bomb)];
    let stored = tera_operator::migrate::latest("site", "web", &secrets).unwrap();
    let err = stored.decode().unwrap_err().to_string();
    assert!(err.contains("gzip step"), "{err}");
    assert!(err.contains("more than 64 MiB"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_failure_message_is_truncated_in_status() {
    let h = Harness::start().await;
    // An image with a space breaks the schema's pattern, and the message quotes it: 40 KB.
    let image = format!("nginx {}", "x".repeat(40_000));
    let yaml = format!(
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: long\nspec:\n  image: \"{image}\"\n"
    );
    h.create(&webservers(), "default", &yaml).await;
    let cr = h
        .wait_condition(&webservers(), "default", "long", "False", "InvalidSpec")
        .await;
    for type_ in ["Ready", "Stalled"] {
        let message = condition(&cr, type_)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.len() <= 32_768, "{type_}: {} bytes", message.len());
        assert!(
            message.contains("values.schema.json: /spec/image"),
            "{message:.200}"
        );
        assert!(
            message.ends_with("… (truncated)"),
            "{}",
            &message[message.len() - 40..]
        );
    }
}

// 10. What ships is hardened.

/// Checks a pod spec against the `restricted` Pod Security Standard (the fields it requires).
fn assert_restricted(what: &str, pod: &Value) {
    let pod_context = &pod["securityContext"];
    assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
    assert_eq!(
        pod_context["seccompProfile"]["type"], "RuntimeDefault",
        "{what}"
    );
    assert_eq!(pod_context["runAsNonRoot"], true, "{what}");
    assert_ne!(pod_context["runAsUser"], 0, "{what}");
    for sysctl in pod_context["sysctls"].as_array().into_iter().flatten() {
        assert_eq!(
            sysctl["name"], "net.ipv4.ip_unprivileged_port_start",
            "{what}: only a safe sysctl"
        );
    }
    assert!(
        pod.get("hostNetwork").is_none() && pod.get("hostPID").is_none(),
        "{what}"
    );
    for container in pod["containers"].as_array().unwrap() {
        let context = &container["securityContext"];
        assert_eq!(context["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(context["capabilities"]["drop"], json!(["ALL"]), "{what}");
        assert!(context["capabilities"].get("add").is_none(), "{what}");
        assert_ne!(context["privileged"], true, "{what}");
        assert_ne!(context["runAsUser"], 0, "{what}");
    }
}

#[test]
fn bundled_charts_and_example_backends_meet_the_restricted_profile() {
    let mut pods = Vec::new();
    for example in ["examples/webserver.yaml", "examples/balancer.yaml"] {
        let (resource, watch) = example_and_watch(example);
        let renderer = Renderer::new(Chart::load(&watch.chart_dir).unwrap(), &watch).unwrap();
        let rendered = renderer.render(&resource, "default").unwrap();
        for object in rendered.objects {
            if object["kind"] == "Deployment" {
                pods.push((
                    format!("{example}: Deployment"),
                    object["spec"]["template"]["spec"].clone(),
                ));
            }
        }
    }
    let backends = std::fs::read_to_string(root().join("examples/http-echo.yaml")).unwrap();
    for document in serde_yaml::Deserializer::from_str(&backends) {
        let pod: Value = serde::Deserialize::deserialize(document).unwrap();
        pods.push((
            format!("examples/http-echo.yaml: {}", pod["metadata"]["name"]),
            pod["spec"].clone(),
        ));
    }
    assert_eq!(pods.len(), 5);
    for (what, pod) in &pods {
        assert_restricted(what, pod);
    }
    // nginx runs as the unprivileged image's user, on the port its config listens on.
    let (resource, watch) = example_and_watch("examples/webserver.yaml");
    let renderer = Renderer::new(Chart::load(&watch.chart_dir).unwrap(), &watch).unwrap();
    let objects = renderer.render(&resource, "default").unwrap().objects;
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["image"]
            .as_str()
            .unwrap()
            .starts_with("nginxinc/nginx-unprivileged:"),
        "{}",
        container["image"]
    );
    let config = objects.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(port >= 1024, "listens on an unprivileged port");
    assert!(
        config["data"]["nginx.conf"]
            .as_str()
            .unwrap()
            .contains(&format!("listen {port};"))
    );

    // Asked for, the token is mounted.
    let mut asked = resource.clone();
    asked["spec"]["automountServiceAccountToken"] = json!(true);
    let objects = renderer.render(&asked, "default").unwrap().objects;
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["automountServiceAccountToken"],
        true
    );
}

/// A CR whose spec nests `levels` mappings deep, as YAML text (flow style).
fn deep_cr(name: &str, levels: usize) -> String {
    let spec = nested(levels);
    format!(
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: {name}\nspec: {}\n",
        serde_json::to_string(&json!({"x": spec})).unwrap()
    )
}

/// A spec nested past the limit (but not past what the operator's client decodes) is refused
/// with InvalidSpec naming the path, and the kind goes on serving its other resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_spec_is_invalid_and_its_kind_keeps_working() {
    let chart = TempChart::new(
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  v: {{ values | to_json | quote }}\n",
        )],
        "[ConfigMap]",
    );
    let mapping = format!(
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n",
        chart.chart_dir().display()
    );
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    h.create(&webservers(), "default", &deep_cr("deep", 100))
        .await;
    h.create(
        &webservers(),
        "default",
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: plain\nspec: {}\n",
    )
    .await;
    let cr = h
        .wait_condition(&webservers(), "default", "deep", "False", "InvalidSpec")
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/spec/x{}", "/a".repeat(63));
    assert!(
        message.contains(&format!("{path}: nested more than 64 levels deep")),
        "{message}"
    );
    h.get(&configmaps(), "default", "plain").await;
    h.wait_condition(&webservers(), "default", "plain", "True", "Ready")
        .await;
}

/// The resource `name` read with a raw request and decoded without serde_json's depth limit
/// (kube's typed client cannot read resources nested deeper than 128 levels).
async fn get_deep(h: &Harness, name: &str) -> Option<Value> {
    let request = axum::http::Request::get(format!(
        "/apis/web.tera-operator.io/v1alpha1/namespaces/default/webservers/{name}"
    ))
    .body(Vec::new())
    .unwrap();
    let text = h.client.request_text(request).await.ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    deserializer.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut deserializer).ok()
}

/// A resource nested deeper than the operator's client can decode (Kubernetes stores up to
/// 10,000 levels) fails alone, with InvalidSpec naming the path; the kind's other resources,
/// created after it, are served. Before, the list holding it failed as a whole, at every
/// retry, and the kind stalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_too_deep_to_decode_fails_alone() {
    let chart = TempChart::new(
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\n",
        )],
        "[ConfigMap]",
    );
    let mapping = format!(
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n",
        chart.chart_dir().display()
    );
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    let body = json!({
        "apiVersion": "web.tera-operator.io/v1alpha1",
        "kind": "WebServer",
        "metadata": {"name": "deepest"},
        "spec": {"x": nested(300)},
    });
    let request = axum::http::Request::post(
        "/apis/web.tera-operator.io/v1alpha1/namespaces/default/webservers",
    )
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&body).unwrap())
    .unwrap();
    h.client.request_text(request).await.expect("create");
    h.create(
        &webservers(),
        "default",
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: plain\nspec: {}\n",
    )
    .await;
    h.wait_condition(&webservers(), "default", "plain", "True", "Ready")
        .await;
    let message = eventually("deepest to be refused as InvalidSpec", || async {
        let cr = get_deep(&h, "deepest").await?;
        let ready = condition(&cr, "Ready");
        (ready["status"] == "False" && ready["reason"] == "InvalidSpec")
            .then(|| ready["message"].as_str().unwrap_or_default().to_string())
    })
    .await;
    let path = format!("/spec/x{}", "/a".repeat(63));
    assert!(
        message.contains(&format!("{path}: nested more than 64 levels deep")),
        "{message}"
    );
    h.get(&configmaps(), "default", "plain").await;
}

/// A group-qualified kind whose CRD turns out cluster-scoped is refused before anything is
/// applied, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_scoped_custom_kind_is_refused_at_apply() {
    let chart = TempChart::new(
        &[
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\n",
            ),
            (
                "thing.yaml",
                "apiVersion: web.tera-operator.io/v1alpha1\nkind: ClusterThing\nmetadata:\n  name: {{ release.name }}\n",
            ),
        ],
        "[ConfigMap, ClusterThing.web.tera-operator.io]",
    );
    let mapping = format!(
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  allowedKinds: [ConfigMap, ClusterThing.web.tera-operator.io]\n",
        chart.chart_dir().display()
    );
    let h = Harness::start_with(Some(&mapping), Vec::new()).await;
    let mut definition = crd("ClusterThing", "clusterthings");
    definition["spec"]["scope"] = json!("Cluster");
    let crds: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        h.client.clone(),
        &builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    crds.create(
        &Default::default(),
        &serde_json::from_value(definition).unwrap(),
    )
    .await
    .unwrap();
    wait_served(&h.client, "ClusterThing", "the ClusterThing CRD").await;
    h.create(
        &webservers(),
        "default",
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: site\nspec: {}\n",
    )
    .await;
    // The reconcile stops before anything is applied, and the resource says why.
    let cr = h
        .wait_condition(&webservers(), "default", "site", "False", "PolicyViolation")
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("ClusterThing (web.tera-operator.io/v1alpha1) is cluster-scoped")
            && message.contains("remove it from allowedKinds")
            && message.ends_with("nothing was applied"),
        "{message}"
    );
    let configmap = h
        .api(&configmaps(), "default")
        .get_opt("site")
        .await
        .unwrap();
    assert!(configmap.is_none(), "nothing applied");
    let things: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        h.client.clone(),
        &crate::support::resource("ClusterThing", "clusterthings"),
    );
    assert!(
        things.get_opt("site").await.unwrap().is_none(),
        "nothing applied"
    );
}
