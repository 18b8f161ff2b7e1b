//! Scale figures of the controller (printed, not asserted): 1,000 and 10,000 WebServers against the sandbox.
//!
//! The operator runs as its own process (`tera-operator run`) so its peak RSS is its own. Each
//! run prints time until all are Ready, API requests and writes per resource while creating,
//! reconciles per resource, write requests during a full periodic resync (target 0), CPU while
//! idle and the operator's peak RSS; the end prints a table of all runs against the targets of
//! issue 14 and the memory each further resource costs (from the first and last run's RSS).
//!
//! `cargo bench --bench controller_scale` (set `BENCH_CRS` to a count or a list, e.g.
//! `BENCH_CRS=1000,5000,10000`). The operator process inherits the environment (e.g.
//! `MALLOC_ARENA_MAX` for glibc's allocator). `BENCH_OPERATOR_PREFIX` runs the operator under a
//! profiler, e.g. `BENCH_OPERATOR_PREFIX=heaptrack` (split at spaces; the profiler must exec
//! the operator so that its pid, whose RSS and CPU are read, is the operator's).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

/// The sandbox runs in this process: on mimalloc, as `tera-operator sandbox` does (the
/// system allocator took about a quarter of its CPU in a profile of a 3,000 run).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

async fn scrape(addr: &str, metric: &str) -> Option<f64> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await.ok()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with(metric))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process's resident memory now, split into heap and stacks (anonymous) and mapped files
/// (the binary's code and data), and its thread count: where the peak RSS lives.
fn memory_now(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(format!(
        "{:.1} MiB ({:.1} MiB anonymous, {:.1} MiB files), {} threads",
        field("VmRSS:")? as f64 / 1024.0,
        field("RssAnon:")? as f64 / 1024.0,
        field("RssFile:")? as f64 / 1024.0,
        field("Threads:")?
    ))
}

/// CPU time (user + system) the process has used so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state, ppid, …; utime and stime are the 12th and 13th.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn is_ready(o: &DynamicObject) -> bool {
    o.data["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Follows the WebServers with one watch (re-watched from its last resourceVersion if the
/// server ends it, counted in `rewatches`) and publishes how many are Ready.
/// A watch costs the sandbox one event per change, where polling full lists of 10,000
/// objects four times a second took a large share of its CPU.
fn follow_ready(
    api: Api<DynamicObject>,
    mut rv: String,
    ready_tx: tokio::sync::watch::Sender<usize>,
    rewatches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ready = std::collections::HashSet::new();
        loop {
            let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &rv).await else {
                return;
            };
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(event)) = stream.next().await {
                let (object, deleted) = match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => (o, false),
                    WatchEvent::Deleted(o) => (o, true),
                    WatchEvent::Bookmark(b) => {
                        rv = b.metadata.resource_version;
                        continue;
                    }
                    WatchEvent::Error(e) => panic!("the bench's WebServer watch: {e:?}"),
                };
                if let Some(v) = &object.metadata.resource_version {
                    rv = v.clone();
                }
                let name = object.metadata.name.clone().unwrap_or_default();
                if !deleted && is_ready(&object) {
                    ready.insert(name);
                } else {
                    ready.remove(&name);
                }
                ready_tx.send_replace(ready.len());
            }
            rewatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    })
}

/// What one run measured, for the figures across runs.
struct Figures {
    count: usize,
    all_ready: Duration,
    writes_per_cr: f64,
    reconciles_per_cr: f64,
    resync_writes: usize,
    rss_kib: Option<u64>,
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; under `cargo test --all-targets` this is a small smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let counts: Vec<usize> = match std::env::var("BENCH_CRS") {
        Ok(list) => list
            .split(',')
            .filter_map(|c| c.trim().replace('_', "").parse().ok())
            .collect(),
        Err(_) if full => vec![1000, 10_000],
        Err(_) => vec![20],
    };
    let mut runs = Vec::new();
    for count in counts {
        runs.push(run(count, full).await);
    }
    summarize(&runs);
}

/// The table of every run against the targets of issue 14, and the memory each further
/// resource (with its 3 children) costs the operator, from the first and the last run.
fn summarize(runs: &[Figures]) {
    println!();
    println!(
        "| resources | all Ready | writes per resource (its create included) | reconciles per resource | writes on resync | peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    for r in runs {
        println!(
            "| {} | {:.1} s | {:.2} | {:.2} | {} | {} |",
            r.count,
            r.all_ready.as_secs_f64(),
            r.writes_per_cr + 1.0,
            r.reconciles_per_cr,
            r.resync_writes,
            r.rss_kib.map_or("unknown".to_string(), |k| format!(
                "{:.1} MiB",
                k as f64 / 1024.0
            ))
        );
    }
    if let (Some(first), Some(last)) = (runs.first(), runs.last())
        && last.count > first.count
        && let (Some(a), Some(b)) = (first.rss_kib, last.rss_kib)
    {
        println!(
            "marginal memory: {:.2} KiB per resource (peak RSS from {} to {} resources)",
            (b as f64 - a as f64) / (last.count - first.count) as f64,
            first.count,
            last.count
        );
    }
    println!(
        "targets (issue 14): peak RSS at 1,000 <= 32 MiB; marginal <= 6 KiB per resource; 10,000 Ready <= 30 s; <= 3 reconciles and <= 6 writes per resource; 0 writes on resync; 0 CPU idle"
    );
}

