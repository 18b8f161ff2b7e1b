//! `tera-operator diff` against the sandbox: unified diffs of live against a server-side dry
//! run, created and pruned objects listed, kubectl diff's exit codes, and never a write.

use crate::support as common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// Runs `tera-operator diff ARGS` against the harness's sandbox (in a blocking thread, so the
/// sandbox keeps serving) and returns its output.
async fn diff(h: &Harness, config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tera-operator"));
    command
        .arg("diff")
        .arg("--kubeconfig")
        .arg(h.sandbox.kubeconfig_path())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().expect("diff runs"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every write the sandbox logged after the first `from` requests that was not a dry run.
fn real_writes_since(h: &Harness, from: usize) -> Vec<String> {
    h.sandbox
        .request_log()
        .into_iter()
        .skip(from)
        .filter(|r| r.is_write() && !r.query.split('&').any(|p| p == "dryRun=All"))
        .map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_changes_creations_and_prunes_and_never_writes() {
    let h = Harness::start().await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.create(&balancers(), "default", &example("balancer"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    h.get(&services(), "default", "echo-v3-backend").await;
    // The operator is stopped so nothing but the diff talks to the sandbox from here on.
    let mut h = h;
    h.operator.take().expect("operator").shutdown().await;
    let config = h.mapping_path();
    let dir = tempfile::tempdir().expect("tempdir");
    let before = h.sandbox.request_log().len();

    // Unchanged: nothing to show, exit 0.
    let out = diff(&h, &config, &["examples/webserver.yaml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // A changed spec: the Deployment's replicas, as a unified diff; exit 1.
    let changed = dir.path().join("webserver.yaml");
    let yaml = example("webserver").replace("replicas: 3", "replicas: 5");
    std::fs::write(&changed, &yaml).expect("write");
    let out = diff(&h, &config, &[changed.to_str().expect("path")]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "--- live/apps.v1.Deployment.default.hello\n+++ merged/apps.v1.Deployment.default.hello\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-  replicas: 3\n+  replicas: 5\n"),
        "{stdout}"
    );
    // Server-stamped metadata and status are left out (an ownerReference's uid stays).
    for left_out in [
        "managedFields",
        "\n  resourceVersion:",
        "\nstatus:",
        "\n  uid:",
        "\n  creationTimestamp:",
        "\n  generation:",
    ] {
        assert!(!stdout.contains(left_out), "{left_out} in\n{stdout}");
    }

    // A Balancer without its third backend: that backend's Service would be pruned.
    let two = dir.path().join("balancer.yaml");
    let yaml = example("balancer");
    let cut = yaml.find("    - name: v3").expect("third backend");
    std::fs::write(&two, &yaml[..cut]).expect("write");
    let out = diff(&h, &config, &[two.to_str().expect("path")]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("would prune: Service default/echo-v3-backend"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(
            "--- live/v1.Service.default.echo-v3-backend\n+++ merged/v1.Service.default.echo-v3-backend\n"
        ),
        "{}",
        text(&out.stdout)
    );

    // A resource that does not exist yet: everything it renders would be created.
    let new = dir.path().join("new.yaml");
    std::fs::write(
        &new,
        example("webserver")
            .replace("name: hello", "name: fresh")
            .replace("nodePort: 30080", "nodePort: 30081"),
    )
    .expect("write");
    let out = diff(&h, &config, &[new.to_str().expect("path")]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for kind in ["ConfigMap", "Service", "Deployment"] {
        assert!(
            stderr.contains(&format!("would create: {kind} default/fresh")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("does not exist yet"), "{stderr}");

    // --kind against a changed chart: every live resource of the kind, before the upgrade.
    copy_dir(&h.dir.path().join("charts"), &dir.path().join("charts"));
    let template = dir
        .path()
        .join("charts/webserver/templates/deployment.yaml");
    let source = std::fs::read_to_string(&template).expect("template");
    let upgraded = source.replacen(
        "app.kubernetes.io/component: server",
        "app.kubernetes.io/component: server\n    tier: web",
        1,
    );
    assert_ne!(upgraded, source);
    std::fs::write(&template, upgraded).expect("write");
    let upgraded_config = dir.path().join("charts/watches.yaml");
    let out = diff(
        &h,
        &upgraded_config,
        &["--kind", "WebServer", "-n", "default"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("+    tier: web\n"), "{stdout}");
    assert!(
        stdout.contains("merged/apps.v1.Deployment.default.hello"),
        "{stdout}"
    );
    assert!(!stdout.contains("Balancer"), "{stdout}");
    // The same kind against the charts it runs with: no difference.
    let out = diff(&h, &config, &["--kind", "WebServer"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Errors exit above 1: a kind no mapping entry serves, a resource that does not render.
    let out = diff(&h, &config, &["--kind", "Nothing"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no mapping entry serves kind Nothing"));
    let out = diff(
        &h,
        &config,
        &["examples/invalid/webserver-negative-replicas.yaml"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/spec/replicas: -1 is less than the minimum of 0"),
        "{}",
        text(&out.stderr)
    );

    // Not one of those requests wrote anything: every write was a dry run.
    let writes = real_writes_since(&h, before);
    assert!(writes.is_empty(), "diff wrote: {writes:?}");
    assert!(
        h.sandbox
            .request_log()
            .iter()
            .skip(before)
            .any(|r| r.verb == "patch" && r.query.contains("dryRun=All")),
        "the diff made dry-run applies"
    );
}
