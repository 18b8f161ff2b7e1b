//! Inputs shared by subcommands: the mapping file and custom resources read from YAML files.

use std::path::{Path, PathBuf};

use crate::config::{self, Document, Mapping, Watch};

use super::user_error;

/// Default location of the mapping file.
pub(crate) const DEFAULT_CONFIG: &str = "charts/watches.yaml";

/// Loads the mapping file; every failure is the user's.
pub(crate) fn load_mapping(path: &Path) -> anyhow::Result<Mapping> {
    Mapping::load(path).map_err(user_error)
}

/// Reads the custom resources in `paths` (see [`config::read_documents`]); a file that cannot
/// be read or parsed is the user's error, standard input failing is not.
pub(crate) fn read_documents(paths: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    match config::read_documents(paths) {
        Ok(documents) => Ok(documents),
        Err(e) if e.is_users() => Err(user_error(e)),
        Err(e) => Err(e.into()),
    }
}

/// The charts `lint` and `test` check, each with its mapping entry: `charts`, or every chart in
/// the mapping file when none is named (then the mapping must load).
pub(crate) fn chart_targets(
    charts: &[PathBuf],
    config: &Path,
) -> anyhow::Result<Vec<(PathBuf, Option<Watch>)>> {
    let mapping = if charts.is_empty() {
        Some(load_mapping(config)?)
    } else {
        load_mapping(config).ok()
    };
    Ok(crate::lint::targets(charts, mapping))
}
