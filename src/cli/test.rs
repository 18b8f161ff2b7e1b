//! `tera-operator test`: run the charts' own tests (`tests/*_test.yaml`) and say what failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tera_operator::lint::{self, chart_tests};

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
    let mapping = if args.charts.is_empty() {
        Some(inputs::load_mapping(&args.config)?)
    } else {
        inputs::load_mapping(&args.config).ok()
    };
    let options = chart_tests::Options {
        update_snapshots: args.update_snapshots,
    };
    let (mut tests, mut failed, mut errors, mut suites, mut written) = (0, 0, 0, 0, 0);
    let targets = lint::targets(&args.charts, mapping);
    for (dir, watch) in &targets {
        let report = chart_tests::run_chart(dir, watch.as_ref(), options);
        if let Some(e) = &report.error {
            errors += 1;
            eprintln!("ERROR {}: {e}", dir.display());
            continue;
        }
        if report.suites.is_empty() {
            eprintln!("NONE  {}: no test files (tests/*_test.yaml)", dir.display());
        }
        for suite in &report.suites {
            suites += 1;
            written += suite.snapshots_written;
            if let Some(e) = &suite.error {
                errors += 1;
                eprintln!("ERROR {e}");
                continue;
            }
            let failing: Vec<_> = suite
                .tests
                .iter()
                .filter(|t| !t.failures.is_empty())
                .collect();
            tests += suite.tests.len();
            failed += failing.len();
            let status = if failing.is_empty() { "PASS " } else { "FAIL " };
            eprintln!(
                "{status} {} ({}: {} test(s))",
                suite.file.display(),
                suite.name,
                suite.tests.len()
            );
            for test in failing {
                for failure in &test.failures {
                    eprintln!("  - {failure}");
                }
            }
        }
    }
    eprintln!(
        "{} chart(s), {suites} test file(s): {} test(s) passed, {failed} failed, {errors} error(s){}",
        targets.len(),
        tests - failed,
        if written > 0 {
            format!("; {written} snapshot(s) stored")
        } else {
            String::new()
        }
    );
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
