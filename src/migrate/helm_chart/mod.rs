//! `migrate helm-chart`: converting a Helm chart (Go templates, Sprig, Helm built-ins) into a
//! tera-operator chart, with a report of what could not be converted.
//!
//! Templates are parsed ([`parse`]) and translated ([`translate`], [`expr`], [`functions`]):
//! `define`d templates become components in `templates/_helpers.tera`, `.Values`/`.Release`/
//! `.Chart` the engine's context, `.Files` is inlined, `.Capabilities` reads
//! `values.capabilities`. What has no equivalent (`lookup`, random values, hooks, …) becomes a
//! `fail(msg=…)` marker that fails lint and render, and is listed in the [`Report`].

mod capabilities;
mod hooks;
mod output;
mod schema;

pub(crate) use crate::render::go_template::output_name;
use crate::render::go_template::{parse, translate};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

pub use crate::render::go_template::{MARKER_TAG, Marker};
pub use output::Converted;

/// What to convert and where to.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Helm chart directory.
    pub source: PathBuf,
    /// Where the converted chart is written (created; must be empty or missing).
    pub output: PathBuf,
    /// The custom resource kind the chart serves.
    pub kind: String,
    /// Its API group.
    pub group: String,
    /// Its API version.
    pub version: String,
    /// A mapping file to add the kind's entry to (or replace it in).
    pub mapping: Option<PathBuf>,
    /// The Kubernetes version `.Capabilities` stands for, by default.
    pub kube_version: String,
}

/// Why a chart could not be converted; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A YAML or JSON file of the chart is malformed.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A template is not valid Go template syntax.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The template.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        message: String,
    },
    /// The output directory already holds files.
    #[error("{0}: the output directory is not empty")]
    OutputNotEmpty(PathBuf),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the conversion did and did not do.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Templates converted (renderable ones, components not counted).
    pub templates: Vec<String>,
    /// Markers left in the output.
    pub markers: Vec<Marker>,
    /// Source files not converted, with why.
    pub skipped: Vec<(String, String)>,
    /// Notes: what was resolved at conversion time.
    pub notes: Vec<String>,
}

impl Report {
    /// Templates with no marker.
    pub fn clean_templates(&self) -> usize {
        self.templates
            .iter()
            .filter(|t| !self.markers.iter().any(|m| &m.file == *t))
            .count()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "converted {} template(s), {} without markers",
            self.templates.len(),
            self.clean_templates()
        )?;
        for m in &self.markers {
            writeln!(f, "MARKER {}:{}: {}", m.file, m.line, m.message)?;
        }
        for (file, why) in &self.skipped {
            writeln!(f, "SKIPPED {file}: {why}")?;
        }
        for note in &self.notes {
            writeln!(f, "NOTE {note}")?;
        }
        Ok(())
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A Helm chart as read from disk.
struct Source {
    meta: Json,
    values_text: String,
    defaults: Json,
    schema: Option<String>,
    /// Template files: relative path → text.
    templates: BTreeMap<String, String>,
    /// Other files, for `.Files`.
    files: BTreeMap<String, String>,
    notes: Option<String>,
    skipped: Vec<(String, String)>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io(path))
}

