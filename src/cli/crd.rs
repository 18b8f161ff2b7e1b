//! `tera-operator crd`: print (or write) the CustomResourceDefinition of every mapped kind.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::inputs::{self, DEFAULT_CONFIG};
use super::user_error;
use crate::chart::Chart;
use crate::crd;

/// Arguments of `crd`.
#[derive(Debug, Args)]
pub struct CrdArgs {
    /// The mapping file whose kinds get CRDs.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

/// Every mapped kind's CRD as `(file name, YAML)`, in mapping order.
pub fn generate_all(config: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let mapping = inputs::load_mapping(config)?;
    let mut out = Vec::new();
    for watch in &mapping.watches {
        let chart = Chart::load(&watch.chart_dir).map_err(user_error)?;
        let definition = crd::for_chart(watch, &chart).map_err(user_error)?;
        let yaml = crd::to_yaml(&definition).map_err(user_error)?;
        out.push((crd::file_name(&definition), yaml));
    }
    Ok(out)
}

/// Runs `crd`.
pub fn run(args: CrdArgs) -> anyhow::Result<ExitCode> {
    let crds = generate_all(&args.config)?;
    match &args.output_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create directory", dir.display()))?;
            for (name, yaml) in &crds {
                let path = dir.join(name);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("{}: cannot write", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            for (_, yaml) in &crds {
                let written = writeln!(out, "---").and_then(|_| out.write_all(yaml.as_bytes()));
                match written {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                    other => other?,
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
