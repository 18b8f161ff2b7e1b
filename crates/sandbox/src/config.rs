//! How to run a sandbox: port, kubeconfig, TLS, simulation delay, history and body limits.

use std::path::PathBuf;
use std::time::Duration;

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1 (0: pick a free one).
    pub port: u16,
    /// Where to write the kubeconfig (default: a temporary directory owned by the sandbox).
    pub kubeconfig_path: Option<PathBuf>,
    /// How long the workload simulation takes to bring a Deployment's status up to date.
    pub workload_delay: Duration,
    /// How many changes are kept at most for watches to resume from and paged lists to read at
    /// (older resourceVersions get 410 Gone). The default, 250,000, keeps the whole
    /// `history_window` of 10,000 resources being created with their children (about 120,000
    /// changes): the count bounds memory, the window is what a healthy run meets, as etcd keeps
    /// every revision until the API server compacts it.
    pub history_limit: usize,
    /// How long a change is kept at most, like the API server's periodic etcd compaction
    /// (`--etcd-compaction-interval`, 5 minutes by default).
    pub history_window: Duration,
    /// The largest request body accepted (bigger ones get 413).
    pub body_limit: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Serve HTTPS with a certificate authority of the sandbox's own and require a bearer token
    /// (401 without it), both written into the kubeconfig; plain HTTP with no authentication
    /// when false.
    pub tls: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            kubeconfig_path: None,
            workload_delay: Duration::from_millis(200),
            history_limit: 250_000,
            history_window: Duration::from_secs(300),
            body_limit: 3 * 1024 * 1024,
            bookmark_interval: Duration::from_secs(5),
            tls: false,
        }
    }
}
