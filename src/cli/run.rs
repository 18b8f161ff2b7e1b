//! `tera-operator run`: connect to a cluster and keep every mapped kind true until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::inputs::DEFAULT_CONFIG;
use crate::controller::Options;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The mapping file (which kinds, which charts).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
    /// Only watch this namespace (repeatable; default: all namespaces).
    #[arg(short = 'n', long = "namespace")]
    pub namespaces: Vec<String>,
    /// Where to serve /healthz, /readyz and /metrics.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub metrics_addr: SocketAddr,
    /// Apply each kind's CRD, generated from its chart's values schema, before serving it.
    #[arg(long)]
    pub install_crds: bool,
    /// Do not watch the mapping file and charts for changes.
    #[arg(long)]
    pub no_hot_reload: bool,
    /// Leader election (`--leader-elect` and its settings).
    #[command(flatten)]
    pub leader: super::leader_election::LeaderElectionArgs,
}

impl RunArgs {
    /// The controller options these arguments ask for.
    pub fn options(&self) -> Options {
        Options {
            config: self.config.clone(),
            namespaces: self.namespaces.clone(),
            metrics_addr: Some(self.metrics_addr),
            install_crds: self.install_crds,
            hot_reload: !self.no_hot_reload,
        }
    }
}

/// Runs `run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime failed")?;
    let result = runtime.block_on(async {
        let client = super::cluster::connect(&args.cluster).await?;
        let lease = args.leader.lease_config();
        let shutdown = async {
            if let Err(e) = super::signals::shutdown_signal().await {
                tracing::error!(error = %e, "waiting for a shutdown signal failed; shutting down");
            }
        };
        super::leader_election::run_operator(client, args.options(), lease, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    });
    // Blocking work still in flight (a DNS lookup, a file read) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
