//! Rendering one custom resource through its chart: values, validation, templates, stamping, policy.
//!
//! The pipeline is pure: the same chart and custom resource always give the same objects, in
//! the same order, and nothing here touches a cluster, a file or the environment, except
//! [`Renderers`], which loads each kind's chart the first time it is asked for.

mod by_kind;
mod checked;
mod documents;
mod engine;
mod filters;
pub(crate) mod go_template;
mod go_yaml;
mod helm_filters;
mod htpasswd;
mod policy;
mod printf;
mod semver;
mod stamp;
mod status;
mod tera_hints;
mod tpl;
mod values;
mod yaml_text;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::chart::{Chart, SchemaViolation, merge_values};
use crate::config::{AllowedKind, Watch};

pub use by_kind::{LookupError, Renderers};
pub use documents::DocumentError;
pub(crate) use engine::Engine;
pub use engine::TemplateError;
pub(crate) use filters::{compact_json, hex};
pub use policy::PolicyViolation;
pub(crate) use stamp::{MANAGED_BY, MANAGED_BY_LABEL, OWNER_UID_LABEL, Owner};
pub(crate) use values::MAX_DEPTH as MAX_VALUES_DEPTH;

/// Why a custom resource could not be rendered. Nothing is applied when any of these occurs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The custom resource itself lacks what every object has (name, kind, apiVersion).
    #[error("{0}")]
    ResourceInvalid(String),
    /// The merged values break values.schema.json.
    #[error("{}: {}", schema.display(), join(violations))]
    InvalidSpec {
        /// The schema file.
        schema: PathBuf,
        /// Every violation, pointers relative to the custom resource (`/spec/...`).
        violations: Vec<SchemaViolation>,
    },
    /// The chart's templates failed to compile.
    #[error("{}", join(errors))]
    ChartInvalid {
        /// Every template error.
        errors: Vec<TemplateError>,
    },
    /// A template failed while rendering.
    #[error("{0}")]
    TemplateFailed(TemplateError),
    /// A template rendered text that is not YAML objects.
    #[error("{0}")]
    OutputInvalid(DocumentError),
    /// The rendered objects break the policy.
    #[error("{}", join(violations))]
    PolicyViolated {
        /// Every violation.
        violations: Vec<PolicyViolation>,
    },
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl std::fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The value at a path of object keys (a cheaper `Value::pointer` for literal paths).
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The objects one custom resource renders to, stamped and in apply order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The objects.
    pub objects: Vec<Value>,
    /// Where each object of `objects` came from (same order).
    pub(crate) sources: Vec<ObjectSource>,
    /// The merged values they were rendered from.
    pub(crate) values: Value,
}

/// The template an object was rendered by, and its place among that template's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectSource {
    /// The template, relative to the chart (`templates/deployment.yaml`).
    pub(crate) template: String,
    /// The object's index among the objects of that template, in rendered order (from 0).
    pub(crate) document: usize,
}

/// A chart compiled for rendering, with the mapping entry that serves it.
#[derive(Debug, Clone)]
pub struct Renderer {
    /// The chart.
    pub(crate) chart: Arc<Chart>,
    engine: Arc<Engine>,
    skeletons: Arc<documents::SkeletonCache>,
    allowed_kinds: Vec<AllowedKind>,
    override_values: Value,
    /// `chart` as templates see it, made once (it is the same for every render).
    chart_context: tera::Value,
    /// Values validated before, with their template form.
    checked: Arc<checked::Checked>,
    /// Status field sets validated before.
    valid_status: Arc<status::ValidStatus>,
    /// Where each override was written (`file:line` and key), named in place of `/spec/…` when
    /// an override's value breaks the schema.
    override_sources: Arc<Vec<(String, String)>>,
}

impl Renderer {
    /// Compiles `chart` for the kinds and overrides of `watch`.
    pub fn new(chart: Chart, watch: &Watch) -> Result<Self> {
        let mut renderer = Self::with_settings(
            chart,
            watch.allowed_kinds.clone(),
            watch.override_values.clone(),
        )?;
        renderer.override_sources = Arc::new(watch.describe_overrides());
        Ok(renderer)
    }

