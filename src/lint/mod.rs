//! Lint: check a chart the way the operator will use it, as a list of rules.
//!
//! [`lint_chart`] runs every rule of [`RULES`] in order over one chart directory. The first
//! rules read the chart's files one by one (so every broken file is reported, not only the
//! first); the later ones need what those read (a loaded chart, a compiled renderer) and say
//! nothing when an earlier rule could not provide it. Each rule is a plain function over a
//! [`Lint`], testable alone.

pub mod chart_tests;
mod helm;
mod object_types;
mod rules;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chart::{Chart, ChartMeta, TemplateFile, ValuesSchema};
use crate::config::{Mapping, Watch};
use crate::render::{Rendered, Renderer};

pub(crate) use rules::RULES;

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

impl Finding {
    fn error(location: String, message: String) -> Self {
        Self {
            severity: Severity::Error,
            location,
            message,
        }
    }

    fn warning(location: String, message: String) -> Self {
        Self {
            severity: Severity::Warning,
            location,
            message,
        }
    }

    /// An error whose message starts with its location (`path: what`), as chart and CRD
    /// errors are written: the leading `path: ` moves into the location.
    fn located_in_message(message: String) -> Self {
        match message.split_once(": ") {
            Some((path, rest)) => Self::error(path.to_string(), rest.to_string()),
            None => Self::error(String::new(), message),
        }
    }
}

/// One lint rule: a name for messages and tests, and the check that adds its findings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// What it checks, e.g. `values-schema`.
    pub(crate) name: &'static str,
    /// The check.
    pub(crate) check: fn(&mut Lint<'_>),
}

/// One chart being linted: the parts of it the rules have read so far, and their findings.
#[derive(Debug)]
pub(crate) struct Lint<'a> {
    dir: &'a Path,
    watch: Option<&'a Watch>,
    meta: Option<ChartMeta>,
    defaults: Option<Value>,
    /// `Some(None)` when the chart has no schema; `None` when it has one that did not load.
    schema: Option<Option<ValuesSchema>>,
    templates: Option<Vec<TemplateFile>>,
    renderer: Option<Renderer>,
    /// What each value set rendered to: the values file and the objects.
    rendered: Vec<(PathBuf, Rendered)>,
    findings: Vec<Finding>,
}

impl<'a> Lint<'a> {
    /// Nothing read yet of the chart in `dir`; `watch` (its mapping entry, if any) supplies
    /// allowed kinds and override values.
    pub(crate) fn new(dir: &'a Path, watch: Option<&'a Watch>) -> Self {
        Self {
            dir,
            watch,
            meta: None,
            defaults: None,
            schema: None,
            templates: None,
            renderer: None,
            rendered: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Runs one rule.
    pub(crate) fn check(&mut self, rule: &Rule) {
        (rule.check)(self);
    }

    /// The chart, once every one of its files was read.
    fn chart(&self) -> Option<Chart> {
        Some(Chart {
            dir: self.dir.to_path_buf(),
            meta: self.meta.clone()?,
            defaults: self.defaults.clone()?,
            schema: self.schema.clone()?,
            templates: self.templates.clone()?,
            // An incomplete computed status is the `status` rule's finding.
            status_schema: crate::chart::load_status_schema(self.dir, self.templates.as_ref()?)
                .ok()?,
        })
    }
}

/// Every finding for the chart in `dir`; `watch` supplies allowed kinds and overrides.
pub fn lint_chart(dir: &Path, watch: Option<&Watch>) -> Vec<Finding> {
    let mut lint = Lint::new(dir, watch);
    for rule in RULES {
        lint.check(rule);
        tracing::debug!(chart = %dir.display(), rule = rule.name, findings = lint.findings.len(), "lint rule ran");
    }
    lint.findings
}

/// The charts to lint, each with the mapping entry that serves it: every chart of `mapping`
/// when `charts` names none, else the directories `charts` (with the entry of `mapping` whose
/// chart directory is the same, if any).
pub fn targets(charts: &[PathBuf], mapping: Option<Mapping>) -> Vec<(PathBuf, Option<Watch>)> {
    let watches = mapping.map(|m| m.watches).unwrap_or_default();
    if charts.is_empty() {
        return watches
            .into_iter()
            .map(|w| (w.chart_dir.clone(), Some(w)))
            .collect();
    }
    charts
        .iter()
        .map(|dir| {
            let watch = watches
                .iter()
                .find(|w| same_dir(&w.chart_dir, dir))
                .cloned();
            (dir.clone(), watch)
        })
        .collect()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
