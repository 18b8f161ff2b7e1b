//! Adoption: whether an object that already exists may be applied over, taken over, or must be left alone.
//!
//! Before anything is applied, the live object of each rendered name (if any) is judged by
//! [`decide`]: an object this custom resource already owns is applied as usual; one another
//! resource owns (a controller ownerReference, or another resource's owner-uid label) is a
//! conflict, never written: a child belongs to exactly one resource; one a Helm release manages
//! is taken over in place (server-side apply with force keeps its uid: never deleted and
//! recreated) only when the kind's mapping entry allows it (`adoptHelmReleases: true`, the
//! operator's decision), the resource asks for it with [`ADOPT_ANNOTATION`]` = "true"`, and the
//! release is named like the resource (as operator-sdk's helm-operator does); anything else is
//! refused. The reason of a conflict or refusal belongs in the custom resource's status. The
//! function is pure: it reads three JSON objects and a flag.

use serde_json::Value;

use crate::config::ADOPT_ANNOTATION;
use crate::render::{MANAGED_BY, MANAGED_BY_LABEL, OWNER_UID_LABEL};

/// The `app.kubernetes.io/managed-by` value Helm writes.
pub(crate) const HELM_MANAGED_BY: &str = "Helm";
/// The annotation naming the Helm release an object belongs to.
pub(crate) const HELM_RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";

/// The finalizers operator-sdk's helm-operator puts on each custom resource (current and
/// legacy), so that deleting it uninstalls its release. Once its objects are taken over nobody
/// would ever remove them, and the resource could never be deleted.
pub(crate) const HELM_OPERATOR_FINALIZERS: [&str; 2] = [
    "helm.sdk.operatorframework.io/uninstall-release",
    "uninstall-helm-release",
];

/// `finalizers` without helm-operator's, or `None` when it has none of them.
pub(crate) fn without_helm_operator_finalizers(finalizers: &[String]) -> Option<Vec<String>> {
    finalizers
        .iter()
        .any(|f| HELM_OPERATOR_FINALIZERS.contains(&f.as_str()))
        .then(|| {
            finalizers
                .iter()
                .filter(|f| !HELM_OPERATOR_FINALIZERS.contains(&f.as_str()))
                .cloned()
                .collect()
        })
}

/// What to do with one rendered object, given what already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing of that name exists: apply (create) it.
    Create,
    /// It is already this custom resource's: apply as usual.
    Owned,
    /// It belongs to a Helm release, the mapping entry allows adoption and the custom resource
    /// asks for it: server-side apply with force takes it over in place (same uid), adding our
    /// labels and ownerReference.
    Adopt {
        /// The Helm release it belonged to.
        release: String,
    },
    /// It belongs to another resource (a controller ownerReference to it, or another
    /// resource's owner-uid label): never written; it may be taken once its owner lets go.
    Conflict {
        /// Why, naming the object and its owner.
        reason: String,
    },
    /// It exists and is not ours to change: apply nothing, say why in the status.
    Refuse {
        /// Why, naming the object and what owns it.
        reason: String,
    },
}

/// Whether `owner` (a custom resource) asks to adopt the objects of its Helm release: its
/// [`ADOPT_ANNOTATION`] is `"true"`. Only honoured where the mapping entry allows adoption.
pub(crate) fn asks_to_adopt(owner: &Value) -> bool {
    annotation(owner, ADOPT_ANNOTATION) == Some("true")
}

