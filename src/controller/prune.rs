//! Prune: delete owned children the chart no longer renders, and never anything else.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject};
use kube::discovery::ApiResource;

use super::child_store::CachedChild;

/// Errors deleting a child.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The API server refused the delete.
    #[error("pruning {kind} {namespace}/{name} failed: {source}")]
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

/// `(apiVersion, kind, namespace, name)` of an object.
pub(crate) type ObjectKey = (String, String, String, String);

/// The objects to delete: owned by `uid` (label and controller ownerReference), not desired.
pub(crate) fn select<'a>(
    owned: &'a [(ApiResource, Arc<CachedChild>)],
    uid: &str,
    desired: &BTreeSet<ObjectKey>,
) -> Vec<&'a (ApiResource, Arc<CachedChild>)> {
    owned
        .iter()
        .filter(|(resource, object)| {
            let key = (
                resource.api_version.clone(),
                resource.kind.clone(),
                object.namespace.clone(),
                object.name.clone(),
            );
            object.is_owned_by(uid) && !object.deleting && !desired.contains(&key)
        })
        .collect()
}

/// Deletes one child (in the background); an object already gone counts as deleted.
pub(crate) async fn delete(
    client: &kube::Client,
    resource: &ApiResource,
    object: &CachedChild,
) -> Result<()> {
    let namespace = object.namespace.clone();
    let name = object.name.clone();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, resource);
    let mut params = DeleteParams::background();
    // Delete exactly the object that was judged owned, not a namesake created since.
    if let Some(uid) = &object.uid {
        params.preconditions = Some(kube::api::Preconditions {
            uid: Some(uid.clone()),
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
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "ns", "labels": labels, "ownerReferences": owners}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        (
            ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Service")),
            Arc::new(CachedChild::new(object)),
        )
    }

    fn key(name: &str) -> ObjectKey {
        ("v1".into(), "Service".into(), "ns".into(), name.into())
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
        let desired: BTreeSet<ObjectKey> = [key("keep")].into_iter().collect();
        let names: Vec<String> = select(&owned, "u", &desired)
            .iter()
            .map(|(_, o)| o.name.clone())
            .collect();
        assert_eq!(names, ["gone"]);
    }

    #[test]
    fn nothing_is_pruned_when_everything_is_desired() {
        let owned = vec![service("a", Some("u"), Some("u"))];
        let desired: BTreeSet<ObjectKey> = [key("a")].into_iter().collect();
        assert!(select(&owned, "u", &desired).is_empty());
    }
}
