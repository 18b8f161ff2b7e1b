//! Hot reload: watch the mapping file and chart directories (debounced) and load charts safely.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use sha2::Digest as _;
use tokio::sync::mpsc;

use crate::chart::Chart;
use crate::config::Watch;
use crate::render::Renderer;

/// How long file changes settle before a reload.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(300);

/// The longest a reload waits for changes to settle (files written without pause).
pub(crate) const MAX_SETTLE: Duration = Duration::from_secs(3);

/// Errors watching files or loading a chart.
#[derive(Debug, thiserror::Error)]
#[allow(
    clippy::enum_variant_names,
    reason = "error variants are named after the operation that failed"
)]
pub(crate) enum Error {
    /// The file watcher could not be created or could not watch a path.
    #[error("watching {path} for changes failed: {source}")]
    WatchFailed {
        /// The path.
        path: PathBuf,
        /// The notify error.
        source: notify::Error,
    },
    /// The chart could not be loaded.
    #[error("loading chart {dir} failed: {source}")]
    ChartLoadFailed {
        /// The chart directory.
        dir: PathBuf,
        /// What was wrong.
        source: crate::chart::Error,
    },
    /// The chart's templates did not compile.
    #[error("compiling chart {dir} failed: {source}")]
    ChartCompileFailed {
        /// The chart directory.
        dir: PathBuf,
        /// What was wrong.
        source: crate::render::Error,
    },
    /// The chart compiles, but a value set of it does not render or pass policy.
    #[error("chart {dir} refused: {source}")]
    ChartRefused {
        /// The chart directory.
        dir: PathBuf,
        /// The value set that failed, and why.
        source: Box<super::accept::Error>,
    },
    /// The chart's CRD could not be applied (with `--install-crds`), e.g. a breaking change.
    #[error(transparent)]
    CrdRefused(Box<super::crds::Error>),
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Loads and compiles the chart of `watch`, checked in full before it may replace another.
pub(crate) fn load_renderer(watch: &Watch) -> Result<Renderer> {
    let chart = Chart::load(&watch.chart_dir).map_err(|source| Error::ChartLoadFailed {
        dir: watch.chart_dir.clone(),
        source,
    })?;
    Renderer::new(chart, watch).map_err(|source| Error::ChartCompileFailed {
        dir: watch.chart_dir.clone(),
        source,
    })
}

/// Loads and compiles the chart of `watch` and checks that it works ([`super::accept::check`]):
/// what a hot reload must pass before the new chart replaces the one serving.
pub(crate) fn load_accepted(watch: &Watch) -> Result<Renderer> {
    let renderer = load_renderer(watch)?;
    super::accept::check(&renderer, watch).map_err(|source| Error::ChartRefused {
        dir: watch.chart_dir.clone(),
        source: Box::new(source),
    })?;
    Ok(renderer)
}

/// A hash of every file under `dir` (paths and contents), to tell whether a chart changed.
pub(crate) fn fingerprint(dir: &Path) -> String {
    let mut files = BTreeSet::new();
    collect_files(dir, &mut files, 0);
    let mut hasher = sha2::Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0]);
        match std::fs::read(&file) {
            Ok(bytes) => hasher.update(&bytes),
            Err(_) => hasher.update(b"\xffunreadable"),
        }
        hasher.update([0]);
    }
    crate::render::hex(&hasher.finalize())
}

fn collect_files(dir: &Path, files: &mut BTreeSet<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files, depth + 1);
        } else {
            files.insert(path);
        }
    }
}

/// Watches the mapping file's directory and chart directories; every change (other than a
/// read) sends one `()` on the channel. Debouncing is [`settle`]'s job, on the receiving side,
/// so an idle watcher costs nothing: no ticking thread, only a blocked inotify read.
pub(crate) struct FileWatcher {
    watcher: RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

impl FileWatcher {
    /// Starts watching `mapping`'s directory; changes are signalled on `tx`.
    pub(crate) fn start(mapping: &Path, tx: mpsc::UnboundedSender<()>) -> Result<Self> {
        let watcher =
            notify::recommended_watcher(
                move |result: notify::Result<notify::Event>| match result {
                    Ok(event) if !event.kind.is_access() => {
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "file watch error"),
                },
            )
            .map_err(|source| Error::WatchFailed {
                path: mapping.to_path_buf(),
                source,
            })?;
        let mut watcher = Self {
            watcher,
            watched: BTreeSet::new(),
        };
        let dir = mapping
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        watcher.add(dir)?;
        Ok(watcher)
    }

    /// Also watches `dir` (recursively) unless it is already covered.
    pub(crate) fn add(&mut self, dir: &Path) -> Result<()> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if self.watched.iter().any(|w| dir.starts_with(w)) {
            return Ok(());
        }
        self.watcher
            .watch(&dir, RecursiveMode::Recursive)
            .map_err(|source| Error::WatchFailed {
                path: dir.clone(),
                source,
            })?;
        self.watched.insert(dir);
        Ok(())
    }
}

/// After a first change signal: waits until no further signal arrives for [`DEBOUNCE`] (at most
/// [`MAX_SETTLE`] in all), so an editor's save or a `cp -r` of a chart is one reload.
pub(crate) async fn settle(rx: &mut mpsc::UnboundedReceiver<()>) {
    let deadline = tokio::time::Instant::now() + MAX_SETTLE;
    loop {
        let quiet = tokio::time::Instant::now() + DEBOUNCE;
        tokio::select! {
            signal = rx.recv() => {
                if signal.is_none() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(quiet.min(deadline)) => return,
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn settle_waits_for_quiet_but_not_forever() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = tokio::time::Instant::now();
        settle(&mut rx).await;
        assert_eq!(start.elapsed(), DEBOUNCE, "no further change: one debounce");

        // A change every 100 ms for 1 s: settles 300 ms after the last one.
        let sender = tx.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = sender.send(());
            }
        });
        let start = tokio::time::Instant::now();
        settle(&mut rx).await;
        assert_eq!(start.elapsed(), Duration::from_millis(1300));

        // Changes that never stop: the reload happens anyway after MAX_SETTLE.
        let sender = tx.clone();
        let writer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if sender.send(()).is_err() {
                    return;
                }
            }
        });
        let start = tokio::time::Instant::now();
        settle(&mut rx).await;
        assert_eq!(start.elapsed(), MAX_SETTLE);
        writer.abort();
    }

    #[test]
    fn fingerprint_changes_with_any_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("templates"))?;
        std::fs::write(dir.path().join("values.yaml"), "a: 1\n")?;
        std::fs::write(dir.path().join("templates/x.yaml"), "kind: X\n")?;
        let first = fingerprint(dir.path());
        assert_eq!(first, fingerprint(dir.path()));
        std::fs::write(dir.path().join("templates/x.yaml"), "kind: Y\n")?;
        let second = fingerprint(dir.path());
        assert_ne!(first, second);
        std::fs::write(dir.path().join("templates/y.yaml"), "")?;
        assert_ne!(second, fingerprint(dir.path()));
        Ok(())
    }
}
