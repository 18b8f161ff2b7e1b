//! Stored snapshots of a test file: `tests/__snapshot__/<file>.snap` beside it (helm-unittest's
//! place), a YAML mapping of test name to the snapshots of its `matchSnapshot` assertions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Snapshots by test name, then by the assertion's place among the test's snapshots (from 1).
pub(crate) type Snapshots = BTreeMap<String, BTreeMap<usize, String>>;

/// Where the snapshots of the test file `file` live.
pub(crate) fn file_for(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.parent()
        .unwrap_or(Path::new("."))
        .join("__snapshot__")
        .join(format!("{name}.snap"))
}

/// The stored snapshots of `file` (none when there is no snapshot file).
pub(crate) fn load(file: &Path) -> Result<Snapshots, String> {
    let path = file_for(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml::from_str(&text).map_err(|e| {
            format!(
                "{}: {}",
                path.display(),
                crate::config::describe_yaml_error(&e)
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Snapshots::new()),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// Writes `snapshots` for `file` (removes the snapshot file when there are none).
pub(crate) fn store(file: &Path, snapshots: &Snapshots) -> Result<(), String> {
    let path = file_for(file);
    if snapshots.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: cannot remove: {e}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let text = serde_yaml::to_string(snapshots).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// A unified diff from the stored snapshot to the rendered one.
pub(crate) fn diff(stored: &str, rendered: &str) -> String {
    similar::TextDiff::from_lines(stored, rendered)
        .unified_diff()
        .context_radius(2)
        .header("stored", "rendered")
        .to_string()
}
