//! Chart tests (`tera-operator test`): the chart's `tests/*_test.yaml`, in the spirit of
//! helm-unittest. Each test renders a values set or a custom resource through the chart, as the
//! operator would, and asserts on the objects (or on the failure).
//!
//! [`run_chart`] runs every test file of one chart and reports each test's failures, each
//! naming the test file, the test, the object and the path. A test file that cannot be read, or
//! names a template the chart does not have, is an error of that file, not a failure.

mod check;
mod path;
mod snapshot;
mod suite;
mod summary;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::chart::Chart;
use crate::config::{Watch, default_allowed_kinds};
use crate::render::{ObjectSource, Renderer};
use suite::{Check, Suite, Test};
pub use summary::{Totals, report_lines};

/// How to run the tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Rewrite the stored snapshots with what the chart renders now, instead of comparing.
    pub update_snapshots: bool,
}

/// What the tests of one chart found.
#[derive(Debug)]
pub struct ChartReport {
    /// The chart directory.
    pub dir: PathBuf,
    /// Why no test could run (the chart does not load or compile), if so.
    pub error: Option<String>,
    /// One report per test file, in file-name order.
    pub suites: Vec<SuiteReport>,
}

/// What the tests of one file found.
#[derive(Debug)]
pub struct SuiteReport {
    /// The test file.
    pub file: PathBuf,
    /// The suite's name (`suite:`, else the file name).
    pub name: String,
    /// Why the file's tests could not run, if so (its tests are then not in `tests`).
    pub error: Option<String>,
    /// The tests, in file order.
    pub tests: Vec<TestReport>,
    /// Snapshots written (with [`Options::update_snapshots`]).
    pub snapshots_written: usize,
}

/// What one test found.
#[derive(Debug)]
pub struct TestReport {
    /// `it:`.
    pub name: String,
    /// Every failed assertion, said in full; empty when the test passed.
    pub failures: Vec<String>,
}

/// The chart's test files: `tests/*_test.yaml` (and `.yml`), in name order; none without `tests/`.
pub fn test_files(chart_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = chart_dir.join("tests");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_file() && (name.ends_with("_test.yaml") || name.ends_with("_test.yml")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Runs every test file of the chart in `dir`; `watch` (its mapping entry, if any) gives the
/// custom resource's kind, the allowed kinds and the override values, as for the operator.
pub fn run_chart(dir: &Path, watch: Option<&Watch>, options: Options) -> ChartReport {
    let mut report = ChartReport {
        dir: dir.to_path_buf(),
        error: None,
        suites: Vec::new(),
    };
    let files = match test_files(dir) {
        Ok(files) => files,
        Err(e) => {
            report.error = Some(format!("{}: cannot read: {e}", dir.join("tests").display()));
            return report;
        }
    };
    if files.is_empty() {
        return report;
    }
    let renderer = Chart::load(dir)
        .map_err(|e| e.to_string())
        .and_then(|chart| {
            match watch {
                Some(w) => Renderer::new(chart, w),
                None => Renderer::with_settings(chart, default_allowed_kinds(), json!({})),
            }
            .map_err(|e| e.to_string())
        });
    let renderer = match renderer {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("the chart does not load: {e}"));
            return report;
        }
    };
    for file in files {
        report
            .suites
            .push(run_file(&file, &renderer, watch, options));
    }
    report
}

fn run_file(
    file: &Path,
    renderer: &Renderer,
    watch: Option<&Watch>,
    options: Options,
) -> SuiteReport {
    let mut report = SuiteReport {
        file: file.to_path_buf(),
        name: String::new(),
        error: None,
        tests: Vec::new(),
        snapshots_written: 0,
    };
    let loaded = suite::load(file).and_then(|suite| {
        unknown_templates(&suite, renderer)?;
        Ok(suite)
    });
    let suite = match loaded {
        Ok(suite) => suite,
        Err(e) => {
            report.error = Some(format!("{}: {e}", file.display()));
            return report;
        }
    };
    report.name = suite.name.clone();
    let stored = match snapshot::load(file) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let mut snapshots = stored.clone();
    snapshots.retain(|name, _| suite.tests.iter().any(|t| &t.name == name));
    for test in &suite.tests {
        let mut run = TestRun {
            file,
            test,
            stored: &stored,
            taken: Vec::new(),
            update: options.update_snapshots,
        };
        let failures = run.run(renderer, watch);
        for (index, text) in run.taken {
            snapshots
                .entry(test.name.clone())
                .or_default()
                .insert(index, text);
        }
        report.tests.push(TestReport {
            name: test.name.clone(),
            failures,
        });
    }
    if options.update_snapshots && snapshots != stored {
        report.snapshots_written = snapshots.values().map(|m| m.len()).sum();
        if let Err(e) = snapshot::store(file, &snapshots) {
            report.error = Some(e);
        }
    }
    report
}

