//! `migrate helm-operator`: an operator-sdk Helm operator project (watches.yaml, helm-charts,
//! config/crd, config/rbac) turned into a tera-operator mapping, converted charts and its CRDs.
//!
//! Each watches.yaml entry keeps its group, version, kind and settings (`overrideValues` as
//! written: the mapping reads operator-sdk's `--set` paths and `$ENV` values itself); its chart
//! is converted by [`super::helm_chart`]; `adoptHelmReleases` is on, so the objects
//! helm-operator made for each resource are taken over in place. The CRDs of config/crd/bases
//! are copied unchanged (same group, version, kind and names: existing custom resources keep
//! working); a kind without one gets a CRD generated from its converted chart.

mod project;
mod rbac;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::helm_chart;

/// What to migrate and where to.
#[derive(Debug, Clone)]
pub struct Options {
    /// The operator-sdk project directory (holding watches.yaml).
    pub project: PathBuf,
    /// Where the mapping, charts and CRDs are written (created; must be empty or missing).
    pub output: PathBuf,
    /// The Kubernetes version `.Capabilities` stands for in converted charts, by default.
    pub kube_version: String,
}

/// Why a project could not be migrated; each names the file.
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
    /// A file of the project is malformed or does not fit the documented layout.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The output directory already holds files.
    #[error("{0}: the output directory is not empty")]
    OutputNotEmpty(PathBuf),
    /// watches.yaml (or the mapping written from it) is refused by the mapping loader.
    #[error(transparent)]
    Mapping(#[from] crate::config::Error),
    /// A chart could not be converted.
    #[error(transparent)]
    Chart(#[from] helm_chart::Error),
    /// A converted chart could not be loaded back.
    #[error(transparent)]
    ChartLoad(#[from] crate::chart::Error),
    /// A CRD could not be generated from a converted chart.
    #[error(transparent)]
    Crd(#[from] crate::crd::Error),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What was done for one watches.yaml entry.
#[derive(Debug, Clone)]
pub struct KindReport {
    /// `Kind` (`group/version`).
    pub kind: String,
    /// The chart as watches.yaml names it, and where its conversion was written.
    pub chart: (String, String),
    /// Where the CRD came from and went.
    pub crd: String,
    /// The mapping entry's allowedKinds.
    pub allowed_kinds: Vec<String>,
    /// The chart conversion's own report.
    pub conversion: helm_chart::Report,
    /// Lint errors of the converted chart with its mapping entry (markers aside).
    pub lint_errors: Vec<String>,
}

/// What the migration did and did not do.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per watches.yaml entry, in file order.
    pub kinds: Vec<KindReport>,
    /// What was resolved or changed, project-wide.
    pub notes: Vec<String>,
    /// Project files and settings not carried over, with why.
    pub skipped: Vec<(String, String)>,
}

impl Report {
    /// Markers left in the converted charts, all kinds together.
    pub fn markers(&self) -> usize {
        self.kinds.iter().map(|k| k.conversion.markers.len()).sum()
    }

    /// Lint errors of the output other than markers, all kinds together.
    pub fn lint_errors(&self) -> usize {
        self.kinds.iter().map(|k| k.lint_errors.len()).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for k in &self.kinds {
            writeln!(f, "KIND {}", k.kind)?;
            writeln!(f, "  chart {} → {}", k.chart.0, k.chart.1)?;
            writeln!(f, "  CRD {}", k.crd)?;
            writeln!(f, "  allowedKinds: {}", k.allowed_kinds.join(", "))?;
            for line in k.conversion.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
            for error in &k.lint_errors {
                writeln!(f, "  LINT {error}")?;
            }
        }
        for (what, why) in &self.skipped {
            writeln!(f, "SKIPPED {what}: {why}")?;
        }
        for note in &self.notes {
            writeln!(f, "NOTE {note}")?;
        }
        Ok(())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Migrates the project at `options.project` into `options.output`.
pub fn migrate(options: &Options) -> Result<Report> {
    let out = &options.output;
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(Error::OutputNotEmpty(out.clone()));
    }
    let project = &options.project;
    let (entries, warnings) = project::entries(project)?;
    let crds = project::crds(project)?;
    let granted = rbac::granted(project)?;
    std::fs::create_dir_all(out).map_err(io(out))?;

    let mut report = Report::default();
    for warning in warnings {
        report.notes.push(warning);
    }
    let mut mapping = Vec::new();
    let mut used_dirs = BTreeSet::new();
    let mut copied = BTreeSet::new();
    let mut to_generate = Vec::new();
    for entry in &entries {
        let name = entry
            .chart_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "chart".into());
        let mut rel = format!("charts/{name}");
        if !used_dirs.insert(rel.clone()) {
            rel = format!("charts/{name}-{}", entry.kind.to_lowercase());
            used_dirs.insert(rel.clone());
        }
        let chart_out = out.join(&rel);
        let (converted, conversion) = helm_chart::convert(&helm_chart::Options {
            source: entry.chart_dir.clone(),
            output: chart_out.clone(),
            kind: entry.kind.clone(),
            group: entry.group.clone(),
            version: entry.version.clone(),
            mapping: None,
            kube_version: options.kube_version.clone(),
        })?;

        let crd = crds
            .iter()
            .find(|c| c.group == entry.group && c.kind == entry.kind);
        let crd_said = match crd {
            Some(crd) if crd.versions.contains(&entry.version) => {
                let file = crd.file.rsplit('/').next().unwrap_or(&crd.file).to_string();
                if copied.insert(file.clone()) {
                    let text = std::fs::read_to_string(project.join(&crd.file))
                        .map_err(io(&project.join(&crd.file)))?;
                    write_file(&out.join("crds").join(&file), &text)?;
                }
                set_crd_hints(&chart_out.join("Chart.yaml"), &crd.names)?;
                format!(
                    "{} → crds/{file} (copied unchanged: same group, version, kind and names, so existing custom resources keep working)",
                    crd.file
                )
            }
            Some(crd) => {
                return Err(Error::Invalid {
                    path: project.join(&crd.file),
                    message: format!(
                        "the CRD of {} does not serve version {} that watches.yaml maps (it serves {})",
                        entry.kind,
                        entry.version,
                        crd.versions.join(", ")
                    ),
                });
            }
            None => {
                to_generate.push(entry.kind.clone());
                "none in config/crd/bases: generated from the converted chart's values schema into crds/".to_string()
            }
        };

        let mut allowed = converted.allowed_kinds.clone();
        for group in rbac::templated_kind_groups(&entry.chart_dir) {
            let from_rbac: Vec<String> = granted
                .kinds
                .iter()
                .filter(|k| k.group == group)
                .map(|k| crate::config::display_kind(k.kind, k.group))
                .collect();
            let file = granted.file.as_deref().unwrap_or("config/rbac");
            if from_rbac.is_empty() {
                conversion_note(
                    &mut report,
                    format!(
                        "{}: a template's `kind:` is set from a value (apiVersion group {group:?}) and {file} grants no kind of that group: add the kinds it can be to allowedKinds",
                        entry.kind
                    ),
                );
            } else {
                conversion_note(
                    &mut report,
                    format!(
                        "{}: a template's `kind:` is set from a value (apiVersion group {group:?}): allowedKinds has every kind of that group {file} let helm-operator create ({})",
                        entry.kind,
                        from_rbac.join(", ")
                    ),
                );
            }
            for kind in from_rbac {
                if !allowed.contains(&kind) {
                    allowed.push(kind);
                }
            }
        }

        let mut raw = entry.raw.clone();
        if let Some(option) = raw.remove("dryRunOption") {
            report.skipped.push((
                format!("watches.yaml {} dryRunOption", entry.kind),
                format!(
                    "{:?} has no effect in tera-operator (no Helm dry run), left out of the mapping",
                    option.as_str().unwrap_or_default()
                ),
            ));
        }
        raw.insert("chart".into(), Yaml::String(rel.clone()));
        raw.insert(
            "allowedKinds".into(),
            Yaml::Sequence(allowed.iter().cloned().map(Yaml::String).collect()),
        );
        raw.insert("adoptHelmReleases".into(), Yaml::Bool(true));
        mapping.push(Yaml::Mapping(raw));

        report.kinds.push(KindReport {
            kind: format!("{} ({}/{})", entry.kind, entry.group, entry.version),
            chart: (entry.chart_written.clone(), rel),
            crd: crd_said,
            allowed_kinds: allowed,
            conversion,
            lint_errors: Vec::new(),
        });
    }

    let mapping_path = out.join("watches.yaml");
    let text = serde_yaml::to_string(&Yaml::Sequence(mapping)).map_err(|e| Error::Invalid {
        path: mapping_path.clone(),
        message: e.to_string(),
    })?;
    write_file(
        &mapping_path,
        &format!(
            "# Written by `tera-operator migrate helm-operator` from {}.\n{text}",
            project.join("watches.yaml").display()
        ),
    )?;
    let loaded = crate::config::Mapping::load(&mapping_path)?;
    for kind in &to_generate {
        if let Some(watch) = loaded.watches.iter().find(|w| &w.kind == kind) {
            let chart = crate::chart::Chart::load(&watch.chart_dir)?;
            let definition = crate::crd::for_chart(watch, &chart)?;
            write_file(
                &out.join("crds").join(crate::crd::file_name(&definition)),
                &crate::crd::to_yaml(&definition)?,
            )?;
        }
    }

    for (watch, kind) in loaded.watches.iter().zip(&mut report.kinds) {
        kind.lint_errors = crate::lint::lint_chart(&watch.chart_dir, Some(watch))
            .into_iter()
            .filter(|f| {
                f.severity == crate::lint::Severity::Error
                    && !f.message.contains(helm_chart::MARKER_TAG)
                    && !f.message.starts_with("not converted from Helm")
            })
            .map(|f| f.to_string())
            .collect();
    }
    rbac_notes(&mut report, &granted, &loaded);
    report.skipped.extend(skipped_files(project));
    Ok(report)
}

fn conversion_note(report: &mut Report, note: String) {
    if !report.notes.contains(&note) {
        report.notes.push(note);
    }
}

/// How config/rbac maps: not copied; `tera-operator manifests` grants what the mapping allows.
fn rbac_notes(report: &mut Report, granted: &rbac::Granted, mapping: &crate::config::Mapping) {
    let Some(file) = &granted.file else {
        report.notes.push("config/rbac has no manager role: `tera-operator manifests --config watches.yaml` writes the operator's RBAC from the mapping".into());
        return;
    };
    let allowed: BTreeSet<(String, String)> = mapping
        .watches
        .iter()
        .flat_map(|w| w.allowed_kinds.iter())
        .map(|k| (k.kind.clone(), k.group.clone()))
        .collect();
    let dropped: Vec<String> = granted
        .kinds
        .iter()
        .filter(|k| !allowed.contains(&(k.kind.to_string(), k.group.to_string())))
        .map(|k| crate::config::display_kind(k.kind, k.group))
        .collect();
    let mut note = format!(
        "{file} (and the rest of config/rbac) is not copied: `tera-operator manifests --config watches.yaml` writes the operator's ServiceAccount, ClusterRole and binding from the mapping: the custom resources, and on the objects only the kinds in allowedKinds; it needs no rules for Helm's release Secrets"
    );
    if !dropped.is_empty() {
        note.push_str(&format!(
            "; the old role also let helm-operator create {}, which no chart renders: not granted",
            dropped.join(", ")
        ));
    }
    report.notes.push(note);
}

/// Project parts that are helm-operator's own, not carried over.
fn skipped_files(project: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, why) in [
        (
            "config/manager",
            "helm-operator's own Deployment (kustomize): deploy tera-operator with `tera-operator manifests --config watches.yaml` instead",
        ),
        (
            "config/default",
            "kustomize overlay for helm-operator's Deployment: replaced by `tera-operator manifests`",
        ),
        (
            "Dockerfile",
            "helm-operator's image (it copies watches.yaml and helm-charts/): use tera-operator's image with the migrated directory",
        ),
        ("bundle", "OLM bundle of helm-operator: not converted"),
        (
            "config/samples",
            "sample custom resources: they stay valid as they are (same kinds and CRDs)",
        ),
    ] {
        if project.join(path).exists() {
            out.push((path.to_string(), why.to_string()));
        }
    }
    out
}

/// Sets the converted chart's CRD hints to the names of the project's CRD, so a CRD generated
/// later (`tera-operator crd`) keeps the same plural, singular, short names and categories.
fn set_crd_hints(chart_yaml: &Path, names: &Json) -> Result<()> {
    let text = std::fs::read_to_string(chart_yaml).map_err(io(chart_yaml))?;
    let mut meta: Json = serde_yaml::from_str(&text).map_err(|e| Error::Invalid {
        path: chart_yaml.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut hints = serde_json::Map::new();
    for (from, to) in [
        ("singular", "singular"),
        ("plural", "plural"),
        ("shortNames", "shortNames"),
        ("categories", "categories"),
    ] {
        if let Some(v) = names.get(from).filter(|v| !v.is_null()) {
            hints.insert(to.into(), v.clone());
        }
    }
    if let Json::Object(map) = &mut meta {
        map.insert("crd".into(), Json::Object(hints));
    }
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = serde_yaml::to_string(&meta).map_err(|e| Error::Invalid {
        path: chart_yaml.to_path_buf(),
        message: e.to_string(),
    })?;
    write_file(chart_yaml, &format!("{header}{body}"))
}

#[cfg(test)]
mod tests;
