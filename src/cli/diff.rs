//! `tera-operator diff`: print what applying would change on the live cluster; exit 0, 1 or >1 as `kubectl diff`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::controller::diff::{self, Change, Target};
use clap::Args;

use super::cluster::{self, ClusterArgs};
use super::inputs::{self, DEFAULT_CONFIG};

/// Exit code when applying would change nothing.
const SAME: u8 = 0;
/// Exit code when applying would change something.
const DIFFERENT: u8 = 1;
/// Exit code when the diff could not be made (every error, the user's or not).
const FAILED: u8 = 2;

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Custom resource files (multi-document YAML; directories; `-` for standard input).
    #[arg(required_unless_present = "kind", conflicts_with = "kind")]
    files: Vec<PathBuf>,
    /// Diff every live resource of this mapped kind (`Kind` or `Kind.group`) instead.
    #[arg(long)]
    kind: Option<String>,
    /// With --kind: only this namespace (default: all). With files: the namespace of
    /// resources that name none (default: `default`).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The mapping file that finds each kind's chart.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `diff`: unified diffs on stdout; what would be created or pruned, notes and errors on
/// stderr. Exit 0: no difference; 1: differences; 2: an error (after the diffs it could make).
pub(crate) fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    match diff_and_print(&args) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(FAILED))
        }
    }
}

fn diff_and_print(args: &DiffArgs) -> anyhow::Result<u8> {
    let mapping = inputs::load_mapping(&args.config)?;
    let target = match &args.kind {
        Some(kind) => Target::Kind {
            kind: kind.clone(),
            namespace: args.namespace.clone(),
        },
        None => {
            let documents = inputs::read_documents(&args.files)?;
            if documents.is_empty() {
                anyhow::bail!("no custom resources found in the files given");
            }
            Target::Resources(documents.into_iter().map(|d| d.value).collect())
        }
    };
    let namespace = match (&args.kind, &args.namespace) {
        (None, Some(ns)) => ns.clone(),
        _ => "default".to_string(),
    };
    let report = super::block_on(async {
        let client = cluster::connect(&args.cluster).await?;
        anyhow::Ok(diff::diff(&client, &mapping, target, &namespace).await?)
    })?;

    super::print(
        &report
            .objects
            .iter()
            .map(|o| o.diff.as_str())
            .collect::<String>(),
    )?;
    for object in &report.objects {
        match object.change {
            Change::Create => eprintln!("would create: {}", object.object),
            Change::Prune => eprintln!("would prune: {}", object.object),
            Change::Update => {}
        }
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    Ok(if !report.errors.is_empty() {
        FAILED
    } else if report.has_differences() {
        DIFFERENT
    } else {
        SAME
    })
}
