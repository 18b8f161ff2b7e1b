//! Install manifests: everything needed to run the operator in a cluster, derived from the mapping.
//!
//! [`generate`] turns a mapping file into the objects `tera-operator manifests` prints:
//! the Namespace (only when asked to create it), the mapped kinds' CRDs, ServiceAccount, least-privilege RBAC ([`rbac`]), the
//! Deployment and its metrics Service ([`workload`]). [`to_yaml`] prints them byte-for-byte
//! reproducibly. Nothing here talks to a cluster.

pub(crate) mod kinds;
pub(crate) mod rbac;
pub(crate) mod workload;

use std::path::Path;

use serde_json::{Value, json};

use crate::chart::Chart;
use crate::config::Mapping;
use kinds::ResourceRef;
use rbac::MappedKind;

/// Where the image keeps the bundled charts and their mapping file.
pub const IMAGE_CHARTS_DIR: &str = "/etc/tera-operator/charts";
/// The mapping file inside the image.
pub const IMAGE_CONFIG_PATH: &str = "/etc/tera-operator/charts/watches.yaml";
/// The port serving /metrics, /healthz and /readyz.
pub const METRICS_PORT: u16 = 8080;
/// The default image (`docker build -t tera-operator:<version> .`).
pub const DEFAULT_IMAGE: &str = concat!("tera-operator:", env!("CARGO_PKG_VERSION"));
/// The default namespace the operator is installed into.
pub const DEFAULT_NAMESPACE: &str = "tera-operator-system";
/// The name of every object of the install (and of the leader-election Lease).
pub const DEFAULT_NAME: &str = "tera-operator";

/// Errors generating install manifests; each names the mapping entry or object concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mapping file could not be loaded.
    #[error(transparent)]
    MappingLoadFailed(#[from] crate::config::Error),
    /// A mapped chart could not be loaded.
    #[error("{mapping}:{line}: kind {kind}: loading the chart failed: {source}")]
    ChartLoadFailed {
        /// The mapping file.
        mapping: String,
        /// The entry's line.
        line: usize,
        /// The mapped kind.
        kind: String,
        /// Why.
        source: Box<crate::chart::Error>,
    },
    /// A mapped kind's CRD could not be generated.
    #[error("{mapping}:{line}: kind {kind}: generating the CRD failed: {source}")]
    CrdGenerationFailed {
        /// The mapping file.
        mapping: String,
        /// The entry's line.
        line: usize,
        /// The mapped kind.
        kind: String,
        /// Why.
        source: Box<crate::crd::Error>,
    },
    /// `--create-namespace` for a namespace Kubernetes itself owns, whose labels the install
    /// would overwrite.
    #[error(
        "--create-namespace: {namespace:?} belongs to Kubernetes; the install would relabel it (install into a namespace of its own, or leave out --create-namespace to use it as it is)"
    )]
    ReservedNamespace {
        /// The namespace.
        namespace: String,
    },
    /// `--shards` is out of range or combined with an option it cannot work with.
    #[error("--shards {reason}")]
    InvalidShards {
        /// Why.
        reason: String,
    },
    /// An option is not a valid Kubernetes name.
    #[error("--{option} {value:?} is not a valid DNS-1123 label")]
    InvalidName {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
    },
    /// An object could not be written as YAML.
    #[error("writing {object} as YAML failed: {source}")]
    SerializeFailed {
        /// `kind/name`.
        object: String,
        /// Why.
        source: serde_yaml::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to install.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Namespace of the operator.
    pub namespace: String,
    /// Image of the operator.
    pub image: String,
    /// Grant CRD privileges and let the operator install its CRDs (`run --install-crds`).
    pub install_crds: bool,
    /// Name of every object (ServiceAccount, ClusterRole, Deployment, …).
    pub name: String,
    /// Name of the leader-election Lease.
    pub lease_name: String,
    /// Replicas of the Deployment (one leads at a time), or of the StatefulSet with `shards`.
    pub replicas: u32,
    /// Split the resources into this many shards (`run --shards`): the workload is then a
    /// StatefulSet whose pods take the shard of their ordinal first, instead of a Deployment
    /// behind one leader election.
    pub shards: Option<u32>,
    /// Emit the Namespace object (with its Pod Security labels). Off for a namespace that
    /// already exists: `kubectl apply` would merge the labels into it.
    pub create_namespace: bool,
}

/// Whether `manifests -n NAMESPACE` emits the Namespace when not told: only for the default
/// namespace, which the install owns.
pub fn creates_namespace_by_default(namespace: &str) -> bool {
    namespace == DEFAULT_NAMESPACE
}

/// Namespaces Kubernetes creates and owns; the install never emits (so never relabels) them.
fn is_reserved_namespace(namespace: &str) -> bool {
    namespace == "default" || namespace.starts_with("kube-")
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_string(),
            image: DEFAULT_IMAGE.to_string(),
            install_crds: false,
            name: DEFAULT_NAME.to_string(),
            lease_name: DEFAULT_NAME.to_string(),
            replicas: 2,
            shards: None,
            create_namespace: true,
        }
    }
}

/// The labels of every object of the install.
pub(crate) fn labels(options: &Options) -> Value {
    json!({
        "app.kubernetes.io/name": options.name,
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/part-of": "tera-operator",
    })
}

