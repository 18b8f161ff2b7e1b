//! Lint rules for charts that come from Helm: files the engine ignores, and the markers
//! `migrate helm-chart` leaves where it could not convert.

use super::{Finding, Lint};
use crate::migrate::helm_chart::MARKER_TAG;

/// Says which files of `templates/` the engine ignores, with the Tera equivalent: Helm's
/// `_helpers.tpl` and other `*.tpl`, `NOTES.txt`, its `templates/tests/` hooks, other
/// subdirectories, anything else. The chart's own `tests/` (chart tests, beside `templates/`)
/// is not looked at here.
pub(super) fn ignored_files(lint: &mut Lint<'_>) {
    let dir = lint.dir.join("templates");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut names: Vec<(String, bool)> = entries
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    names.sort();
    for (name, is_dir) in names {
        let read = !is_dir
            && ((name.starts_with('_') && name.ends_with(".tera"))
                || (!name.starts_with('_') && (name.ends_with(".yaml") || name.ends_with(".yml"))));
        if read {
            continue;
        }
        let why = if is_dir {
            if name == "tests" {
                "Helm's test hooks (Pods `helm test` runs in the cluster) have no equivalent: assert on the rendered objects with chart tests instead, in the chart's own tests/*_test.yaml, run by `tera-operator test`".to_string()
            } else {
                "a directory: only templates/*.yaml, *.yml and _*.tera are read".to_string()
            }
        } else if name.ends_with(".tpl") {
            "a Helm partial (Go template): its `define`s are not read; write them as components in a `_*.tera` file (`{% component name(@values) %}…{% endcomponent name %}`, used as `{{<name/>}}`), or convert the chart with `tera-operator migrate helm-chart`".to_string()
        } else if name == "NOTES.txt" {
            "Helm prints NOTES.txt after an install; the operator has no such step: put the notes in the chart's README".to_string()
        } else if name.starts_with('_') {
            "a partial must end in .tera to be read".to_string()
        } else {
            "only templates/*.yaml, *.yml and _*.tera are read".to_string()
        };
        lint.findings.push(Finding::warning(
            format!("templates/{name}"),
            format!("ignored: {why}"),
        ));
    }
}

/// Every marker `migrate helm-chart` left (a `fail` naming what was not converted) is an error.
pub(super) fn migrate_markers(lint: &mut Lint<'_>) {
    let Some(templates) = &lint.templates else {
        return;
    };
    let mut found = Vec::new();
    for template in templates {
        for (i, line) in template.source.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find(MARKER_TAG) {
                let message = rest[at + MARKER_TAG.len()..]
                    .trim_start_matches(": ")
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                found.push(Finding::error(
                    format!("{}:{}", template.name, i + 1),
                    format!("not converted from Helm: {message}"),
                ));
                rest = &rest[at + MARKER_TAG.len()..];
            }
        }
    }
    lint.findings.extend(found);
}
