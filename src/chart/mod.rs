//! Loading a chart directory: Chart.yaml, values.yaml, values.schema.json and templates/.

mod meta;
mod schema;

use std::path::{Path, PathBuf};

pub use meta::ChartMeta;
pub use schema::{SchemaViolation, ValuesSchema};

/// Errors loading a chart; each names the file and, where known, the line or JSON pointer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: cannot read: {source}")]
    ReadFailed {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Chart.yaml or values.yaml is not valid YAML of the expected shape.
    #[error("{path}: {message}")]
    YamlInvalid {
        /// The file.
        path: PathBuf,
        /// The reason, with line and column.
        message: String,
    },
    /// Chart.yaml is well-formed but a field is wrong.
    #[error("{path}: {message}")]
    MetaInvalid {
        /// Chart.yaml.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// values.schema.json is not JSON, or not a valid JSON Schema.
    #[error("{path}: {message}")]
    SchemaInvalid {
        /// values.schema.json.
        path: PathBuf,
        /// The reason, with line or JSON pointer.
        message: String,
    },
    /// The chart has no templates directory or no templates in it.
    #[error("{path}: {message}")]
    NoTemplates {
        /// The templates directory.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One template file of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Name relative to the chart directory, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// The template source.
    pub source: String,
    /// Partials (`templates/_*.tera`) hold macros and are never rendered on their own.
    pub partial: bool,
}

/// A chart as read from disk; pure data, no cluster knowledge.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart directory.
    pub dir: PathBuf,
    /// Chart.yaml.
    pub meta: ChartMeta,
    /// values.yaml (an empty mapping when absent).
    pub defaults: serde_json::Value,
    /// values.schema.json, compiled, when present.
    pub schema: Option<ValuesSchema>,
    /// Templates in name order: renderable `*.yaml`/`*.yml` files and `_*.tera` partials.
    pub templates: Vec<TemplateFile>,
}

impl Chart {
    /// Reads and checks every file of the chart in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let meta = ChartMeta::load(&dir.join("Chart.yaml"))?;
        let defaults = load_values(&dir.join("values.yaml"))?;
        let schema_path = dir.join("values.schema.json");
        let schema = if schema_path.exists() {
            Some(ValuesSchema::load(&schema_path)?)
        } else {
            None
        };
        let templates = load_templates(&dir.join("templates"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
            defaults,
            schema,
            templates,
        })
    }

    /// Path of a file inside the chart, for messages.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Reads a values file (YAML mapping); a missing or empty file is an empty mapping.
pub fn load_values(path: &Path) -> Result<serde_json::Value> {
    if !path.exists() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let text = read(path)?;
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let value: serde_json::Value = serde_yaml::from_str(&text).map_err(|e| Error::YamlInvalid {
        path: path.to_path_buf(),
        message: crate::config::describe_yaml_error(&e),
    })?;
    match value {
        serde_json::Value::Object(_) => Ok(value),
        serde_json::Value::Null => Ok(serde_json::Value::Object(Default::default())),
        _ => Err(Error::YamlInvalid {
            path: path.to_path_buf(),
            message: "values must be a mapping at the top level".to_string(),
        }),
    }
}

/// Reads `templates/`: renderable `*.yaml`/`*.yml` files and `_*.tera` partials, in name order.
pub fn load_templates(dir: &Path) -> Result<Vec<TemplateFile>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::ReadFailed {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut templates = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::ReadFailed {
            path: dir.to_path_buf(),
            source,
        })?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let partial = file_name.starts_with('_') && file_name.ends_with(".tera");
        let renderable = !file_name.starts_with('_')
            && (file_name.ends_with(".yaml") || file_name.ends_with(".yml"));
        if !(partial || renderable) || !entry.path().is_file() {
            continue;
        }
        templates.push(TemplateFile {
            name: format!("templates/{file_name}"),
            source: read(&entry.path())?,
            partial,
        });
    }
    if !templates.iter().any(|t| !t.partial) {
        return Err(Error::NoTemplates {
            path: dir.to_path_buf(),
            message: "no templates (*.yaml) to render".to_string(),
        });
    }
    templates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(templates)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFailed {
        path: path.to_path_buf(),
        source,
    })
}
