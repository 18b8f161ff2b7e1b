//! `tera-operator run`: connect to a cluster and keep every mapped kind true until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::controller::{self, Options};
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
    super::block_on(async {
        let client = cluster::connect(&args.cluster).await?;
        let shutdown = async {
            if let Err(e) = signals::shutdown_signal().await {
                tracing::error!(error = %e, "waiting for a shutdown signal failed; shutting down");
            }
        };
        let ran = match args.shard.shard_config(args.leader.lease_settings()) {
            Some(shards) => {
                controller::shard::run_sharded(client, args.options(), shards, shutdown).await
            }
            None => {
                let lease = args.leader.lease_config();
                controller::run(client, args.options(), lease, shutdown).await
            }
        };
        match ran {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e @ controller::RunError::LeaderElectionFailed(_)) => Err(e.into()),
            Err(e) => Err(user_error(e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::cli::{Cli, Command};
    use crate::deploy::{self, Options};
    use clap::Parser as _;
    use serde_json::Value;

    /// The command line of the `kind` workload in the install manifests for `options`, as its
    /// pod in namespace `ops` passes it.
    fn container_argv(kind: &str, options: &Options) -> Vec<String> {
        let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/watches.yaml");
        let text = deploy::manifests(&config, options).unwrap_or_else(|e| panic!("{e}"));
        let workload = serde_yaml::Deserializer::from_str(&text)
            .filter_map(|d| serde::Deserialize::deserialize(d).ok())
            .find(|d: &Value| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {text}"));
        let args = &workload["spec"]["template"]["spec"]["containers"][0]["args"];
        let args = args.as_array().map(Vec::as_slice).unwrap_or_default();
        let args = args.iter().filter_map(Value::as_str);
        std::iter::once("tera-operator".to_string())
            .chain(args.map(|a| a.replace("$(POD_NAMESPACE)", "ops")))
            .collect()
    }

    /// `argv` parsed as `run`.
    fn parse_run(argv: &[String]) -> super::RunArgs {
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Run(run)) => run,
            Ok(other) => panic!("{argv:?} is not `run`: {other:?}"),
            Err(e) => panic!("{argv:?}: {e}"),
        }
    }

    /// The Deployment's command line in the install manifests is one `run` accepts, with the
    /// leader-election flags of [`LeaderElectionArgs`](super::LeaderElectionArgs).
    #[test]
    fn deployment_args_parse_as_run_with_leader_election() {
        for install_crds in [false, true] {
            let options = Options {
                install_crds,
                ..Options::default()
            };
            let run = parse_run(&container_argv("Deployment", &options));
            let config = std::path::Path::new("/etc/tera-operator/charts/watches.yaml");
            assert_eq!(run.config, config);
            assert_eq!(run.metrics_addr.to_string(), "0.0.0.0:8080");
            assert_eq!(run.install_crds, install_crds);
            let lease = run
                .leader
                .lease_config()
                .unwrap_or_else(|| panic!("no lease"));
            assert_eq!(
                (lease.namespace, lease.name),
                ("ops".into(), "tera-operator".into())
            );
            let durations = (
                lease.lease_duration,
                lease.renew_deadline,
                lease.retry_period,
            );
            let secs = Duration::from_secs;
            assert_eq!(durations, (secs(15), secs(10), secs(2)));
        }
    }

    /// The StatefulSet's command line in the sharded install manifests is one `run` accepts:
    /// a replica of 3 shards, no leader election, the Leases in the pod's namespace; sharding
    /// and leader election (or CRD installs) do not go together.
    #[test]
    fn statefulset_args_parse_as_run_with_shards() {
        let options = Options {
            shards: Some(3),
            replicas: 3,
            ..Options::default()
        };
        let argv = container_argv("StatefulSet", &options);
        let run = parse_run(&argv);
        assert!(run.leader.lease_config().is_none(), "no leader election");
        let shards = run.shard.shard_config(run.leader.lease_settings());
        let shards = shards.unwrap_or_else(|| panic!("no --shards"));
        assert_eq!(shards.shards, 3);
        let lease = shards.lease;
        assert_eq!(
            (lease.namespace, lease.name),
            ("ops".into(), "tera-operator-shard".into())
        );
        assert_eq!(lease.lease_duration, Duration::from_secs(15));
        for extra in ["--leader-elect", "--install-crds"] {
            let refused = Cli::try_parse_from(argv.iter().map(String::as_str).chain([extra]));
            let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("cannot be used with"), "{extra}: {err}");
        }
    }
}