/// Decides what to do with `desired` (a rendered object) given the `live` object of the same
/// group, kind, namespace and name (`None` if there is none), the owning custom resource
/// `owner`, and whether its mapping entry allows adopting Helm releases.
///
/// - made by operator-sdk's helm-operator for this resource (Helm's `managed-by` label and
///   release-name annotation, a controller ownerReference with the owner's uid, no owner-uid
///   label of ours yet) → [`Decision::Adopt`] where the mapping entry allows adoption (the
///   reference already says the release is this resource's: no annotation needed), else
///   refused;
/// - ours: a controller ownerReference with the owner's uid, or our owner-uid label with no
///   controller ownerReference at all (someone removed it; applying restores it) → [`Decision::Owned`];
/// - a controller ownerReference to anything else, or another resource's owner-uid label →
///   [`Decision::Conflict`], naming the owner;
/// - Helm's `managed-by` label and release-name annotation, the release named like the custom
///   resource (as `tera-operator migrate helm-release` writes it), the mapping entry allowing
///   adoption and the resource annotated [`ADOPT_ANNOTATION`]` = "true"` → [`Decision::Adopt`];
///   the annotation alone never suffices; otherwise refused, saying what is missing;
/// - anything else that exists → refused: it was made by hand or by another tool.
pub fn decide(
    live: Option<&Value>,
    desired: &Value,
    owner: &Value,
    mapping_allows_adoption: bool,
) -> Decision {
    let Some(live) = live else {
        return Decision::Create;
    };
    let object = format!(
        "{} {}",
        str_at(desired, "/kind").unwrap_or("object"),
        str_at(desired, "/metadata/name").unwrap_or("?")
    );
    let owner_uid = str_at(owner, "/metadata/uid").unwrap_or_default();
    let owner_name = str_at(owner, "/metadata/name").unwrap_or_default();
    let owner_kind = str_at(owner, "/kind").unwrap_or("custom resource");
    if let Some(reference) = controller_reference(live) {
        if !owner_uid.is_empty() && str_at(reference, "/uid") == Some(owner_uid) {
            // operator-sdk's helm-operator made it for this very resource: a Helm release
            // named after the resource, and a controller ownerReference to it. The reference
            // proves the release is this resource's, so no annotation is asked for; the
            // mapping entry still decides.
            if let (Some(HELM_MANAGED_BY), Some(release), None) = (
                label(live, MANAGED_BY_LABEL),
                annotation(live, HELM_RELEASE_NAME_ANNOTATION),
                label(live, OWNER_UID_LABEL),
            ) {
                return if mapping_allows_adoption {
                    Decision::Adopt {
                        release: release.to_string(),
                    }
                } else {
                    Decision::Refuse {
                        reason: format!(
                            "{object} was made by operator-sdk's helm-operator for this {owner_kind} (Helm release {release}); the mapping entry of {owner_kind} does not allow adopting Helm releases (adoptHelmReleases: true), so it is left alone"
                        ),
                    }
                };
            }
            return Decision::Owned;
        }
        return Decision::Conflict {
            reason: format!(
                "{object} belongs to {} {} (uid {})",
                str_at(reference, "/kind").unwrap_or("?"),
                str_at(reference, "/name").unwrap_or("?"),
                str_at(reference, "/uid").unwrap_or("?"),
            ),
        };
    }
    match label(live, OWNER_UID_LABEL) {
        Some(uid) if !owner_uid.is_empty() && uid == owner_uid => return Decision::Owned,
        Some(uid) if !uid.is_empty() => {
            return Decision::Conflict {
                reason: format!(
                    "{object} belongs to another resource (its {OWNER_UID_LABEL} label is {uid}; without an ownerReference it may be the orphan of a deleted resource: delete it to free the name)"
                ),
            };
        }
        _ => {}
    }
    let release = annotation(live, HELM_RELEASE_NAME_ANNOTATION);
    match (label(live, MANAGED_BY_LABEL), release) {
        (Some(HELM_MANAGED_BY), Some(release)) => {
            if release != owner_name {
                Decision::Refuse {
                    reason: format!(
                        "{object} already exists and belongs to Helm release {release}, not to release {owner_name}: only the {owner_kind} named like the release adopts its objects"
                    ),
                }
            } else if !mapping_allows_adoption {
                Decision::Refuse {
                    reason: format!(
                        "{object} already exists and is managed by Helm release {release}; the mapping entry of {owner_kind} does not allow adopting Helm releases (adoptHelmReleases: true), so it is left alone"
                    ),
                }
            } else if asks_to_adopt(owner) {
                Decision::Adopt {
                    release: release.to_string(),
                }
            } else {
                Decision::Refuse {
                    reason: format!(
                        "{object} already exists and is managed by Helm release {release}; annotate the {owner_kind} with {ADOPT_ANNOTATION}: \"true\" to take it over in place"
                    ),
                }
            }
        }
        (Some(MANAGED_BY), _) => Decision::Refuse {
            reason: format!(
                "{object} already exists, labelled as managed by tera-operator but owned by no resource (an orphan, say of a deletion with --cascade=orphan); delete it and this {owner_kind} creates it anew"
            ),
        },
        _ => Decision::Refuse {
            reason: format!(
                "{object} already exists and is not managed by tera-operator or Helm; delete or rename it, or let the chart render another name"
            ),
        },
    }
}

