//! Connecting to a cluster from `--kubeconfig` / `--context`, for subcommands that read from one.

use std::path::Path;

use anyhow::Context as _;

use super::user_error;

/// Builds a client from `--kubeconfig` and `--context`, else the usual resolution (in-cluster,
/// `KUBECONFIG`, `~/.kube/config`). A kubeconfig that cannot be read or used is the user's error.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
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
            .context("finding a cluster (in-cluster, KUBECONFIG, ~/.kube/config)")
            .map_err(user_error)?,
    };
    kube::Client::try_from(config).context("building the API client failed")
}
