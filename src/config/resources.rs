//! Custom resources read from YAML files, directories and standard input, each with where it came from.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One YAML document read from a file, with where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file (`-` for standard input).
    pub file: PathBuf,
    /// 1-based position of the document in the file.
    pub index: usize,
    /// The document.
    pub value: serde_json::Value,
}

impl Document {
    /// "file (document N)", for messages.
    pub fn origin(&self) -> String {
        format!("{} (document {})", self.file.display(), self.index)
    }

    /// "Kind name" of the document, `?` for what it lacks.
    pub fn describe(&self) -> String {
        let field = |pointer: &str| {
            self.value
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?")
        };
        format!("{} {}", field("/kind"), field("/metadata/name"))
    }
}

/// Why documents could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {reason}")]
    ReadFailed {
        /// The file or directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file is not YAML.
    #[error("{path}: {reason}")]
    ParseFailed {
        /// The file.
        path: String,
        /// Why, with the line.
        reason: String,
    },
    /// Standard input could not be read.
    #[error("reading standard input: {0}")]
    StdinFailed(std::io::Error),
}

impl ReadError {
    /// Whether the error is the user's (a file they named); reading standard input failing is not.
    pub fn is_users(&self) -> bool {
        !matches!(self, Self::StdinFailed(_))
    }
}

/// Reads every non-empty YAML document of each file (`-` is standard input); directories
/// contribute their `*.yaml`/`*.yml` files in name order.
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, ReadError> {
    let mut documents = Vec::new();
    for path in expand(paths)? {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).map_err(ReadError::StdinFailed)?
        } else {
            std::fs::read_to_string(&path).map_err(|e| read_failed(&path, e))?
        };
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let value =
                serde_json::Value::deserialize(doc).map_err(|e| ReadError::ParseFailed {
                    path: path.display().to_string(),
                    reason: super::describe_yaml_error(&e),
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

fn read_failed(path: &Path, e: std::io::Error) -> ReadError {
    ReadError::ReadFailed {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| read_failed(path, e))?
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
