//! Prune: delete owned children the chart no longer renders, and never anything else.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject};
use kube::discovery::ApiResource;

use super::child_store::{CachedChild, ChildId};

/// Errors deleting a child.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The API server refused the delete.
    #[error("pruning {kind} {namespace}/{name} failed: {}", super::apply::api_error_text(.source))]
    DeleteFailed {
        /// Kind of the child.
        kind: String,
        /// Namespace of the child.
        namespace: String,
        /// Name of the child.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The objects to delete: owned by `uid` (label and controller ownerReference), not desired,
/// each once. Objects are compared by identity (group, kind, namespace, name), never by
/// apiVersion: a kind watched at two versions shows the same object twice, and an object
/// rendered at one version is the one cached at the other.
pub(crate) fn select<'a>(
    owned: &'a [(ApiResource, Arc<CachedChild>)],
    uid: &str,
    desired: &BTreeSet<ChildId>,
) -> Vec<&'a (ApiResource, Arc<CachedChild>)> {
    let mut seen = BTreeSet::new();
    owned
        .iter()
        .filter(|(resource, object)| {
            let id = ChildId {
                group: resource.group.clone(),
                kind: resource.kind.clone(),
                namespace: object.namespace.to_string(),
                name: object.name.to_string(),
            };
            object.is_owned_by(uid) && !object.deleting && !desired.contains(&id) && seen.insert(id)
        })
        .collect()
}

/// Deletes one child (in the background); an object already gone counts as deleted.
pub(crate) async fn delete(
    client: &kube::Client,
    resource: &ApiResource,
    object: &CachedChild,
) -> Result<()> {
    let namespace = object.namespace.to_string();
    let name = object.name.to_string();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, resource);
    let mut params = DeleteParams::background();
    // Delete exactly the object that was judged owned, not a namesake created since.
    if let Some(uid) = &object.uid {
        params.preconditions = Some(kube::api::Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        });
    }
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(source) => Err(Error::DeleteFailed {
            kind: resource.kind.clone(),
            namespace,
            name,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::OWNER_UID_LABEL;
    use kube::api::GroupVersionKind;
    use serde_json::json;

    fn service(
        name: &str,
        label_uid: Option<&str>,
        ref_uid: Option<&str>,
    ) -> (ApiResource, Arc<CachedChild>) {
        object("v1", "Service", name, label_uid, ref_uid)
    }

    fn object(
        api_version: &str,
        kind: &str,
        name: &str,
        label_uid: Option<&str>,
        ref_uid: Option<&str>,
    ) -> (ApiResource, Arc<CachedChild>) {
        let labels = match label_uid {
            Some(u) => json!({OWNER_UID_LABEL: u}),
            None => json!({}),
        };
        let owners = match ref_uid {
            Some(u) => json!([{"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "Balancer",
                               "name": "b", "uid": u, "controller": true}]),
            None => json!([]),
        };
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "labels": labels, "ownerReferences": owners}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        (
            ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)),
            Arc::new(CachedChild::new(object)),
        )
    }

    fn key(name: &str) -> ChildId {
        ChildId::new("v1", "Service", "ns", name)
    }

    #[test]
    fn prunes_only_owned_objects_that_are_not_desired() {
        let owned = vec![
            service("keep", Some("u"), Some("u")),
            service("gone", Some("u"), Some("u")),
            service("foreign-label", Some("other"), Some("u")),
            service("no-reference", Some("u"), None),
            service("other-owner", Some("other"), Some("other")),
        ];
        let desired: BTreeSet<ChildId> = [key("keep")].into_iter().collect();
        let names: Vec<String> = select(&owned, "u", &desired)
            .iter()
            .map(|(_, o)| o.name.to_string())
            .collect();
        assert_eq!(names, ["gone"]);
    }

    #[test]
    fn nothing_is_pruned_when_everything_is_desired() {
        let owned = vec![service("a", Some("u"), Some("u"))];
        let desired: BTreeSet<ChildId> = [key("a")].into_iter().collect();
        assert!(select(&owned, "u", &desired).is_empty());
    }

    #[test]
    fn a_kind_watched_at_two_versions_is_one_child() {
        let hpa = |version: &str, name: &str| {
            object(
                &format!("autoscaling/{version}"),
                "HorizontalPodAutoscaler",
                name,
                Some("u"),
                Some("u"),
            )
        };
        // Both caches (v1 and v2) hold both objects; the chart renders `kept` at v1.
        let owned = vec![
            hpa("v1", "kept"),
            hpa("v2", "kept"),
            hpa("v1", "gone"),
            hpa("v2", "gone"),
        ];
        let desired: BTreeSet<ChildId> = [ChildId::new(
            "autoscaling/v1",
            "HorizontalPodAutoscaler",
            "ns",
            "kept",
        )]
        .into_iter()
        .collect();
        let selected: Vec<(String, String)> = select(&owned, "u", &desired)
            .iter()
            .map(|(r, o)| (r.api_version.clone(), o.name.to_string()))
            .collect();
        // Never the desired object under its other version; the undesired one deleted once.
        assert_eq!(
            selected,
            [("autoscaling/v1".to_string(), "gone".to_string())]
        );
    }
}
