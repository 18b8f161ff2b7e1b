//! The chart's `ci/*-values.yaml` value sets (Helm chart-testing's convention), in name order.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Error, Result, load_values};

/// Every `ci/*-values.yaml` of the chart in `dir` with its values, in file-name order; none
/// when the chart has no `ci/` directory. A file that does not read or parse is an error
/// naming it.
pub(crate) fn ci_value_sets(dir: &Path) -> Result<Vec<(PathBuf, Value)>> {
    let ci = dir.join("ci");
    let entries = match std::fs::read_dir(&ci) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::ReadFailed { path: ci, source }),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| load_values(&file).map(|values| (file, values)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_values_files_in_name_order() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert!(ci_value_sets(dir.path())?.is_empty(), "no ci/ directory");
        std::fs::create_dir(dir.path().join("ci"))?;
        std::fs::write(dir.path().join("ci/b-values.yaml"), "replicas: 2\n")?;
        std::fs::write(dir.path().join("ci/a-values.yaml"), "")?;
        std::fs::write(dir.path().join("ci/README.md"), "not values")?;
        let sets = ci_value_sets(dir.path())?;
        let names: Vec<_> = sets
            .iter()
            .map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            names,
            [Some("a-values.yaml".into()), Some("b-values.yaml".into())]
        );
        assert_eq!(sets[1].1, serde_json::json!({"replicas": 2}));
        std::fs::write(dir.path().join("ci/c-values.yaml"), "- a list\n")?;
        let error = ci_value_sets(dir.path())
            .err()
            .ok_or("a list is not values")?
            .to_string();
        assert!(error.contains("c-values.yaml"), "{error}");
        Ok(())
    }
}
