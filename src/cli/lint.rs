//! `tera-operator lint`: check charts the way the operator will use them, rule by rule.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::lint::{self, Severity};
use clap::Args;

use super::inputs::{self, DEFAULT_CONFIG};

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Chart directories (default: every chart in the mapping file).
    charts: Vec<PathBuf>,
    /// The mapping file (its entries supply allowed kinds and override values).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// Runs `lint`; exit code 1 when any error is found.
pub(crate) fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let targets = inputs::chart_targets(&args.charts, &args.config)?;
    let mut errors = 0;
    let mut warnings = 0;
    for (dir, watch) in &targets {
        for finding in lint::lint_chart(dir, watch.as_ref()) {
            match finding.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            eprintln!("{finding}");
        }
    }
    eprintln!(
        "{} chart(s) linted: {errors} error(s), {warnings} warning(s)",
        targets.len()
    );
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
