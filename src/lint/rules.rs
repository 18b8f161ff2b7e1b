//! The lint rules, in the order they run: each reads or checks one part of the chart.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Finding, Lint, Rule};
use crate::chart::{self, ChartMeta, ValuesSchema};
use crate::config::{DEFAULT_RECONCILE_PERIOD, Watch, default_allowed_kinds};
use crate::render::{self, Renderer};

/// Every rule, in the order [`super::lint_chart`] runs them.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        name: "chart-yaml",
        check: chart_yaml,
    },
    Rule {
        name: "values-yaml",
        check: values_yaml,
    },
    Rule {
        name: "values-schema",
        check: values_schema,
    },
    Rule {
        name: "templates",
        check: templates,
    },
    Rule {
        name: "status",
        check: status,
    },
    Rule {
        name: "ignored-files",
        check: super::helm::ignored_files,
    },
    Rule {
        name: "migrate-markers",
        check: super::helm::migrate_markers,
    },
    Rule {
        name: "crd",
        check: crd,
    },
    Rule {
        name: "templates-compile",
        check: templates_compile,
    },
    Rule {
        name: "value-sets",
        check: value_sets,
    },
    Rule {
        name: "object-types",
        check: super::object_types::object_types,
    },
];

fn chart_error(lint: &mut Lint<'_>, error: &chart::Error) {
    lint.findings
        .push(Finding::located_in_message(error.to_string()));
}

/// Chart.yaml reads, with a DNS-label name and a SemVer version.
fn chart_yaml(lint: &mut Lint<'_>) {
    match ChartMeta::load(&lint.dir.join("Chart.yaml")) {
        Ok(meta) => lint.meta = Some(meta),
        Err(e) => chart_error(lint, &e),
    }
}

/// templates/_status.tera and status.schema.json come together, and the schema declares
/// status fields tera-operator does not write itself.
fn status(lint: &mut Lint<'_>) {
    let Some(templates) = &lint.templates else {
        return;
    };
    if let Err(e) = chart::load_status_schema(lint.dir, templates) {
        chart_error(lint, &e);
    }
}

/// values.yaml, when present, is a YAML mapping.
fn values_yaml(lint: &mut Lint<'_>) {
    match chart::load_values(&lint.dir.join("values.yaml")) {
        Ok(values) => lint.defaults = Some(values),
        Err(e) => chart_error(lint, &e),
    }
}

/// values.schema.json is a valid JSON Schema; without one, nothing validates custom resources.
fn values_schema(lint: &mut Lint<'_>) {
    let path = lint.dir.join("values.schema.json");
    if !path.exists() {
        lint.findings.push(Finding::warning(
            path.display().to_string(),
            "no values schema: custom resources are not validated and the CRD accepts any spec"
                .to_string(),
        ));
        lint.schema = Some(None);
        return;
    }
    match ValuesSchema::load(&path) {
        Ok(schema) => lint.schema = Some(Some(schema)),
        Err(e) => chart_error(lint, &e),
    }
}

/// templates/ holds at least one template, and every template reads.
fn templates(lint: &mut Lint<'_>) {
    match chart::load_templates(&lint.dir.join("templates")) {
        Ok(templates) => lint.templates = Some(templates),
        Err(e) => chart_error(lint, &e),
    }
}

/// The chart's CRD generates, so `tera-operator crd` and `--install-crds` work.
fn crd(lint: &mut Lint<'_>) {
    let Some(chart) = lint.chart() else {
        return;
    };
    let stand_in;
    let watch = match lint.watch {
        Some(w) => w,
        None => {
            stand_in = Watch {
                group: "lint.tera-operator.io".to_string(),
                version: "v1".to_string(),
                kind: "Lint".to_string(),
                chart_dir: chart.dir.clone(),
                reconcile_period: DEFAULT_RECONCILE_PERIOD,
                max_concurrent_reconciles: 1,
                override_values: json!({}),
                override_sources: Vec::new(),
                selector: None,
                watch_dependent_resources: true,
                allowed_kinds: Vec::new(),
                adopt_helm_releases: false,
                line: 0,
                mapping_file: std::path::PathBuf::new(),
            };
            &stand_in
        }
    };
    match crate::crd::for_chart(watch, &chart) {
        Err(e) => lint.findings.push(Finding::located_in_message(format!(
            "{e} (while generating the CRD)"
        ))),
        Ok(crd) => {
            let spec = serde_json::to_value(&crd.spec.versions)
                .ok()
                .and_then(|versions| {
                    versions
                        .pointer("/0/schema/openAPIV3Schema/properties/spec")
                        .cloned()
                });
            let mut open = Vec::new();
            if let Some(spec) = &spec {
                free_form_paths(spec, String::new(), &mut open);
            }
            for path in open {
                lint.findings.push(Finding::warning(
                    lint.dir.join("values.schema.json").display().to_string(),
                    format!(
                        "{}: accepts fields of any shape, so the API server stores a spec nested as deep as it is sent; tera-operator refuses values deeper than {} levels, but one nested past what its client decodes (about 120 levels) stops the watch of the whole kind: declare the properties, or the type of additionalProperties",
                        if path.is_empty() { "/" } else { &path },
                        render::MAX_VALUES_DEPTH,
                    ),
                ));
            }
        }
    }
}

