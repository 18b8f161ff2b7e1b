//! `tera-operator migrate helm-release`: print the custom resource that replaces a Helm release.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery;
use serde_json::Value;
use tera_operator::migrate;

use super::cluster::{self, ClusterArgs};
use super::inputs::{self, DEFAULT_CONFIG};
use super::user_error;

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// What to migrate from.
    #[command(subcommand)]
    command: MigrateCommand,
}

/// What `migrate` migrates from.
// The variants name the subcommands (`helm-release`, `helm-chart`, `helm-operator`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Print the custom resource that replaces a Helm release (read from the cluster).
    HelmRelease(HelmReleaseArgs),
    /// Convert a Helm chart into a tera-operator chart; the report goes to stderr.
    HelmChart(super::migrate_chart::HelmChartArgs),
    /// Migrate an operator-sdk Helm operator project: mapping, converted charts, CRDs.
    HelmOperator(super::migrate_operator::HelmOperatorArgs),
}

/// Arguments of `migrate helm-release`.
#[derive(Debug, Args)]
struct HelmReleaseArgs {
    /// The Helm release name (becomes the custom resource's name).
    release: String,
    /// The release's namespace.
    #[arg(short = 'n', long)]
    namespace: String,
    /// The mapped kind that replaces the release's chart, e.g. WebServer.
    #[arg(long)]
    kind: String,
    /// The mapping file.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// How to reach the cluster.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Also print (as comments) what the switch-over adopts, creates and leaves alone, and how
    /// to drop Helm's release records without deleting any object.
    #[arg(long)]
    plan: bool,
}

/// Runs `migrate`.
pub(crate) fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MigrateCommand::HelmChart(args) => super::migrate_chart::run(args),
        MigrateCommand::HelmOperator(args) => super::migrate_operator::run(args),
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
async fn helm_release(args: &HelmReleaseArgs) -> anyhow::Result<String> {
    let mapping = inputs::load_mapping(&args.config)?;
    let watch = migrate::mapped_kind(&mapping, &args.kind).map_err(user_error)?;
    let client = cluster::connect(&args.cluster).await?;
    let (release, namespace) = (&args.release, &args.namespace);
    let selector = migrate::secret_selector(release);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = secrets
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| format!("listing Secrets -l {selector} in namespace {namespace}"))
        .map_err(user_error)?;
    let stored = migrate::latest(release, namespace, &list.items).map_err(user_error)?;
    if !stored.deployed {
        eprintln!(
            "warning: release {release} has no deployed revision; using revision {}",
            stored.revision
        );
    }
    let mut helm = stored.decode().map_err(user_error)?;
    if let Some(newer) = migrate::newer_than(release, namespace, &list.items, &stored) {
        let newer = newer.decode().map_err(user_error)?;
        helm = what_runs(&client, namespace, helm, newer).await?;
    }
    let cr = migrate::custom_resource(&helm, watch, namespace);
    let documents = migrate::rendered_documents(watch, &cr, namespace)
        .inspect_err(|e| {
            eprintln!(
                "warning: the release's values do not render with the {} chart: {e}",
                watch.kind
            )
        })
        .ok();
    if !migrate::adoption_allowed(watch) {
        eprintln!(
            "warning: the mapping entry of {} does not allow adopting Helm releases (adoptHelmReleases: true): the operator would take over nothing of release {release}",
            watch.kind
        );
    }
    let rendered = documents.as_ref().map(|docs| {
        docs.iter()
            .filter_map(object_key)
            .collect::<std::collections::BTreeSet<_>>()
    });
    let mut out = String::new();
    if args.plan {
        out.push_str(&migrate::plan(
            &helm,
            watch,
            namespace,
            &migrate::manifest_objects(&helm.manifest),
            rendered.as_ref(),
            &stored.secrets,
        ));
        if let Some(documents) = &documents {
            out.push_str(&field_plan(&client, namespace, &helm, documents).await?);
        }
    }
    out.push_str(&serde_yaml::to_string(&cr).context("writing the custom resource as YAML")?);
    Ok(out)
}

