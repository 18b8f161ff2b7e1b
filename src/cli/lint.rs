//! `tera-operator lint`: check charts the way the operator will use them, rule by rule.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::inputs::{self, DEFAULT_CONFIG};
use crate::chart::{self, Chart, ChartMeta, ValuesSchema};
use crate::config::{DEFAULT_ALLOWED_KINDS, Watch};
use crate::render::Renderer;

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Chart directories (default: every chart in the mapping file).
    pub charts: Vec<PathBuf>,
    /// The mapping file (its entries supply allowed kinds and override values).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The chart will not work.
    Error,
    /// The chart works but something is likely wrong.
    Warning,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Where, as `file[:line[:column]]`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.location, self.message)
    }
}

/// Runs `lint`; exit code 1 when any error is found.
pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let targets: Vec<(PathBuf, Option<Watch>)> = if args.charts.is_empty() {
        let mapping = inputs::load_mapping(&args.config)?;
        mapping
            .watches
            .into_iter()
            .map(|w| (w.chart_dir.clone(), Some(w)))
            .collect()
    } else {
        let mapping = inputs::load_mapping(&args.config).ok();
        args.charts
            .iter()
            .map(|dir| {
                let watch = mapping.as_ref().and_then(|m| {
                    m.watches
                        .iter()
                        .find(|w| same_dir(&w.chart_dir, dir))
                        .cloned()
                });
                (dir.clone(), watch)
            })
            .collect()
    };
    let mut errors = 0;
    let mut warnings = 0;
    for (dir, watch) in &targets {
        for finding in lint_chart(dir, watch.as_ref()) {
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

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Every finding for the chart in `dir`; `watch` supplies allowed kinds and overrides.
pub fn lint_chart(dir: &Path, watch: Option<&Watch>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let error = |location: String, message: String| Finding {
        severity: Severity::Error,
        location,
        message,
    };
    let meta = ChartMeta::load(&dir.join("Chart.yaml"))
        .map_err(|e| findings.push(error_from(&e)))
        .ok();
    let defaults = chart::load_values(&dir.join("values.yaml"))
        .map_err(|e| findings.push(error_from(&e)))
        .ok();
    let schema_path = dir.join("values.schema.json");
    let schema = if schema_path.exists() {
        ValuesSchema::load(&schema_path)
            .map_err(|e| findings.push(error_from(&e)))
            .ok()
    } else {
        findings.push(Finding {
            severity: Severity::Warning,
            location: schema_path.display().to_string(),
            message:
                "no values schema: custom resources are not validated and the CRD accepts any spec"
                    .to_string(),
        });
        None
    };
    let templates = chart::load_templates(&dir.join("templates"))
        .map_err(|e| findings.push(error_from(&e)))
        .ok();
    let (Some(meta), Some(defaults), Some(templates)) = (meta, defaults, templates) else {
        return findings;
    };
    if schema_path.exists() && schema.is_none() {
        return findings;
    }
    let chart = Chart {
        dir: dir.to_path_buf(),
        meta,
        defaults,
        schema,
        templates,
    };
    findings.extend(lint_crd(&chart, watch));
    let (allowed, overrides) = match watch {
        Some(w) => (w.allowed_kinds.clone(), w.override_values.clone()),
        None => (
            DEFAULT_ALLOWED_KINDS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            json!({}),
        ),
    };
    let renderer = match Renderer::with_settings(chart, allowed, overrides) {
        Ok(r) => r,
        Err(crate::render::Error::ChartInvalid { errors }) => {
            findings.extend(
                errors
                    .into_iter()
                    .map(|e| error(location(&e.file, e.line, e.column), e.message)),
            );
            return findings;
        }
        Err(e) => {
            findings.push(error(dir.display().to_string(), e.to_string()));
            return findings;
        }
    };
    findings.extend(lint_value_sets(dir, &renderer, watch));
    findings
}

/// The chart's CRD must generate, so `crd` and `--install-crds` work.
fn lint_crd(chart: &Chart, watch: Option<&Watch>) -> Vec<Finding> {
    let stand_in;
    let watch = match watch {
        Some(w) => w,
        None => {
            stand_in = Watch {
                group: "lint.tera-operator.io".to_string(),
                version: "v1".to_string(),
                kind: "Lint".to_string(),
                chart_dir: chart.dir.clone(),
                reconcile_period: crate::config::DEFAULT_RECONCILE_PERIOD,
                max_concurrent_reconciles: 1,
                override_values: json!({}),
                selector: None,
                watch_dependent_resources: true,
                allowed_kinds: Vec::new(),
                adopt_helm_releases: false,
                line: 0,
            };
            &stand_in
        }
    };
    match crate::crd::for_chart(watch, chart) {
        Ok(_) => Vec::new(),
        Err(e) => vec![
            Finding {
                severity: Severity::Error,
                location: String::new(),
                message: format!("{e} (while generating the CRD)"),
            }
            .relocated(),
        ],
    }
}

fn location(file: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}

/// Renders the defaults, and each `ci/*-values.yaml` on top of them (Helm's chart-testing
/// convention), and reports what fails.
fn lint_value_sets(dir: &Path, renderer: &Renderer, watch: Option<&Watch>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut sets: Vec<(PathBuf, Value)> = Vec::new();
    let ci_dir = dir.join("ci");
    if let Ok(entries) = std::fs::read_dir(&ci_dir) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
            .collect();
        files.sort();
        for file in files {
            match chart::load_values(&file) {
                Ok(values) => sets.push((file, values)),
                Err(e) => findings.push(error_from(&e)),
            }
        }
    }
    let has_ci_sets = !sets.is_empty();
    sets.insert(0, (dir.join("values.yaml"), json!({})));
    for (file, spec) in sets {
        let is_defaults = spec == json!({});
        if let Err(e) = renderer.values_for(&spec) {
            if let crate::render::Error::InvalidSpec { violations, .. } = &e {
                for v in violations {
                    // The defaults may leave required fields to each custom resource.
                    if is_defaults && v.missing_required && has_ci_sets {
                        continue;
                    }
                    findings.push(Finding {
                        severity: if is_defaults && v.missing_required {
                            Severity::Warning
                        } else {
                            Severity::Error
                        },
                        location: file.display().to_string(),
                        message: format!(
                            "{}: {} (against values.schema.json)",
                            match v.pointer.trim_start_matches("/spec") {
                                "" => "/",
                                pointer => pointer,
                            },
                            v.message
                        ),
                    });
                }
            }
            continue;
        }
        let resource = lint_resource(watch, &spec);
        match renderer.render(&resource, "default") {
            Ok(rendered) if rendered.objects.is_empty() => findings.push(Finding {
                severity: Severity::Warning,
                location: file.display().to_string(),
                message: "these values render no objects".to_string(),
            }),
            Ok(_) => {}
            Err(e) => findings.push(Finding {
                severity: Severity::Error,
                location: file.display().to_string(),
                message: format!("rendering these values failed: {e}"),
            }),
        }
    }
    findings
}

fn lint_resource(watch: Option<&Watch>, spec: &Value) -> Value {
    let (api_version, kind) = match watch {
        Some(w) => (w.api_version(), w.kind.clone()),
        None => ("lint.tera-operator.io/v1".to_string(), "Lint".to_string()),
    };
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "lint", "namespace": "default", "uid": "00000000-0000-0000-0000-000000000000", "generation": 1},
        "spec": spec,
    })
}

fn error_from(err: &chart::Error) -> Finding {
    Finding {
        severity: Severity::Error,
        location: String::new(),
        message: err.to_string(),
    }
    .relocated()
}

impl Finding {
    /// Moves a leading `path: ` of the message into the location.
    fn relocated(mut self) -> Self {
        if self.location.is_empty()
            && let Some((path, rest)) = self.message.split_once(": ")
        {
            self.location = path.to_string();
            self.message = rest.to_string();
        }
        self
    }
}
