//! `tera-operator diff`: what applying would change on the live cluster, by server-side dry-run apply; never writes.
//!
//! Each custom resource is rendered as the operator renders it (chart defaults, spec,
//! overrides, stamping, the desired-hash annotation); each rendered object is server-side
//! applied with `dryRun=All` under the operator's field manager, and the object the API server
//! would store is compared with the live one (both without status and server-stamped
//! metadata, see [`text::normalize`]). Objects the resource owns that the chart no longer
//! renders are listed as pruned. The only requests are reads and dry-run applies.

mod text;

use std::collections::{BTreeSet, HashMap};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::Scope;
use serde_json::Value;

use super::apply::{add_desired_hash, api_error_text, server_side_apply};
use super::child_store::{CachedChild, ChildId};
use super::custom_resource::{CustomResource, Kind};
use super::reconcile::PAUSED_ANNOTATION;
use crate::config::{Mapping, Watch};
use crate::render::{OWNER_UID_LABEL, Renderer};

/// Errors that stop a diff as a whole (a single resource's failure is reported in [`Report::errors`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--kind` names no kind of the mapping.
    #[error("no mapping entry serves kind {kind} (the mapping serves: {served})")]
    KindNotMapped {
        /// The kind asked for.
        kind: String,
        /// The kinds the mapping serves.
        served: String,
    },
    /// The custom resource kind is not served by the API server.
    #[error(
        "the API server does not serve {group_version} {kind} (is its CRD installed?): {source}"
    )]
    DiscoveryFailed {
        /// `group/version`.
        group_version: String,
        /// The kind.
        kind: String,
        /// The discovery error.
        source: kube::Error,
    },
    /// The live custom resources could not be listed.
    #[error("listing the {kind} resources failed: {}", api_error_text(.source))]
    ListFailed {
        /// The kind.
        kind: String,
        /// The API error.
        source: kube::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to diff.
#[derive(Debug, Clone)]
pub enum Target {
    /// These custom resources (as read from files); a resource that exists live keeps its
    /// identity (uid), so its children and what would be pruned are found.
    Resources(Vec<Value>),
    /// Every live resource of a mapped kind (`Kind` or `Kind.group`), in one namespace or all.
    Kind {
        /// The kind.
        kind: String,
        /// The namespace; `None`: all namespaces.
        namespace: Option<String>,
    },
}

/// What applying would do to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The object does not exist and would be created.
    Create,
    /// The object exists and would change.
    Update,
    /// The object is owned by the resource but no longer rendered: it would be deleted.
    Prune,
}

/// One object that would change, with the unified diff of live against would-be.
#[derive(Debug, Clone)]
pub struct ObjectDiff {
    /// What would happen to it.
    pub change: Change,
    /// `Kind namespace/name`.
    pub object: String,
    /// The unified diff, headed `live/<group.version.Kind.namespace.name>` and `merged/…`
    /// as `kubectl diff` heads its files.
    pub diff: String,
}

/// Everything a diff found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Objects that would change, in apply order per resource, pruned ones last.
    pub objects: Vec<ObjectDiff>,
    /// Resources or objects that could not be diffed, each naming it and why.
    pub errors: Vec<String>,
    /// Remarks: a resource that does not exist yet, or is paused.
    pub notes: Vec<String>,
}

impl Report {
    /// Whether applying would change anything.
    pub fn has_differences(&self) -> bool {
        !self.objects.is_empty()
    }
}

/// Diffs `target` against the cluster behind `client`, with the charts of `mapping`;
/// resources without a namespace are taken to be in `default_namespace`.
pub async fn diff(
    client: &kube::Client,
    mapping: &Mapping,
    target: Target,
    default_namespace: &str,
) -> Result<Report> {
    let mut differ = Differ {
        client,
        mapping,
        default_namespace,
        renderers: HashMap::new(),
        resources: HashMap::new(),
        report: Report::default(),
    };
    match target {
        Target::Resources(resources) => {
            for resource in resources {
                differ.file_resource(resource).await;
            }
        }
        Target::Kind { kind, namespace } => differ.kind(&kind, namespace.as_deref()).await?,
    }
    Ok(differ.report)
}

struct Differ<'a> {
    client: &'a kube::Client,
    mapping: &'a Mapping,
    default_namespace: &'a str,
    renderers: HashMap<String, Option<Renderer>>,
    resources: HashMap<String, (ApiResource, bool)>,
    report: Report,
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// `group.version.Kind.namespace.name` (`version.Kind…` for the core group), kubectl diff's file name.
fn file_name(object: &Value) -> String {
    let api_version = str_at(object, "/apiVersion").replace('/', ".");
    let namespace = str_at(object, "/metadata/namespace");
    let name = str_at(object, "/metadata/name");
    let kind = str_at(object, "/kind");
    if namespace.is_empty() {
        format!("{api_version}.{kind}.{name}")
    } else {
        format!("{api_version}.{kind}.{namespace}.{name}")
    }
}

/// `Kind namespace/name`.
fn describe(object: &Value) -> String {
    format!(
        "{} {}/{}",
        str_at(object, "/kind"),
        str_at(object, "/metadata/namespace"),
        str_at(object, "/metadata/name")
    )
}