/// The labels the Deployment selects its pods by (never changes across upgrades).
pub(crate) fn selector(options: &Options) -> Value {
    json!({"app.kubernetes.io/name": options.name, "app.kubernetes.io/component": "operator"})
}

/// Every object of the install, in apply order: Namespace (if asked for), CRDs,
/// ServiceAccount, RBAC, metrics Service, Deployment.
pub(crate) fn generate(mapping: &Mapping, options: &Options) -> Result<Vec<Value>> {
    for (option, value) in [("namespace", &options.namespace), ("name", &options.name)] {
        if !k8s_rules::names::is_dns_label(value) {
            return Err(Error::InvalidName {
                option,
                value: value.clone(),
            });
        }
    }
    if let Some(shards) = options.shards {
        if shards == 0 || shards > crate::controller::shard::MAX_SHARDS {
            return Err(Error::InvalidShards {
                reason: format!(
                    "must be between 1 and {}, not {shards}",
                    crate::controller::shard::MAX_SHARDS
                ),
            });
        }
        if options.install_crds {
            return Err(Error::InvalidShards {
                reason: "cannot be combined with --install-crds: every replica would write the                          CRDs, even one serving no shard (apply the CRDs with the manifests)"
                    .to_string(),
            });
        }
    }
    if options.create_namespace && is_reserved_namespace(&options.namespace) {
        return Err(Error::ReservedNamespace {
            namespace: options.namespace.clone(),
        });
    }
    let mapping_path = mapping.path.display().to_string();
    let mut crds = Vec::new();
    let mut kinds = Vec::new();
    for watch in &mapping.watches {
        let chart = Chart::load(&watch.chart_dir).map_err(|source| Error::ChartLoadFailed {
            mapping: mapping_path.clone(),
            line: watch.line,
            kind: watch.kind.clone(),
            source: Box::new(source),
        })?;
        let crd =
            crate::crd::for_chart(watch, &chart).map_err(|source| Error::CrdGenerationFailed {
                mapping: mapping_path.clone(),
                line: watch.line,
                kind: watch.kind.clone(),
                source: Box::new(source),
            })?;
        kinds.push(MappedKind {
            group: watch.group.clone(),
            plural: crd.spec.names.plural.clone(),
            crd_name: crd.metadata.name.clone().unwrap_or_default(),
            adopts_helm_releases: watch.adopt_helm_releases,
        });
        crds.push(crd_value(&crd, &watch.kind, &mapping_path, watch.line)?);
    }
    let plural_of = |index: usize| kinds.get(index).map(|k| k.plural.clone());
    let mut children: Vec<ResourceRef> = Vec::new();
    for watch in &mapping.watches {
        for kind in &watch.allowed_kinds {
            let target = kinds::resolve(kind, mapping, &plural_of);
            if !children.contains(&target) {
                children.push(target);
            }
        }
    }
    let rules = rbac::cluster_rules(&kinds, &children, options);
    let mut objects = Vec::new();
    if options.create_namespace {
        objects.push(workload::namespace(options));
    }
    objects.extend(crds);
    objects.extend([
        rbac::service_account(options),
        rbac::cluster_role(options, rules),
        rbac::cluster_role_binding(options),
        rbac::leader_election_role(options),
        rbac::leader_election_binding(options),
        workload::metrics_service(options),
        match options.shards {
            None => workload::deployment(options),
            Some(_) => workload::stateful_set(options),
        },
    ]);
    Ok(objects)
}

/// The install manifests for the mapping file at `config`: [`generate`]'s objects as
/// [`to_yaml`] writes them, after a header saying how they were made. What
/// `tera-operator manifests` prints.
pub fn manifests(config: &Path, options: &Options) -> Result<String> {
    let mapping = Mapping::load(config)?;
    let yaml = to_yaml(&generate(&mapping, options)?)?;
    Ok(format!(
        "# tera-operator install manifests, generated by `tera-operator manifests` (do not edit).\n# Apply with: tera-operator manifests | kubectl apply --server-side -f -\n{yaml}"
    ))
}

/// The CRD as a value, exactly as `tera-operator crd` writes it.
fn crd_value(
    crd: &crate::crd::CustomResourceDefinition,
    kind: &str,
    mapping: &str,
    line: usize,
) -> Result<Value> {
    let failed = |source| Error::CrdGenerationFailed {
        mapping: mapping.to_string(),
        line,
        kind: kind.to_string(),
        source: Box::new(source),
    };
    let yaml = crate::crd::to_yaml(crd).map_err(failed)?;
    serde_yaml::from_str(&yaml).map_err(|source| Error::SerializeFailed {
        object: format!(
            "CustomResourceDefinition/{}",
            crd.metadata.name.as_deref().unwrap_or(kind)
        ),
        source,
    })
}

/// The objects as multi-document YAML (`---` before each), keys sorted at every level.
pub(crate) fn to_yaml(objects: &[Value]) -> Result<String> {
    let mut out = String::new();
    for object in objects {
        let yaml =
            serde_yaml::to_string(&sorted(object)).map_err(|source| Error::SerializeFailed {
                object: object_name(object),
                source,
            })?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

/// `Kind/name` of an object, for messages.
pub(crate) fn object_name(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
