//! Shared harness for controller tests: a sandbox, a copy of the bundled charts, a running operator.
#![allow(dead_code)]

pub mod examples;
pub mod gate;
pub mod helm_python;
pub mod watch_log;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};
use tera_operator::controller::{Operator, Options};
use tera_sandbox::{Sandbox, SandboxConfig};

/// Poll interval of [`eventually`].
pub const POLL: Duration = Duration::from_millis(50);
/// Longest wait of [`eventually`].
pub const WAIT: Duration = Duration::from_secs(20);

/// Polls `check` every 50 ms until it returns `Some`, for at most 20 s; panics naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {WAIT:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A permissive CRD (any spec, status subresource) for a kind of `web.tera-operator.io`.
pub fn crd(kind: &str, plural: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.web.tera-operator.io")},
        "spec": {"group": "web.tera-operator.io", "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    })
}

/// The API resource of a `web.tera-operator.io/v1alpha1` kind.
pub fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("web.tera-operator.io", "v1alpha1", kind),
        plural,
    )
}

/// The API resource of a built-in kind.
pub fn builtin(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// A sandbox with the WebServer and Balancer CRDs, a copy of `charts/` and a running operator.
pub struct Harness {
    pub sandbox: Sandbox,
    pub operator: Option<Operator>,
    pub dir: tempfile::TempDir,
    pub client: kube::Client,
}

impl Harness {
    /// Starts everything with the bundled mapping and all namespaces.
    pub async fn start() -> Self {
        Self::start_with(None, Vec::new()).await
    }

    /// Starts everything with `mapping` (or the bundled one) and `namespaces`.
    pub async fn start_with(mapping: Option<&str>, namespaces: Vec<String>) -> Self {
        Self::start_full(mapping, namespaces, false).await
    }

    /// Starts everything; with `install_crds` the operator applies CRDs for kinds it serves.
    pub async fn start_full(
        mapping: Option<&str>,
        namespaces: Vec<String>,
        install_crds: bool,
    ) -> Self {
        let mut harness = Self::without_operator(mapping).await;
        harness.start_operator(namespaces, install_crds).await;
        harness
    }

    /// Starts everything with the bundled mapping and all namespaces; the operator talks to
    /// the sandbox through a [`gate::Gate`], the test directly.
    pub async fn start_gated() -> (Self, gate::Gate) {
        let mut harness = Self::without_operator(None).await;
        let gate = gate::Gate::start(harness.client.clone()).await;
        harness
            .start_operator_on(gate.client(), Vec::new(), false)
            .await;
        (harness, gate)
    }

    /// The sandbox with the CRDs and a copy of the charts (`mapping` replaces the bundled one).
    pub async fn without_operator(mapping: Option<&str>) -> Self {
        Self::without_operator_on(
            mapping,
            SandboxConfig {
                workload_delay: Duration::from_millis(50),
                ..Default::default()
            },
        )
        .await
    }

    /// [`Harness::without_operator`] on a sandbox configured as `config` says.
    pub async fn without_operator_on(mapping: Option<&str>, config: SandboxConfig) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(Path::new("charts"), &dir.path().join("charts"));
        if let Some(mapping) = mapping {
            std::fs::write(dir.path().join("charts/watches.yaml"), mapping).expect("mapping");
        }
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let client = sandbox.client();
        for (kind, plural) in [("WebServer", "webservers"), ("Balancer", "balancers")] {
            create_crd(&client, kind, plural).await;
        }
        Self {
            sandbox,
            operator: None,
            dir,
            client,
        }
    }

    /// The writes made during `resyncs` reconciles of `kinds`, counted once the events of the
    /// last writes have settled (two reconciles after now): what a steady state costs.
    pub async fn writes_during_resyncs(&self, kinds: &[&str], resyncs: u64) -> Vec<String> {
        let metrics = self.metrics();
        let count = || {
            kinds
                .iter()
                .map(|k| metrics.reconcile_count(k))
                .sum::<u64>()
        };
        let settle = count() + 2;
        eventually("two reconciles after Ready", || async {
            (count() >= settle).then_some(())
        })
        .await;
        self.sandbox.hooks().clear_request_log();
        let start = count();
        eventually(&format!("{resyncs} reconciles of a resync"), || async {
            (count() >= start + resyncs).then_some(())
        })
        .await;
        self.writes()
    }

    /// Starts (or restarts) the operator.
    pub async fn start_operator(&mut self, namespaces: Vec<String>, install_crds: bool) {
        self.start_operator_on(self.client.clone(), namespaces, install_crds)
            .await;
    }

    /// Starts (or restarts) the operator with `client`.
    pub async fn start_operator_on(
        &mut self,
        client: kube::Client,
        namespaces: Vec<String>,
        install_crds: bool,
    ) {
        let options = Options {
            config: self.mapping_path(),
            namespaces,
            metrics_addr: None,
            install_crds,
            force_crd_changes: false,
            hot_reload: true,
        };
        let operator = Operator::start(client, options)
            .await
            .expect("operator starts");
        let op = &operator;
        eventually("the operator's caches to sync", || async {
            op.is_ready().then_some(())
        })
        .await;
        self.operator = Some(operator);
    }

    /// The running operator's metrics.
    pub fn metrics(&self) -> std::sync::Arc<tera_operator::controller::metrics::Metrics> {
        self.operator.as_ref().expect("operator").metrics().clone()
    }

    /// The value of one series of the operator's `/metrics` text, named as it is written there,
    /// e.g. `tera_operator_reconciles_total{kind="web.tera-operator.io/WebServer"}` (0 if absent).
    pub fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().encode().expect("metrics text");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().expect("a number"))
    }

    /// The mapping file of this harness.
    pub fn mapping_path(&self) -> PathBuf {
        self.dir.path().join("charts/watches.yaml")
    }

    /// The chart directory `name` of this harness.
    pub fn chart_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("charts").join(name)
    }

    /// An API for a resource in `namespace`.
    pub fn api(&self, resource: &ApiResource, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, resource)
    }

    /// Server-side applies `object` as a different field manager (a user with kubectl).
    pub async fn apply_as_user(
        &self,
        resource: &ApiResource,
        namespace: &str,
        object: Value,
    ) -> DynamicObject {
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        self.api(resource, namespace)
            .patch(
                &name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&object),
            )
            .await
            .expect("apply")
    }

    /// JSON-merge-patches `name` (as a user would with `kubectl patch --type merge`).
    pub async fn merge_patch(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> DynamicObject {
        self.api(resource, namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("patch {} {namespace}/{name}: {e}", resource.kind))
    }

    /// Creates a custom resource from YAML text.
    pub async fn create(
        &self,
        resource: &ApiResource,
        namespace: &str,
        yaml: &str,
    ) -> DynamicObject {
        let object: DynamicObject = serde_yaml::from_str(yaml).expect("yaml");
        self.api(resource, namespace)
            .create(&PostParams::default(), &object)
            .await
            .expect("create")
    }

    /// Waits until `name` exists and returns it as JSON.
    pub async fn get(&self, resource: &ApiResource, namespace: &str, name: &str) -> Value {
        let api = self.api(resource, namespace);
        eventually(
            &format!("{} {namespace}/{name} to exist", resource.kind),
            || {
                let api = api.clone();
                async move { api.get_opt(name).await.ok().flatten() }
            },
        )
        .await
        .pipe_json()
    }

    /// Waits until `check` holds on `name` and returns it as JSON.
    pub async fn wait_for(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let api = self.api(resource, namespace);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let last = api.get_opt(name).await;
            if let Ok(Some(object)) = &last {
                let object = object.clone().pipe_json();
                if check(&object) {
                    return object;
                }
            }
            if tokio::time::Instant::now() > deadline {
                // What it was last: the status says why the wait was in vain.
                let last = match last {
                    Ok(Some(object)) => object.pipe_json()["status"].to_string(),
                    Ok(None) => "not found".to_string(),
                    Err(e) => e.to_string(),
                };
                panic!(
                    "timed out after {WAIT:?} waiting for {} {namespace}/{name}: {what}; its status was {last}",
                    resource.kind
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `name` no longer exists.
    pub async fn wait_gone(&self, resource: &ApiResource, namespace: &str, name: &str) {
        let api = self.api(resource, namespace);
        eventually(
            &format!("{} {namespace}/{name} to be gone", resource.kind),
            || {
                let api = api.clone();
                async move { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }
            },
        )
        .await
    }

    /// Waits until the custom resource's `Ready` condition has `status` and returns the resource.
    pub async fn wait_condition(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        status: &str,
        reason: &str,
    ) -> Value {
        self.wait_for(
            resource,
            namespace,
            name,
            &format!("Ready={status} ({reason})"),
            |o| {
                let ready = condition(o, "Ready");
                ready["status"] == status && ready["reason"] == reason
            },
        )
        .await
    }

    /// Removes the example Balancer `echo`'s third backend (v3), so its Service is pruned.
    pub async fn drop_third_backend(&self) {
        self.api(&balancers(), "default")
            .patch(
                "echo",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"backends": [
                    {"name": "v1", "weight": 1, "selector": {"version": "v1"}},
                    {"name": "v2", "weight": 2, "selector": {"version": "v2"}}]}})),
            )
            .await
            .expect("patch");
    }

    /// Write requests logged by the sandbox so far.
    pub fn writes(&self) -> Vec<String> {
        self.sandbox
            .request_log()
            .into_iter()
            .filter(|r| r.is_write())
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }
}