    /// Compiles `chart` with explicit allowed kinds and override values.
    pub fn with_settings(
        chart: Chart,
        allowed_kinds: Vec<AllowedKind>,
        override_values: Value,
    ) -> Result<Self> {
        let engine = Engine::compile(&chart).map_err(|errors| Error::ChartInvalid {
            errors: errors
                .into_iter()
                .map(|mut e| {
                    e.file = chart.file(&e.file).display().to_string();
                    e
                })
                .collect(),
        })?;
        let chart_context = tera::Value::from_serializable(&json!({
            "name": chart.meta.name,
            "version": chart.meta.version,
            "appVersion": chart.meta.app_version.clone().unwrap_or_default(),
            "description": chart.meta.description.clone().unwrap_or_default(),
        }));
        Ok(Self {
            chart: Arc::new(chart),
            chart_context,
            checked: Arc::default(),
            valid_status: Arc::default(),
            engine: Arc::new(engine),
            skeletons: Arc::default(),
            allowed_kinds,
            override_values,
            override_sources: Arc::default(),
        })
    }

    /// The same renderer without the skeleton cache: every render parses its YAML (for
    /// benchmarks and tests of the uncached path).
    pub fn without_skeleton_cache(mut self) -> Self {
        self.skeletons = Arc::new(documents::SkeletonCache::disabled());
        self
    }

    /// Renders a custom resource (as JSON) into stamped objects in apply order.
    /// `default_namespace` is used when the resource has none.
    pub fn render(&self, resource: &Value, default_namespace: &str) -> Result<Rendered> {
        let owner = owner_of(resource, default_namespace, &self.chart.meta.name)?;
        let spec = resource.get("spec").cloned().unwrap_or_else(|| json!({}));
        let merged = merge_values(&self.chart.defaults, &spec, &self.override_values);
        let (values, form) = match self.checked.find(&merged) {
            Some(form) => (merged, form),
            None => {
                let values = self.values_for(&spec)?;
                let form = tera::Value::from_serializable(&values);
                self.checked.remember(&values, &form);
                (values, form)
            }
        };
        let context = self.context(resource, &owner, form);
        let rendered = self.engine.render(&context).map_err(|mut e| {
            e.file = self.chart.file(&e.file).display().to_string();
            Error::TemplateFailed(e)
        })?;
        let mut parsed = Vec::new();
        for template in &rendered {
            parsed.extend(
                documents::parse_documents(template, &self.skeletons).map_err(|mut e| {
                    e.file = self.chart.file(&e.file).display().to_string();
                    Error::OutputInvalid(e)
                })?,
            );
        }
        let violations = policy::check(
            &parsed,
            &policy::PolicyContext {
                namespace: &owner.namespace,
                allowed_kinds: &self.allowed_kinds,
            },
        );
        if !violations.is_empty() {
            return Err(Error::PolicyViolated {
                violations: violations
                    .into_iter()
                    .map(|mut v| {
                        v.file = self.chart.file(&v.file).display().to_string();
                        v
                    })
                    .collect(),
            });
        }
        let mut sources = Vec::with_capacity(parsed.len());
        let mut objects = Vec::with_capacity(parsed.len());
        for p in parsed {
            let document = sources
                .iter()
                .filter(|s: &&ObjectSource| s.template == p.file)
                .count();
            sources.push(ObjectSource {
                template: p.file,
                document,
            });
            objects.push(p.object);
        }
        stamp::stamp_all(&mut objects, &owner);
        let mut pairs: Vec<(Value, ObjectSource)> = objects.into_iter().zip(sources).collect();
        pairs.sort_by(|a, b| stamp::apply_order(&a.0, &b.0));
        let (objects, sources) = pairs.into_iter().unzip();
        Ok(Rendered {
            objects,
            sources,
            values,
        })
    }

