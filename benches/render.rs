//! Render throughput with a warm engine: the bundled examples and a synthetic 20-template chart.
//! Validation, stamping and policy are included; each iteration renders one custom resource.

use std::path::{Path, PathBuf};

/// The allocator the `tera-operator` binary ships with, so the figures are the binary's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tera_operator::chart::{Chart, ChartMeta, TemplateFile};
use tera_operator::config::{AllowedKind, Mapping};
use tera_operator::render::Renderer;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example(file: &str) -> (Value, Renderer) {
    let mapping = Mapping::load(&root().join("charts/watches.yaml")).expect("mapping");
    let text = std::fs::read_to_string(root().join(file)).expect("example");
    let mut resource: Value = serde_yaml::from_str(&text).expect("yaml");
    resource["metadata"]["uid"] = json!("5f0c1d2e-0000-4000-8000-000000000001");
    resource["metadata"]["namespace"] = json!("default");
    let watch = mapping
        .find(
            resource["apiVersion"].as_str().unwrap_or_default(),
            resource["kind"].as_str().unwrap_or_default(),
        )
        .expect("mapped");
    let renderer =
        Renderer::new(Chart::load(&watch.chart_dir).expect("chart"), watch).expect("renderer");
    (resource, renderer)
}

fn synthetic() -> (Value, Renderer) {
    let meta: ChartMeta = serde_yaml::from_str("name: synthetic\nversion: 1.0.0\n").expect("meta");
    let templates = (0..20)
        .map(|i| TemplateFile {
            name: format!("templates/cm{i:02}.yaml"),
            source: format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ release.name }}}}-{i}\n  labels:\n    tier: {{{{ values.tier }}}}\ndata:\n  greeting: {{{{ values.greeting }}}}\n  replicas: \"{{{{ values.replicas }}}}\"\n{{%- for key, value in values.settings %}}\n  {{{{ key }}}}: {{{{ value }}}}\n{{%- endfor %}}\n"
            ),
            partial: false,
        })
        .collect();
    let chart = Chart {
        dir: PathBuf::from("synthetic"),
        meta,
        defaults: json!({"tier": "gold", "greeting": "hello", "replicas": 2, "settings": {"a": "1", "b": "two", "c": "three"}}),
        schema: None,
        templates,
        status_schema: None,
    };
    let renderer = Renderer::with_settings(
        chart,
        AllowedKind::builtin("ConfigMap").into_iter().collect(),
        json!({}),
    )
    .expect("renderer");
    let resource = json!({
        "apiVersion": "bench.tera-operator.io/v1",
        "kind": "Synthetic",
        "metadata": {"name": "bench", "namespace": "default", "uid": "5f0c1d2e-0000-4000-8000-000000000002"},
        "spec": {"greeting": "hi\nthere"},
    });
    (resource, renderer)
}

/// 1,000 distinct custom resources of the same shape (names, images and content differ),
/// rendered round-robin, as an operator sees them.
fn population(resource: &Value) -> Vec<Value> {
    (0..1000)
        .map(|i| {
            let mut r = resource.clone();
            r["metadata"]["name"] = json!(format!(
                "{}-{i}",
                r["metadata"]["name"].as_str().unwrap_or("cr")
            ));
            r["metadata"]["uid"] = json!(format!("5f0c1d2e-0000-4000-8000-{i:012}"));
            if r["spec"].get("image").is_some() {
                r["spec"]["image"] = json!(format!("nginx:1.{}", i % 30));
            }
            r
        })
        .collect()
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for (name, (resource, renderer)) in [
        ("webserver", example("examples/webserver.yaml")),
        ("balancer", example("examples/balancer.yaml")),
        ("synthetic_20_templates", synthetic()),
    ] {
        let resources = population(&resource);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % resources.len();
                renderer
                    .render(std::hint::black_box(&resources[i]), "default")
                    .expect("render")
            })
        });
        let uncached = renderer.without_skeleton_cache();
        group.bench_function(format!("{name}_uncached"), |b| {
            b.iter(|| {
                i = (i + 1) % resources.len();
                uncached
                    .render(std::hint::black_box(&resources[i]), "default")
                    .expect("render")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
