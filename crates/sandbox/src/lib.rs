//! An in-memory Kubernetes API server over HTTP on loopback, for tests and local previews.
//!
//! [`Sandbox::start`] serves the real wire protocol (discovery, CRUD, list/watch, patches,
//! server-side apply, status/scale subresources, CRDs, finalizers and garbage collection)
//! on `127.0.0.1` and hands back a [`kube::Client`] and a kubeconfig path.

mod api;
mod config;
mod hooks;
mod http;
mod manifests;
mod shared;
mod sim;
mod tls;
mod writes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use api::store::Store;
use api::verbs::WriteOptions;
pub use config::SandboxConfig;
pub use hooks::{Hooks, LoggedRequest, WatchStats};
use http::server;
use shared::Shared;
use sim::{cronjobs, workloads};

/// A failure starting or feeding the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("binding 127.0.0.1:{port} failed: {source}")]
    BindFailed {
        /// The requested port.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("writing the kubeconfig {path} failed: {source}")]
    KubeconfigWriteFailed {
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The temporary state directory could not be created.
    #[error("creating a temporary directory failed: {0}")]
    TempDirFailed(std::io::Error),
    /// A kube client for the sandbox could not be built.
    #[error("building a kube client failed: {0}")]
    ClientFailed(String),
    /// The TLS certificates could not be made.
    #[error("{0}")]
    TlsFailed(String),
    /// Loading or applying manifests failed.
    #[error(transparent)]
    Manifests(#[from] manifests::Error),
}

/// Result alias for this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A running sandbox; dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    url: String,
    shared: Arc<Shared>,
    client: kube::Client,
    kubeconfig: PathBuf,
    access: Access,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

fn seeded_store(config: &SandboxConfig) -> Store {
    let mut store = Store::new(config.history_limit).with_history_window(config.history_window);
    let now = k8s_rules::now();
    if let Some(ns) = store.registry.find("", "v1", "namespaces").cloned() {
        let opts = WriteOptions::internal("kube-apiserver", &now);
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if let Err(e) = writes::create(&mut store, &ns, "", namespace, &opts) {
                tracing::warn!(namespace = name, error = %e, "seeding a namespace failed");
            }
        }
    }
    store
}

impl Sandbox {
    /// Starts a sandbox on 127.0.0.1 and writes its kubeconfig.
    pub async fn start(config: SandboxConfig) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| Error::BindFailed {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::BindFailed {
            port: config.port,
            source,
        })?;
        let tls = if config.tls {
            Some(tls::generate().map_err(Error::TlsFailed)?)
        } else {
            None
        };
        let token = tls.as_ref().map(|_| {
            let bytes: [u8; 24] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let (dir, kubeconfig) = match &config.kubeconfig_path {
            Some(p) => (None, p.clone()),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("tera-operator-sandbox-")
                    .tempdir()
                    .map_err(Error::TempDirFailed)?;
                let path = dir.path().join("kubeconfig");
                (Some(dir), path)
            }
        };
        let access = Access {
            ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
            token: token.clone(),
        };
        write_kubeconfig(&kubeconfig, &url, &access)?;
        let client = build_client(&url, &access)?;
        let shared = Arc::new(Shared::new(seeded_store(&config), config).with_token(token));
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let serve = match tls {
            Some(t) => {
                let listener = tls::TlsListener::new(listener, t.acceptor).map_err(|source| {
                    Error::BindFailed {
                        port: shared.config.port,
                        source,
                    }
                })?;
                tokio::spawn(async move {
                    let result = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                    if let Err(e) = result {
                        tracing::error!(error = %e, "sandbox server stopped");
                    }
                })
            }
            None => tokio::spawn(async move {
                let result = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
                if let Err(e) = result {
                    tracing::error!(error = %e, "sandbox server stopped");
                }
            }),
        };
        let sim = tokio::spawn(workloads::run(shared.clone()));
        let cron = tokio::spawn(cronjobs::run(shared.clone()));
        Ok(Self {
            addr,
            url,
            shared,
            client,
            kubeconfig,
            access,
            _dir: dir,
            shutdown: Some(tx),
            tasks: vec![serve, sim, cron],
        })
    }

    /// The CA certificate (PEM) that signed the server's certificate, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.access.ca_pem.as_deref()
    }

    /// The bearer token every request must carry, when serving HTTPS.
    pub fn token(&self) -> Option<&str> {
        self.access.token.as_deref()
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (`https://…` with [`SandboxConfig::tls`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig file pointing at this sandbox (`kubectl --kubeconfig …`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kube client for the sandbox (default namespace `default`; with TLS it trusts the
    /// sandbox's CA and sends its token).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Test hooks: injected failures, latency, watch closes, workload pause, request log.
    pub fn hooks(&self) -> &Hooks {
        &self.shared.hooks
    }

    /// Every request so far.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.hooks.request_log()
    }

    /// How many write requests were made so far.
    pub fn write_count(&self) -> usize {
        self.shared.hooks.write_count()
    }

    /// The current resourceVersion of the store.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv()
    }

    /// Drops the change history, so every resourceVersion up to now is expired: watches resuming
    /// from one get a 410 Gone ERROR event (and kube-runtime's watcher relists).
    pub fn expire_history(&self) {
        self.shared.lock().compact();
    }

    /// Server-side applies every object in `path` (a file or a directory, multi-document YAML);
    /// CRDs and namespaces first. Returns `kind/name` of each applied object.
    pub fn apply_path(&self, path: &Path) -> Result<Vec<String>> {
        Ok(manifests::apply_path(&self.shared, path)?)
    }

    /// Installs the CRDs found in `dir` (every `*.yaml`/`*.yml`/`*.json`); a missing dir installs nothing.
    pub fn install_crds(&self, dir: &Path) -> Result<Vec<String>> {
        if !dir.exists() {
            return Ok(vec![]);
        }
        self.apply_path(dir)
    }

    /// Stops the server and the simulation.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.shared.hooks.close_watches();
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.shared.hooks.close_watches();
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("url", &self.url)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

/// How clients reach the sandbox: the CA to trust and the token to send (both only with TLS).
#[derive(Debug, Clone, Default)]
struct Access {
    ca_pem: Option<String>,
    token: Option<String>,
}

fn build_client(url: &str, access: &Access) -> Result<kube::Client> {
    let uri: axum::http::Uri = url
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| Error::ClientFailed(e.to_string()))?;
    let mut config = kube::Config::new(uri);
    config.default_namespace = "default".into();
    if let Some(pem) = &access.ca_pem {
        config.root_cert = Some(vec![pem_to_der(pem)?]);
    }
    if let Some(token) = &access.token {
        config.auth_info.token = Some(token.clone().into());
    }
    kube::Client::try_from(config).map_err(|e| Error::ClientFailed(e.to_string()))
}

/// The DER bytes of a one-certificate PEM.
fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| Error::ClientFailed(format!("the sandbox's CA certificate: {e}")))
}

fn write_kubeconfig(path: &Path, url: &str, access: &Access) -> Result<()> {
    use base64::Engine;
    let ca = access.ca_pem.as_ref().map_or(String::new(), |pem| {
        format!(
            "\n    certificate-authority-data: {}",
            base64::engine::general_purpose::STANDARD.encode(pem)
        )
    });
    let user = access
        .token
        .as_ref()
        .map_or("{}".to_string(), |t| format!("\n    token: {t}"));
    let doc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: default\ncurrent-context: sandbox\nusers:\n- name: sandbox\n  user: {user}\npreferences: {{}}\n"
    );
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::KubeconfigWriteFailed {
            path: path.into(),
            source,
        })?;
    }
    std::fs::write(path, doc).map_err(|source| Error::KubeconfigWriteFailed {
        path: path.into(),
        source,
    })
}