/// Creates `count` WebServers against a fresh sandbox and operator and prints what it took.
async fn run(count: usize, full: bool) -> Figures {
    // Longer than it takes all to become Ready, so that "reconciles until all Ready" counts
    // no periodic resync; the resync is measured after, on its own.
    let resync_period = match (full, count) {
        (false, _) => 2,
        (true, ..=2_000) => 30,
        (true, _) => 120,
    };
    let sandbox = Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    sandbox.install_crds(&root().join("crds")).expect("crds");
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = dir.path().join("watches.yaml");
    std::fs::write(
        &mapping,
        format!(
            "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  reconcilePeriod: {resync_period}s\n  maxConcurrentReconciles: 8\n",
            root().join("charts/webserver").display()
        ),
    )
    .expect("mapping");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let addr = format!("127.0.0.1:{port}");
    let prefix = std::env::var("BENCH_OPERATOR_PREFIX").unwrap_or_default();
    let mut words = prefix
        .split_whitespace()
        .chain([env!("CARGO_BIN_EXE_tera-operator")]);
    let mut command = Command::new(words.next().expect("a program"));
    let mut operator = command
        .args(words)
        .arg("run")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .arg("--config")
        .arg(&mapping)
        .args(["--metrics-addr", &addr, "--no-hot-reload"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the operator");
    while scrape(&addr, "tera_operator_reconciles_total")
        .await
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("web.tera-operator.io", "v1alpha1", "WebServer"),
        "webservers",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(sandbox.client(), "default", &resource);
    let rv = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .unwrap_or_default();
    let (ready_tx, mut ready_rx) = tokio::sync::watch::channel(0usize);
    let rewatches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watching = sandbox.hooks().watch_stats().started;
    let follower = follow_ready(api.clone(), rv, ready_tx, rewatches.clone());
    // The bench's watch is open before the log is cleared and the creates start.
    while sandbox.hooks().watch_stats().started == watching {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sandbox.hooks().clear_request_log();
    let reconciles_before = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0);
    let watches_before = sandbox.hooks().watch_stats();
    let rv_before = sandbox.resource_version();
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            async move {
                let object: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
                    "metadata": {"name": format!("ws-{i:05}")},
                    "spec": {"replicas": 1, "image": "nginx:1.28"}
                }))
                .expect("object");
                api.create(&PostParams::default(), &object)
                    .await
                    .expect("create");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let created = started.elapsed();
    let mut next_progress = Duration::from_secs(10);
    loop {
        let ready = *ready_rx.borrow_and_update();
        if ready == count {
            break;
        }
        if started.elapsed() >= next_progress {
            next_progress += Duration::from_secs(10);
            let w = sandbox.hooks().watch_stats();
            println!(
                "  … {:>4.0} s: {} of {count} Ready, {:.0} reconciles; watches {} started, {} ended for lagging, {} answered 410 Gone",
                started.elapsed().as_secs_f64(),
                ready,
                scrape(&addr, "tera_operator_reconciles_total")
                    .await
                    .unwrap_or(0.0)
                    - reconciles_before,
                w.started - watches_before.started,
                w.lagged - watches_before.lagged,
                w.gone - watches_before.gone,
            );
        }
        if started.elapsed() > Duration::from_secs(900) {
            println!("gave up: only {ready} of {count} Ready after 900 s");
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), ready_rx.changed()).await;
    }
    let all_ready = started.elapsed();
    follower.abort();
    let changes = sandbox.resource_version() - rv_before;
    let memory_at_ready = memory_now(operator.id());
    let reconciles_after = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0);
    // Where the time went: seconds spent inside reconciles (summed over the concurrent ones).
    let reconcile_seconds = scrape(&addr, "tera_operator_reconcile_duration_seconds_sum")
        .await
        .unwrap_or(0.0);
    let reconcile_count = scrape(&addr, "tera_operator_reconcile_duration_seconds_count")
        .await
        .unwrap_or(0.0);
    let operator_cpu_s = cpu_ticks(operator.id()).map_or(0.0, |t| t as f64 / 100.0);
    let sandbox_cpu_s = cpu_ticks(std::process::id()).map_or(0.0, |t| t as f64 / 100.0);
    let log = sandbox.request_log();
    // The bench's creates and re-watches (its first watch was opened before the log was cleared).
    let own = count + rewatches.load(std::sync::atomic::Ordering::Relaxed);
    let operator_requests = log.len().saturating_sub(own);
    let operator_writes = log
        .iter()
        .filter(|r| r.is_write())
        .count()
        .saturating_sub(count);
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for r in log.iter().filter(|r| r.is_write()) {
        *by_kind
            .entry(format!("{} {}", r.verb, r.resource))
            .or_default() += 1;
    }
    // Lists and watches the operator made (a relist after 410 Gone is one more list).
    let mut reads: std::collections::BTreeMap<String, usize> = Default::default();
    for r in log.iter().filter(|r| r.verb == "list" || r.verb == "watch") {
        *reads
            .entry(format!("{} {}", r.verb, r.resource))
            .or_default() += 1;
    }
    let watches = sandbox.hooks().watch_stats();

    // A full periodic resync: every resource reconciled once more, nothing changed.
    sandbox.hooks().clear_request_log();
    let resync_start = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0);
    let resync_started = Instant::now();
    while scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0)
        < resync_start + count as f64
        && resync_started.elapsed() < Duration::from_secs(resync_period * 4)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let resync_reconciles = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0)
        - resync_start;
    let resync_writes: Vec<Value> = sandbox
        .request_log()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| json!(format!("{} {}", r.method, r.path)))
        .collect();
    // Settled and between resyncs: what an idle operator costs.
    let idle_window = Duration::from_secs((resync_period / 3).clamp(1, 10));
    let idle_before = cpu_ticks(operator.id());
    let idle_reconciles_before = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0);
    sandbox.hooks().clear_request_log();
    tokio::time::sleep(idle_window).await;
    // Resyncs are due per resource (reconcilePeriod after its last reconcile), so the ones of
    // resources created late fall into this window: counted, to tell their CPU from idling.
    let idle_reconciles = scrape(&addr, "tera_operator_reconciles_total")
        .await
        .unwrap_or(0.0)
        - idle_reconciles_before;
    let idle_ticks = cpu_ticks(operator.id())
        .zip(idle_before)
        .map(|(a, b)| a - b);
    let idle_requests = sandbox.request_log().len();
    let rss = peak_rss_kib(operator.id());
    let memory_at_end = memory_now(operator.id());
    let bench_rss = peak_rss_kib(std::process::id());
    let _ = Command::new("kill")
        .args(["-TERM", &operator.id().to_string()])
        .status();
    let _ = operator.wait();

    println!(
        "controller_scale: {count} WebServers against the sandbox (operator in its own process)"
    );
    println!(
        "  created in                        {:>8.2} s",
        created.as_secs_f64()
    );
    println!(
        "  all Ready after                   {:>8.2} s",
        all_ready.as_secs_f64()
    );
    println!(
        "  API requests per CR (creation)    {:>8.2}  ({} requests, {} writes = {:.2} per CR)",
        operator_requests as f64 / count as f64,
        operator_requests,
        operator_writes,
        operator_writes as f64 / count as f64
    );
    println!("  writes while creating, by verb and resource: {by_kind:?}");
    println!("  operator lists and watches while creating: {reads:?}");
    println!(
        "  changes the sandbox stored until all Ready: {changes} ({:.1} per CR)",
        changes as f64 / count as f64
    );
    println!(
        "  watches until all Ready: {} started, {} ended for lagging, {} answered 410 Gone",
        watches.started - watches_before.started,
        watches.lagged - watches_before.lagged,
        watches.gone - watches_before.gone
    );
    println!(
        "  reconciles until all Ready        {:>8}  ({:.1} per CR, {:.0} per s)",
        reconciles_after - reconciles_before,
        (reconciles_after - reconciles_before) / count as f64,
        (reconciles_after - reconciles_before) / all_ready.as_secs_f64()
    );
    println!(
        "  time inside reconciles            {:>8.2} s  ({:.1} ms each on average)",
        reconcile_seconds,
        1000.0 * reconcile_seconds / reconcile_count.max(1.0),
    );
    println!(
        "  CPU until all Ready               {:>8.2} s operator, {:.2} s bench process (sandbox and bench, all runs so far)",
        operator_cpu_s, sandbox_cpu_s
    );
    println!(
        "  writes during a full resync       {:>8}  ({} reconciles observed)",
        resync_writes.len(),
        resync_reconciles
    );
    match idle_ticks {
        Some(ticks) => println!(
            "  operator CPU while idle           {:>8.0} ms over {} s  ({} API requests, {} resync reconciles due in the window)",
            ticks as f64 * 10.0,
            idle_window.as_secs(),
            idle_requests,
            idle_reconciles
        ),
        None => println!("  operator CPU while idle           unknown"),
    }
    match rss {
        Some(kib) => println!(
            "  operator peak RSS                 {:>8.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("  operator peak RSS                 unknown"),
    }
    println!(
        "  operator resident when all Ready: {}; after the resync and idle window: {}",
        memory_at_ready.as_deref().unwrap_or("unknown"),
        memory_at_end.as_deref().unwrap_or("unknown")
    );
    if let Some(kib) = bench_rss {
        println!(
            "  bench process peak RSS            {:>8.1} MiB  (the sandbox, {} objects, and the bench's lists)",
            kib as f64 / 1024.0,
            4 * count
        );
    }
    if !resync_writes.is_empty() {
        println!(
            "  first resync writes: {:?}",
            &resync_writes[..resync_writes.len().min(5)]
        );
    }
    Figures {
        count,
        all_ready,
        writes_per_cr: operator_writes as f64 / count as f64,
        reconciles_per_cr: (reconciles_after - reconciles_before) / count as f64,
        resync_writes: resync_writes.len(),
        rss_kib: rss,
    }
}
