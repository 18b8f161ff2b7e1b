//! Sandbox figures (printed, never asserted): create 10,000 ConfigMaps through kube-rs, list them
//! back, measure how soon a watcher sees each change, and how memory grows with what is stored.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;
use tera_sandbox::{Sandbox, SandboxConfig};

/// The allocator `tera-operator sandbox` runs with (see src/main.rs), so the figures are the
/// shipped server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn cm(i: usize) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "yes"}}, "data": {"index": i.to_string(), "payload": "x".repeat(100)}}))
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

async fn run(n: usize) {
    let sb = Sandbox::start(SandboxConfig {
        history_limit: 1000,
        ..Default::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let rss_before = rss_kib();

    let t = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &cm(i)).await.map(|_| ()) }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let create = t.elapsed();
    let rss_after = rss_kib();

    let t = Instant::now();
    let all = api.list(&ListParams::default()).await.unwrap();
    let list = t.elapsed();
    assert_eq!(all.items.len(), n);
    let t = Instant::now();
    let mut paged = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = api.list(&lp).await.unwrap();
        paged += page.items.len();
        match page.metadata.continue_ {
            Some(c) => lp = ListParams::default().limit(500).continue_token(&c),
            None => break,
        }
    }
    let list_paged = t.elapsed();
    assert_eq!(paged, n);

    let rv = all.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .unwrap()
        .boxed();
    let mut latencies = Vec::new();
    for i in 0..500 {
        let name = format!("watched-{i}");
        let t = Instant::now();
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await
        .unwrap();
        loop {
            if let Some(WatchEvent::Added(c)) = stream.try_next().await.unwrap()
                && c.metadata.name.as_deref() == Some(name.as_str())
            {
                break;
            }
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();

    println!(
        "sandbox figures ({n} ConfigMaps of ~100 bytes, kube-rs client, 16 concurrent creates)"
    );
    println!(
        "  create:           {create:?} total, {:.0} creates/s",
        n as f64 / create.as_secs_f64()
    );
    println!("  list (one page):  {list:?}");
    println!("  list (500/page):  {list_paged:?}");
    println!(
        "  create→watch:     p50 {:?}, p99 {:?}, max {:?} (500 changes)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!(
        "  memory (RSS):     {} KiB before, {} KiB after ({:.1} KiB per stored object, including client-side garbage)",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / n as f64
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; under `cargo test --benches` this runs as a small smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("SANDBOX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 200 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}