/// Paths (in the values) of the CRD schema's free-form nodes, which keep unknown fields at any depth.
fn free_form_paths(schema: &Value, path: String, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        out.push(path);
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            free_form_paths(child, format!("{path}/{name}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = schema.get(key).filter(|c| c.is_object()) {
            free_form_paths(child, format!("{path}/*"), out);
        }
    }
}

/// The templates compile, with the mapping entry's allowed kinds and overrides.
fn templates_compile(lint: &mut Lint<'_>) {
    let Some(chart) = lint.chart() else {
        return;
    };
    let (allowed, overrides) = match lint.watch {
        Some(w) => (w.allowed_kinds.clone(), w.override_values.clone()),
        None => (default_allowed_kinds(), json!({})),
    };
    match Renderer::with_settings(chart, allowed, overrides) {
        Ok(renderer) => lint.renderer = Some(renderer),
        Err(render::Error::ChartInvalid { errors }) => {
            lint.findings.extend(
                errors
                    .into_iter()
                    .map(|e| Finding::error(location(&e.file, e.line, e.column), e.message)),
            );
        }
        Err(e) => lint.findings.push(Finding::error(
            lint.dir.display().to_string(),
            e.to_string(),
        )),
    }
}

fn location(file: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}

/// The defaults, and each `ci/*-values.yaml` on top of them (Helm's chart-testing convention),
/// pass the values schema and render at least one object.
fn value_sets(lint: &mut Lint<'_>) {
    let Some(renderer) = &lint.renderer else {
        return;
    };
    let mut findings = Vec::new();
    let mut sets: Vec<(PathBuf, Value)> = Vec::new();
    let ci_dir = lint.dir.join("ci");
    if let Ok(entries) = std::fs::read_dir(&ci_dir) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
            .collect();
        files.sort();
        for file in files {
            match chart::load_values(&file) {
                Ok(values) => sets.push((file, values)),
                Err(e) => findings.push(Finding::located_in_message(e.to_string())),
            }
        }
    }
    let has_ci_sets = !sets.is_empty();
    sets.insert(0, (lint.dir.join("values.yaml"), json!({})));
    for (file, spec) in sets {
        let is_defaults = spec == json!({});
        if let Err(e) = renderer.values_for(&spec) {
            if let render::Error::InvalidSpec { violations, .. } = &e {
                for v in violations {
                    // The defaults may leave required fields to each custom resource.
                    if is_defaults && v.missing_required && has_ci_sets {
                        continue;
                    }
                    let message = format!(
                        "{}: {} (against values.schema.json)",
                        match v.pointer.trim_start_matches("/spec") {
                            "" => "/",
                            pointer => pointer,
                        },
                        v.message
                    );
                    let location = file.display().to_string();
                    findings.push(if is_defaults && v.missing_required {
                        Finding::warning(location, message)
                    } else {
                        Finding::error(location, message)
                    });
                }
            }
            continue;
        }
        let resource = resource(lint.watch, &spec);
        match renderer.render(&resource, "default") {
            Ok(rendered) if rendered.objects.is_empty() => findings.push(Finding::warning(
                file.display().to_string(),
                "these values render no objects".to_string(),
            )),
            Ok(rendered) => lint.rendered.push((file, rendered)),
            Err(e) => findings.push(Finding::error(
                file.display().to_string(),
                format!("rendering these values failed: {e}"),
            )),
        }
    }
    lint.findings.extend(findings);
}

/// A custom resource of the mapped kind (or a stand-in) with `spec`.
fn resource(watch: Option<&Watch>, spec: &Value) -> Value {
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
