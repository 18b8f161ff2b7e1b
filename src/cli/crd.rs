//! `tera-operator crd`: print (or write) the CustomResourceDefinition of every mapped kind.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::inputs::DEFAULT_CONFIG;
use super::user_error;

/// Arguments of `crd`.
#[derive(Debug, Args)]
pub(crate) struct CrdArgs {
    /// The mapping file whose kinds get CRDs.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

/// Runs `crd`.
pub(crate) fn run(args: CrdArgs) -> anyhow::Result<ExitCode> {
    let crds = crate::crd::generate_all(&args.config).map_err(user_error)?;
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
        None => super::print(
            &crds
                .iter()
                .map(|(_, yaml)| format!("---\n{yaml}"))
                .collect::<String>(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
