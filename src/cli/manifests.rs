//! `tera-operator manifests`: print everything needed to run the operator in a cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::deploy::{self, DEFAULT_IMAGE, DEFAULT_NAME, DEFAULT_NAMESPACE, Options};
use clap::Args;

use super::inputs::DEFAULT_CONFIG;
use super::user_error;

/// Arguments of `manifests`.
#[derive(Debug, Args)]
pub(crate) struct ManifestsArgs {
    /// The mapping file whose kinds the operator serves (RBAC and CRDs are derived from it).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// The namespace the operator runs in.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// The operator's container image.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    image: String,
    /// Let the operator install and update its CRDs (grants CRD privileges, passes `run --install-crds`).
    #[arg(long)]
    install_crds: bool,
    /// Replicas of the operator (one leads at a time; with --shards, default: one per shard).
    #[arg(long)]
    replicas: Option<u32>,
    /// Split the resources into this many shards: a StatefulSet whose pods run `run --shards`
    /// and each take the shard of their ordinal first (see docs/production.md).
    #[arg(long, conflicts_with = "install_crds")]
    shards: Option<u32>,
    /// Emit the Namespace (labelled to enforce the `restricted` Pod Security Standard). The
    /// default is true for the default namespace only: an existing namespace given with `-n`
    /// is used as it is, never relabelled. Refused for `default` and `kube-*`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    create_namespace: Option<bool>,
}

impl ManifestsArgs {
    /// The install these arguments ask for.
    fn options(&self) -> Options {
        Options {
            namespace: self.namespace.clone(),
            image: self.image.clone(),
            install_crds: self.install_crds,
            name: DEFAULT_NAME.to_string(),
            lease_name: DEFAULT_NAME.to_string(),
            replicas: self.replicas.or(self.shards).unwrap_or(2),
            shards: self.shards,
            create_namespace: self
                .create_namespace
                .unwrap_or_else(|| deploy::creates_namespace_by_default(&self.namespace)),
        }
    }
}

/// Runs `manifests`.
pub(crate) fn run(args: ManifestsArgs) -> anyhow::Result<ExitCode> {
    let text = match deploy::manifests(&args.config, &args.options()) {
        Ok(text) => text,
        Err(e @ deploy::Error::SerializeFailed { .. }) => return Err(e.into()),
        Err(e) => return Err(user_error(e)),
    };
    super::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