/// Template names the suite's scopes use that the chart does not have.
fn unknown_templates(suite: &Suite, renderer: &Renderer) -> Result<(), String> {
    let known: Vec<&str> = renderer
        .chart
        .templates
        .iter()
        .filter(|t| !t.partial)
        .map(|t| t.name.as_str())
        .collect();
    for test in &suite.tests {
        for a in &test.asserts {
            if let Some(name) = a
                .scope
                .templates
                .iter()
                .find(|t| !known.contains(&t.as_str()))
            {
                return Err(format!(
                    "test {:?}: no template {name} in the chart (it has {})",
                    test.name,
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// One test being run.
struct TestRun<'a> {
    file: &'a Path,
    test: &'a Test,
    stored: &'a snapshot::Snapshots,
    /// Snapshots taken while updating: (place, text).
    taken: Vec<(usize, String)>,
    update: bool,
}

/// An object with where it came from.
pub(crate) struct Doc<'a> {
    pub(crate) object: &'a Value,
    pub(crate) source: &'a ObjectSource,
}

impl Doc<'_> {
    /// `Deployment default/web (templates/deployment.yaml)`.
    pub(crate) fn describe(&self) -> String {
        let s = |path: &[&str]| {
            crate::render::at(self.object, path)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        };
        format!(
            "{} {}/{} ({} document {})",
            s(&["kind"]),
            s(&["metadata", "namespace"]),
            s(&["metadata", "name"]),
            self.source.template,
            self.source.document
        )
    }
}

impl TestRun<'_> {
    fn run(&mut self, renderer: &Renderer, watch: Option<&Watch>) -> Vec<String> {
        let resource = self.resource(watch);
        let namespace = resource["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let result = renderer.render(&resource, &namespace);
        let mut failures = Vec::new();
        let mut snapshots = 0;
        for (i, a) in self.test.asserts.iter().enumerate() {
            let outcome = match (&a.check, &result) {
                (Check::Failed { message, pattern }, result) => {
                    check::failed(result, message.as_deref(), pattern.as_ref(), a.not)
                }
                (_, Err(e)) => Err(format!("rendering failed: {e}")),
                (Check::Snapshot(path), Ok(rendered)) => {
                    snapshots += 1;
                    let docs = check::select(rendered, &a.scope, false);
                    self.snapshot(snapshots, &docs, path.as_ref())
                }
                (check, Ok(rendered)) => {
                    let count_only = matches!(check, Check::HasDocuments(..));
                    let docs = check::select(rendered, &a.scope, count_only);
                    check::on_documents(check, a.not, &docs, &a.scope)
                }
            };
            if let Err(why) = outcome {
                failures.push(format!(
                    "{}: {:?}: asserts[{i}] {}: {why}",
                    self.file.display(),
                    self.test.name,
                    a.label
                ));
            }
        }
        failures
    }

    /// The custom resource the test renders.
    fn resource(&self, watch: Option<&Watch>) -> Value {
        let mut r = self.test.resource.clone().unwrap_or_default();
        let (api_version, kind) = match watch {
            Some(w) => (w.api_version(), w.kind.clone()),
            None => ("test.tera-operator.io/v1".to_string(), "Test".to_string()),
        };
        r.entry("apiVersion").or_insert(json!(api_version));
        r.entry("kind").or_insert(json!(kind));
        let metadata = r.entry("metadata").or_insert(json!({}));
        if !metadata.is_object() {
            *metadata = json!({});
        }
        let release = &self.test.release;
        if let Some(name) = &release.name {
            metadata["name"] = json!(name);
        } else if metadata.get("name").is_none() {
            metadata["name"] = json!("release-name");
        }
        if let Some(ns) = &release.namespace {
            metadata["namespace"] = json!(ns);
        } else if metadata.get("namespace").is_none() {
            metadata["namespace"] = json!("default");
        }
        if metadata.get("uid").is_none() {
            metadata["uid"] = json!("00000000-0000-0000-0000-000000000000");
        }
        if metadata.get("generation").is_none() {
            metadata["generation"] = json!(1);
        }
        r.insert("spec".to_string(), self.test.spec.clone());
        Value::Object(r)
    }

    /// Compares (or, updating, takes) the `place`-th snapshot of the test.
    fn snapshot(
        &mut self,
        place: usize,
        docs: &[Doc<'_>],
        path: Option<&suite::PathSpec>,
    ) -> Result<(), String> {
        if docs.is_empty() {
            return Err("no object selected to snapshot".to_string());
        }
        let mut text = String::new();
        for (i, doc) in docs.iter().enumerate() {
            let value = match path {
                Some(p) => path::get(doc.object, &p.steps)
                    .cloned()
                    .unwrap_or(Value::Null),
                None => doc.object.clone(),
            };
            if i > 0 {
                text.push_str("---\n");
            }
            match value {
                // Text (an nginx.conf) is stored as it is, to read and diff line by line.
                Value::String(s) => {
                    text.push_str(&s);
                    if !s.ends_with('\n') {
                        text.push('\n');
                    }
                }
                v => text.push_str(&serde_yaml::to_string(&v).map_err(|e| e.to_string())?),
            }
        }
        if self.update {
            self.taken.push((place, text));
            return Ok(());
        }
        let stored = self.stored.get(&self.test.name).and_then(|m| m.get(&place));
        match stored {
            None => Err(format!(
                "no stored snapshot {place} in {}: run `tera-operator test --update-snapshots` to take it",
                snapshot::file_for(self.file).display()
            )),
            Some(stored) if *stored == text => Ok(()),
            Some(stored) => Err(format!(
                "differs from snapshot {place} in {} (run `tera-operator test --update-snapshots` if the change is intended):\n{}",
                snapshot::file_for(self.file).display(),
                snapshot::diff(stored, &text)
            )),
        }
    }
}