    /// Merges defaults, `spec` and overrides, and validates the result against the schema.
    pub(crate) fn values_for(&self, spec: &Value) -> Result<Value> {
        let values = merge_values(&self.chart.defaults, spec, &self.override_values);
        let schema_path = self.chart.file("values.schema.json");
        // Before anything recursive (the schema, the templates) looks at the values.
        if let Some(pointer) = values::too_deep(&values) {
            return Err(Error::InvalidSpec {
                schema: schema_path,
                violations: vec![SchemaViolation {
                    pointer: format!("/spec{pointer}"),
                    message: format!(
                        "nested more than {} levels deep, tera-operator's limit",
                        values::MAX_DEPTH
                    ),
                    missing_required: false,
                }],
            });
        }
        let mut violations: Vec<SchemaViolation> = values::reserved_character_paths(&values)
            .into_iter()
            .map(|pointer| SchemaViolation {
                pointer,
                message: "contains a character reserved by tera-operator (U+E000 or U+E001)"
                    .to_string(),
                missing_required: false,
            })
            .collect();
        if let Some(schema) = &self.chart.schema {
            violations.extend(schema.violations(&values));
        }
        if violations.is_empty() {
            return Ok(values);
        }
        for v in &mut violations {
            v.pointer = match self.override_sources.iter().find(|(set, _)| {
                v.pointer == *set
                    || (v.pointer.starts_with(set.as_str())
                        && v.pointer.as_bytes().get(set.len()) == Some(&b'/'))
            }) {
                Some((_, source)) => format!("{source} ({})", v.pointer),
                None => format!("/spec{}", v.pointer),
            };
        }
        Err(Error::InvalidSpec {
            schema: schema_path,
            violations,
        })
    }

    fn context(&self, resource: &Value, owner: &Owner, values: tera::Value) -> tera::Context {
        let mut context = tera::Context::new();
        context.insert_value("values", values);
        context.insert(
            "release",
            &json!({
                "name": owner.name,
                "namespace": owner.namespace,
                "uid": owner.uid.clone().unwrap_or_default(),
                "generation": at(resource, &["metadata", "generation"]).cloned().unwrap_or(json!(0)),
                "service": stamp::MANAGED_BY,
            }),
        );
        context.insert_value("chart", self.chart_context.clone());
        let metadata = resource
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| json!({}));
        context.insert(
            "resource",
            &json!({
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "metadata": {
                    "name": owner.name,
                    "namespace": owner.namespace,
                    "uid": owner.uid.clone().unwrap_or_default(),
                    "generation": metadata.get("generation").cloned().unwrap_or(json!(0)),
                    "labels": metadata.get("labels").cloned().unwrap_or_else(|| json!({})),
                    "annotations": metadata.get("annotations").cloned().unwrap_or_else(|| json!({})),
                },
            }),
        );
        context
    }
}

fn owner_of(resource: &Value, default_namespace: &str, chart: &str) -> Result<Owner> {
    let field = |pointer: &str| {
        let path: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        at(resource, &path).and_then(Value::as_str)
    };
    let missing = |what: &str| Error::ResourceInvalid(format!("the custom resource has no {what}"));
    let name = field("/metadata/name").ok_or_else(|| missing("metadata.name"))?;
    if !k8s_rules::names::is_dns_subdomain(name) {
        return Err(Error::ResourceInvalid(format!(
            "metadata.name {name:?} is not a valid Kubernetes name"
        )));
    }
    Ok(Owner {
        api_version: field("/apiVersion")
            .ok_or_else(|| missing("apiVersion"))?
            .to_string(),
        kind: field("/kind").ok_or_else(|| missing("kind"))?.to_string(),
        name: name.to_string(),
        namespace: field("/metadata/namespace")
            .filter(|ns| !ns.is_empty())
            .unwrap_or(default_namespace)
            .to_string(),
        uid: field("/metadata/uid").map(str::to_string),
        chart: chart.to_string(),
    })
}

#[cfg(test)]
mod tests;
