//! Helm v4 (the real engine, via the `helm-python-sdk` package) installs, upgrades and
//! uninstalls a chart in the sandbox. The Python with `helm_python` comes from
//! `$TERA_OPERATOR_HELM_PYTHON` or `.venv`, installed there on first use; never skipped.

use crate::support::helm_python;

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use tera_sandbox::{Sandbox, SandboxConfig};

const SCRIPT: &str = r#"
import sys
import helm_python as helm
kubeconfig, phase, chart = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = helm.Config(kubeconfig_path=kubeconfig, namespace="default")
if phase == "install":
    cfg.install(chart, "demo", {"greeting": "hi"}, timeout=60)
elif phase == "upgrade":
    cfg.upgrade(chart, "demo", {"greeting": "bye", "replicas": 2}, timeout=60)
elif phase == "status":
    print(cfg.status("demo"))
elif phase == "uninstall":
    cfg.uninstall("demo", timeout=60)
"#;

fn python() -> String {
    helm_python::python()
}

fn write_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "greeting: hello\nreplicas: 1\n").unwrap();
    std::fs::write(
        dir.join("templates/app.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: web
        image: nginx
"#,
    )
    .unwrap();
}

async fn helm(sb: &Sandbox, python: &str, phase: &str, chart: &Path) {
    let out = tokio::process::Command::new(python)
        .args(["-c", SCRIPT])
        .arg(sb.kubeconfig_path())
        .arg(phase)
        .arg(chart)
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
}

fn release_secrets(list: &[Secret]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|s| {
            let labels = s.metadata.labels.clone().unwrap_or_default();
            (
                s.metadata.name.clone().unwrap(),
                labels.get("status").cloned().unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_uninstall() {
    let python = python();
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("demo");
    write_chart(&chart);
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let deploys: Api<Deployment> = Api::default_namespaced(sb.client());
    let secrets: Api<Secret> = Api::default_namespaced(sb.client());
    let owned = ListParams::default().labels("owner=helm");

    helm(&sb, &python, "install", &chart).await;
    assert_eq!(
        cms.get("demo-config").await.unwrap().data.unwrap()["greeting"],
        "hi"
    );
    assert_eq!(
        deploys.get("demo-web").await.unwrap().spec.replicas,
        Some(1)
    );
    let s = secrets.list(&owned).await.unwrap().items;
    assert_eq!(
        release_secrets(&s),
        [(
            "sh.helm.release.v1.demo.v1".to_string(),
            "deployed".to_string()
        )]
    );
    assert_eq!(s[0].type_.as_deref(), Some("helm.sh/release.v1"));
    assert!(s[0].data.as_ref().unwrap().contains_key("release"));

    helm(&sb, &python, "upgrade", &chart).await;
    assert_eq!(
        cms.get("demo-config").await.unwrap().data.unwrap()["greeting"],
        "bye"
    );
    assert_eq!(
        deploys.get("demo-web").await.unwrap().spec.replicas,
        Some(2)
    );
    let s = secrets.list(&owned).await.unwrap().items;
    assert_eq!(
        release_secrets(&s),
        [
            (
                "sh.helm.release.v1.demo.v1".to_string(),
                "superseded".to_string()
            ),
            (
                "sh.helm.release.v1.demo.v2".to_string(),
                "deployed".to_string()
            )
        ]
    );
    helm(&sb, &python, "status", &chart).await;

    helm(&sb, &python, "uninstall", &chart).await;
    assert!(cms.get_opt("demo-config").await.unwrap().is_none());
    assert!(deploys.get_opt("demo-web").await.unwrap().is_none());
    assert!(
        secrets.list(&owned).await.unwrap().items.is_empty(),
        "release history purged"
    );
    let log = sb.request_log();
    assert!(log.iter().any(|r| {
        r.resource == "secrets"
            && r.content_type
                .starts_with("application/vnd.kubernetes.protobuf")
    }));
    assert!(
        log.iter().any(|r| r.resource == "deployments"
            && r.content_type.starts_with("application/apply-patch+yaml")),
        "Helm v4 applies server-side"
    );
}
