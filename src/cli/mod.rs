//! Command-line interface: one module per subcommand, errors split into user and unexpected.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub mod cluster;
pub mod crd;
pub mod inputs;
pub mod leader_election;
pub mod lint;
pub mod manifests;
pub mod migrate;
pub mod render;
pub mod run;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod signals;

/// The tera-operator command line.
#[derive(Debug, Parser)]
#[command(
    name = "tera-operator",
    version,
    about = "A Kubernetes operator driven by Tera chart templates"
)]
pub struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the objects the operator would apply for custom resources.
    Render(render::RenderArgs),
    /// Check charts: metadata, values, schema, templates, and what the defaults render to.
    Lint(lint::LintArgs),
    /// Run the operator: keep every mapped kind's resources true to their charts.
    Run(run::RunArgs),
    /// Run an in-memory Kubernetes API server to try tera-operator without a cluster.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
    /// Print the CustomResourceDefinition of every mapped kind, generated from its chart.
    Crd(crd::CrdArgs),
    /// Print everything needed to run the operator in a cluster: RBAC, Deployment, CRDs.
    Manifests(manifests::ManifestsArgs),
    /// Migrate to tera-operator: print the custom resource that replaces a Helm release.
    Migrate(migrate::MigrateArgs),
}

/// An error caused by the user's input (exit code 1); anything else exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct UserError(pub anyhow::Error);

/// Wraps an error as a [`UserError`].
pub fn user_error(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(UserError(err.into()))
}

/// Sets up `tracing` on stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Run(args) => run::run(args),
        Command::Crd(args) => crd::run(args),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(args),
        Command::Manifests(args) => manifests::run(args),
        Command::Migrate(args) => migrate::run(args),
    }
}
