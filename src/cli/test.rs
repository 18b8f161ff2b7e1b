//! `tera-operator test`: run the charts' own tests (`tests/*_test.yaml`) and say what failed.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::lint::chart_tests;
use clap::Args;

use super::inputs::{self, DEFAULT_CONFIG};

/// Arguments of `test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Chart directories (default: every chart in the mapping file).
    charts: Vec<PathBuf>,
    /// The mapping file (its entries supply the kind, allowed kinds and override values).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Rewrite the stored snapshots (`tests/__snapshot__/*.snap`) with what the charts render now.
    #[arg(long)]
    update_snapshots: bool,
}

/// Runs `test`; exit code 1 when a test fails, 2 when a test file or chart cannot be used.
pub(crate) fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let options = chart_tests::Options {
        update_snapshots: args.update_snapshots,
    };
    let mut totals = chart_tests::Totals::default();
    for (dir, watch) in &inputs::chart_targets(&args.charts, &args.config)? {
        let report = chart_tests::run_chart(dir, watch.as_ref(), options);
        for line in chart_tests::report_lines(&report) {
            eprintln!("{line}");
        }
        totals.add(&report);
    }
    eprintln!("{totals}");
    Ok(ExitCode::from(totals.exit_code()))
}
