//! The offline CLI end to end: `render` of every example (snapshotted), errors for every invalid
//! example, and `lint` of the bundled charts.

use std::path::Path;
use std::process::{Command, Output};

fn tera_operator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tera-operator")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn render_webserver_example() {
    let out = tera_operator(&["render", "examples/webserver.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("render_webserver", stdout(&out));
}

#[test]
fn render_balancer_example() {
    let out = tera_operator(&["render", "examples/balancer.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("render_balancer", stdout(&out));
}

#[test]
fn render_json_several_files_and_namespace() {
    let out = tera_operator(&[
        "render",
        "examples/webserver.yaml",
        "examples/balancer.yaml",
        "-o",
        "json",
        "--namespace",
        "shop",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let objects: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "ConfigMap/hello",
            "Service/hello",
            "Deployment/hello",
            "ConfigMap/echo-proxy",
            "Service/echo",
            "Service/echo-v1-backend",
            "Service/echo-v2-backend",
            "Service/echo-v3-backend",
            "Deployment/echo-proxy",
        ]
    );
    assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "shop"));
}

#[test]
fn render_with_explicit_chart_and_stdin_style_multi_doc() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.yaml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webserver.yaml"),
    )
    .unwrap();
    std::fs::write(
        &file,
        format!("{text}---\n{}", text.replace("name: hello", "name: second")),
    )
    .unwrap();
    let out = tera_operator(&[
        "render",
        file.to_str().unwrap(),
        "--chart",
        "charts/webserver",
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let objects: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(objects.len(), 6);
    assert_eq!(objects[3]["metadata"]["name"], "second");
}

#[test]
fn render_is_deterministic() {
    let a = stdout(&tera_operator(&["render", "examples/balancer.yaml"]));
    let b = stdout(&tera_operator(&["render", "examples/balancer.yaml"]));
    assert_eq!(a, b);
}

#[test]
fn invalid_examples_fail_with_pinned_messages() {
    let mut report = String::new();
    let mut files: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/invalid"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    files.sort();
    assert!(files.len() >= 6);
    for file in files {
        let rel = format!(
            "examples/invalid/{}",
            file.file_name().unwrap().to_string_lossy()
        );
        let out = tera_operator(&["render", &rel]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{rel} should be refused:\n{}",
            stdout(&out)
        );
        assert!(stdout(&out).is_empty(), "{rel} printed objects");
        report.push_str(&format!("{rel}\n{}\n", stderr(&out)));
    }
    insta::assert_snapshot!("invalid_examples", report);
}

#[test]
fn unmapped_kind_and_bad_files_are_user_errors() {
    let dir = tempfile::tempdir().unwrap();
    let unmapped = dir.path().join("unmapped.yaml");
    std::fs::write(
        &unmapped,
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    .unwrap();
    let out = tera_operator(&["render", unmapped.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no entry for example.com/v1 Widget in charts/watches.yaml"),
        "{}",
        stderr(&out)
    );

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "apiVersion: v1\nkind: [\n").unwrap();
    let out = tera_operator(&["render", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken.yaml: line"),
        "{}",
        stderr(&out)
    );

    let out = tera_operator(&["render", "does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does-not-exist.yaml: cannot read"),
        "{}",
        stderr(&out)
    );

    let out = tera_operator(&[
        "render",
        "examples/webserver.yaml",
        "--config",
        "nope/watches.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nope/watches.yaml: cannot read the mapping file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lint_passes_on_bundled_charts() {
    let out = tera_operator(&["lint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 chart(s) linted: 0 error(s), 0 warning(s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lint_reports_every_broken_file_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("broken");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "name: Broken_Chart\nversion: one\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "replicas: -3\n").unwrap();
    std::fs::write(chart.join("values.schema.json"), "{\"type\": \"object\", \"properties\": {\"replicas\": {\"type\": \"integer\", \"minimum\": 0}}}").unwrap();
    std::fs::write(
        chart.join("templates/a.yaml"),
        "kind: ConfigMap\nmetadata:\n  name: {% if %}\n",
    )
    .unwrap();
    let out = tera_operator(&["lint", chart.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Chart.yaml: name: \"Broken_Chart\" must be a DNS label"),
        "{err}"
    );

    std::fs::write(chart.join("Chart.yaml"), "name: broken\nversion: 1.0.0\n").unwrap();
    let out = tera_operator(&["lint", chart.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("templates/a.yaml:3:"), "{err}");

    std::fs::write(
        chart.join("templates/a.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n",
    )
    .unwrap();
    let out = tera_operator(&["lint", chart.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        err.contains("values.yaml: /replicas: -3 is less than the minimum of 0"),
        "{err}"
    );

    std::fs::write(chart.join("values.yaml"), "replicas: 1\n").unwrap();
    let out = tera_operator(&["lint", chart.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(err.contains("kind ClusterRole is not allowed"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn yaml_aliases_that_expand_without_bound_are_refused() {
    // The "billion laughs": nine levels of nine aliases would expand to 387 million strings.
    let mut doc = String::from(
        "apiVersion: web.tera-operator.io/v1alpha1\nkind: WebServer\nmetadata:\n  name: lol\nspec:\n  l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for level in 1..9 {
        let previous = format!("*l{}", level - 1);
        let items = [previous.as_str(); 9].join(", ");
        doc.push_str(&format!("  l{level}: &l{level} [{items}]\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("laughs.yaml");
    std::fs::write(&file, doc).unwrap();
    let out = tera_operator(&["render", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("laughs.yaml") && stderr(&out).contains("repetition limit"),
        "{}",
        stderr(&out)
    );
}
