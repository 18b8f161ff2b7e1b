//! The custom resource that replaces a Helm release, and the plan for switching over.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::release::Release;
use super::{Error, Result};
use crate::chart::Chart;
use crate::config::{ADOPT_ANNOTATION, Mapping, Watch};
use crate::render::Renderer;

/// The custom resource for `release`: the mapping entry's apiVersion and kind, the release's
/// name and namespace, its user-supplied values as spec, and the adopt annotation asking the
/// operator to take over the release's objects in place (which it does only where the mapping
/// entry allows it, see [`adoption_allowed`]).
pub fn custom_resource(release: &Release, watch: &Watch, namespace: &str) -> Value {
    json!({
        "apiVersion": watch.api_version(),
        "kind": watch.kind,
        "metadata": {
            "name": release.name,
            "namespace": namespace,
            "annotations": {ADOPT_ANNOTATION: "true"},
        },
        "spec": release.config,
    })
}

/// Whether the mapping entry allows its resources to adopt Helm releases
/// (`adoptHelmReleases: true`). Without it the operator takes over nothing of a release, whatever
/// the resource's annotation says.
pub fn adoption_allowed(watch: &Watch) -> bool {
    watch.adopt_helm_releases
}

/// The one mapping entry serving `kind` (in whichever group).
pub fn mapped_kind<'a>(mapping: &'a Mapping, kind: &str) -> Result<&'a Watch> {
    let matches: Vec<&Watch> = mapping.watches.iter().filter(|w| w.kind == kind).collect();
    let list = |items: Vec<&str>| items.join(", ");
    match matches.as_slice() {
        [watch] => Ok(watch),
        [] => Err(Error::KindNotMapped {
            mapping: mapping.path.display().to_string(),
            kind: kind.to_string(),
            mapped: list(mapping.watches.iter().map(|w| w.kind.as_str()).collect()),
        }),
        many => Err(Error::KindMappedTwice {
            mapping: mapping.path.display().to_string(),
            kind: kind.to_string(),
            groups: list(many.iter().map(|w| w.group.as_str()).collect()),
        }),
    }
}

/// Renders the custom resource `cr` with the chart of `watch`: the objects it would apply, as
/// `kind/name`.
pub fn rendered_objects(watch: &Watch, cr: &Value, namespace: &str) -> Result<BTreeSet<String>> {
    Ok(rendered_documents(watch, cr, namespace)?
        .iter()
        .filter_map(object_key)
        .collect())
}

/// The objects the chart of `watch` renders for `cr`, stamped, as the operator would apply them.
pub fn rendered_documents(watch: &Watch, cr: &Value, namespace: &str) -> Result<Vec<Value>> {
    let renderer = Renderer::new(Chart::load(&watch.chart_dir)?, watch)?;
    let mut objects = renderer.render(cr, namespace)?.objects;
    for object in &mut objects {
        k8s_rules::quantity::canonicalize_object(object);
    }
    Ok(objects)
}

/// The field-level changes of the switch-over as `#` comment lines: for each adopted object
/// (`kind/name` → its changes, see [`super::live::field_changes`]), and the fields the release
/// set that the chart does not (`kind/name` → pointers), which stay as they are, unmanaged.
pub fn field_plan(
    changes: &std::collections::BTreeMap<String, Vec<String>>,
    unmanaged: &std::collections::BTreeMap<String, Vec<String>>,
) -> String {
    let mut lines = vec![
        "Field changes (the operator's first apply of each adopted object, besides its owner label and ownerReference):".to_string(),
    ];
    for (object, fields) in changes {
        if fields.is_empty() {
            lines.push(format!("  {object}: none"));
        } else {
            lines.push(format!("  {object}:"));
            lines.extend(fields.iter().map(|f| format!("    {f}")));
        }
    }
    let kept: Vec<_> = unmanaged.iter().filter(|(_, f)| !f.is_empty()).collect();
    if !kept.is_empty() {
        lines.push(
            "Kept as they are, managed by nobody any more (the release set them, the chart does not):"
                .to_string(),
        );
        for (object, fields) in kept {
            lines.push(format!("  {object}: {}", fields.join(", ")));
        }
    }
    let mut out: String = lines.iter().map(|l| format!("# {l}\n")).collect();
    out.push_str("#\n");
    out
}

