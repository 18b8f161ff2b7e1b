//! `tera-operator migrate helm-release`: print the custom resource that replaces a Helm release.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::migrate;
use clap::{Args, Subcommand};

use super::cluster::{self, ClusterArgs};
use super::inputs::{self, DEFAULT_CONFIG};
use super::user_error;

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// What to migrate from.
    #[command(subcommand)]
    command: MigrateCommand,
}

/// What `migrate` migrates from.
// The variants name the subcommands (`helm-release`, `helm-chart`, `helm-operator`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Print the custom resource that replaces a Helm release (read from the cluster).
    HelmRelease(HelmReleaseArgs),
    /// Convert a Helm chart into a tera-operator chart; the report goes to stderr.
    HelmChart(super::migrate_chart::HelmChartArgs),
    /// Migrate an operator-sdk Helm operator project: mapping, converted charts, CRDs.
    HelmOperator(super::migrate_operator::HelmOperatorArgs),
}

/// Arguments of `migrate helm-release`.
#[derive(Debug, Args)]
struct HelmReleaseArgs {
    /// The Helm release name (becomes the custom resource's name).
    release: String,
    /// The release's namespace.
    #[arg(short = 'n', long)]
    namespace: String,
    /// The mapped kind that replaces the release's chart, e.g. WebServer.
    #[arg(long)]
    kind: String,
    /// The mapping file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Also print (as comments) what the switch-over adopts, creates and leaves alone, and how
    /// to drop Helm's release records without deleting any object.
    #[arg(long)]
    plan: bool,
}

/// Runs `migrate`.
pub(crate) fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MigrateCommand::HelmChart(args) => super::migrate_chart::run(args),
        MigrateCommand::HelmOperator(args) => super::migrate_operator::run(args),
        MigrateCommand::HelmRelease(args) => {
            super::print(&super::block_on(helm_release(&args))?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The output of `migrate helm-release`: the custom resource as YAML, after the plan if asked.
async fn helm_release(args: &HelmReleaseArgs) -> anyhow::Result<String> {
    let mapping = inputs::load_mapping(&args.config)?;
    let watch = migrate::mapped_kind(&mapping, &args.kind).map_err(user_error)?;
    let client = cluster::connect(&args.cluster).await?;
    let mut warn = |warning: String| eprintln!("warning: {warning}");
    match migrate::helm_release(
        &client,
        watch,
        &args.release,
        &args.namespace,
        args.plan,
        &mut warn,
    )
    .await
    {
        Ok(text) => Ok(text),
        Err(e) if e.is_users() => Err(user_error(e)),
        Err(e) => Err(e.into()),
    }
}
