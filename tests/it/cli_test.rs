//! `tera-operator test` end to end: the bundled charts' own tests pass (this is how CI runs
//! them), fail when a template stops wiring a value through, and snapshots are taken, compared
//! and refused when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tera_operator(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run tera-operator")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the bundled charts and examples (the tests read `../../../examples/…`).
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("charts"), &dir.path().join("charts"));
    copy_dir(&repo().join("examples"), &dir.path().join("examples"));
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn bundled_chart_tests_pass() {
    // Every chart of charts/watches.yaml, as CI runs them.
    let out = tera_operator(&repo(), &["test"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PASS  charts/webserver/tests/deployment_test.yaml"),
        "{text}"
    );
    assert!(
        text.contains("PASS  charts/balancer/tests/balancer_test.yaml"),
        "{text}"
    );
    assert!(text.contains(" 0 failed, 0 error(s)"), "{text}");
}

#[test]
fn a_template_that_stops_wiring_replicas_fails_its_tests() {
    for (chart, test_file, test) in [
        (
            "webserver",
            "deployment_test.yaml",
            "wires replicas, image and port through",
        ),
        (
            "balancer",
            "balancer_test.yaml",
            "wires replicas through to the proxy",
        ),
    ] {
        let dir = workspace();
        let chart_dir = dir.path().join("charts").join(chart);
        edit(
            &chart_dir.join("templates/deployment.yaml"),
            "replicas: {{ values.replicas }}",
            "replicas: 1",
        );
        let out = tera_operator(dir.path(), &["test", chart_dir.to_str().unwrap()]);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        // The file, the test, the assertion, the object and the path.
        let failure = text
            .lines()
            .find(|l| l.contains(&format!("{test:?}")))
            .unwrap_or_else(|| panic!("no failure of {test:?} in\n{text}"));
        assert!(failure.contains(&format!("tests/{test_file}")), "{failure}");
        assert!(
            failure.contains("equal: Deployment default/release-name"),
            "{failure}"
        );
        assert!(
            failure.contains("templates/deployment.yaml document 0"),
            "{failure}"
        );
        assert!(failure.contains("expected spec.replicas: "), "{failure}");
        assert!(failure.contains("got 1"), "{failure}");
        assert!(text.contains("FAIL "), "{text}");
    }
}

#[test]
fn snapshots_are_taken_compared_and_required() {
    let dir = workspace();
    let chart = dir.path().join("charts/webserver");
    let snap = chart.join("tests/__snapshot__/service_test.yaml.snap");
    assert!(snap.exists(), "the bundled chart stores its snapshot");
    std::fs::remove_file(&snap).unwrap();
    let chart_arg = chart.to_str().unwrap();

    // A missing snapshot is a failure, never a silent pass.
    let out = tera_operator(dir.path(), &["test", chart_arg]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no stored snapshot 1 in"), "{text}");
    assert!(text.contains("--update-snapshots"), "{text}");

    let out = tera_operator(dir.path(), &["test", chart_arg, "--update-snapshots"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 snapshot(s) stored"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&snap).unwrap(),
        std::fs::read_to_string(
            repo().join("charts/webserver/tests/__snapshot__/service_test.yaml.snap")
        )
        .unwrap(),
        "the snapshot taken is the one stored in the repository"
    );

    // A template change shows as a diff against the stored snapshot.
    edit(
        &chart.join("templates/configmap.yaml"),
        "worker_connections 1024;",
        "worker_connections 2048;",
    );
    let out = tera_operator(dir.path(), &["test", chart_arg]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("differs from snapshot 1"), "{text}");
    let diff_line = |sign: char, count: u32| {
        text.lines().any(|l| {
            l.starts_with(sign)
                && l.trim_start_matches(sign).trim() == format!("worker_connections {count};")
        })
    };
    assert!(diff_line('-', 1024) && diff_line('+', 2048), "{text}");
}

#[test]
fn a_broken_test_file_is_an_error_naming_it() {
    let dir = workspace();
    let chart = dir.path().join("charts/webserver");
    let cases = [
        (
            "tests:\n  - it: typo\n    asserts:\n      - equal: {path: spec.replicas, value: 1}\n        templat: x.yaml\n",
            "line 5 column 9: tests[0].asserts[0]: unknown key `templat`",
        ),
        (
            "tests:\n  - it: no such template\n    template: missing.yaml\n    asserts:\n      - hasDocuments: {count: 1}\n",
            "no template templates/missing.yaml in the chart",
        ),
        (
            "tests:\n  - it: two types\n    asserts:\n      - equal: {path: a, value: 1}\n        exists: {path: a}\n",
            "tests[0] (\"two types\"): asserts[0]: one assertion type per item, found equal, exists",
        ),
        (
            "tests:\n  - it: bad path\n    asserts:\n      - equal: {path: \"spec[x]\", value: 1}\n",
            "path \"spec[x]\"",
        ),
    ];
    for (content, expected) in cases {
        std::fs::write(chart.join("tests/broken_test.yaml"), content).unwrap();
        let out = tera_operator(dir.path(), &["test", chart.to_str().unwrap()]);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains("ERROR "), "{text}");
        assert!(text.contains("tests/broken_test.yaml: "), "{text}");
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
        // The other files still ran.
        assert!(text.contains("PASS  "), "{text}");
    }
}
