//! Migrating from Helm, with the real Helm v4 client (the `helm-python-sdk` package) against the
//! sandbox: `helm install` + `helm upgrade` a Helm-syntax twin of the bundled webserver chart
//! (tests/helm/webserver), then `tera-operator migrate helm-release` reads the newest release
//! from the cluster and prints the WebServer that replaces it, whose objects Helm and
//! tera-operator render alike and which the adoption rules take over in place.
//!
//! The Python with `helm_python` comes from `$TERA_OPERATOR_HELM_PYTHON` or `.venv`, installed
//! there on first use (tests/it/support/helm_python.rs); never skipped.

use crate::support as common;
use crate::support::helm_python;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};
use tera_operator::chart::Chart;
use tera_operator::config::Mapping;
use tera_operator::controller::adopt::{self, Decision};
use tera_operator::render::Renderer;
use tera_sandbox::{Sandbox, SandboxConfig};

const NAMESPACE: &str = "shop";
const RELEASE: &str = "site";

const SCRIPT: &str = r#"
import json, sys
import helm_python as helm
kubeconfig, phase, chart, values = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if phase == "render":
    out = helm.Chart.load(chart).render(values, name="site", namespace="shop")
    print(json.dumps(out))
    sys.exit(0)
cfg = helm.Config(kubeconfig_path=kubeconfig, namespace="shop")
if phase == "install":
    cfg.install(chart, "site", values, timeout=60, create_namespace=True)
elif phase == "upgrade":
    cfg.upgrade(chart, "site", values, timeout=60)
elif phase == "upgrade-failing":
    try:
        cfg.upgrade(chart, "site", values, timeout=60)
    except Exception as e:
        print(f"upgrade failed: {e}")
        sys.exit(0)
    sys.exit("the upgrade did not fail")
"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn twin() -> std::path::PathBuf {
    root().join("tests/helm/webserver")
}

fn python() -> String {
    helm_python::python()
}

