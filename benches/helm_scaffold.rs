//! `helm create`'s scaffold: Helm's engine rendering the original against tera-operator
//! rendering its conversion (`migrate helm-chart`), per render, on the same values (printed,
//! not asserted; the aim is ≥10×).
//!
//! Helm is the real Helm v4 engine in-process through helm-python-sdk (the Python of
//! `$TERA_OPERATOR_HELM_PYTHON`, else `.venv/bin/python`); its time is measured inside Python
//! around `Chart.render` only, so Python's start and the chart load are not counted. Ours is
//! `Renderer::render` of a custom resource with a warm engine (validation, stamping and policy
//! included, as the operator renders). `cargo bench --bench helm_scaffold`; set `BENCH_RENDERS`
//! to change the number of timed renders per value set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The allocator the `tera-operator` binary ships with, so the figures are the binary's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{Value, json};
use tera_operator::chart::Chart;
use tera_operator::config::Mapping;
use tera_operator::migrate::helm_chart;
use tera_operator::render::Renderer;

const HELM: &str = r#"
import json, sys, time
import helm_python as helm
directory, count, sets = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
helm.Chart.create("mychart", directory)
chart = helm.Chart.load(directory + "/mychart")
out = []
for values in sets:
    for _ in range(max(count // 10, 1)):
        chart.render(values, name="site", namespace="shop")
    start = time.perf_counter()
    for _ in range(count):
        chart.render(values, name="site", namespace="shop")
    out.append((time.perf_counter() - start) / count)
print(json.dumps(out))
"#;

fn python() -> String {
    std::env::var("TERA_OPERATOR_HELM_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv/bin/python")
            .display()
            .to_string()
    })
}

/// The value sets rendered: the scaffold's defaults, and ingress + autoscaling on.
fn value_sets() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", json!({})),
        (
            "ingress+autoscaling",
            json!({"ingress": {"enabled": true, "hosts": [{"host": "a.example.com",
                   "paths": [{"path": "/", "pathType": "Prefix"}]}],
                   "tls": [{"secretName": "a-tls", "hosts": ["a.example.com"]}]},
                   "autoscaling": {"enabled": true, "targetMemoryUtilizationPercentage": 70},
                   "podAnnotations": {"example.com/team": "shop"}}),
        ),
    ]
}

/// Seconds per render of the original scaffold by Helm, per value set (also writes the
/// scaffold into `dir/mychart`).
fn helm_seconds(dir: &Path, count: usize, sets: &[Value]) -> Vec<f64> {
    let out = Command::new(python())
        .args(["-c", HELM])
        .arg(dir)
        .arg(count.to_string())
        .arg(Value::Array(sets.to_vec()).to_string())
        .output()
        .expect("run python with helm_python (.venv or $TERA_OPERATOR_HELM_PYTHON)");
    assert!(
        out.status.success(),
        "helm-python-sdk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seconds per render")
}

/// The converted scaffold, served by a mapping entry as the operator would serve it.
fn converted(dir: &Path) -> Renderer {
    let output = dir.join("converted");
    let mapping = dir.join("watches.yaml");
    let (_, report) = helm_chart::convert(&helm_chart::Options {
        source: dir.join("mychart"),
        output: output.clone(),
        kind: "MyApp".into(),
        group: "apps.example.com".into(),
        version: "v1alpha1".into(),
        mapping: Some(mapping.clone()),
        kube_version: "v1.33.0".into(),
    })
    .expect("convert the scaffold");
    assert!(report.markers.is_empty(), "{report}");
    let mapping = Mapping::load(&mapping).expect("mapping");
    let watch = mapping
        .find("apps.example.com/v1alpha1", "MyApp")
        .expect("entry");
    Renderer::new(Chart::load(&output).expect("chart"), watch).expect("renderer")
}

fn ours_seconds(renderer: &Renderer, count: usize, values: &Value) -> f64 {
    let cr = json!({"apiVersion": "apps.example.com/v1alpha1", "kind": "MyApp",
                    "metadata": {"name": "site", "namespace": "shop",
                                 "uid": "5f0c1d2e-0000-4000-8000-000000000001", "generation": 1},
                    "spec": values});
    for _ in 0..count.div_ceil(10) {
        std::hint::black_box(renderer.render(&cr, "shop").expect("render"));
    }
    let start = Instant::now();
    for _ in 0..count {
        std::hint::black_box(renderer.render(&cr, "shop").expect("render"));
    }
    start.elapsed().as_secs_f64() / count as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; under `cargo test --all-targets` this is a small smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("BENCH_RENDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 300 } else { 3 });
    let temp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = temp.path().to_path_buf();
    let sets = value_sets();
    let values: Vec<Value> = sets.iter().map(|(_, v)| v.clone()).collect();
    let helm = helm_seconds(&dir, count, &values);
    let renderer = converted(&dir);
    println!("helm create scaffold, {count} renders per value set (per render):");
    for ((name, values), helm) in sets.iter().zip(helm) {
        let ours = ours_seconds(&renderer, count * 10, values);
        println!(
            "  {name:<20} Helm v4 engine {:>8.1} µs   tera-operator {:>7.1} µs   {:>5.1}× faster",
            helm * 1e6,
            ours * 1e6,
            helm / ours
        );
    }
}
