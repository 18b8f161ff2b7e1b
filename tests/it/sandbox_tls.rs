//! The sandbox over HTTPS: a CA of its own and a bearer token, both in the kubeconfig it writes;
//! requests without the token answer 401 (kube-apiserver with anonymous requests disabled), a
//! client that does not trust the CA cannot connect, kubectl works from the kubeconfig alone, and
//! the operator finds the sandbox through its in-cluster configuration (service-account token
//! and CA files, `KUBERNETES_SERVICE_HOST`/`_PORT`:
//! https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#directly-accessing-the-rest-api).

use crate::support as common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject};
use tera_sandbox::{Sandbox, SandboxConfig};

async fn start_tls() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tls: true,
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

fn der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM")
}

fn client(sb: &Sandbox, ca: bool, token: Option<&str>) -> kube::Client {
    let mut config = kube::Config::new(sb.url().parse().expect("url"));
    if ca {
        config.root_cert = Some(vec![der(sb.ca_pem().expect("a CA"))]);
    }
    config.auth_info.token = token.map(|t| t.to_string().into());
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_needs_the_sandbox_ca_and_its_token() {
    let sb = start_tls().await;
    assert!(sb.url().starts_with("https://127.0.0.1:"), "{}", sb.url());
    let token = sb.token().expect("a token").to_string();
    let names: Vec<String> = Api::<Namespace>::all(sb.client())
        .list(&Default::default())
        .await
        .expect("the sandbox's own client lists namespaces")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    let anonymous = Api::<Namespace>::all(client(&sb, true, None));
    match anonymous.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized")),
        other => panic!("expected 401 without a token, got {other:?}"),
    }
    let wrong = Api::<Namespace>::all(client(&sb, true, Some("not-the-token")));
    assert!(
        matches!(wrong.list(&Default::default()).await, Err(kube::Error::Api(s)) if s.code == 401)
    );
    // Without the sandbox's CA, the server's certificate is not trusted: no request is made.
    let untrusting = Api::<Namespace>::all(client(&sb, false, Some(&token)));
    let err = untrusting
        .list(&Default::default())
        .await
        .expect_err("untrusted");
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");

    // kubectl reads the CA and the token from the kubeconfig the sandbox wrote.
    let kubeconfig = std::fs::read_to_string(sb.kubeconfig_path()).expect("kubeconfig");
    assert!(
        kubeconfig.contains("certificate-authority-data:"),
        "{kubeconfig}"
    );
    assert!(
        kubeconfig.contains(&format!("token: {token}")),
        "{kubeconfig}"
    );
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(["get", "namespace", "default", "-o", "name"])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default"
    );
}

/// The operator, run as a process with no kubeconfig, configures itself as in a Pod: it reads
/// the service-account token and CA from /var/run/secrets/kubernetes.io/serviceaccount and the
/// API server's address from KUBERNETES_SERVICE_HOST/PORT. The files are mounted in a private
/// mount namespace of the process (`unshare -m`, as root), so nothing outside it changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_runs_with_its_in_cluster_configuration() {
    let sb = start_tls().await;
    sb.install_crds(std::path::Path::new("crds")).expect("crds");
    let dir = tempfile::tempdir().expect("tempdir");
    let sa = dir.path().join("serviceaccount");
    std::fs::create_dir(&sa).expect("mkdir");
    std::fs::write(sa.join("token"), sb.token().expect("token")).expect("token");
    std::fs::write(sa.join("ca.crt"), sb.ca_pem().expect("ca")).expect("ca");
    std::fs::write(sa.join("namespace"), "default").expect("namespace");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let port = sb.addr().port().to_string();
    let script = "mount -t tmpfs tmpfs /run && \
                  mkdir -p /run/secrets/kubernetes.io && \
                  cp -r \"$SA_DIR\" /run/secrets/kubernetes.io/serviceaccount && \
                  exec \"$OPERATOR\" run --config charts/watches.yaml --metrics-addr 127.0.0.1:0";
    let mut child = tokio::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("SA_DIR", &sa)
        .env("OPERATOR", env!("CARGO_BIN_EXE_tera-operator"))
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", &port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("unshare runs");
    let api = Api::<DynamicObject>::namespaced_with(sb.client(), "default", &webservers());
    let object: DynamicObject = serde_yaml::from_str(&example("webserver")).expect("example");
    api.create(&Default::default(), &object)
        .await
        .expect("create");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ready = match api.get("hello").await {
            Ok(o) => {
                let o = serde_json::to_value(o).expect("json");
                condition(&o, "Ready")["status"] == "True"
            }
            Err(_) => false,
        };
        if ready {
            break;
        }
        let exited = child.try_wait().ok().flatten().is_some();
        if exited || tokio::time::Instant::now() > deadline {
            let _ = child.start_kill();
            let out = child.wait_with_output().await.expect("output");
            panic!(
                "the operator did not reconcile webserver/hello in-cluster:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(POLL).await;
    }
    let writes = sb
        .request_log()
        .into_iter()
        .filter(|r| r.is_write() && r.status < 300)
        .count();
    assert!(writes > 0, "the operator wrote nothing");
    let _ = child.start_kill();
}
