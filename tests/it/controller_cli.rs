//! The `run` and `sandbox` subcommands as processes: they serve the bundled kinds, answer
//! /healthz, /readyz and /metrics, and exit cleanly on SIGTERM.

use crate::support as common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use tera_sandbox::{Sandbox, SandboxConfig};

/// Reads the JSON log lines of `child`'s stderr until the one saying where the operator serves
/// /metrics (it bound `--metrics-addr 127.0.0.1:0` itself: no port picked here that another
/// test could take first), and keeps draining stderr so the child never blocks on it.
fn metrics_addr_from_log(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let fields = &entry["fields"];
            if fields["message"] == "serving /healthz, /readyz and /metrics"
                && let Some(addr) = fields["addr"].as_str()
            {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    rx
}

/// Sends SIGTERM and waits for the exit without blocking the runtime: the sandbox serving the
/// process's last requests (the Lease's release) runs on the same workers.
async fn terminate(child: &mut Child) -> std::process::ExitStatus {
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
        tokio::time::sleep(POLL).await;
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .args(["--config", "charts/watches.yaml"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let logged = metrics_addr_from_log(&mut child);
    let addr = eventually("the metrics address in the log", || async {
        logged.try_recv().ok()
    })
    .await;

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

    let status = terminate(&mut child).await;
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
    let status = terminate(&mut child).await;
    assert!(status.success(), "sandbox exited with {status}");
}

fn spawn_leader_elected_run(kubeconfig: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--config", "charts/watches.yaml"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .args(["--leader-elect", "--leader-election-namespace", "default"])
        .args(["--leader-election-id", "tera-operator-cli-test"])
        .args(["--leader-election-retry-period", "250ms"])
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

    let since = sandbox.request_log().len();
    let mut second = spawn_leader_elected_run(sandbox.kubeconfig_path());
    // While the first leads, the second stands by: the holder does not change. Counted in the
    // sandbox's log: the leader writes the Lease after each of its reads (a renewal), the
    // standby only reads it; one read of the leader may still wait for its write.
    eventually("four attempts of the second instance", || {
        let log = sandbox.request_log();
        let leases = || log[since..].iter().filter(|r| r.resource == "leases");
        let reads = leases()
            .filter(|r| r.verb == "get" && r.status == 200)
            .count();
        let writes = leases().filter(|r| r.is_write()).count();
        // A leader that lost the Lease exits: no need to wait any longer to see it.
        let ended = first.try_wait().expect("wait").is_some();
        async move { (reads >= writes + 1 + 4 || ended).then_some(()) }
    })
    .await;
    assert_eq!(
        lease_holder(&client).await.as_deref(),
        Some(leader.as_str())
    );

    let status = terminate(&mut first).await;
    assert!(status.success(), "the leader exited with {status}");
    let c = client.clone();
    let old = leader.clone();
    let next = eventually("the standby to take the released Lease", || {
        let (c, old) = (c.clone(), old.clone());
        async move { lease_holder(&c).await.filter(|h| *h != old) }
    })
    .await;
    assert_ne!(next, leader);
    let status = terminate(&mut second).await;
    assert!(status.success(), "the second instance exited with {status}");
}
