//! Inputs shared by subcommands: the mapping file and custom resources read from YAML files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use super::user_error;
use tera_operator::config::Mapping;

/// Default location of the mapping file.
pub(crate) const DEFAULT_CONFIG: &str = "charts/watches.yaml";

/// Loads the mapping file; every failure is the user's.
pub(crate) fn load_mapping(path: &Path) -> anyhow::Result<Mapping> {
    Mapping::load(path).map_err(user_error)
}

/// One YAML document read from a file, with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// The file (`-` for standard input).
    pub(crate) file: PathBuf,
    /// 1-based position of the document in the file.
    pub(crate) index: usize,
    /// The document.
    pub(crate) value: serde_json::Value,
}

impl Document {
    /// "file (document N)" for messages; just the file when it holds one document.
    pub(crate) fn origin(&self) -> String {
        format!("{} (document {})", self.file.display(), self.index)
    }
}

/// Reads every non-empty YAML document of each file (`-` is standard input); directories
/// contribute their `*.yaml`/`*.yml` files in name order.
pub(crate) fn read_documents(paths: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    let mut documents = Vec::new();
    for path in expand(paths)? {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading standard input")?
        } else {
            std::fs::read_to_string(&path)
                .map_err(|e| user_error(anyhow::anyhow!("{}: cannot read: {e}", path.display())))?
        };
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let value = serde_json::Value::deserialize(doc).map_err(|e| {
                user_error(anyhow::anyhow!(
                    "{}: {}",
                    path.display(),
                    tera_operator::config::describe_yaml_error(&e)
                ))
            })?;
            if value.is_null() {
                continue;
            }
            documents.push(Document {
                file: path.clone(),
                index: i + 1,
                value,
            });
        }
    }
    Ok(documents)
}

fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| user_error(anyhow::anyhow!("{}: cannot read: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|ext| ext == "yaml" || ext == "yml")
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}
