//! What `tera-operator test` says of the chart reports: a line per test file and failure, the totals, the exit code.

use std::fmt;

use super::ChartReport;

/// The lines that report one chart's tests, in order: an `ERROR` for a chart or file that
/// could not be used, `NONE` for a chart without test files, `PASS`/`FAIL` per test file and
/// each failure of a failing test under it.
pub fn report_lines(report: &ChartReport) -> Vec<String> {
    if let Some(e) = &report.error {
        return vec![format!("ERROR {}: {e}", report.dir.display())];
    }
    let mut lines = Vec::new();
    if report.suites.is_empty() {
        lines.push(format!(
            "NONE  {}: no test files (tests/*_test.yaml)",
            report.dir.display()
        ));
    }
    for suite in &report.suites {
        if let Some(e) = &suite.error {
            lines.push(format!("ERROR {e}"));
            continue;
        }
        let failing: Vec<_> = suite
            .tests
            .iter()
            .filter(|t| !t.failures.is_empty())
            .collect();
        let status = if failing.is_empty() { "PASS " } else { "FAIL " };
        lines.push(format!(
            "{status} {} ({}: {} test(s))",
            suite.file.display(),
            suite.name,
            suite.tests.len()
        ));
        for test in failing {
            lines.extend(test.failures.iter().map(|f| format!("  - {f}")));
        }
    }
    lines
}

/// Counts over the reports of every chart tested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Charts tested.
    pub charts: usize,
    /// Test files run (or that could not run).
    pub suites: usize,
    /// Tests run.
    pub tests: usize,
    /// Tests with at least one failure.
    pub failed: usize,
    /// Charts and test files that could not be used.
    pub errors: usize,
    /// Snapshots written.
    pub snapshots_written: usize,
}

impl Totals {
    /// Adds one chart's report.
    pub fn add(&mut self, report: &ChartReport) {
        self.charts += 1;
        if report.error.is_some() {
            self.errors += 1;
            return;
        }
        for suite in &report.suites {
            self.suites += 1;
            self.snapshots_written += suite.snapshots_written;
            if suite.error.is_some() {
                self.errors += 1;
                continue;
            }
            self.tests += suite.tests.len();
            self.failed += suite
                .tests
                .iter()
                .filter(|t| !t.failures.is_empty())
                .count();
        }
    }

    /// The exit code of `tera-operator test`: 2 when a chart or test file could not be used,
    /// else 1 when a test failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} chart(s), {} test file(s): {} test(s) passed, {} failed, {} error(s)",
            self.charts,
            self.suites,
            self.tests - self.failed,
            self.failed,
            self.errors
        )?;
        if self.snapshots_written > 0 {
            write!(f, "; {} snapshot(s) stored", self.snapshots_written)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{ChartReport, SuiteReport, TestReport};
    use super::{Totals, report_lines};

    fn suite(file: &str, error: Option<&str>, failures: &[&[&str]]) -> SuiteReport {
        SuiteReport {
            file: PathBuf::from(file),
            name: file.trim_end_matches("_test.yaml").to_string(),
            error: error.map(str::to_string),
            tests: failures
                .iter()
                .enumerate()
                .map(|(i, f)| TestReport {
                    name: format!("test {i}"),
                    failures: f.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            snapshots_written: 0,
        }
    }

    fn chart(error: Option<&str>, suites: Vec<SuiteReport>) -> ChartReport {
        ChartReport {
            dir: PathBuf::from("charts/web"),
            error: error.map(str::to_string),
            suites,
        }
    }

    #[test]
    fn lines_and_totals_per_case() {
        struct Case {
            report: ChartReport,
            lines: &'static [&'static str],
            totals: Totals,
            exit: u8,
        }
        let cases = [
            Case {
                report: chart(Some("no Chart.yaml"), vec![]),
                lines: &["ERROR charts/web: no Chart.yaml"],
                totals: Totals {
                    charts: 1,
                    errors: 1,
                    ..Totals::default()
                },
                exit: 2,
            },
            Case {
                report: chart(None, vec![]),
                lines: &["NONE  charts/web: no test files (tests/*_test.yaml)"],
                totals: Totals {
                    charts: 1,
                    ..Totals::default()
                },
                exit: 0,
            },
            Case {
                report: chart(None, vec![suite("a_test.yaml", None, &[&[], &[]])]),
                lines: &["PASS  a_test.yaml (a: 2 test(s))"],
                totals: Totals {
                    charts: 1,
                    suites: 1,
                    tests: 2,
                    ..Totals::default()
                },
                exit: 0,
            },
            Case {
                report: chart(
                    None,
                    vec![
                        suite("a_test.yaml", None, &[&[], &["x", "y"]]),
                        suite("b_test.yaml", Some("b_test.yaml: bad"), &[]),
                    ],
                ),
                lines: &[
                    "FAIL  a_test.yaml (a: 2 test(s))",
                    "  - x",
                    "  - y",
                    "ERROR b_test.yaml: bad",
                ],
                totals: Totals {
                    charts: 1,
                    suites: 2,
                    tests: 2,
                    failed: 1,
                    errors: 1,
                    ..Totals::default()
                },
                exit: 2,
            },
            Case {
                report: chart(None, vec![suite("a_test.yaml", None, &[&["x"]])]),
                lines: &["FAIL  a_test.yaml (a: 1 test(s))", "  - x"],
                totals: Totals {
                    charts: 1,
                    suites: 1,
                    tests: 1,
                    failed: 1,
                    ..Totals::default()
                },
                exit: 1,
            },
        ];
        for case in cases {
            assert_eq!(report_lines(&case.report), case.lines);
            let mut totals = Totals::default();
            totals.add(&case.report);
            assert_eq!(totals, case.totals, "{:?}", case.lines);
            assert_eq!(totals.exit_code(), case.exit, "{:?}", case.lines);
        }
    }

    #[test]
    fn totals_line() {
        let mut totals = Totals {
            charts: 2,
            suites: 3,
            tests: 5,
            failed: 1,
            ..Totals::default()
        };
        assert_eq!(
            totals.to_string(),
            "2 chart(s), 3 test file(s): 4 test(s) passed, 1 failed, 0 error(s)"
        );
        totals.snapshots_written = 2;
        assert!(totals.to_string().ends_with("; 2 snapshot(s) stored"));
    }
}
