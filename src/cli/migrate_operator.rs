//! `tera-operator migrate helm-operator`: migrate an operator-sdk Helm operator project.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::migrate::helm_operator;
use clap::Args;

use super::user_error;

/// Arguments of `migrate helm-operator`.
#[derive(Debug, Args)]
pub(crate) struct HelmOperatorArgs {
    /// The operator-sdk project directory (holding watches.yaml, helm-charts/ and config/).
    project: PathBuf,
    /// Where to write the mapping (watches.yaml), the converted charts (charts/) and the CRDs
    /// (crds/); created, must be empty or missing.
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The Kubernetes version `.Capabilities.KubeVersion` stands for by default.
    #[arg(long, default_value = "v1.33.0")]
    kube_version: String,
}

/// Runs `migrate helm-operator`: writes the output, prints the report on stderr. Exit 0 when
/// every chart converted without markers, 1 when markers remain (the output is written either way).
pub(crate) fn run(args: HelmOperatorArgs) -> anyhow::Result<ExitCode> {
    let options = helm_operator::Options {
        project: args.project,
        output: args.output,
        kube_version: args.kube_version,
    };
    let report = helm_operator::migrate(&options).map_err(user_error)?;
    eprint!("{report}");
    eprintln!(
        "wrote {} (mapping watches.yaml, charts/, crds/)",
        options.output.display()
    );
    match report.markers() {
        0 => Ok(ExitCode::SUCCESS),
        n => {
            eprintln!(
                "{n} marker(s) left: those charts fail lint and render until each is resolved"
            );
            Ok(ExitCode::from(1))
        }
    }
}