/// Of the deployed revision and a newer one that did not deploy (a failed or pending upgrade),
/// the one whose objects are what runs (see [`migrate::which_runs`]), saying so on stderr; an
/// error when the live objects match neither. Never a silent rollback.
async fn what_runs(
    client: &kube::Client,
    namespace: &str,
    deployed: migrate::Release,
    newer: migrate::Release,
) -> anyhow::Result<migrate::Release> {
    let deployed_objects = migrate::manifest_documents(&deployed.manifest);
    let newer_objects = migrate::manifest_documents(&newer.manifest);
    let live = fetch_live(
        client,
        namespace,
        deployed_objects.iter().chain(&newer_objects),
    )
    .await?;
    let (n, m, name) = (newer.version, deployed.version, &newer.name);
    let status = if newer.status.is_empty() {
        "not deployed".to_string()
    } else {
        newer.status.clone()
    };
    match migrate::which_runs(
        migrate::differences(&newer_objects, &live),
        migrate::differences(&deployed_objects, &live),
    ) {
        migrate::Runs::Newer => {
            eprintln!(
                "warning: revision {n} of release {name} is {status}, yet its objects are what runs (revision {m} is the last deployed): the custom resource takes revision {n}'s values, so that the switch-over changes nothing that runs (revision {m}'s would roll the objects back)"
            );
            Ok(newer)
        }
        migrate::Runs::Deployed => {
            eprintln!(
                "warning: revision {n} of release {name} is {status} and left the objects as revision {m} made them: the custom resource takes revision {m}'s values, which are what runs"
            );
            Ok(deployed)
        }
        migrate::Runs::Neither {
            newer: n_diff,
            deployed: m_diff,
        } => Err(user_error(anyhow::anyhow!(
            "release {name}: revision {n} is {status} after revision {m} was deployed, and the live objects match neither, so no revision's values are what runs (migrating either would change running objects). Against revision {n}: {}. Against revision {m}: {}. Settle the release first (`helm rollback {name} {m}`, or a `helm upgrade` that succeeds), then migrate",
            n_diff.join("; "),
            m_diff.join("; ")
        ))),
    }
}

/// The live objects of the given ones (by `kind/name`; `None`: absent).
async fn fetch_live<'a>(
    client: &kube::Client,
    namespace: &str,
    objects: impl Iterator<Item = &'a Value>,
) -> anyhow::Result<BTreeMap<String, Option<Value>>> {
    let mut live = BTreeMap::new();
    for object in objects {
        let (Some(api_version), Some(kind), Some(name)) = (
            object.get("apiVersion").and_then(Value::as_str),
            object.get("kind").and_then(Value::as_str),
            object.pointer("/metadata/name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let key = format!("{kind}/{name}");
        if live.contains_key(&key) {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("finding the API of {kind} ({api_version})"))?;
        let api: Api<DynamicObject> = if capabilities.scope == discovery::Scope::Cluster {
            Api::all_with(client.clone(), &resource)
        } else {
            Api::namespaced_with(client.clone(), namespace, &resource)
        };
        let object = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading {kind} {namespace}/{name}"))?;
        live.insert(
            key,
            object.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)),
        );
    }
    Ok(live)
}

/// The field-level part of the plan: what the first apply changes on each object the release
/// has, and what the release set that the chart does not render.
async fn field_plan(
    client: &kube::Client,
    namespace: &str,
    helm: &migrate::Release,
    rendered: &[Value],
) -> anyhow::Result<String> {
    let helm_objects: BTreeMap<String, Value> = migrate::manifest_documents(&helm.manifest)
        .into_iter()
        .filter_map(|o| Some((object_key(&o)?, o)))
        .collect();
    let adopted: Vec<&Value> = rendered
        .iter()
        .filter(|o| object_key(o).is_some_and(|k| helm_objects.contains_key(&k)))
        .collect();
    let live = fetch_live(client, namespace, adopted.iter().copied()).await?;
    let mut changes = BTreeMap::new();
    let mut unmanaged = BTreeMap::new();
    for desired in adopted {
        let Some(key) = object_key(desired) else {
            continue;
        };
        if let Some(Some(object)) = live.get(&key) {
            changes.insert(key.clone(), migrate::field_changes(desired, object));
        }
        if let Some(theirs) = helm_objects.get(&key) {
            unmanaged.insert(key, migrate::unmanaged_fields(theirs, desired));
        }
    }
    Ok(migrate::field_plan(&changes, &unmanaged))
}

fn object_key(object: &Value) -> Option<String> {
    Some(format!(
        "{}/{}",
        object.get("kind")?.as_str()?,
        object.pointer("/metadata/name")?.as_str()?
    ))
}
