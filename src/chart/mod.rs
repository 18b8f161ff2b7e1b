//! Loading a chart directory: Chart.yaml, values.yaml, values.schema.json and templates/.

mod ci;
mod hints;
mod meta;
mod schema;
mod status;
mod values;

use std::path::{Path, PathBuf};

pub(crate) use ci::ci_value_sets;
pub(crate) use hints::{CrdHints, PrinterColumn, Scope};
pub use meta::ChartMeta;
pub use schema::{SchemaViolation, ValuesSchema};
pub(crate) use status::load_status_schema;
pub use status::{RESERVED_STATUS_FIELDS, STATUS_SCHEMA_FILE, STATUS_TEMPLATE};
pub(crate) use values::{load_values, merge_values};

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
    /// The chart's computed status is incomplete: `templates/_status.tera` without
    /// `status.schema.json` or the other way round, or a schema of the wrong shape.
    #[error("{path}: {message}")]
    StatusInvalid {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
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
    /// status.schema.json, compiled, when the chart computes status fields
    /// ([`STATUS_TEMPLATE`]).
    pub status_schema: Option<ValuesSchema>,
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
        let status_schema = status::load_status_schema(dir, &templates)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
            defaults,
            schema,
            templates,
            status_schema,
        })
    }

    /// The status template, when the chart computes status fields.
    pub(crate) fn status_template(&self) -> Option<&TemplateFile> {
        self.templates.iter().find(|t| t.name == STATUS_TEMPLATE)
    }

    /// Path of a file inside the chart, for messages.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Reads `templates/`: renderable `*.yaml`/`*.yml` files and `_*.tera` partials, in name order.
pub(crate) fn load_templates(dir: &Path) -> Result<Vec<TemplateFile>> {
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

/// Reads a chart file as text.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFailed {
        path: path.to_path_buf(),
        source,
    })
}
