//! Writing the converted chart: Chart.yaml with CRD hints, values, schema, templates, docs, and
//! the kind's mapping entry.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use super::{Error, Options, Report, Result, Source, io, schema};

/// What was written.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The converted chart's directory.
    pub dir: PathBuf,
    /// Every kind the chart can render, as `allowedKinds` writes it.
    pub allowed_kinds: Vec<String>,
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Writes the converted chart into `options.output` and updates the mapping when asked.
pub(super) fn write(
    options: &Options,
    source: &Source,
    defaults: Json,
    templates: Vec<(String, String)>,
    components: String,
    report: &mut Report,
) -> Result<Converted> {
    let out = &options.output;
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(Error::OutputNotEmpty(out.clone()));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;

    write_file(&out.join("Chart.yaml"), &chart_yaml(options, &source.meta))?;

    let mut values = source.values_text.clone();
    if defaults.get("capabilities") != source.defaults.get("capabilities") {
        values.push_str(&super::capabilities::values_yaml(&options.kube_version));
    }
    write_file(&out.join("values.yaml"), &values)?;

    let schema_text = match &source.schema {
        Some(text) => {
            let mut schema: Json = serde_json::from_str(text).map_err(|e| Error::Invalid {
                path: options.source.join("values.schema.json"),
                message: e.to_string(),
            })?;
            if let Some(Json::Object(props)) = schema.get_mut("properties")
                && let Some(cap) = defaults.get("capabilities")
            {
                props.entry("capabilities").or_insert_with(|| {
                    schema::infer(&json!({"c": cap}))["properties"]["c"].clone()
                });
            }
            report
                .notes
                .push("values.schema.json copied from the chart".into());
            serde_json::to_string_pretty(&schema).unwrap_or_default()
        }
        None => {
            report
                .notes
                .push("values.schema.json inferred from values.yaml (types from the defaults; empty maps and lists accept anything)".into());
            serde_json::to_string_pretty(&schema::infer(&defaults)).unwrap_or_default()
        }
    };
    write_file(&out.join("values.schema.json"), &(schema_text + "\n"))?;

    let mut kinds = Vec::new();
    for (name, text) in &templates {
        write_file(&out.join(name), text)?;
    }
    for text in source.templates.values() {
        collect_kinds(text, &defaults, &mut kinds, report);
    }
    if !components.is_empty() {
        write_file(&out.join("templates/_helpers.tera"), &components)?;
    }
    if let Some(notes) = &source.notes {
        write_file(
            &out.join("README.md"),
            &format!(
                "# {}\n\nConverted from a Helm chart by `tera-operator migrate helm-chart`. Helm printed these\nnotes after an install (Go template text, kept as it was):\n\n```\n{notes}```\n",
                options.kind
            ),
        )?;
    }
    if let Some(mapping) = &options.mapping {
        update_mapping(mapping, options, &kinds)?;
    }
    Ok(Converted {
        dir: out.clone(),
        allowed_kinds: kinds,
    })
}

fn chart_yaml(options: &Options, meta: &Json) -> String {
    let mut chart = serde_json::Map::new();
    for key in [
        "apiVersion",
        "name",
        "version",
        "appVersion",
        "description",
        "keywords",
        "home",
        "sources",
        "maintainers",
        "icon",
        "kubeVersion",
    ] {
        if let Some(v) = meta.get(key) {
            chart.insert(key.into(), v.clone());
        }
    }
    let singular = options.kind.to_lowercase();
    chart.insert(
        "crd".into(),
        json!({
            "singular": singular,
            "plural": crate::crd::pluralize(&singular),
            "categories": ["tera"],
        }),
    );
    format!(
        "# Converted from a Helm chart by `tera-operator migrate helm-chart`.\n{}",
        serde_yaml::to_string(&Json::Object(chart)).unwrap_or_default()
    )
}

