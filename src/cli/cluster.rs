//! Connecting to a cluster from `--kubeconfig` / `--context`, for subcommands that read from one.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::user_error;

/// How to reach the cluster: `--kubeconfig` and `--context`, shared by every subcommand that
/// talks to one.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ClusterArgs {
    /// The kubeconfig to use (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
}

/// Builds a client from `--kubeconfig` and `--context`, else the usual resolution (`KUBECONFIG`,
/// `~/.kube/config`, in-cluster). A kubeconfig that cannot be read or used is the user's error.
pub(crate) async fn connect(args: &ClusterArgs) -> anyhow::Result<kube::Client> {
    let context = args.context.as_deref();
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match args.kubeconfig.as_deref() {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))
                .map_err(user_error)?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .with_context(|| format!("loading the kubeconfig {}", path.display()))
                .map_err(user_error)?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .context("loading the kubeconfig")
            .map_err(user_error)?,
        None => kube::Config::infer()
            .await
            .context("finding a cluster (KUBECONFIG, ~/.kube/config, in-cluster)")
            .map_err(user_error)?,
    };
    kube::Client::try_from(config).context("building the API client failed")
}