/// The live object's ownerReference with `controller: true`, if any.
fn controller_reference(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/labels")?.get(key)?.as_str()
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/annotations")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const UID: &str = "cr-uid-1";

    fn cr(annotations: Value) -> Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
               "metadata": {"name": "site", "namespace": "web", "uid": UID, "annotations": annotations}})
    }

    fn desired() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "site", "namespace": "web"}})
    }

    fn live(labels: Value, annotations: Value, owners: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "site", "namespace": "web", "uid": "live-uid",
                            "labels": labels, "annotations": annotations, "ownerReferences": owners}})
    }

    fn helm(release: &str) -> Value {
        live(
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            json!({"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": "web"}),
            json!([]),
        )
    }

    fn ours() -> Value {
        json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer", "name": "site",
               "uid": UID, "controller": true, "blockOwnerDeletion": true})
    }

    fn refused(decision: Decision) -> String {
        match decision {
            Decision::Refuse { reason } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn absent_objects_are_created() {
        assert_eq!(
            decide(None, &desired(), &cr(json!({})), false),
            Decision::Create
        );
    }

    #[test]
    fn our_objects_are_owned() {
        let both = live(json!({OWNER_UID_LABEL: UID}), json!({}), json!([ours()]));
        assert_eq!(
            decide(Some(&both), &desired(), &cr(json!({})), false),
            Decision::Owned
        );
        let reference_only = live(json!({}), json!({}), json!([ours()]));
        assert_eq!(
            decide(Some(&reference_only), &desired(), &cr(json!({})), false),
            Decision::Owned
        );
        let label_only = live(json!({OWNER_UID_LABEL: UID}), json!({}), json!([]));
        assert_eq!(
            decide(Some(&label_only), &desired(), &cr(json!({})), false),
            Decision::Owned
        );
    }

    fn conflict(decision: Decision) -> String {
        match decision {
            Decision::Conflict { reason } => reason,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn helm_objects_are_adopted_only_where_the_mapping_allows_and_the_resource_asks() {
        let asks = cr(json!({ADOPT_ANNOTATION: "true"}));
        assert_eq!(
            decide(Some(&helm("site")), &desired(), &asks, true),
            Decision::Adopt {
                release: "site".into(),
            }
        );

        // The annotation alone never suffices: the mapping entry decides.
        let reason = refused(decide(Some(&helm("site")), &desired(), &asks, false));
        assert!(reason.contains("Deployment site"), "{reason}");
        assert!(reason.contains("managed by Helm release site"), "{reason}");
        assert!(
            reason.contains("does not allow adopting Helm releases (adoptHelmReleases: true)"),
            "{reason}"
        );

        // Allowed by the mapping, but this resource did not ask.
        let reason = refused(decide(
            Some(&helm("site")),
            &desired(),
            &cr(json!({})),
            true,
        ));
        assert!(
            reason.contains("tera-operator.io/adopt: \"true\""),
            "{reason}"
        );
        let not_true = cr(json!({ADOPT_ANNOTATION: "yes"}));
        refused(decide(Some(&helm("site")), &desired(), &not_true, true));
    }

    #[test]
    fn helm_operator_objects_of_this_resource_are_adopted_where_the_mapping_allows() {
        // What operator-sdk's helm-operator leaves: Helm's label and annotation, and a
        // controller ownerReference to the resource; no adopt annotation on the resource.
        let mut object = helm("site");
        object["metadata"]["ownerReferences"] = json!([ours()]);
        object["metadata"]["labels"]["helm.sdk.operatorframework.io/chart"] = json!("webserver");
        assert_eq!(
            decide(Some(&object), &desired(), &cr(json!({})), true),
            Decision::Adopt {
                release: "site".into()
            }
        );
        let reason = refused(decide(Some(&object), &desired(), &cr(json!({})), false));
        assert!(
            reason.contains(
                "made by operator-sdk's helm-operator for this WebServer (Helm release site)"
            ),
            "{reason}"
        );
        // Once taken over (our label, our managed-by), it is simply ours.
        object["metadata"]["labels"][OWNER_UID_LABEL] = json!(UID);
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("tera-operator");
        assert_eq!(
            decide(Some(&object), &desired(), &cr(json!({})), false),
            Decision::Owned
        );
    }

    #[test]
    fn helm_operators_finalizers_go() {
        let finalizers = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            without_helm_operator_finalizers(&finalizers(&[
                "example.com/keep",
                "helm.sdk.operatorframework.io/uninstall-release",
                "uninstall-helm-release"
            ])),
            Some(finalizers(&["example.com/keep"]))
        );
        assert_eq!(
            without_helm_operator_finalizers(&finalizers(&["example.com/keep"])),
            None
        );
    }

    #[test]
    fn another_release_is_never_adopted() {
        let opt_in = cr(json!({ADOPT_ANNOTATION: "true"}));
        let reason = refused(decide(Some(&helm("other")), &desired(), &opt_in, true));
        assert!(
            reason.contains("Helm release other, not to release site"),
            "{reason}"
        );
    }

    #[test]
    fn helm_label_without_release_annotation_is_not_helm() {
        let half = live(
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            json!({}),
            json!([]),
        );
        let opt_in = cr(json!({ADOPT_ANNOTATION: "true"}));
        let reason = refused(decide(Some(&half), &desired(), &opt_in, true));
        assert!(
            reason.contains("not managed by tera-operator or Helm"),
            "{reason}"
        );
    }

    #[test]
    fn objects_of_another_controller_conflict_even_with_an_opt_in() {
        let theirs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                            "uid": "other", "controller": true});
        let mut object = helm("site");
        object["metadata"]["ownerReferences"] = json!([theirs]);
        let opt_in = cr(json!({ADOPT_ANNOTATION: "true"}));
        let reason = conflict(decide(Some(&object), &desired(), &opt_in, true));
        assert!(
            reason.contains("Deployment site belongs to ReplicaSet rs (uid other)"),
            "{reason}"
        );
        // Our label does not make another controller's object ours.
        object["metadata"]["labels"][OWNER_UID_LABEL] = json!(UID);
        conflict(decide(Some(&object), &desired(), &opt_in, true));
    }

    #[test]
    fn objects_of_another_resource_conflict() {
        let theirs = json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "Balancer",
                            "name": "shop", "uid": "other", "controller": true});
        let both = live(
            json!({OWNER_UID_LABEL: "other", "app.kubernetes.io/managed-by": "tera-operator"}),
            json!({}),
            json!([theirs]),
        );
        let reason = conflict(decide(Some(&both), &desired(), &cr(json!({})), true));
        assert!(reason.contains("belongs to Balancer shop"), "{reason}");
        // Only the owner label is left: still theirs.
        let label_only = live(json!({OWNER_UID_LABEL: "other"}), json!({}), json!([]));
        let reason = conflict(decide(Some(&label_only), &desired(), &cr(json!({})), true));
        assert!(
            reason.contains(
                "belongs to another resource (its tera-operator.io/owner-uid label is other;"
            ),
            "{reason}"
        );
    }

    #[test]
    fn unmanaged_objects_are_refused() {
        let plain = live(json!({}), json!({}), json!([]));
        let opt_in = cr(json!({ADOPT_ANNOTATION: "true"}));
        let reason = refused(decide(Some(&plain), &desired(), &opt_in, true));
        assert!(
            reason.contains("Deployment site already exists"),
            "{reason}"
        );
        // Labelled as ours, owned by nobody: an orphan, never written either.
        let orphan = live(
            json!({"app.kubernetes.io/managed-by": "tera-operator"}),
            json!({}),
            json!([]),
        );
        let reason = refused(decide(Some(&orphan), &desired(), &opt_in, true));
        assert!(reason.contains("owned by no resource"), "{reason}");
    }
}
