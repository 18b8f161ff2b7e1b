//! Logs people can read: plain text (no ANSI colours) when stderr is not a terminal, and
//! structured fields as values, not Rust Debug output (`object=default/hello`, never `Some("hello")`).

use crate::support as common;

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::*;
use tera_sandbox::{Sandbox, SandboxConfig};

/// Starts `tera-operator run` against `sandbox` with `--log-format FORMAT`, stderr piped; every
/// line it logs is collected.
fn run_operator(
    sandbox: &Sandbox,
    config: &std::path::Path,
    format: &str,
) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .arg("--config")
        .arg(config)
        .args(["--metrics-addr", "127.0.0.1:0", "--log-format", format])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr is piped");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines").push(line);
        }
    });
    (child, lines)
}

async fn logged(
    lines: &Arc<Mutex<Vec<String>>>,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> String {
    eventually(what, || async {
        lines.lock().ok()?.iter().find(|l| wanted(l)).cloned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_to_a_pipe_are_plain_text_with_readable_fields() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    sandbox
        .install_crds(std::path::Path::new("crds"))
        .expect("crds");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(std::path::Path::new("charts"), &dir.path().join("charts"));
    let config = dir.path().join("charts/watches.yaml");
    let (mut child, lines) = run_operator(&sandbox, &config, "text");

    let api = kube::Api::<kube::api::DynamicObject>::namespaced_with(
        sandbox.client(),
        "default",
        &webservers(),
    );
    let object: kube::api::DynamicObject =
        serde_yaml::from_str(&example("webserver")).expect("example");
    api.create(&Default::default(), &object)
        .await
        .expect("create");
    let applied = logged(&lines, "the applied line", |l| l.contains("applied")).await;
    assert!(applied.contains("object=default/hello"), "{applied}");
    assert!(applied.contains("Deployment hello"), "{applied}");
    assert!(!applied.contains('['), "a list printed as Debug: {applied}");

    // A refused chart reload is logged too, naming the file.
    let template = dir.path().join("charts/webserver/templates/service.yaml");
    let good = std::fs::read_to_string(&template).expect("template");
    std::fs::write(&template, format!("{good}\n# {{{{ values.nope }}}}\n")).expect("write");
    let refused = logged(&lines, "the refusal line", |l| {
        l.contains("the new chart is broken")
    })
    .await;
    assert!(
        refused.contains("values.yaml: these values do not render"),
        "{refused}"
    );
    assert!(refused.contains("templates/service.yaml"), "{refused}");
    let _ = child.kill();
    let _ = child.wait();

    let all = lines.lock().expect("lines").join("\n");
    assert!(
        !all.contains('\u{1b}'),
        "ANSI escape codes in a piped log:\n{all}"
    );
    assert!(!all.contains("Some("), "Debug output in the log:\n{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_fields_are_plain_values() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    sandbox
        .install_crds(std::path::Path::new("crds"))
        .expect("crds");
    let (mut child, lines) = run_operator(
        &sandbox,
        std::path::Path::new("charts/watches.yaml"),
        "json",
    );
    let api = kube::Api::<kube::api::DynamicObject>::namespaced_with(
        sandbox.client(),
        "default",
        &webservers(),
    );
    let object: kube::api::DynamicObject =
        serde_yaml::from_str(&example("webserver")).expect("example");
    api.create(&Default::default(), &object)
        .await
        .expect("create");
    let applied = logged(&lines, "the applied entry", |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|e| e["fields"]["message"] == "applied")
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let entry: serde_json::Value = serde_json::from_str(&applied).expect("json");
    assert_eq!(entry["fields"]["object"], "default/hello", "{entry}");
    let objects = entry["fields"]["applied"].as_str().expect("a string");
    assert!(objects.contains("Deployment hello"), "{entry}");
    assert!(!objects.contains('['), "{entry}");
}
