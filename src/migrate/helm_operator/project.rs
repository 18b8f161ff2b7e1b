//! Reading an operator-sdk Helm operator project: its watches.yaml entries, charts and CRDs.

use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::{Error, Result};

/// One watches.yaml entry as written, with where its chart is.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The entry as written (keys in file order).
    pub(super) raw: serde_yaml::Mapping,
    pub(super) group: String,
    pub(super) version: String,
    pub(super) kind: String,
    /// The `chart` value as written.
    pub(super) chart_written: String,
    /// The chart directory found in the project.
    pub(super) chart_dir: PathBuf,
}

/// A CRD document found under config/crd/bases.
#[derive(Debug, Clone)]
pub(super) struct Crd {
    /// The file, relative to the project.
    pub(super) file: String,
    pub(super) group: String,
    pub(super) kind: String,
    pub(super) versions: Vec<String>,
    /// `spec.names` as written.
    pub(super) names: serde_json::Value,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, message: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The entries of `project/watches.yaml`. The file is first checked as tera-operator reads a
/// mapping (so a bad entry is refused with its line); `chart` paths are then looked up in the
/// project: relative to it, or, for the absolute paths of operator-sdk's image
/// (`/opt/helm/helm-charts/x`), as `helm-charts/x` of the project.
pub(super) fn entries(project: &Path) -> Result<(Vec<Entry>, Vec<String>)> {
    let path = project.join("watches.yaml");
    let text = read(&path)?;
    let raw: Vec<serde_yaml::Mapping> = if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml::from_str(&text).map_err(|e| invalid(&path, e.to_string()))?
    };
    if raw.is_empty() {
        return Err(invalid(&path, "no entries: nothing to migrate"));
    }
    // Each chart found in the project; the file is then checked as tera-operator reads a
    // mapping, with the charts where they were found (same lines, so errors name the right one).
    let mut found = Vec::with_capacity(raw.len());
    let mut checked_text = text.clone();
    for entry in &raw {
        let field = |key: &str| entry.get(key).and_then(Yaml::as_str).unwrap_or_default();
        let chart_written = field("chart").to_string();
        let written = Path::new(&chart_written);
        let mut candidates = vec![project.join(written)];
        if written.is_absolute()
            && let Some(name) = written.file_name()
        {
            candidates.push(project.join("helm-charts").join(name));
        }
        let Some(chart_dir) = candidates
            .iter()
            .find(|c| c.join("Chart.yaml").is_file())
            .cloned()
        else {
            let line = text
                .lines()
                .position(|l| l.contains("chart:") && l.contains(&chart_written))
                .map_or(0, |i| i + 1);
            let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            return Err(invalid(
                &path,
                format!(
                    "line {line}: kind {}: chart {chart_written:?} is not in the project (no Chart.yaml at {})",
                    field("kind"),
                    looked.join(" or ")
                ),
            ));
        };
        if written.is_absolute() && chart_dir != written {
            checked_text = checked_text.replace(&chart_written, &chart_dir.display().to_string());
        }
        found.push((chart_written, chart_dir));
    }
    let checked = crate::config::Mapping::parse(&path, &checked_text)?;
    let out = raw
        .into_iter()
        .zip(&checked.watches)
        .zip(found)
        .map(|((raw, watch), (chart_written, chart_dir))| Entry {
            raw,
            group: watch.group.clone(),
            version: watch.version.clone(),
            kind: watch.kind.clone(),
            chart_written,
            chart_dir,
        })
        .collect();
    Ok((out, checked.warnings))
}

/// YAML documents of every `*.yaml`/`*.yml` file directly in `dir` (sorted by name), as
/// `(file name, document)`; a missing directory has none.
pub(super) fn documents(dir: &Path) -> Result<Vec<(String, serde_json::Value)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = read(&file)?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(document)
                .map_err(|e| invalid(&file, e.to_string()))?;
            if !value.is_null() {
                out.push((name.clone(), value));
            }
        }
    }
    Ok(out)
}

use serde::Deserialize as _;

/// The CRDs under `project/config/crd/bases`.
pub(super) fn crds(project: &Path) -> Result<Vec<Crd>> {
    let mut out = Vec::new();
    for (file, doc) in documents(&project.join("config/crd/bases"))? {
        if doc["kind"] != "CustomResourceDefinition" {
            continue;
        }
        let spec = &doc["spec"];
        let versions = spec["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Crd {
            file: format!("config/crd/bases/{file}"),
            group: spec["group"].as_str().unwrap_or_default().to_string(),
            kind: spec["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            versions,
            names: spec["names"].clone(),
        });
    }
    Ok(out)
}
