//! The command line: one module per subcommand (parse, call the library, print), errors split
//! into the user's (exit code 1) and unexpected ones (exit code 2).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

mod cluster;
mod crd;
mod diff;
mod inputs;
mod leader_election;
mod lint;
mod manifests;
mod migrate;
mod migrate_chart;
mod migrate_operator;
mod render;
mod run;
#[cfg(feature = "sandbox")]
mod sandbox;
mod sharding;
mod signals;
mod test;

/// The tera-operator command line.
#[derive(Debug, Parser)]
#[command(
    name = "tera-operator",
    version,
    about = "A Kubernetes operator driven by Tera chart templates"
)]
pub(crate) struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the objects the operator would apply for custom resources.
    Render(render::RenderArgs),
    /// Check charts: metadata, values, schema, templates, and what the defaults render to.
    Lint(lint::LintArgs),
    /// Run the charts' own tests (tests/*_test.yaml): assertions on what values render to.
    Test(test::TestArgs),
    /// Run the operator: keep every mapped kind's resources true to their charts.
    Run(run::RunArgs),
    /// Run an in-memory Kubernetes API server to try tera-operator without a cluster.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
    /// Print the CustomResourceDefinition of every mapped kind, generated from its chart.
    Crd(crd::CrdArgs),
    /// Show what applying would change on the live cluster (server-side dry run; never writes).
    Diff(diff::DiffArgs),
    /// Print everything needed to run the operator in a cluster: RBAC, Deployment, CRDs.
    Manifests(manifests::ManifestsArgs),
    /// Migrate to tera-operator: print the custom resource that replaces a Helm release.
    Migrate(migrate::MigrateArgs),
}

/// An error caused by the user's input (exit code 1); anything else exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub(crate) struct UserError(anyhow::Error);

/// Wraps an error as a [`UserError`].
pub(crate) fn user_error(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(UserError(err.into()))
}

/// Runs `work` on a new async runtime. Blocking work still in flight when it ends (a DNS
/// lookup, a file read) holds the exit for at most 2 s.
fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime failed")?;
    let result = runtime.block_on(work);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("writing to standard output failed")?),
    }
}

/// Sets up `tracing` on stderr; `RUST_LOG` filters (default `info`). Text lines are coloured
/// only when stderr is a terminal and `NO_COLOR` is unset, so a log file or pipe holds plain text.
pub(crate) fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(use_colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether log lines get ANSI colours: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Test(args) => test::run(args),
        Command::Run(args) => run::run(args),
        Command::Crd(args) => crd::run(args),
        Command::Diff(args) => diff::run(args),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(args),
        Command::Manifests(args) => manifests::run(args),
        Command::Migrate(args) => migrate::run(args),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(super::use_colour(true, None));
        assert!(super::use_colour(true, Some(OsStr::new(""))));
        assert!(!super::use_colour(true, Some(OsStr::new("1"))));
        assert!(!super::use_colour(false, None));
    }
}
