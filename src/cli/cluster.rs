//! Connecting to a cluster from `--kubeconfig` / `--context`, for subcommands that read from one.

use std::path::PathBuf;

use crate::controller;
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

/// Builds a client from `--kubeconfig` and `--context` (see [`controller::connect`]). A
/// kubeconfig that cannot be read or used is the user's error.
pub(crate) async fn connect(args: &ClusterArgs) -> anyhow::Result<kube::Client> {
    match controller::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(client) => Ok(client),
        Err(e) if e.is_users() => Err(user_error(e)),
        Err(e) => Err(e.into()),
    }
}