fn yaml(path: &Path, text: &str) -> Result<Json> {
    if text.trim().is_empty() {
        return Ok(Json::Object(Default::default()));
    }
    serde_yaml::from_str(text).map_err(|e| Error::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, base, out)?;
        } else {
            out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

impl Source {
    fn load(dir: &Path) -> Result<Self> {
        let chart_yaml = dir.join("Chart.yaml");
        let meta = yaml(&chart_yaml, &read(&chart_yaml)?)?;
        let values_path = dir.join("values.yaml");
        let values_text = if values_path.exists() {
            read(&values_path)?
        } else {
            String::new()
        };
        let defaults = yaml(&values_path, &values_text)?;
        let schema_path = dir.join("values.schema.json");
        let schema = schema_path
            .exists()
            .then(|| read(&schema_path))
            .transpose()?;
        let mut source = Source {
            meta,
            values_text,
            defaults,
            schema,
            templates: BTreeMap::new(),
            files: BTreeMap::new(),
            notes: None,
            skipped: Vec::new(),
        };
        let mut all = Vec::new();
        walk(dir, dir, &mut all)?;
        for rel in all {
            let name = rel.to_string_lossy().replace('\\', "/");
            let path = dir.join(&rel);
            if name.starts_with("templates/tests/") {
                source.skipped.push((
                    name,
                    "Helm test hook: run it with `tera-operator test` assertions or a Job of your own".into(),
                ));
            } else if name == "templates/NOTES.txt" {
                source.notes = Some(read(&path)?);
            } else if name.starts_with("templates/") {
                source.templates.insert(name, read(&path)?);
            } else if name.starts_with("charts/") {
                if name.ends_with(".tgz") {
                    source.skipped.push((
                        name,
                        "packaged dependency: unpack it (`helm dependency build`, then `tar xzf`) and convert again to flatten it".into(),
                    ));
                } else if let Some(rest) = library_template(&name) {
                    source
                        .templates
                        .insert(format!("templates/_lib/{rest}"), read(&path)?);
                }
            } else if !matches!(
                name.as_str(),
                "Chart.yaml" | "values.yaml" | "values.schema.json" | ".helmignore" | "Chart.lock"
            ) && let Ok(text) = std::fs::read_to_string(&path)
            {
                source.files.insert(name, text);
            }
        }
        Ok(source)
    }
}

/// `charts/common/templates/_names.tpl` → `common/_names.tpl`: partials of a dependency, whose
/// `define`s are flattened into the chart (its renderable templates are not).
fn library_template(name: &str) -> Option<String> {
    let rest = name.strip_prefix("charts/")?;
    let (chart, path) = rest.split_once("/templates/")?;
    let file = path.rsplit('/').next()?;
    (file.starts_with('_') && !chart.contains('/')).then(|| format!("{chart}/{path}"))
}

/// With `tpl` at render time, a value's template may call any define the chart uses, with the
/// root context or another: the variant of a generated component not generated yet.
fn other_variant(
    translator: &translate::Translator<'_>,
    done: &std::collections::BTreeSet<translate::Variant>,
) -> Option<translate::Variant> {
    if !translator.runtime_tpl {
        return None;
    }
    done.iter()
        .map(|(name, with_dot)| (name.clone(), !with_dot))
        .find(|v| !done.contains(v))
}

/// Converts the chart at `options.source` into `options.output`.
pub fn convert(options: &Options) -> Result<(Converted, Report)> {
    let source = Source::load(&options.source)?;
    let mut report = Report {
        skipped: source.skipped.clone(),
        ..Report::default()
    };
    let chart_name = source.meta["name"].as_str().unwrap_or("chart").to_string();

    let mut defaults = source.defaults.clone();
    let uses_capabilities = source
        .templates
        .values()
        .any(|t| t.contains(".Capabilities"));
    if uses_capabilities {
        if let Json::Object(map) = &mut defaults {
            map.entry("capabilities")
                .or_insert_with(|| capabilities::defaults(&options.kube_version));
        }
        report.notes.push(format!(
            "`.Capabilities` reads `values.capabilities` (kubeVersion {} and Helm's offline API versions by default; list the API versions your cluster serves in apiVersions)",
            options.kube_version
        ));
    }

    let mut parsed = Vec::new();
    let mut defines: HashMap<String, (String, Vec<parse::Node>)> = HashMap::new();
    for (name, text) in &source.templates {
        let p = parse::parse(text).map_err(|e| Error::Syntax {
            path: options.source.join(name),
            line: e.line,
            message: e.message,
        })?;
        for (define, body) in p.defines {
            defines.insert(define, (name.clone(), body));
        }
        let file = name.rsplit('/').next().unwrap_or(name);
        let renderable = !file.starts_with('_')
            && !name.starts_with("templates/_lib/")
            && (file.ends_with(".yaml") || file.ends_with(".yml") || file.ends_with(".tpl"));
        if renderable {
            parsed.push((name.clone(), p.body, hooks::classify(text)));
        }
    }

    let mut translator = translate::Translator::new(
        &chart_name,
        defaults.clone(),
        &source.files,
        translate::Defines::Source(&defines),
    );
    let mut templates = Vec::new();
    translator.memo = true;
    for (name, body, hook) in &parsed {
        let mut text = translator.body(name, body, &translate::Dot::Root);
        if let hooks::Hook::Persistent(events) = hook {
            report.notes.push(format!(
                "{name}: a Helm hook ({events}) that only makes an object exist after install and upgrade: converted as a plain object, which the operator applies with the others (its hook annotations stay, without effect)"
            ));
        } else if *hook == hooks::Hook::Lifecycle {
            let fail = translator
                .marker(1, "a Helm hook: hooks run at install/upgrade steps, which a reconciling operator has none of; make it a plain object, a Job the chart owns, or drop it")
                .value();
            text = format!("{{{{ {fail} }}}}\n{text}");
        }
        let out_name = output_name(name);
        report.templates.push(name.clone());
        templates.push((out_name, text));
    }

    let mut components = String::new();
    let mut done = std::collections::BTreeSet::new();
    translator.memo = false;
    while let Some(variant) = translator
        .needed
        .iter()
        .find(|v| !done.contains(*v))
        .cloned()
        .or_else(|| other_variant(&translator, &done))
    {
        done.insert(variant.clone());
        let (name, with_dot) = variant;
        let Some((file, body)) = defines.get(&name) else {
            continue;
        };
        let ident = translate::component_name(&name);
        let (signature, dot) = if with_dot {
            (
                format!("{ident}_with(dot, @values, @release, @chart)"),
                translate::Dot::Expr("dot".into(), None),
            )
        } else {
            (
                format!("{ident}(@values, @release, @chart)"),
                translate::Dot::Root,
            )
        };
        let text = translator.body(file, body, &dot);
        let end = if with_dot {
            format!("{ident}_with")
        } else {
            ident
        };
        components.push_str(&format!(
            "{{# from define \"{name}\" in {file} #}}\n{{% component {signature} %}}{text}{{% endcomponent {end} %}}\n"
        ));
    }
    report.markers = translator.markers.clone();
    if translator.runtime_tpl {
        report.notes.push(
            "`tpl` of values: the value's template is translated and rendered when the chart renders; it can call the defines the chart's templates use (both with the root context and with another)".to_string(),
        );
    }

    let converted = output::write(
        options,
        &source,
        defaults,
        templates,
        components,
        &mut report,
    )?;
    Ok((converted, report))
}

#[cfg(test)]
mod tests;
