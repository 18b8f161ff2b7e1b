//! The operator stays alive among broken neighbours, and says so when it is not: a dead
//! controller or manager fails `/healthz` (so the kubelet restarts the pod), a bad mapping on
//! hot reload kills nothing, and a child kind whose watch cannot sync stalls only its own kind.

use crate::support as common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, Request};
use common::*;
use tera_operator::controller::{Operator, Options};
use tera_sandbox::{Sandbox, SandboxConfig};

/// A sandbox with the WebServer and Balancer CRDs and a copy of `charts/`; no operator yet.
async fn harness() -> Harness {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let sandbox = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let client = sandbox.client();
    for (kind, plural) in [("WebServer", "webservers"), ("Balancer", "balancers")] {
        create_crd(&client, kind, plural).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("charts"), &dir.path().join("charts"));
    Harness {
        sandbox,
        operator: None,
        dir,
        client,
    }
}

/// Starts the operator on `client` with hot reload and `/healthz` on a port of its choosing;
/// waits until its caches synced; returns where it serves `/healthz`.
async fn start_operator(h: &mut Harness, client: kube::Client) -> SocketAddr {
    let options = Options {
        config: h.mapping_path(),
        namespaces: Vec::new(),
        metrics_addr: Some("127.0.0.1:0".parse().expect("address")),
        install_crds: false,
        hot_reload: true,
        ..Options::default()
    };
    let operator = Operator::start(client, options)
        .await
        .expect("operator starts");
    let op = &operator;
    eventually("the operator's caches to sync", || async {
        op.is_ready().then_some(())
    })
    .await;
    let addr = operator.endpoints_addr().expect("serving /healthz");
    h.operator = Some(operator);
    addr
}

/// `GET path` on `addr`: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// Which request makes the transport panic: method and a part of its path.
type Trap = Arc<Mutex<Option<(Method, String)>>>;

/// A client of `upstream` whose transport panics, inside the task that sent the request, on
/// the first request the trap matches: how a bug kills the task it runs in, with no hook in
/// the operator. (kube's client polls a response future in the caller's task.)
fn trapped_client(upstream: kube::Client, trap: Trap) -> kube::Client {
    let service = tower::service_fn(move |request: Request<kube::client::Body>| {
        let upstream = upstream.clone();
        let sprung = {
            let mut trap = trap.lock().unwrap_or_else(|p| p.into_inner());
            let matches = trap.as_ref().is_some_and(|(method, part)| {
                request.method() == method && request.uri().path().contains(part.as_str())
            });
            if matches { trap.take() } else { None }
        };
        async move {
            if let Some((method, part)) = sprung {
                panic!("injected: the transport panics on {method} …{part}…");
            }
            upstream.send(request).await
        }
    });
    kube::Client::new(service, "default")
}

fn arm(trap: &Trap, method: Method, part: &str) {
    *trap.lock().unwrap_or_else(|p| p.into_inner()) = Some((method, part.to_string()));
}

