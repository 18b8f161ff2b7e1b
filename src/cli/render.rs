//! `tera-operator render`: print the objects the operator would apply for custom resources.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::render::Renderers;
use clap::Args;
use serde_json::Value;

use super::inputs::{self, DEFAULT_CONFIG};
use super::user_error;

/// Arguments of `render`.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Custom resource files (multi-document YAML; directories; `-` for standard input).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The mapping file that finds each resource's chart.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Render every resource with this chart instead of the mapped one.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Yaml)]
    output: OutputFormat,
    /// Namespace for resources that name none.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
}

/// How rendered objects are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    /// Multi-document YAML.
    Yaml,
    /// A JSON list.
    Json,
}

/// Runs `render`.
pub(crate) fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let documents = inputs::read_documents(&args.files)?;
    if documents.is_empty() {
        return Err(user_error(anyhow::anyhow!(
            "no custom resources found in {}",
            args.files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut renderers = match &args.chart {
        Some(dir) => Renderers::for_chart(dir).map_err(user_error)?,
        None => Renderers::for_mapping(inputs::load_mapping(&args.config)?),
    };
    let mut objects = Vec::new();
    for document in &documents {
        let origin = document.origin();
        let renderer = renderers
            .renderer_for(&document.value, &origin)
            .map_err(user_error)?;
        let rendered = renderer
            .render(&document.value, &args.namespace)
            .map_err(|e| user_error(anyhow::anyhow!("{origin}: {}: {e}", document.describe())))?;
        objects.extend(rendered.objects);
    }
    super::print(&format_objects(&objects, args.output)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Objects as multi-document YAML or a JSON list.
fn format_objects(objects: &[Value], format: OutputFormat) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => serde_json::to_string_pretty(objects)? + "\n",
        OutputFormat::Yaml => objects
            .iter()
            .map(|object| Ok(format!("---\n{}", serde_yaml::to_string(object)?)))
            .collect::<anyhow::Result<String>>()?,
    })
}
