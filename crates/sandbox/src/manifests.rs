//! Loading manifests (files or directories of multi-document YAML) and applying them to the store.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api::verbs::{PatchType, Sub, WriteOptions};
use crate::shared::Shared;
use crate::writes;

/// A manifest that could not be read, parsed or applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("reading {path} failed: {source}")]
    ReadFailed {
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A document is not valid YAML.
    #[error("{path}: document {index}: invalid YAML: {message}")]
    ParseFailed {
        /// Where.
        path: PathBuf,
        /// 1-based document index.
        index: usize,
        /// The parser's message.
        message: String,
    },
    /// A document names a kind the sandbox does not serve, or lacks apiVersion/kind/name.
    #[error("{path}: document {index}: {message}")]
    UnknownKind {
        /// Where.
        path: PathBuf,
        /// 1-based document index.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The API rejected an object.
    #[error("{path}: {object}: {source}")]
    ApplyFailed {
        /// Where.
        path: PathBuf,
        /// `kind/name`.
        object: String,
        /// The API error.
        source: Box<crate::api::errors::ApiError>,
    },
}

/// Result alias for this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

fn files(path: &Path) -> Result<Vec<PathBuf>> {
    let read = |source| Error::ReadFailed {
        path: path.into(),
        source,
    };
    if path.is_file() {
        return Ok(vec![path.into()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read)? {
        let p = entry.map_err(read)?.path();
        if p.is_dir() {
            out.extend(files(&p)?);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Every object document under `path` with the file it came from (empty documents skipped).
pub(crate) fn load(path: &Path) -> Result<Vec<(PathBuf, usize, Value)>> {
    let mut out = Vec::new();
    for file in files(path)? {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::ReadFailed {
            path: file.clone(),
            source,
        })?;
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let parse = |message: String| Error::ParseFailed {
                path: file.clone(),
                index: i + 1,
                message,
            };
            let v = serde_yaml::Value::deserialize(doc).map_err(|e| parse(e.to_string()))?;
            let v: Value = serde_json::to_value(v).map_err(|e| parse(e.to_string()))?;
            if v.is_null() {
                continue;
            }
            if v["kind"].as_str().is_some_and(|k| k.ends_with("List")) {
                for item in v["items"].as_array().cloned().unwrap_or_default() {
                    out.push((file.clone(), i + 1, item));
                }
            } else {
                out.push((file.clone(), i + 1, v));
            }
        }
    }
    Ok(out)
}

use serde::Deserialize;

fn rank(v: &Value) -> u8 {
    match v["kind"].as_str() {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    }
}

/// Server-side applies every object under `path` (manager `tera-operator-sandbox`, forced).
pub(crate) fn apply_path(shared: &Shared, path: &Path) -> Result<Vec<String>> {
    let mut docs = load(path)?;
    docs.sort_by_key(|(_, _, v)| rank(v));
    let mut applied = Vec::new();
    for (file, index, doc) in docs {
        let unknown = |message: String| Error::UnknownKind {
            path: file.clone(),
            index,
            message,
        };
        let (Some(av), Some(kind), Some(name)) = (
            doc["apiVersion"].as_str(),
            doc["kind"].as_str(),
            doc["metadata"]["name"].as_str(),
        ) else {
            return Err(unknown(
                "apiVersion, kind and metadata.name are required".into(),
            ));
        };
        let mut store = shared.lock();
        let res = store
            .registry
            .find_kind(av, kind)
            .cloned()
            .ok_or_else(|| unknown(format!("no resource serves {kind} in {av}")))?;
        let ns = if res.namespaced {
            doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let mut body = doc.clone();
        if res.namespaced {
            body["metadata"]["namespace"] = Value::String(ns.clone());
        }
        let opts = WriteOptions {
            force: true,
            ..WriteOptions::internal("tera-operator-sandbox", &k8s_rules::now())
        };
        let object = format!("{}/{name}", kind.to_lowercase());
        writes::patch(
            &mut store,
            &res,
            &ns,
            name,
            PatchType::Apply,
            &body,
            Sub::Main,
            &opts,
        )
        .map_err(|source| Error::ApplyFailed {
            path: file.clone(),
            object: object.clone(),
            source: Box::new(source),
        })?;
        applied.push(object);
    }
    Ok(applied)
}