/// Kinds a template can render, from its `apiVersion:`/`kind:` lines (constants only).
/// Cluster-scoped built-in kinds are left out (a namespaced custom resource cannot own them)
/// and said in the report; so is an unknown kind of the core group (`List`).
fn collect_kinds(text: &str, defaults: &Json, kinds: &mut Vec<String>, report: &mut Report) {
    // The apiVersion before each `kind:`; a templated one (`{{ include "…apiVersion" . }}`)
    // counts by the literal default it names (`| default "gateway.networking.k8s.io/v1"`), else
    // as unknown: then a built-in kind's own group is used.
    let mut api_version: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(v) = t.strip_prefix("apiVersion:") {
            let v = v.trim();
            api_version = if v.contains("{{") {
                literals(v)
                    .into_iter()
                    .find(|l| l.contains('/'))
                    .or_else(|| value_default(v, defaults))
            } else {
                Some(v.trim_matches('"').to_string())
            };
        } else if let Some(k) = t
            .strip_prefix("kind:")
            .filter(|_| line.starts_with("kind:"))
        {
            // `kind: Secret`, or a templated choice (`{{ if … }} Secret {{ else }} ConfigMap …`,
            // `{{ .kind | default "HTTPRoute" }}`): every word that is a kind of the group.
            let templated = k.contains("{{");
            let quoted = literals(k);
            let words: Vec<&str> = k
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect();
            for kind in words {
                let builtin_kind = k8s_rules::kinds::find(kind);
                if templated && builtin_kind.is_none() && !quoted.iter().any(|q| q == kind) {
                    continue;
                }
                let group = match (&api_version, builtin_kind) {
                    (Some(v), _) => crate::config::group_of(v).to_string(),
                    (None, Some(b)) => b.group.to_string(),
                    (None, None) => {
                        let note = format!(
                            "{kind}: its apiVersion is templated with no literal default, so its group is unknown: add it to allowedKinds by hand"
                        );
                        if !report.notes.contains(&note) {
                            report.notes.push(note);
                        }
                        continue;
                    }
                };
                let group = group.as_str();
                let builtin = builtin_kind.filter(|b| b.group == group);
                let shown = crate::config::display_kind(kind, group);
                let shown_api = api_version.clone().unwrap_or_default();
                let note = match builtin {
                    Some(b) if !b.namespaced => format!(
                        "{shown} is cluster-scoped: a namespaced custom resource cannot own it, so it is not in allowedKinds and rendering it is a policy violation; create it once outside the chart (e.g. with the operator's RBAC), or turn it off in the values"
                    ),
                    None if group.is_empty() => format!(
                        "{shown} (apiVersion {shown_api}) is not a Kubernetes kind: left out of allowedKinds"
                    ),
                    _ => {
                        if !kinds.contains(&shown) {
                            kinds.push(shown);
                        }
                        continue;
                    }
                };
                if !report.notes.contains(&note) {
                    report.notes.push(note);
                }
            }
        }
    }
}

/// `{{ .Values.a.b }}` (or `$.Values.a.b`, trim markers allowed) alone: the string values.yaml
/// gives it, the apiVersion the chart renders unless a custom resource sets another.
fn value_default(text: &str, defaults: &Json) -> Option<String> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-').trim();
    let path = inner.trim_start_matches('$').strip_prefix(".Values.")?;
    let mut value = defaults;
    for key in path.split('.') {
        value = value.get(key)?;
    }
    value
        .as_str()
        .filter(|v| v.contains('/'))
        .map(str::to_string)
}

/// The double-quoted literals in a line of template text.
fn literals(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Adds the kind's entry to the mapping file, or replaces it.
fn update_mapping(path: &Path, options: &Options, kinds: &[String]) -> Result<()> {
    let mut entries: Vec<Json> = if path.exists() {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let value: Json = if text.trim().is_empty() {
            json!([])
        } else {
            serde_yaml::from_str(&text).map_err(|e| Error::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?
        };
        match value {
            Json::Array(items) => items,
            _ => {
                return Err(Error::Invalid {
                    path: path.to_path_buf(),
                    message: "a mapping file is a list of entries".into(),
                });
            }
        }
    } else {
        Vec::new()
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let chart = relative(&options.output, base);
    let entry = json!({
        "group": options.group,
        "version": options.version,
        "kind": options.kind,
        "chart": chart,
        "allowedKinds": kinds,
    });
    match entries
        .iter_mut()
        .find(|e| e.get("kind").and_then(Json::as_str) == Some(options.kind.as_str()))
    {
        Some(existing) => *existing = entry,
        None => entries.push(entry),
    }
    let text = serde_yaml::to_string(&Json::Array(entries)).unwrap_or_default();
    write_file(path, &text)
}

/// `target` relative to `base` (both made absolute first).
fn relative(target: &Path, base: &Path) -> String {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<String>>()
    };
    let (t, b) = (abs(target), abs(base));
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = b[common..].iter().map(|_| "..".to_string()).collect();
    parts.extend(t[common..].iter().cloned());
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}
