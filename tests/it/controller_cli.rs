//! The `run` and `sandbox` subcommands as processes: they serve the bundled kinds, answer
//! /healthz, /readyz and /metrics, and exit cleanly on SIGTERM.

use crate::support as common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use tera_sandbox::{Sandbox, SandboxConfig};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit after SIGTERM");
        }
        std::thread::sleep(POLL);
    }
}

async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    Some((code, response))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_mapped_kinds_and_stops_on_sigterm() {
    let sandbox = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    sandbox
        .install_crds(std::path::Path::new("crds"))
        .expect("crds");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .args(["--config", "charts/watches.yaml", "--metrics-addr", &addr])
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");

    let a = addr.clone();
    eventually("/readyz to answer 200", || {
        let a = a.clone();
        async move { (http_get(&a, "/readyz").await?.0 == 200).then_some(()) }
    })
    .await;
    assert_eq!(http_get(&addr, "/healthz").await.map(|r| r.0), Some(200));

    let client = sandbox.client();
    let api =
        kube::Api::<kube::api::DynamicObject>::namespaced_with(client, "default", &webservers());
    let object: kube::api::DynamicObject =
        serde_yaml::from_str(&example("webserver")).expect("example");
    api.create(&Default::default(), &object)
        .await
        .expect("create");
    eventually("webserver/hello to be Ready", || {
        let api = api.clone();
        async move {
            let o = serde_json::to_value(api.get("hello").await.ok()?).ok()?;
            (condition(&o, "Ready")["status"] == "True").then_some(())
        }
    })
    .await;
    let (_, metrics) = http_get(&addr, "/metrics").await.expect("metrics");
    assert!(
        metrics.contains("tera_operator_reconciles_total{kind=\"web.tera-operator.io/WebServer\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tera_operator_api_writes_total"),
        "{metrics}"
    );

    let status = terminate(&mut child);
    assert!(status.success(), "run exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exits_1_on_a_broken_mapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = dir.path().join("watches.yaml");
    std::fs::write(&mapping, "- group: x\n  bogus: 1\n").expect("write");
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let output = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .arg("--config")
        .arg(&mapping)
        .args(["--metrics-addr", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("watches.yaml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_subcommand_applies_the_examples_and_runs_the_operator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("sandbox")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let path = kubeconfig.clone();
    let client = eventually("the sandbox's kubeconfig", || {
        let path = path.clone();
        async move {
            let file = kube::config::Kubeconfig::read_from(&path).ok()?;
            let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
                .await
                .ok()?;
            kube::Client::try_from(config).ok()
        }
    })
    .await;
    for (resource, name) in [(webservers(), "hello"), (balancers(), "echo")] {
        let api = kube::Api::<kube::api::DynamicObject>::namespaced_with(
            client.clone(),
            "default",
            &resource,
        );
        eventually(&format!("{} {name} to be Ready", resource.kind), || {
            let api = api.clone();
            async move {
                let o = serde_json::to_value(api.get(name).await.ok()?).ok()?;
                (condition(&o, "Ready")["status"] == "True").then_some(())
            }
        })
        .await;
    }
    let status = terminate(&mut child);
    assert!(status.success(), "sandbox exited with {status}");
}

fn spawn_leader_elected_run(kubeconfig: &std::path::Path) -> Child {
    let addr = format!("127.0.0.1:{}", free_port());
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--config", "charts/watches.yaml", "--metrics-addr", &addr])
        .args(["--leader-elect", "--leader-election-namespace", "default"])
        .args(["--leader-election-id", "tera-operator-cli-test"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

async fn lease_holder(client: &kube::Client) -> Option<String> {
    let leases = kube::Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
        client.clone(),
        "default",
    );
    let lease = leases.get("tera-operator-cli-test").await.ok()?;
    lease
        .spec?
        .holder_identity
        .filter(|holder| !holder.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_leader_elect_leads_reconciles_and_hands_over_on_sigterm() {
    let sandbox = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    sandbox
        .install_crds(std::path::Path::new("crds"))
        .expect("crds");
    let client = sandbox.client();
    let mut first = spawn_leader_elected_run(sandbox.kubeconfig_path());
    let c = client.clone();
    let leader = eventually("the first instance to take the Lease", || {
        let c = c.clone();
        async move { lease_holder(&c).await }
    })
    .await;

    let api = kube::Api::<kube::api::DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &webservers(),
    );
    let object: kube::api::DynamicObject =
        serde_yaml::from_str(&example("webserver")).expect("example");
    api.create(&Default::default(), &object)
        .await
        .expect("create");
    eventually("the leader to make webserver/hello Ready", || {
        let api = api.clone();
        async move {
            let o = serde_json::to_value(api.get("hello").await.ok()?).ok()?;
            (condition(&o, "Ready")["status"] == "True").then_some(())
        }
    })
    .await;

    let mut second = spawn_leader_elected_run(sandbox.kubeconfig_path());
    // While the first leads, the second stands by: the holder does not change.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lease_holder(&client).await.as_deref(),
        Some(leader.as_str())
    );

    let status = terminate(&mut first);
    assert!(status.success(), "the leader exited with {status}");
    let c = client.clone();
    let old = leader.clone();
    let next = eventually("the standby to take the released Lease", || {
        let (c, old) = (c.clone(), old.clone());
        async move { lease_holder(&c).await.filter(|h| *h != old) }
    })
    .await;
    assert_ne!(next, leader);
    let status = terminate(&mut second);
    assert!(status.success(), "the second instance exited with {status}");
}
