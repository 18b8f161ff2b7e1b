//! `tera-operator migrate helm-chart`: convert a Helm chart into a tera-operator chart.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::migrate::helm_chart;
use clap::Args;

use super::user_error;

/// Arguments of `migrate helm-chart`.
#[derive(Debug, Args)]
pub(crate) struct HelmChartArgs {
    /// The Helm chart directory (unpacked).
    source: PathBuf,
    /// Where to write the converted chart (created; must be empty or missing).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The custom resource kind the chart will serve, e.g. MyApp.
    #[arg(long)]
    kind: String,
    /// The kind's API group.
    #[arg(long, default_value = "apps.tera-operator.io")]
    group: String,
    /// The kind's API version.
    #[arg(long, default_value = "v1alpha1")]
    version: String,
    /// A mapping file to add the kind's entry to (or replace it in).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// The Kubernetes version `.Capabilities.KubeVersion` stands for by default.
    #[arg(long, default_value = "v1.33.0")]
    kube_version: String,
}

/// Runs `migrate helm-chart`: writes the chart, prints the report on stderr. Exit 0 when
/// nothing was left unconverted, 1 when markers remain (the chart is written either way).
pub(crate) fn run(args: HelmChartArgs) -> anyhow::Result<ExitCode> {
    let options = helm_chart::Options {
        source: args.source,
        output: args.output,
        kind: args.kind,
        group: args.group,
        version: args.version,
        mapping: args.mapping,
        kube_version: args.kube_version,
    };
    let (converted, report) = helm_chart::convert(&options).map_err(user_error)?;
    eprint!("{report}");
    eprintln!(
        "wrote {} (allowedKinds: {})",
        converted.dir.display(),
        converted.allowed_kinds.join(", ")
    );
    if report.markers.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} marker(s) left: the chart fails lint and render until each is resolved",
            report.markers.len()
        );
        Ok(ExitCode::from(1))
    }
}