impl Differ<'_> {
    /// The API resource serving `api_version` `kind`, and whether it is namespaced.
    async fn api_resource(&mut self, api_version: &str, kind: &str) -> Result<(ApiResource, bool)> {
        let key = format!("{api_version}/{kind}");
        if let Some(found) = self.resources.get(&key) {
            return Ok(found.clone());
        }
        let gvk = gvk_of(api_version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(self.client, &gvk)
            .await
            .map_err(|source| Error::DiscoveryFailed {
                group_version: api_version.to_string(),
                kind: kind.to_string(),
                source,
            })?;
        let found = (resource, caps.scope == Scope::Namespaced);
        self.resources.insert(key, found.clone());
        Ok(found)
    }

    /// The compiled chart of `watch` (loaded once); `None` after reporting why it does not load.
    fn renderer(&mut self, watch: &Watch) -> Option<Renderer> {
        let key = format!("{}/{}", watch.group, watch.kind);
        if let Some(renderer) = self.renderers.get(&key) {
            return renderer.clone();
        }
        let renderer = match super::reload::load_renderer(watch) {
            Ok(renderer) => Some(renderer),
            Err(e) => {
                self.report.errors.push(format!("{}: {e}", watch.kind));
                None
            }
        };
        self.renderers.insert(key, renderer.clone());
        renderer
    }

    /// Every live resource of the mapped kind `kind`.
    async fn kind(&mut self, kind: &str, namespace: Option<&str>) -> Result<()> {
        let watch = self
            .mapping
            .watches
            .iter()
            .find(|w| {
                w.kind.eq_ignore_ascii_case(kind)
                    || format!("{}.{}", w.kind, w.group).eq_ignore_ascii_case(kind)
            })
            .ok_or_else(|| Error::KindNotMapped {
                kind: kind.to_string(),
                served: self
                    .mapping
                    .watches
                    .iter()
                    .map(|w| format!("{}.{}", w.kind, w.group))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let (resource, _) = self.api_resource(&watch.api_version(), &watch.kind).await?;
        let resource = Kind::from(resource);
        let api: Api<CustomResource> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|source| Error::ListFailed {
                kind: watch.kind.clone(),
                source,
            })?;
        for object in list.items {
            let mut value = serde_json::to_value(&object).unwrap_or(Value::Null);
            // List items may come without their type (as built-in kinds' do).
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), watch.api_version().into());
                map.insert("kind".into(), watch.kind.clone().into());
            }
            self.resource(watch, value, object.metadata.uid.clone())
                .await;
        }
        Ok(())
    }

    /// A custom resource read from a file: diffed with the identity of the live one of its
    /// name, if any.
    async fn file_resource(&mut self, mut resource: Value) {
        let api_version = str_at(&resource, "/apiVersion").to_string();
        let kind = str_at(&resource, "/kind").to_string();
        let name = str_at(&resource, "/metadata/name").to_string();
        let mut namespace = str_at(&resource, "/metadata/namespace").to_string();
        if namespace.is_empty() {
            namespace = self.default_namespace.to_string();
        }
        let what = format!("{kind} {namespace}/{name}");
        let Some(watch) = self.mapping.find(&api_version, &kind) else {
            self.report.errors.push(format!(
                "{what}: no mapping entry serves apiVersion {api_version:?} kind {kind:?}"
            ));
            return;
        };
        let (api_resource, _) = match self.api_resource(&api_version, &kind).await {
            Ok(found) => found,
            Err(e) => {
                self.report.errors.push(format!("{what}: {e}"));
                return;
            }
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &namespace, &api_resource);
        let live = match api.get_opt(&name).await {
            Ok(live) => live,
            Err(e) => {
                self.report
                    .errors
                    .push(format!("{what}: reading it failed: {}", api_error_text(&e)));
                return;
            }
        };
        let uid = live.as_ref().and_then(|l| l.metadata.uid.clone());
        if let Some(metadata) = resource.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("namespace".into(), namespace.clone().into());
            match &live {
                Some(live) => {
                    metadata.insert("uid".into(), uid.clone().into());
                    if let Some(generation) = live.metadata.generation {
                        metadata.insert("generation".into(), generation.into());
                    }
                }
                None => {
                    self.report.notes.push(format!(
                        "{what} does not exist yet: what it renders is compared as if it did"
                    ));
                }
            }
        }
        let watch = watch.clone();
        self.resource(&watch, resource, uid).await;
    }

    /// Renders `resource` and diffs every object it renders, then what it would prune.
    async fn resource(&mut self, watch: &Watch, resource: Value, uid: Option<String>) {
        let namespace = match str_at(&resource, "/metadata/namespace") {
            "" => self.default_namespace.to_string(),
            ns => ns.to_string(),
        };
        let what = format!(
            "{} {namespace}/{}",
            watch.kind,
            str_at(&resource, "/metadata/name")
        );
        if resource
            .pointer(&format!(
                "/metadata/annotations/{}",
                PAUSED_ANNOTATION.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            == Some("true")
        {
            self.report.notes.push(format!(
                "{what} is paused ({PAUSED_ANNOTATION}): the operator applies nothing for it"
            ));
            return;
        }
        let Some(renderer) = self.renderer(watch) else {
            return;
        };
        let rendered = match renderer.render(&resource, &namespace) {
            Ok(rendered) => rendered,
            Err(e) => {
                self.report.errors.push(format!("{what}: {e}"));
                return;
            }
        };
        let mut desired = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        for mut object in rendered.objects {
            k8s_rules::quantity::canonicalize_object(&mut object);
            add_desired_hash(&mut object);
            let api_version = str_at(&object, "/apiVersion").to_string();
            let kind = str_at(&object, "/kind").to_string();
            desired.insert(ChildId::new(
                &api_version,
                &kind,
                str_at(&object, "/metadata/namespace"),
                str_at(&object, "/metadata/name"),
            ));
            kinds.insert((api_version, kind));
            if let Err(e) = self.object(&object).await {
                self.report
                    .errors
                    .push(format!("{what}: {}: {e}", describe(&object)));
            }
        }
        if let Some(uid) = uid {
            self.pruned(watch, &what, &namespace, &uid, &desired, kinds)
                .await;
        }
    }

    /// Diffs one rendered object: the live object against what a dry-run apply returns.
    async fn object(&mut self, object: &Value) -> Result<(), String> {
        let (resource, namespaced) = self
            .api_resource(str_at(object, "/apiVersion"), str_at(object, "/kind"))
            .await
            .map_err(|e| e.to_string())?;
        let name = str_at(object, "/metadata/name");
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(
                self.client.clone(),
                str_at(object, "/metadata/namespace"),
                &resource,
            )
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let live = api
            .get_opt(name)
            .await
            .map_err(|e| format!("reading it failed: {}", api_error_text(&e)))?
            .map(|l| serde_json::to_value(l).unwrap_or(Value::Null));
        let merged = server_side_apply(self.client, &resource, namespaced, object, true)
            .await
            .map_err(|e| e.to_string())?;
        let merged = serde_json::to_value(merged).unwrap_or(Value::Null);
        let diff = text::unified(
            &file_name(object),
            &text::to_text(live.as_ref()),
            &text::to_text(Some(&merged)),
        );
        if !diff.is_empty() {
            self.report.objects.push(ObjectDiff {
                change: if live.is_some() {
                    Change::Update
                } else {
                    Change::Create
                },
                object: describe(object),
                diff,
            });
        }
        Ok(())
    }

    /// Lists, in `namespace`, the objects `uid` owns of every allowed or rendered kind that
    /// are not `desired`: what the operator would prune.
    async fn pruned(
        &mut self,
        watch: &Watch,
        what: &str,
        namespace: &str,
        uid: &str,
        desired: &BTreeSet<ChildId>,
        rendered_kinds: BTreeSet<(String, String)>,
    ) {
        let mut resources: Vec<ApiResource> = Vec::new();
        for (api_version, kind) in rendered_kinds {
            if let Ok((resource, true)) = self.api_resource(&api_version, &kind).await {
                resources.push(resource);
            }
        }
        for allowed in &watch.allowed_kinds {
            if resources
                .iter()
                .any(|r| r.group == allowed.group && r.kind == allowed.kind)
            {
                continue;
            }
            match kube::discovery::group(self.client, &allowed.group).await {
                Ok(group) => {
                    if let Some((resource, caps)) = group.recommended_kind(&allowed.kind)
                        && caps.scope == Scope::Namespaced
                    {
                        resources.push(resource);
                    }
                }
                // A kind the cluster does not serve has nothing to prune.
                Err(e) => tracing::debug!(kind = %allowed.kind, error = %e, "not served"),
            }
        }
        let mut seen = BTreeSet::new();
        for resource in resources {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), namespace, &resource);
            let list = match api
                .list(&ListParams::default().labels(&format!("{OWNER_UID_LABEL}={uid}")))
                .await
            {
                Ok(list) => list,
                Err(e) => {
                    self.report.errors.push(format!(
                        "{what}: listing its {} objects failed: {}",
                        resource.kind,
                        api_error_text(&e)
                    ));
                    continue;
                }
            };
            for object in list.items {
                let child = CachedChild::new(object.clone());
                let id = ChildId {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    namespace: child.namespace.to_string(),
                    name: child.name.to_string(),
                };
                if !child.is_owned_by(uid)
                    || child.deleting
                    || desired.contains(&id)
                    || !seen.insert(id)
                {
                    continue;
                }
                let mut live = serde_json::to_value(object).unwrap_or(Value::Null);
                if let Some(map) = live.as_object_mut() {
                    map.insert("apiVersion".into(), resource.api_version.clone().into());
                    map.insert("kind".into(), resource.kind.clone().into());
                }
                self.report.objects.push(ObjectDiff {
                    change: Change::Prune,
                    object: describe(&live),
                    diff: text::unified(&file_name(&live), &text::to_text(Some(&live)), ""),
                });
            }
        }
    }
}