async fn helm(python: &str, kubeconfig: &Path, phase: &str, values: &Value) -> String {
    let out = tokio::process::Command::new(python)
        .args(["-c", SCRIPT])
        .arg(kubeconfig)
        .arg(phase)
        .arg(twin())
        .arg(values.to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("helm finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "helm {phase} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The values of the last `helm upgrade`: what the WebServer's spec must be.
fn final_values() -> Value {
    json!({
        "replicas": 2,
        "service": {"port": 8081},
        "content": {"index.html": "<h1>migrated</h1>\n"},
        "extraConfig": "location /healthz {\n  return 200 \"ok\";\n}\n",
        "podAnnotations": {"example.com/team": "shop"},
    })
}

fn migrate(kubeconfig: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args([
            "migrate",
            "helm-release",
            RELEASE,
            "--namespace",
            NAMESPACE,
            "--kind",
            "WebServer",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .current_dir(root())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_release_migrates_to_a_webserver() {
    let python = python();
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let kubeconfig = sb.kubeconfig_path().to_path_buf();

    helm(&python, &kubeconfig, "install", &json!({"replicas": 1})).await;
    helm(&python, &kubeconfig, "upgrade", &final_values()).await;
    let secrets: Api<Secret> = Api::namespaced(sb.client(), NAMESPACE);
    let records = secrets
        .list(&ListParams::default().labels("owner=helm,name=site"))
        .await
        .unwrap()
        .items;
    assert_eq!(records.len(), 2, "two revisions stored");

    // The printed custom resource: the newest revision's user-supplied values as spec.
    let out = migrate(&kubeconfig, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cr: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(
        cr,
        json!({
            "apiVersion": "web.tera-operator.io/v1alpha1",
            "kind": "WebServer",
            "metadata": {"name": RELEASE, "namespace": NAMESPACE,
                         "annotations": {"tera-operator.io/adopt": "true"}},
            "spec": final_values(),
        })
    );

    // --plan: comments first (the output still applies as is), then the same resource.
    let out = migrate(&kubeconfig, &["--plan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(serde_yaml::from_str::<Value>(&text).unwrap(), cr);
    assert!(
        text.contains(
            "# Plan: migrate Helm release shop/site (revision 2, chart webserver-0.1.0, deployed)"
        ),
        "{text}"
    );
    // The bundled mapping does not allow adoption: the plan says so, and what it would refuse.
    assert!(
        text.contains(
            "# NOT ALLOWED: the mapping entry of WebServer does not allow adopting Helm releases"
        ),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not allow adopting Helm releases"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("# Refused (Helm's: the mapping does not allow adopting them) (3):\n#   ConfigMap/site\n#   Deployment/site\n#   Service/site\n"),
        "{text}"
    );
    // A mapping that allows it: every Helm object is adopted.
    let allowing = tempfile::tempdir().unwrap();
    let mapping = allowing.path().join("watches.yaml");
    std::fs::write(
        &mapping,
        format!(
            "- {{group: web.tera-operator.io, version: v1alpha1, kind: WebServer, chart: {}, adoptHelmReleases: true}}\n",
            root().join("charts/webserver").display()
        ),
    )
    .unwrap();
    let config = mapping.display().to_string();
    let out = migrate(&kubeconfig, &["--plan", "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("NOT ALLOWED"), "{text}");
    assert!(
        text.contains("(3):\n#   ConfigMap/site\n#   Deployment/site\n#   Service/site\n"),
        "every Helm object is adopted: {text}"
    );
    assert!(
        text.contains("# Created (the chart renders them, the release did not) (0):"),
        "{text}"
    );
    // Field by field, what the switch-over changes on the live objects.
    assert!(
        text.contains("# Field changes (the operator's first apply of each adopted object, besides its owner label and ownerReference):\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "#     /metadata/labels/app.kubernetes.io~1managed-by: \"Helm\" → \"tera-operator\"\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("#     /spec/template/metadata/annotations/configmap.checksum.tera-operator.io~1site: (absent) → "),
        "{text}"
    );
    assert!(
        !text.contains("/spec/replicas:"),
        "the replicas do not change: {text}"
    );
    assert!(
        text.contains("kubectl delete secret -n shop -l owner=helm,name=site\n"),
        "{text}"
    );
    assert!(
        text.contains("(removes sh.helm.release.v1.site.v1, sh.helm.release.v1.site.v2)"),
        "{text}"
    );

    // The live objects Helm made are adopted, in place, by that resource: only where the mapping
    // allows it, and only with the resource's opt-in.
    let mut owner = cr.clone();
    owner["metadata"]["uid"] = json!("0b6e1f4e-0000-4000-8000-000000000001");
    let deployment: Api<Deployment> = Api::namespaced(sb.client(), NAMESPACE);
    let configmaps: Api<ConfigMap> = Api::namespaced(sb.client(), NAMESPACE);
    let services: Api<Service> = Api::namespaced(sb.client(), NAMESPACE);
    let live = [
        serde_json::to_value(deployment.get(RELEASE).await.unwrap()).unwrap(),
        serde_json::to_value(configmaps.get(RELEASE).await.unwrap()).unwrap(),
        serde_json::to_value(services.get(RELEASE).await.unwrap()).unwrap(),
    ];
    let rendered = tera_render(&owner);
    for object in &live {
        let key = format!(
            "{}/{}",
            object["kind"].as_str().unwrap(),
            object["metadata"]["name"].as_str().unwrap()
        );
        let desired = &rendered[&key];
        assert_eq!(
            adopt::decide(Some(object), desired, &owner, true),
            Decision::Adopt {
                release: RELEASE.into()
            },
            "{key}"
        );
        let mut without_opt_in = owner.clone();
        without_opt_in["metadata"]["annotations"] = json!({});
        assert!(matches!(
            adopt::decide(Some(object), desired, &without_opt_in, true),
            Decision::Refuse { .. }
        ));
        assert!(matches!(
            adopt::decide(Some(object), desired, &owner, false),
            Decision::Refuse { .. }
        ));
    }

    // A missing release is the user's error, named.
    let out = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args([
            "migrate",
            "helm-release",
            "absent",
            "-n",
            NAMESPACE,
            "--kind",
            "WebServer",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no Helm release absent in namespace shop"),
        "{stderr}"
    );
    // An unmapped kind too.
    let out = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args([
            "migrate",
            "helm-release",
            RELEASE,
            "-n",
            NAMESPACE,
            "--kind",
            "Gadget",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no mapping entry serves kind Gadget (mapped: WebServer, Balancer)"),
        "{stderr}"
    );
}

/// The Helm twin and the bundled chart render the same objects for the same values: the
/// objects a migrated release already has are what the operator would apply (bar labels and
/// annotations it adds), so adoption changes nothing a workload depends on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_twin_renders_like_the_bundled_chart() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    for values in [
        json!({}),
        final_values(),
        json!({"service": {"type": "NodePort", "nodePort": 30080}}),
    ] {
        let out = helm(&python, &dir.path().join("unused"), "render", &values).await;
        let files: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
        let mut helm_objects = BTreeMap::new();
        for text in files.values() {
            for doc in serde_yaml::Deserializer::from_str(text) {
                let object: Value = serde::Deserialize::deserialize(doc).unwrap();
                if !object.is_null() {
                    helm_objects.insert(key(&object), object);
                }
            }
        }
        let cr = json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                        "metadata": {"name": RELEASE, "namespace": NAMESPACE, "uid": "u-1"},
                        "spec": values});
        let tera = tera_render(&cr);
        assert_eq!(
            helm_objects.keys().collect::<Vec<_>>(),
            tera.keys().collect::<Vec<_>>(),
            "values {values}"
        );
        for (key, helm_object) in &helm_objects {
            let ours = &tera[key];
            assert_eq!(body(helm_object), body(ours), "{key} with values {values}");
            for labels in ["/metadata/labels", "/spec/template/metadata/labels"] {
                if let Some(Value::Object(theirs)) = helm_object.pointer(labels) {
                    for (k, v) in theirs {
                        assert_eq!(
                            ours.pointer(labels).and_then(|l| l.get(k)),
                            Some(v),
                            "{key} {labels} {k}"
                        );
                    }
                }
            }
        }
    }
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap(),
        object["metadata"]["name"].as_str().unwrap()
    )
}

/// An object without its metadata and its pod template's metadata (labels, annotations,
/// ownerReferences and namespace are the operator's stamp).
fn body(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("metadata");
    }
    if let Some(Value::Object(template)) = object.pointer_mut("/spec/template") {
        template.remove("metadata");
    }
    object
}

/// The bundled chart's objects for a WebServer, by `kind/name`.
fn tera_render(cr: &Value) -> BTreeMap<String, Value> {
    let mapping = Mapping::load(&root().join("charts/watches.yaml")).unwrap();
    let watch = mapping
        .find("web.tera-operator.io/v1alpha1", "WebServer")
        .unwrap();
    let renderer = Renderer::new(Chart::load(&watch.chart_dir).unwrap(), watch).unwrap();
    renderer
        .render(cr, NAMESPACE)
        .unwrap()
        .objects
        .into_iter()
        .map(|o| (key(&o), o))
        .collect()
}

/// The rest of the switch-over, with the operator running: apply the printed WebServer, it
/// becomes Ready having taken every object over in place (same uids, now owned by it), Helm's
/// release records are dropped, nothing is deleted, and the operator keeps the objects true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_takes_the_release_over_in_place() {
    let python = python();
    // The operator may adopt WebServers' Helm releases (its mapping's decision).
    let mapping = "- {group: web.tera-operator.io, version: v1alpha1, kind: WebServer, chart: webserver, adoptHelmReleases: true}\n";
    let h = common::Harness::start_with(Some(mapping), Vec::new()).await;
    let kubeconfig = h.sandbox.kubeconfig_path().to_path_buf();
    helm(&python, &kubeconfig, "install", &json!({"replicas": 1})).await;
    helm(&python, &kubeconfig, "upgrade", &final_values()).await;

    let kinds = [
        common::builtin("apps", "v1", "Deployment", "deployments"),
        common::builtin("", "v1", "ConfigMap", "configmaps"),
        common::builtin("", "v1", "Service", "services"),
    ];
    let mut uids = BTreeMap::new();
    for kind in &kinds {
        let object = h.get(kind, NAMESPACE, RELEASE).await;
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
        uids.insert(kind.kind.clone(), object["metadata"]["uid"].clone());
    }

    // The plan reads the same mapping decision the operator runs with.
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("watches.yaml");
    std::fs::write(
        &config,
        mapping.replace(
            "chart: webserver",
            &format!("chart: {}", root().join("charts/webserver").display()),
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let out = migrate(&kubeconfig, &["--plan", "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cr: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let webservers = common::resource("WebServer", "webservers");
    let applied = h.apply_as_user(&webservers, NAMESPACE, cr).await;
    let cr_uid = applied.metadata.uid.clone().unwrap();
    h.wait_condition(&webservers, NAMESPACE, RELEASE, "True", "Ready")
        .await;

    let check_taken_over = |object: &Value, kind: &str| {
        assert_eq!(
            object["metadata"]["uid"], uids[kind],
            "{kind} was recreated"
        );
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "tera-operator",
            "{kind}"
        );
        assert_eq!(
            object["metadata"]["labels"]["tera-operator.io/owner-uid"],
            cr_uid.as_str(),
            "{kind}"
        );
        let owners = object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            owners
                .iter()
                .any(|o| o["uid"] == cr_uid.as_str() && o["controller"] == true),
            "{kind} is not controlled by the WebServer: {owners:?}"
        );
    };
    for kind in &kinds {
        let object = h.get(kind, NAMESPACE, RELEASE).await;
        check_taken_over(&object, &kind.kind);
    }
    let deployment = h.get(&kinds[0], NAMESPACE, RELEASE).await;
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["example.com/team"],
        "shop"
    );

    // Helm's field manager owns nothing any more (embedded in Python, Helm writes as `python`;
    // its entry is the one owning its release annotation): a value removed from the resource
    // leaves the live object (Helm's entry would keep it there, co-owned, while the resource
    // said Ready).
    for kind in &kinds {
        h.wait_for(
            kind,
            NAMESPACE,
            RELEASE,
            "no managedFields entry of Helm",
            |o| {
                let managers: Vec<&str> = o["metadata"]["managedFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["manager"].as_str())
                    .collect();
                !managers.contains(&"python") && managers.contains(&"tera-operator")
            },
        )
        .await;
    }
    h.merge_patch(
        &webservers,
        NAMESPACE,
        RELEASE,
        json!({"spec": {"podAnnotations": null}}),
    )
    .await;
    h.wait_for(
        &kinds[0],
        NAMESPACE,
        RELEASE,
        "the pod annotation gone",
        |d| {
            d.pointer("/spec/template/metadata/annotations/example.com~1team")
                .is_none()
        },
    )
    .await;
    h.wait_condition(&webservers, NAMESPACE, RELEASE, "True", "Ready")
        .await;

    // Drop Helm's release records: only Secrets go.
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), NAMESPACE);
    secrets
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("owner=helm,name=site"),
        )
        .await
        .unwrap();
    assert!(
        secrets
            .list(&ListParams::default().labels("owner=helm"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The operator is in charge: a spec change reaches the adopted Deployment, in place.
    let patch = json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                       "metadata": {"name": RELEASE, "namespace": NAMESPACE}, "spec": {"replicas": 3}});
    h.apply_as_user(&webservers, NAMESPACE, patch).await;
    h.wait_for(&kinds[0], NAMESPACE, RELEASE, "3 replicas", |d| {
        d["spec"]["replicas"] == 3
    })
    .await;
    h.wait_condition(&webservers, NAMESPACE, RELEASE, "True", "Ready")
        .await;
    for kind in &kinds {
        let object = h.get(kind, NAMESPACE, RELEASE).await;
        check_taken_over(&object, &kind.kind);
    }
}

/// A failed `helm upgrade` whose objects are what runs (3 replicas of nginx:1.27, while the last
/// deployed revision had 1 replica of the chart's image): `migrate helm-release` says so and
/// takes the failed revision's values, never the deployed revision's (applying those would roll
/// the objects back); and when the live objects match neither revision, it refuses, naming
/// the differences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_migrates_from_what_runs() {
    let python = python();
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let kubeconfig = sb.kubeconfig_path().to_path_buf();
    helm(&python, &kubeconfig, "install", &json!({"replicas": 1})).await;
    let failing = json!({"replicas": 3, "image": "nginx:1.27", "testFailPostUpgradeHook": true});
    let out = helm(&python, &kubeconfig, "upgrade-failing", &failing).await;
    assert!(out.contains("upgrade failed"), "{out}");
    let secrets: Api<Secret> = Api::namespaced(sb.client(), NAMESPACE);
    let mut statuses: Vec<(String, String)> = secrets
        .list(&ListParams::default().labels("owner=helm,name=site"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| {
            let labels = s.metadata.labels.unwrap_or_default();
            (labels["version"].clone(), labels["status"].clone())
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("1".into(), "deployed".into()),
            ("2".into(), "failed".into())
        ],
        "Helm left revision 1 deployed and revision 2 failed"
    );
    let deployments: Api<Deployment> = Api::namespaced(sb.client(), NAMESPACE);
    let live = deployments.get(RELEASE).await.unwrap();
    let spec = live.spec.clone();
    assert_eq!(spec.replicas, Some(3), "the failed revision's objects run");

    let out = migrate(&kubeconfig, &["--plan"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: revision 2 of release site is failed, yet its objects are what runs (revision 1 is the last deployed): the custom resource takes revision 2's values"),
        "{stderr}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "# Plan: migrate Helm release shop/site (revision 2, chart webserver-0.1.0, failed)"
        ),
        "{text}"
    );
    let cr: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(cr["spec"]["replicas"], 3, "{text}");
    assert_eq!(cr["spec"]["image"], "nginx:1.27", "{text}");

    // Edited by hand since: neither revision is what runs, and the migration refuses.
    deployments
        .patch(
            RELEASE,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let out = migrate(&kubeconfig, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("release site: revision 2 is failed after revision 1 was deployed, and the live objects match neither"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "Against revision 2: Deployment/site: /spec/replicas is 5 live, 3 in the revision."
        ),
        "{stderr}"
    );
    assert!(stderr.contains("helm rollback site 1"), "{stderr}");
}

/// An operator-sdk helm-operator project's objects, taken over when tera-operator starts: what
/// helm-operator leaves for a custom resource (a Helm release named after it, made here with the
/// real Helm client; a controller ownerReference to the resource and helm-operator's chart label
/// on every object, written as helm-operator's field manager; its uninstall finalizer on the
/// resource, which carries no adopt annotation) is adopted in place where the mapping allows,
/// helm-operator's finalizer goes (else the resource could never be deleted), and Helm's field
/// managers own nothing afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_operator_objects_are_taken_over_when_the_operator_starts() {
    let python = python();
    // First without adoptHelmReleases: the mapping decides, even with the ownerReference.
    let mapping =
        "- {group: web.tera-operator.io, version: v1alpha1, kind: WebServer, chart: webserver}\n";
    let mut h = common::Harness::without_operator(Some(mapping)).await;
    let kubeconfig = h.sandbox.kubeconfig_path().to_path_buf();
    helm(&python, &kubeconfig, "install", &final_values()).await;
    let webservers = common::resource("WebServer", "webservers");
    let cr = h
        .create(
            &webservers,
            NAMESPACE,
            &serde_json::to_string(&json!({
                "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                "metadata": {"name": RELEASE, "namespace": NAMESPACE,
                             "finalizers": ["helm.sdk.operatorframework.io/uninstall-release"]},
                "spec": final_values(),
            }))
            .unwrap(),
        )
        .await;
    let cr_uid = cr.metadata.uid.clone().unwrap();
    let kinds = [
        common::builtin("apps", "v1", "Deployment", "deployments"),
        common::builtin("", "v1", "ConfigMap", "configmaps"),
        common::builtin("", "v1", "Service", "services"),
    ];
    let as_helm_operator = kube::api::PatchParams {
        field_manager: Some("helm-operator".to_string()),
        ..Default::default()
    };
    let mut uids = BTreeMap::new();
    for kind in &kinds {
        let patch = json!({"metadata": {
            "labels": {"helm.sdk.operatorframework.io/chart": "webserver"},
            "ownerReferences": [{"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                                 "name": RELEASE, "uid": cr_uid, "controller": true,
                                 "blockOwnerDeletion": true}]}});
        let object = h
            .api(kind, NAMESPACE)
            .patch(RELEASE, &as_helm_operator, &kube::api::Patch::Merge(&patch))
            .await
            .unwrap();
        uids.insert(kind.kind.clone(), object.metadata.uid.clone().unwrap());
    }

    h.start_operator(Vec::new(), false).await;
    let refused = h
        .wait_condition(&webservers, NAMESPACE, RELEASE, "False", "AdoptionRefused")
        .await;
    let message = common::condition(&refused, "Ready")["message"].to_string();
    assert!(
        message.contains(
            "was made by operator-sdk's helm-operator for this WebServer (Helm release site)"
        ),
        "{message}"
    );
    for kind in &kinds {
        let object = h.get(kind, NAMESPACE, RELEASE).await;
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
    }
    // The operator's mapping allows it (reloaded without a restart): taken over in place.
    std::fs::write(
        h.mapping_path(),
        mapping.replace(
            "chart: webserver}",
            "chart: webserver, adoptHelmReleases: true}",
        ),
    )
    .unwrap();
    h.wait_condition(&webservers, NAMESPACE, RELEASE, "True", "Ready")
        .await;
    for kind in &kinds {
        let object = h
            .wait_for(
                kind,
                NAMESPACE,
                RELEASE,
                "taken over, Helm's managers gone",
                |o| {
                    let managers: Vec<&str> = o["metadata"]["managedFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e["manager"].as_str())
                        .collect();
                    o["metadata"]["labels"]["tera-operator.io/owner-uid"] == cr_uid.as_str()
                        && !managers.contains(&"python")
                        && !managers.contains(&"helm-operator")
                },
            )
            .await;
        assert_eq!(
            object["metadata"]["uid"], uids[&kind.kind],
            "{} was recreated",
            kind.kind
        );
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "tera-operator"
        );
    }
    h.wait_for(
        &webservers,
        NAMESPACE,
        RELEASE,
        "helm-operator's finalizer gone",
        |o| o["metadata"]["finalizers"].is_null(),
    )
    .await;
    // Deleting the resource is no longer blocked by a finalizer nobody would remove.
    h.api(&webservers, NAMESPACE)
        .delete(RELEASE, &DeleteParams::default())
        .await
        .unwrap();
    h.wait_gone(&webservers, NAMESPACE, RELEASE).await;
}

/// The guestbook project of tests/helm-operator, written in operator-sdk's documented layout.
fn guestbook_project() -> std::path::PathBuf {
    root().join("tests/helm-operator/guestbook-operator")
}

/// `helm install` of `chart` as release `name` in `shop`, with the real Helm v4 client.
async fn helm_install(python: &str, kubeconfig: &Path, chart: &Path, name: &str, values: &Value) {
    let script = r#"
import json, sys
import helm_python as helm
cfg = helm.Config(kubeconfig_path=sys.argv[1], namespace="shop")
cfg.install(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), timeout=60, create_namespace=True)
"#;
    let out = tokio::process::Command::new(python)
        .args(["-c", script])
        .arg(kubeconfig)
        .arg(chart)
        .arg(name)
        .arg(values.to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("helm finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "helm install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `migrate helm-operator` on a project of our own in operator-sdk's layout; the output lints
/// clean, and the operator run with it (against the sandbox, the project's CRD applied as it
/// is) takes over the objects helm-operator made for one Guestbook in place and makes those
/// of a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_operator_project_migrates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let bin = env!("CARGO_BIN_EXE_tera-operator");
    let migrated = Command::new(bin)
        .args(["migrate", "helm-operator"])
        .arg(guestbook_project())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&migrated.stderr).into_owned();
    assert!(migrated.status.success(), "{report}");
    for line in [
        "KIND Guestbook (demo.example.org/v1alpha1)",
        "chart helm-charts/guestbook → charts/guestbook",
        "CRD config/crd/bases/demo.example.org_guestbooks.yaml → crds/demo.example.org_guestbooks.yaml (copied unchanged",
        "allowedKinds: ConfigMap, Service, Deployment, StatefulSet",
        "SKIPPED watches.yaml Guestbook dryRunOption",
        "is not copied: `tera-operator manifests --config watches.yaml` writes",
        "SKIPPED config/manager:",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
    let lint = Command::new(bin)
        .args(["lint", "--config"])
        .arg(out.join("watches.yaml"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );

    let python = python();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = sandbox.client();
    let kubeconfig = sandbox.kubeconfig_path().to_path_buf();
    let crd_text =
        std::fs::read_to_string(out.join("crds/demo.example.org_guestbooks.yaml")).unwrap();
    let crd: kube::api::DynamicObject = serde_yaml::from_str(&crd_text).unwrap();
    let crds: Api<kube::api::DynamicObject> = Api::all_with(
        client.clone(),
        &common::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    crds.create(&Default::default(), &crd).await.unwrap();
    let gvk = kube::api::GroupVersionKind::gvk("demo.example.org", "v1alpha1", "Guestbook");
    common::eventually("the Guestbook CRD to be served", || {
        let client = client.clone();
        let gvk = gvk.clone();
        async move {
            kube::discovery::pinned_kind(&client, &gvk)
                .await
                .ok()
                .map(|_| ())
        }
    })
    .await;

    // What helm-operator left for Guestbook `front`: a Helm release of its name (spec values
    // plus watches.yaml's overrideValues), its objects owned by the Guestbook, its finalizer.
    let spec = json!({"replicaCount": 2, "message": "Welcome"});
    let mut released = spec.clone();
    released["image"] = json!({"pullPolicy": "Always"});
    helm_install(
        &python,
        &kubeconfig,
        &guestbook_project().join("helm-charts/guestbook"),
        "front",
        &released,
    )
    .await;
    let mut h = common::Harness {
        sandbox,
        operator: None,
        dir,
        client,
    };
    let guestbooks = kube::api::ApiResource::from_gvk_with_plural(&gvk, "guestbooks");
    let cr = h
        .create(
            &guestbooks,
            NAMESPACE,
            &json!({"apiVersion": "demo.example.org/v1alpha1", "kind": "Guestbook",
                    "metadata": {"name": "front", "namespace": NAMESPACE,
                                 "finalizers": ["helm.sdk.operatorframework.io/uninstall-release"]},
                    "spec": spec})
            .to_string(),
        )
        .await;
    let cr_uid = cr.metadata.uid.clone().unwrap();
    let kinds = [
        common::builtin("apps", "v1", "Deployment", "deployments"),
        common::builtin("", "v1", "ConfigMap", "configmaps"),
        common::builtin("", "v1", "Service", "services"),
    ];
    let as_helm_operator = kube::api::PatchParams {
        field_manager: Some("helm-operator".to_string()),
        ..Default::default()
    };
    let mut uids = BTreeMap::new();
    for kind in &kinds {
        let patch = json!({"metadata": {
            "ownerReferences": [{"apiVersion": "demo.example.org/v1alpha1", "kind": "Guestbook",
                                 "name": "front", "uid": cr_uid, "controller": true,
                                 "blockOwnerDeletion": true}]}});
        let object = h
            .api(kind, NAMESPACE)
            .patch(
                "front-guestbook",
                &as_helm_operator,
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        uids.insert(kind.kind.clone(), object.metadata.uid.clone().unwrap());
    }
    // A Guestbook created after the switch: no release, its objects are made.
    h.create(
        &guestbooks,
        NAMESPACE,
        &json!({"apiVersion": "demo.example.org/v1alpha1", "kind": "Guestbook",
                "metadata": {"name": "fresh", "namespace": NAMESPACE},
                "spec": {"message": "Fresh"}})
        .to_string(),
    )
    .await;

    h.start_operator(Vec::new(), false).await;
    for name in ["front", "fresh"] {
        h.wait_condition(&guestbooks, NAMESPACE, name, "True", "Ready")
            .await;
    }
    for kind in &kinds {
        let object = h
            .wait_for(kind, NAMESPACE, "front-guestbook", "taken over", |o| {
                o["metadata"]["labels"]["tera-operator.io/owner-uid"] == cr_uid.as_str()
            })
            .await;
        assert_eq!(
            object["metadata"]["uid"], uids[&kind.kind],
            "{} was recreated",
            kind.kind
        );
    }
    h.wait_for(
        &guestbooks,
        NAMESPACE,
        "front",
        "helm-operator's finalizer gone",
        |o| o["metadata"]["finalizers"].is_null(),
    )
    .await;
    let deployment = h.get(&kinds[0], NAMESPACE, "fresh-guestbook").await;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let page = h.get(&kinds[1], NAMESPACE, "fresh-guestbook").await;
    assert_eq!(page["data"]["index.html"], "<h1>Fresh</h1>\n");
    let front = h.get(&kinds[0], NAMESPACE, "front-guestbook").await;
    assert_eq!(front["spec"]["replicas"], 2);
}

/// Where operator-sdk's sample projects are: `$TERA_OPERATOR_OPERATOR_SDK_SAMPLES`, else
/// `target/corpus/operator-sdk-samples` (fetched by `.ci/fetch-corpus`; never committed).
fn operator_sdk_samples() -> std::path::PathBuf {
    std::env::var_os("TERA_OPERATOR_OPERATOR_SDK_SAMPLES")
        .map(Into::into)
        .unwrap_or_else(|| root().join("target/corpus/operator-sdk-samples"))
}

/// operator-sdk's own Helm sample (testdata/helm/memcached-operator, fetched): migrated with no
/// marker, its output lints clean, and the operator run with it makes the sample Memcached's
/// StatefulSet, Service and PodDisruptionBudget (a post-install/post-upgrade hook in the chart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs operator-sdk's samples in $TERA_OPERATOR_OPERATOR_SDK_SAMPLES or target/corpus/operator-sdk-samples (.ci/fetch-corpus); run with --ignored"]
async fn operator_sdk_memcached_sample_migrates() {
    let project = operator_sdk_samples().join("testdata/helm/memcached-operator");
    assert!(
        project.join("watches.yaml").is_file(),
        "no sample at {}: run .ci/fetch-corpus",
        project.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let bin = env!("CARGO_BIN_EXE_tera-operator");
    let migrated = Command::new(bin)
        .args(["migrate", "helm-operator"])
        .arg(&project)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&migrated.stderr).into_owned();
    eprintln!("{report}");
    assert!(migrated.status.success(), "{report}");
    for line in [
        "KIND Memcached (cache.example.com/v1alpha1)",
        "CRD config/crd/bases/cache.example.com_memcacheds.yaml → crds/cache.example.com_memcacheds.yaml (copied unchanged",
        "templates/pdb.yaml: a Helm hook (post-upgrade, post-install)",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
    let lint = Command::new(bin)
        .args(["lint", "--config"])
        .arg(out.join("watches.yaml"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );

    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = sandbox.client();
    let crd_text =
        std::fs::read_to_string(out.join("crds/cache.example.com_memcacheds.yaml")).unwrap();
    let crd: kube::api::DynamicObject = serde_yaml::from_str(&crd_text).unwrap();
    let crds: Api<kube::api::DynamicObject> = Api::all_with(
        client.clone(),
        &common::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    crds.create(&Default::default(), &crd).await.unwrap();
    let gvk = kube::api::GroupVersionKind::gvk("cache.example.com", "v1alpha1", "Memcached");
    common::eventually("the Memcached CRD to be served", || {
        let client = client.clone();
        let gvk = gvk.clone();
        async move {
            kube::discovery::pinned_kind(&client, &gvk)
                .await
                .ok()
                .map(|_| ())
        }
    })
    .await;
    let mut h = common::Harness {
        sandbox,
        operator: None,
        dir,
        client,
    };
    h.start_operator(Vec::new(), false).await;
    let memcacheds = kube::api::ApiResource::from_gvk_with_plural(&gvk, "memcacheds");
    let sample =
        std::fs::read_to_string(project.join("config/samples/cache_v1alpha1_memcached.yaml"))
            .unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(h.client.clone());
    let _ = namespaces
        .create(
            &Default::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).unwrap(),
        )
        .await;
    h.create(&memcacheds, NAMESPACE, &sample).await;
    h.wait_condition(&memcacheds, NAMESPACE, "memcached-sample", "True", "Ready")
        .await;
    let statefulset = h
        .get(
            &common::builtin("apps", "v1", "StatefulSet", "statefulsets"),
            NAMESPACE,
            "memcached-sample",
        )
        .await;
    assert_eq!(statefulset["spec"]["replicas"], 3);
    assert_eq!(
        statefulset["spec"]["template"]["spec"]["containers"][0]["image"],
        "memcached:1.5.20"
    );
    h.get(
        &common::builtin("", "v1", "Service", "services"),
        NAMESPACE,
        "memcached-sample",
    )
    .await;
    let pdb = h
        .get(
            &common::builtin(
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            NAMESPACE,
            "memcached-sample",
        )
        .await;
    assert_eq!(pdb["spec"]["minAvailable"], 2);
}