/// A condition of a resource by type (Null when absent).
pub fn condition<'a>(object: &'a Value, type_: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

/// Creates a permissive CRD and waits until discovery serves its kind.
pub async fn create_crd(client: &kube::Client, kind: &str, plural: &str) {
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    let object: DynamicObject = serde_json::from_value(crd(kind, plural)).expect("crd");
    crds.create(&PostParams::default(), &object)
        .await
        .expect("create crd");
    wait_served(client, kind, &format!("the {kind} CRD to be served")).await;
}

/// Waits until discovery serves `web.tera-operator.io/v1alpha1` `kind`.
pub async fn wait_served(client: &kube::Client, kind: &str, what: &str) {
    let gvk = GroupVersionKind::gvk("web.tera-operator.io", "v1alpha1", kind);
    eventually(what, || {
        let client = client.clone();
        let gvk = gvk.clone();
        async move {
            kube::discovery::pinned_kind(&client, &gvk)
                .await
                .ok()
                .map(|_| ())
        }
    })
    .await;
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read charts") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Converts an object to JSON.
pub trait PipeJson {
    /// The object as JSON.
    fn pipe_json(self) -> Value;
}

impl PipeJson for DynamicObject {
    fn pipe_json(self) -> Value {
        serde_json::to_value(self).expect("json")
    }
}

/// The WebServer from examples/webserver.yaml.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!("examples/{name}.yaml")).expect("example")
}

/// The WebServer API resource.
pub fn webservers() -> ApiResource {
    resource("WebServer", "webservers")
}

/// The Balancer API resource.
pub fn balancers() -> ApiResource {
    resource("Balancer", "balancers")
}

/// Deployments.
pub fn deployments() -> ApiResource {
    builtin("apps", "v1", "Deployment", "deployments")
}

/// Services.
pub fn services() -> ApiResource {
    builtin("", "v1", "Service", "services")
}

/// ConfigMaps.
pub fn configmaps() -> ApiResource {
    builtin("", "v1", "ConfigMap", "configmaps")
}