/// Waits until `/healthz` answers 503; returns its body.
async fn until_unhealthy(addr: SocketAddr) -> String {
    eventually("/healthz to fail", || async move {
        let (code, body) = http_get(addr, "/healthz").await?;
        (code == 503).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_that_dies_fails_healthz() {
    let mut h = harness().await;
    let trap = Trap::default();
    let client = trapped_client(h.client.clone(), trap.clone());
    let addr = start_operator(&mut h, client).await;
    assert_eq!(http_get(addr, "/healthz").await.map(|r| r.0), Some(200));

    // The first write of a WebServer's reconcile panics: the WebServer controller dies.
    arm(&trap, Method::PATCH, "/configmaps/");
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    let body = until_unhealthy(addr).await;
    assert!(body.contains("web.tera-operator.io/WebServer"), "{body}");
    assert!(body.contains("panicked"), "{body}");
    assert!(body.contains("injected"), "{body}");
    // The other kind's controller still runs: its failure names only the dead one.
    assert!(!body.contains("Balancer"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_that_dies_fails_healthz() {
    let mut h = harness().await;
    let mapping = std::fs::read_to_string(h.mapping_path()).expect("mapping");
    let (webserver_only, _) = mapping
        .split_once("\n- group: web.tera-operator.io\n  version: v1alpha1\n  kind: Balancer")
        .expect("the Balancer entry");
    std::fs::write(h.mapping_path(), webserver_only).expect("write mapping");
    let trap = Trap::default();
    let client = trapped_client(h.client.clone(), trap.clone());
    let addr = start_operator(&mut h, client).await;
    assert_eq!(http_get(addr, "/healthz").await.map(|r| r.0), Some(200));

    // A new mapping entry: the manager looks the kind up, and its API call panics.
    arm(&trap, Method::GET, "/apis/web.tera-operator.io/v1alpha1");
    std::fs::write(h.mapping_path(), &mapping).expect("write mapping");
    let body = until_unhealthy(addr).await;
    assert!(body.contains("manager"), "{body}");
    assert!(body.contains("panicked"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_reloaded_mapping_with_bad_durations_kills_nothing() {
    let mut h = harness().await;
    let client = h.client.clone();
    let addr = start_operator(&mut h, client).await;
    let original = std::fs::read_to_string(h.mapping_path()).expect("mapping");
    let failed_mappings = "tera_operator_chart_loads_total{kind=\"mapping\",result=\"failure\"}";
    let webserver_loads = "tera_operator_chart_loads_total{kind=\"web.tera-operator.io/WebServer\",result=\"success\"}";

    // Not durations at all, or longer than any clock can count: refused, the running kinds
    // keep serving.
    for (n, bad) in ["99999999999999999999h", "1e400s", "-5m", "0s"]
        .into_iter()
        .enumerate()
    {
        let mapping = original.replacen(
            "reconcilePeriod: 10m",
            &format!("reconcilePeriod: {bad}"),
            1,
        );
        std::fs::write(h.mapping_path(), mapping).expect("write mapping");
        let h = &h;
        eventually(
            &format!("the mapping with {bad} to be refused"),
            || async move { (h.metric(failed_mappings) >= (n + 1) as f64).then_some(()) },
        )
        .await;
    }
    // The longest accepted period (Go's limit): the kind restarts with it and still works.
    let loads = h.metric(webserver_loads);
    let longest = original.replacen("reconcilePeriod: 10m", "reconcilePeriod: 2562047h", 1);
    std::fs::write(h.mapping_path(), longest).expect("write mapping");
    {
        let h = &h;
        eventually("the WebServer controller to restart", || async move {
            (h.metric(webserver_loads) > loads).then_some(())
        })
        .await;
    }
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_for(&webservers(), "default", "hello", "Ready=True", |o| {
        condition(o, "Ready")["status"] == "True"
    })
    .await;
    assert_eq!(http_get(addr, "/healthz").await.map(|r| r.0), Some(200));
}

/// A kind whose chart renders a ConfigMap and a Secret, where listing Secrets is forbidden.
const VAULT_CHART: &[(&str, &str)] = &[
    ("Chart.yaml", "name: vault\nversion: 0.1.0\n"),
    ("values.yaml", "token: t0k3n\n"),
    (
        "templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  a: b\n",
    ),
    (
        "templates/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ release.name }}\nstringData:\n  token: {{ values.token | quote }}\n",
    ),
];

/// A child kind whose list answers 403 (no RBAC for it, say) stalls only the kind rendering
/// it: another kind's resource becomes Ready, while the kind rendering it reports `Forbidden`
/// and applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_kind_that_cannot_be_listed_stalls_only_its_own_kind() {
    let mut h = harness().await;
    create_crd(&h.client, "Vault", "vaults").await;
    for (file, text) in VAULT_CHART {
        let path = h.chart_dir("vault").join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write chart");
    }
    // The broken kind first: it is set up before the healthy one.
    let mapping = std::fs::read_to_string(h.mapping_path()).expect("mapping");
    std::fs::write(
        h.mapping_path(),
        format!(
            "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: Vault\n  chart: vault\n  \
             allowedKinds: [ConfigMap, Secret]\n\n{mapping}"
        ),
    )
    .expect("write mapping");
    h.sandbox
        .hooks()
        .fail_next(1_000_000, "list", "secrets", 403);
    let client = h.client.clone();
    start_operator(&mut h, client).await;

    // The Secret watch started with the Vault kind, and cannot list.
    let sandbox = &h.sandbox;
    eventually("the Secret list to be refused", || async move {
        sandbox
            .request_log()
            .iter()
            .any(|r| r.verb == "list" && r.resource == "secrets" && r.status == 403)
            .then_some(())
    })
    .await;
    let vaults = resource("Vault", "vaults");
    h.create(
        &vaults,
        "default",
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: Vault\nmetadata:\n  name: v\nspec: {}\n",
    )
    .await;

    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_for(&webservers(), "default", "hello", "Ready=True", |o| {
        condition(o, "Ready")["status"] == "True"
    })
    .await;
    // The Vault fails at once with the API server's refusal (no wait for the sync deadline),
    // and nothing of it is applied.
    let vault = h
        .wait_condition(&vaults, "default", "v", "False", "Forbidden")
        .await;
    let message = condition(&vault, "Ready")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("may not list and watch kind Secret of v1")
            && message.ends_with("nothing was applied"),
        "{message}"
    );
    assert!(
        h.api(&configmaps(), "default")
            .get_opt("v")
            .await
            .expect("read ConfigMap v")
            .is_none(),
        "the Vault's ConfigMap was applied without its Secret"
    );
}
