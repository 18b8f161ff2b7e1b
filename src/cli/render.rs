//! `tera-operator render`: print the objects the operator would apply for custom resources.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use tera_operator::chart::Chart;
use tera_operator::config::{Mapping, default_allowed_kinds};
use tera_operator::render::Renderer;

use super::inputs::{self, DEFAULT_CONFIG, Document};
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
    let mut charts = ChartSource::new(&args)?;
    let mut objects = Vec::new();
    for document in &documents {
        let renderer = charts.renderer_for(document)?;
        let rendered = renderer
            .render(&document.value, &args.namespace)
            .map_err(|e| {
                user_error(anyhow::anyhow!(
                    "{}: {}: {e}",
                    document.origin(),
                    describe(document)
                ))
            })?;
        objects.extend(rendered.objects);
    }
    print_objects(&objects, args.output)?;
    Ok(ExitCode::SUCCESS)
}

fn describe(document: &Document) -> String {
    let kind = document
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let name = document
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind} {name}")
}

/// Where renderers come from: the mapping (one per mapped kind) or a single `--chart`.
struct ChartSource {
    mapping: Option<Mapping>,
    fixed: Option<Renderer>,
    by_kind: HashMap<(String, String), Renderer>,
}

impl ChartSource {
    fn new(args: &RenderArgs) -> anyhow::Result<Self> {
        if let Some(dir) = &args.chart {
            let chart = Chart::load(dir).map_err(user_error)?;
            let renderer = Renderer::with_settings(
                chart,
                default_allowed_kinds(),
                Value::Object(Default::default()),
            )
            .map_err(user_error)?;
            return Ok(Self {
                mapping: None,
                fixed: Some(renderer),
                by_kind: HashMap::new(),
            });
        }
        Ok(Self {
            mapping: Some(inputs::load_mapping(&args.config)?),
            fixed: None,
            by_kind: HashMap::new(),
        })
    }

    fn renderer_for(&mut self, document: &Document) -> anyhow::Result<&Renderer> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed);
        }
        let field = |name: &str| document.value.get(name).and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            return Err(user_error(anyhow::anyhow!(
                "{}: not a Kubernetes object (apiVersion and kind are required)",
                document.origin()
            )));
        };
        let key = (api_version.to_string(), kind.to_string());
        if !self.by_kind.contains_key(&key) {
            let mapping = self
                .mapping
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("no mapping"))?;
            let watch = mapping.find(api_version, kind).ok_or_else(|| {
                user_error(anyhow::anyhow!(
                    "{}: no entry for {api_version} {kind} in {}",
                    document.origin(),
                    mapping.path.display()
                ))
            })?;
            let chart = Chart::load(&watch.chart_dir).map_err(user_error)?;
            let renderer = Renderer::new(chart, watch).map_err(user_error)?;
            self.by_kind.insert(key.clone(), renderer);
        }
        self.by_kind
            .get(&key)
            .ok_or_else(|| anyhow::anyhow!("renderer cache lost {key:?}"))
    }
}

/// Prints objects as multi-document YAML or a JSON list; a closed pipe (`| head`) is not an error.
fn print_objects(objects: &[Value], format: OutputFormat) -> anyhow::Result<()> {
    match write_objects(objects, format) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn write_objects(objects: &[Value], format: OutputFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, objects)?;
            writeln!(out)?;
        }
        OutputFormat::Yaml => {
            for object in objects {
                writeln!(out, "---")?;
                let text = serde_yaml::to_string(object).map_err(std::io::Error::other)?;
                out.write_all(text.as_bytes())?;
            }
        }
    }
    Ok(())
}