/// `kind/name` of every object in a multi-document YAML manifest (documents that do not parse
/// or have no kind are skipped: Helm applied them, but they are not objects we can match).
pub fn manifest_objects(manifest: &str) -> BTreeSet<String> {
    serde_yaml::Deserializer::from_str(manifest)
        .filter_map(|doc| serde::Deserialize::deserialize(doc).ok())
        .filter_map(|doc: Value| object_key(&doc))
        .collect()
}

/// `kind/name` of an object.
pub(crate) fn object_key(object: &Value) -> Option<String> {
    let kind = object.get("kind")?.as_str()?;
    let name = object.pointer("/metadata/name")?.as_str()?;
    Some(format!("{kind}/{name}"))
}

/// The switch-over plan as `#` comment lines: which objects are adopted, created or left
/// alone, and how to drop Helm's release records without deleting any object; or, when the
/// mapping entry of `watch` does not allow adoption, that nothing would be taken over and why.
pub fn plan(
    release: &Release,
    watch: &Watch,
    namespace: &str,
    helm_objects: &BTreeSet<String>,
    rendered: Option<&BTreeSet<String>>,
    revisions: &[String],
) -> String {
    let mut lines = vec![
        format!(
            "Plan: migrate Helm release {}/{} (revision {}, chart {}-{}, {})",
            namespace,
            release.name,
            release.version,
            release.chart_name,
            release.chart_version,
            release.status
        ),
        String::new(),
    ];
    let kind = watch.kind.as_str();
    let allowed = adoption_allowed(watch);
    if !allowed {
        lines.extend([
            format!(
                "NOT ALLOWED: the mapping entry of {kind} does not allow adopting Helm releases (adoptHelmReleases: true is not set)."
            ),
            format!(
                "Applied as it is, this {kind} takes over nothing: it stays Ready=False (AdoptionRefused) and the release's objects stay Helm's."
            ),
            format!(
                "Adopting is the operator's decision, not the resource's: set adoptHelmReleases: true on the {kind} entry of the operator's mapping first."
            ),
            String::new(),
        ]);
    }
    match rendered {
        Some(rendered) => {
            let list = |title: &str, items: Vec<&String>, lines: &mut Vec<String>| {
                lines.push(format!("{title} ({}):", items.len()));
                lines.extend(items.iter().map(|i| format!("  {i}")));
            };
            let (adopted, created) = if allowed {
                (
                    "Adopted in place (same uid; labels and ownerReference added)",
                    "Created (the chart renders them, the release did not)",
                )
            } else {
                (
                    "Refused (Helm's: the mapping does not allow adopting them)",
                    "Created once adoption is allowed (the chart renders them, the release did not)",
                )
            };
            list(
                adopted,
                helm_objects.intersection(rendered).collect(),
                &mut lines,
            );
            list(
                created,
                rendered.difference(helm_objects).collect(),
                &mut lines,
            );
            list(
                "Left alone (the release had them, the chart does not render them; delete by hand if unwanted)",
                helm_objects.difference(rendered).collect(),
                &mut lines,
            );
        }
        None => lines.push(
            "The chart could not render this resource (see the warning on stderr): fix the spec before applying."
                .to_string(),
        ),
    }
    lines.extend([
        String::new(),
        "Steps:".to_string(),
        "  1. kubectl apply -f <this file>".to_string(),
        format!(
            "  2. kubectl wait --for=condition=Ready -n {namespace} {}/{} --timeout=5m",
            kind.to_lowercase(),
            release.name
        ),
        "  3. drop Helm's release records (Secrets only: no object of the release is deleted):"
            .to_string(),
        format!(
            "     kubectl delete secret -n {namespace} -l owner=helm,name={}",
            release.name
        ),
    ]);
    if !revisions.is_empty() {
        lines.push(format!("     (removes {})", revisions.join(", ")));
    }
    lines.push(
        "  Never run `helm uninstall` on this release: it deletes the objects the operator now owns."
            .to_string(),
    );
    let mut out: String = lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect();
    out.push_str("#\n");
    out
}
