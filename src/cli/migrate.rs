//! `tera-operator migrate helm-release`: print the custom resource that replaces a Helm release.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::inputs::{self, DEFAULT_CONFIG};
use super::{cluster, user_error};
use crate::chart::Chart;
use crate::config::{Mapping, Watch};
use crate::migrate::{self, Release};
use crate::render::Renderer;

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// What to migrate from.
    #[command(subcommand)]
    pub command: MigrateCommand,
}

/// What `migrate` migrates from.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Print the custom resource that replaces a Helm release (read from the cluster).
    HelmRelease(HelmReleaseArgs),
}

/// Arguments of `migrate helm-release`.
#[derive(Debug, Args)]
pub struct HelmReleaseArgs {
    /// The Helm release name (becomes the custom resource's name).
    pub release: String,
    /// The release's namespace.
    #[arg(short = 'n', long)]
    pub namespace: String,
    /// The mapped kind that replaces the release's chart, e.g. WebServer.
    #[arg(long)]
    pub kind: String,
    /// The mapping file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
    /// Also print (as comments) what the switch-over adopts, creates and leaves alone, and how
    /// to drop Helm's release records without deleting any object.
    #[arg(long)]
    pub plan: bool,
}

/// Runs `migrate`.
pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MigrateCommand::HelmRelease(args) => {
            let runtime =
                tokio::runtime::Runtime::new().context("starting the async runtime failed")?;
            let text = runtime.block_on(helm_release(&args))?;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The output of `migrate helm-release`: the custom resource as YAML, after the plan if asked.
pub async fn helm_release(args: &HelmReleaseArgs) -> anyhow::Result<String> {
    let mapping = inputs::load_mapping(&args.config)?;
    let watch = find_kind(&mapping, &args.kind)?;
    let client = cluster::connect(&args.cluster).await?;
    let (release, revisions) = read_release(client, &args.release, &args.namespace).await?;
    let cr = migrate::custom_resource(&release, watch, &args.namespace);
    let rendered = render_check(watch, &cr, &args.namespace);
    let mut out = String::new();
    if args.plan {
        let helm_objects = migrate::manifest_objects(&release.manifest);
        out.push_str(&migrate::plan(
            &release,
            &watch.kind,
            &args.namespace,
            &helm_objects,
            rendered.as_ref(),
            &revisions,
        ));
    }
    out.push_str(&serde_yaml::to_string(&cr).context("writing the custom resource as YAML")?);
    Ok(out)
}

fn find_kind<'a>(mapping: &'a Mapping, kind: &str) -> anyhow::Result<&'a Watch> {
    let matches: Vec<&Watch> = mapping.watches.iter().filter(|w| w.kind == kind).collect();
    match matches.as_slice() {
        [watch] => Ok(watch),
        [] => Err(user_error(anyhow::anyhow!(
            "{}: no mapping entry serves kind {kind} (mapped: {})",
            mapping.path.display(),
            mapping
                .watches
                .iter()
                .map(|w| w.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        many => Err(user_error(anyhow::anyhow!(
            "{}: kind {kind} is mapped in several groups ({})",
            mapping.path.display(),
            many.iter()
                .map(|w| w.group.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Reads the newest deployed revision of `release` (the newest of any status when none is
/// deployed, with a warning) and the names of all its release Secrets.
async fn read_release(
    client: kube::Client,
    release: &str,
    namespace: &str,
) -> anyhow::Result<(Release, Vec<String>)> {
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let selector = format!("owner=helm,name={release}");
    let list = secrets
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| format!("listing Secrets -l {selector} in namespace {namespace}"))
        .map_err(user_error)?;
    let mut found: Vec<(u64, bool, &Secret)> = list
        .items
        .iter()
        .filter_map(|s| {
            let name = s.metadata.name.as_deref()?;
            let labels = s.metadata.labels.as_ref();
            let version = migrate::revision(
                name,
                labels.and_then(|l| l.get("version")).map(String::as_str),
            )?;
            let deployed = labels
                .and_then(|l| l.get("status"))
                .is_some_and(|s| s == "deployed");
            Some((version, deployed, s))
        })
        .collect();
    found.sort_by_key(|(version, _, _)| *version);
    let names: Vec<String> = found
        .iter()
        .filter_map(|(_, _, s)| s.metadata.name.clone())
        .collect();
    let chosen = found
        .iter()
        .rev()
        .find(|(_, deployed, _)| *deployed)
        .or_else(|| found.last());
    let Some((version, deployed, secret)) = chosen else {
        return Err(user_error(anyhow::anyhow!(
            "no Helm release {release} in namespace {namespace}: no Secret labelled {selector}"
        )));
    };
    let name = migrate::secret_name(release, *version);
    if !deployed {
        eprintln!("warning: release {release} has no deployed revision; using revision {version}");
    }
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(migrate::release::RELEASE_KEY))
        .ok_or_else(|| {
            user_error(anyhow::anyhow!(
                "Secret {namespace}/{name} has no `{}` key: not a Helm release record",
                migrate::release::RELEASE_KEY
            ))
        })?;
    let decoded = migrate::decode(&name, &data.0).map_err(user_error)?;
    Ok((decoded, names))
}

/// Renders the custom resource with its chart: the objects it would apply as `kind/name`, or
/// `None` (with a warning on stderr) when the values do not fit the chart.
fn render_check(
    watch: &Watch,
    cr: &Value,
    namespace: &str,
) -> Option<std::collections::BTreeSet<String>> {
    let rendered = Chart::load(&watch.chart_dir)
        .map_err(|e| e.to_string())
        .and_then(|chart| Renderer::new(chart, watch).map_err(|e| e.to_string()))
        .and_then(|renderer| renderer.render(cr, namespace).map_err(|e| e.to_string()));
    match rendered {
        Ok(rendered) => Some(
            rendered
                .objects
                .iter()
                .filter_map(migrate::plan::object_key)
                .collect(),
        ),
        Err(reason) => {
            eprintln!(
                "warning: the release's values do not render with the {} chart: {reason}",
                watch.kind
            );
            None
        }
    }
}
