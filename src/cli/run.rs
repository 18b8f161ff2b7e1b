//! `tera-operator run`: connect to a cluster and keep every mapped kind true until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::controller::{self, Options};
use anyhow::Context as _;
use clap::Args;

use super::cluster::{self, ClusterArgs};
use super::inputs::DEFAULT_CONFIG;
use super::leader_election::LeaderElectionArgs;
use super::sharding::ShardArgs;
use super::{signals, user_error};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The mapping file (which kinds, which charts).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only watch this namespace (repeatable; default: all namespaces).
    #[arg(short = 'n', long = "namespace")]
    namespaces: Vec<String>,
    /// Where to serve /healthz, /readyz and /metrics.
    #[arg(long, default_value = "127.0.0.1:8080")]
    metrics_addr: SocketAddr,
    /// Apply each kind's CRD, generated from its chart's values schema, before serving it.
    #[arg(long)]
    install_crds: bool,
    /// With --install-crds: apply a changed chart's CRD even when the change breaks live
    /// custom resources (a field in use removed, a type narrowed, a new required field).
    #[arg(long, requires = "install_crds")]
    force_crd_changes: bool,
    /// Do not watch the mapping file and charts for changes.
    #[arg(long)]
    no_hot_reload: bool,
    /// Leader election (`--leader-elect` and its settings).
    #[command(flatten)]
    leader: LeaderElectionArgs,
    /// Sharding across replicas (`--shards` and its settings).
    #[command(flatten)]
    shard: ShardArgs,
}

impl RunArgs {
    /// The controller options these arguments ask for.
    fn options(&self) -> Options {
        Options {
            config: self.config.clone(),
            namespaces: self.namespaces.clone(),
            metrics_addr: Some(self.metrics_addr),
            install_crds: self.install_crds,
            force_crd_changes: self.force_crd_changes,
            hot_reload: !self.no_hot_reload,
        }
    }
}

/// Runs `run`.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime failed")?;
    let result = runtime.block_on(async {
        let client = cluster::connect(&args.cluster).await?;
        let lease = args.leader.lease_config();
        let shutdown = async {
            if let Err(e) = signals::shutdown_signal().await {
                tracing::error!(error = %e, "waiting for a shutdown signal failed; shutting down");
            }
        };
        let ran = match args.shard.shard_config(args.leader.lease_settings()) {
            Some(shards) => {
                controller::shard::run_sharded(client, args.options(), shards, shutdown).await
            }
            None => controller::run(client, args.options(), lease, shutdown).await,
        };
        match ran {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e @ controller::RunError::LeaderElectionFailed(_)) => Err(e.into()),
            Err(e) => Err(user_error(e)),
        }
    });
    // Blocking work still in flight (a DNS lookup, a file read) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::deploy::{self, Options};
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    /// The Deployment's command line in the install manifests is one `run` accepts, with the
    /// leader-election flags of [`LeaderElectionArgs`](super::LeaderElectionArgs).
    #[test]
    fn deployment_args_parse_as_run_with_leader_election() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/watches.yaml");
        for install_crds in [false, true] {
            let options = Options {
                install_crds,
                ..Options::default()
            };
            let text = deploy::manifests(&config, &options).unwrap();
            let deployment = serde_yaml::Deserializer::from_str(&text)
                .map(|d| serde::Deserialize::deserialize(d).unwrap())
                .find(|d: &serde_json::Value| d["kind"] == "Deployment")
                .unwrap();
            let argv: Vec<String> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().replace("$(POD_NAMESPACE)", "ops"))
                .collect();
            assert_eq!(argv[0], "run");
            // The real command line, exactly as the Deployment passes it.
            let cli = Cli::try_parse_from(
                std::iter::once("tera-operator".to_string()).chain(argv.iter().cloned()),
            )
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let Command::Run(run) = cli.command else {
                panic!("{argv:?} is not `run`");
            };
            assert_eq!(
                run.config,
                Path::new("/etc/tera-operator/charts/watches.yaml")
            );
            assert_eq!(run.metrics_addr.to_string(), "0.0.0.0:8080");
            assert_eq!(run.install_crds, install_crds);
            let lease = run.leader.lease_config().expect("--leader-elect");
            assert_eq!(
                (lease.namespace.as_str(), lease.name.as_str()),
                ("ops", "tera-operator")
            );
            assert_eq!(lease.lease_duration, std::time::Duration::from_secs(15));
            assert_eq!(lease.renew_deadline, std::time::Duration::from_secs(10));
            assert_eq!(lease.retry_period, std::time::Duration::from_secs(2));
        }
    }

    /// The StatefulSet's command line in the sharded install manifests is one `run` accepts:
    /// a replica of 3 shards, no leader election, the Leases in the pod's namespace.
    #[test]
    fn statefulset_args_parse_as_run_with_shards() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/watches.yaml");
        let options = Options {
            shards: Some(3),
            replicas: 3,
            ..Options::default()
        };
        let text = deploy::manifests(&config, &options).unwrap();
        let set = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .find(|d: &serde_json::Value| d["kind"] == "StatefulSet")
            .unwrap();
        let argv: Vec<String> = set["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().replace("$(POD_NAMESPACE)", "ops"))
            .collect();
        let cli = Cli::try_parse_from(
            std::iter::once("tera-operator".to_string()).chain(argv.iter().cloned()),
        )
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let Command::Run(run) = cli.command else {
            panic!("{argv:?} is not `run`");
        };
        assert!(run.leader.lease_config().is_none(), "no leader election");
        let shards = run
            .shard
            .shard_config(run.leader.lease_settings())
            .expect("--shards");
        assert_eq!(shards.shards, 3);
        assert_eq!(
            (shards.lease.namespace.as_str(), shards.lease.name.as_str()),
            ("ops", "tera-operator-shard")
        );
        assert_eq!(
            shards.lease.lease_duration,
            std::time::Duration::from_secs(15)
        );
        // Sharding and leader election (or CRD installs) do not go together.
        for extra in ["--leader-elect", "--install-crds"] {
            let err = Cli::try_parse_from(
                std::iter::once("tera-operator".to_string())
                    .chain(argv.iter().cloned())
                    .chain([extra.to_string()]),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("cannot be used with"), "{extra}: {err}");
        }
    }
}
