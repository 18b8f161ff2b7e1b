//! A client for the cluster a kubeconfig (or the pod's service account) names.

use std::path::Path;

/// Why no client could be built; the kube error follows in the error chain.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig file could not be read or parsed.
    #[error("reading the kubeconfig {path}")]
    ReadKubeconfigFailed {
        /// The file.
        path: String,
        /// What went wrong.
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig was read but its context, cluster or user cannot be used.
    #[error("loading the kubeconfig{}", path.as_ref().map(|p| format!(" {p}")).unwrap_or_default())]
    LoadKubeconfigFailed {
        /// The file, when one was named.
        path: Option<String>,
        /// What went wrong.
        source: kube::config::KubeconfigError,
    },
    /// Neither `KUBECONFIG`, `~/.kube/config` nor an in-cluster service account gave a cluster.
    #[error("finding a cluster (KUBECONFIG, ~/.kube/config, in-cluster)")]
    InferFailed {
        /// What went wrong.
        source: kube::config::InferConfigError,
    },
    /// The client could not be built from a usable configuration (TLS set-up, say).
    #[error("building the API client failed")]
    ClientFailed {
        /// What went wrong.
        source: kube::Error,
    },
}

impl ConnectError {
    /// Whether the error is the user's (a kubeconfig or context that cannot be used), which
    /// the command line reports with exit code 1.
    pub fn is_users(&self) -> bool {
        !matches!(self, Self::ClientFailed { .. })
    }
}

/// Builds a client from `kubeconfig` and `context` when given, else the usual resolution
/// (`KUBECONFIG`, `~/.kube/config`, in-cluster).
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, ConnectError> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let shown = path.display().to_string();
            let file = kube::config::Kubeconfig::read_from(path).map_err(|source| {
                ConnectError::ReadKubeconfigFailed {
                    path: shown.clone(),
                    source,
                }
            })?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|source| ConnectError::LoadKubeconfigFailed {
                    path: Some(shown),
                    source,
                })?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|source| ConnectError::LoadKubeconfigFailed { path: None, source })?,
        None => kube::Config::infer()
            .await
            .map_err(|source| ConnectError::InferFailed { source })?,
    };
    kube::Client::try_from(config).map_err(|source| ConnectError::ClientFailed { source })
}
