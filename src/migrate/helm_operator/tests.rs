//! Migrating the guestbook project of tests/helm-operator (written in operator-sdk's layout).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Error, Options, migrate};
use crate::chart::Chart;
use crate::config::Mapping;
use crate::render::Renderer;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm-operator/guestbook-operator")
}

fn options(output: &Path) -> Options {
    Options {
        project: project(),
        output: output.to_path_buf(),
        kube_version: "v1.33.0".into(),
    }
}

#[test]
fn the_project_becomes_a_mapping_charts_and_its_crds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = migrate(&options(&out)).unwrap();
    let text = report.to_string();
    assert_eq!(report.markers(), 0, "{text}");
    assert_eq!(report.lint_errors(), 0, "{text}");

    let mapping = Mapping::load(&out.join("watches.yaml")).unwrap();
    let [watch] = &mapping.watches[..] else {
        panic!("one entry: {mapping:?}")
    };
    assert_eq!(
        (
            watch.group.as_str(),
            watch.version.as_str(),
            watch.kind.as_str()
        ),
        ("demo.example.org", "v1alpha1", "Guestbook")
    );
    assert_eq!(watch.chart_dir, out.join("charts/guestbook"));
    assert!(watch.adopt_helm_releases);
    assert_eq!(watch.reconcile_period, std::time::Duration::from_secs(120));
    assert_eq!(
        watch.override_values,
        json!({"image": {"pullPolicy": "Always"}})
    );
    let allowed: Vec<String> = watch.allowed_kinds.iter().map(|k| k.to_string()).collect();
    // ConfigMap and Service from the templates; the templated workload kind from the RBAC
    // rules of its group (apps): Deployment and StatefulSet; pods (granted) are rendered by none.
    assert_eq!(
        allowed,
        ["ConfigMap", "Service", "Deployment", "StatefulSet"],
        "{text}"
    );
    let written = std::fs::read_to_string(out.join("watches.yaml")).unwrap();
    assert!(!written.contains("dryRunOption"), "{written}");
    assert!(text.contains("dryRunOption"), "{text}");
    assert!(
        text.contains("the old role also let helm-operator create Pod"),
        "{text}"
    );

    // The CRD is the project's, byte for byte; the chart's hints carry its names.
    assert_eq!(
        std::fs::read_to_string(out.join("crds/demo.example.org_guestbooks.yaml")).unwrap(),
        std::fs::read_to_string(
            project().join("config/crd/bases/demo.example.org_guestbooks.yaml")
        )
        .unwrap()
    );
    let chart = Chart::load(&watch.chart_dir).unwrap();
    assert_eq!(chart.meta.crd.plural.as_deref(), Some("guestbooks"));
    assert_eq!(chart.meta.crd.short_names, ["gb"]);

    // A Guestbook of the old kind renders to the chart's objects, with the override.
    let renderer = Renderer::with_settings(
        chart,
        watch.allowed_kinds.clone(),
        watch.override_values.clone(),
    )
    .unwrap();
    let cr = json!({
        "apiVersion": "demo.example.org/v1alpha1", "kind": "Guestbook",
        "metadata": {"name": "front", "namespace": "shop", "uid": "u-1", "generation": 1},
        "spec": {"replicaCount": 2, "message": "Welcome"},
    });
    let objects: Vec<Value> = renderer.render(&cr, "shop").unwrap().objects;
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {objects:#?}"))
    };
    let deployment = find("Deployment");
    assert_eq!(deployment["metadata"]["name"], "front-guestbook");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(
        find("ConfigMap")["data"]["index.html"],
        "<h1>Welcome</h1>\n"
    );
    assert_eq!(find("Service")["spec"]["ports"][0]["port"], 80);
}

#[test]
fn a_chart_missing_from_the_project_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("watches.yaml"),
        "- group: a.example.org\n  version: v1\n  kind: App\n  chart: /opt/helm/helm-charts/app\n",
    )
    .unwrap();
    let err = migrate(&Options {
        project: project.clone(),
        output: dir.path().join("out"),
        kube_version: "v1.33.0".into(),
    })
    .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("watches.yaml: line 4: kind App: chart \"/opt/helm/helm-charts/app\" is not in the project"), "{message}");
    assert!(message.contains("p/helm-charts/app"), "{message}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn the_output_must_be_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), "").unwrap();
    let err = migrate(&options(dir.path())).unwrap_err();
    assert!(matches!(err, Error::OutputNotEmpty(_)), "{err}");
}
