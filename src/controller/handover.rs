//! Handing a taken-over object's fields to tera-operator: Helm's `managedFields` entries are dropped.
//!
//! Server-side apply removes a field the applied configuration no longer sets only when no
//! other field manager owns it. Helm (its CLI, and operator-sdk's helm-operator) writes objects
//! with updates or applies of its own, so after a takeover its entries in `managedFields` still
//! co-own every field it wrote: a value later removed from the custom resource would stay on the
//! live object forever while the resource says Ready. Once tera-operator's own apply of the
//! object has succeeded (so its entry owns every field the chart renders), the entries of Helm's
//! field managers are dropped by a merge patch of `metadata.managedFields` guarded by the
//! object's `resourceVersion`, as the API server documents for editing managedFields. Fields
//! Helm set and the chart does not render are then owned by nobody: they stay as they are,
//! untouched, until someone removes them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;

/// The field managers Helm's own programs use: its CLI (`helm`, Helm 3 and 4) and operator-sdk's
/// helm-operator (its binary's name). A program that embeds Helm's library otherwise writes as
/// its own binary's name (Helm's `getManagedFieldsManager`), so entries are also recognised by
/// what they own: see [`is_helm_entry`].
pub(crate) const HELM_FIELD_MANAGERS: [&str; 2] = ["helm", "helm-operator"];

/// The annotation Helm writes on every object of a release (its `setMetadataVisitor`), so the
/// field manager that owns it is Helm, whatever its name.
const HELM_RELEASE_ANNOTATION_FIELD: &str = "f:meta.helm.sh/release-name";

/// How many times a handover is tried when the object changes in between (409 Conflict).
const ATTEMPTS: usize = 3;

/// Whether `entry` is Helm's: not a subresource's, not tera-operator's, and either written by
/// one of [`HELM_FIELD_MANAGERS`] or owning Helm's release-name annotation.
pub(crate) fn is_helm_entry(entry: &ManagedFieldsEntry) -> bool {
    let manager = entry.manager.as_deref().unwrap_or_default();
    if entry.subresource.as_deref().is_some_and(|s| !s.is_empty())
        || manager == super::apply::FIELD_MANAGER
    {
        return false;
    }
    HELM_FIELD_MANAGERS
        .iter()
        .any(|helm| manager.eq_ignore_ascii_case(helm))
        || entry.fields_v1.as_ref().is_some_and(|fields| {
            fields
                .0
                .pointer("/f:metadata/f:annotations")
                .and_then(|a| a.get(HELM_RELEASE_ANNOTATION_FIELD))
                .is_some()
        })
}

/// Whether any entry of `entries` is Helm's.
pub(crate) fn has_helm_entries(entries: Option<&[ManagedFieldsEntry]>) -> bool {
    entries.unwrap_or_default().iter().any(is_helm_entry)
}

/// The entries to keep when Helm's go, or `None` when Helm has none.
pub(crate) fn without_helm(entries: &[ManagedFieldsEntry]) -> Option<Vec<ManagedFieldsEntry>> {
    if !has_helm_entries(Some(entries)) {
        return None;
    }
    Some(
        entries
            .iter()
            .filter(|e| !is_helm_entry(e))
            .cloned()
            .collect(),
    )
}

/// Drops Helm's managedFields entries from the live object `namespace/name`; returns whether
/// there were any. Retried when the object changes in between.
pub(crate) async fn drop_helm_entries(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> = if namespace.is_empty() {
        Api::all_with(client.clone(), resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, resource)
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(live) = api.get_opt(name).await? else {
            return Ok(false);
        };
        let entries = live.metadata.managed_fields.as_deref().unwrap_or_default();
        let Some(kept) = without_helm(entries) else {
            return Ok(false);
        };
        // An empty list leaves managedFields as they are; `[{}]` clears them.
        let kept = if kept.is_empty() {
            json!([{}])
        } else {
            json!(kept)
        };
        let patch = json!({"metadata": {
            "resourceVersion": live.metadata.resource_version,
            "managedFields": kept,
        }});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < ATTEMPTS => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

    use super::*;

    fn entry(manager: &str, operation: &str) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.to_string()),
            operation: Some(operation.to_string()),
            fields_v1: Some(FieldsV1(json!({"f:spec": {"f:replicas": {}}}))),
            ..Default::default()
        }
    }

    #[test]
    fn only_helms_entries_go() {
        // Helm embedded in another program writes as that program (here, Python).
        let mut embedded = entry("python", "Apply");
        embedded.fields_v1 = Some(FieldsV1(json!({"f:metadata": {"f:annotations": {
            "f:meta.helm.sh/release-name": {}, "f:meta.helm.sh/release-namespace": {}}}})));
        let mut status = entry("helm", "Update");
        status.subresource = Some("status".to_string());
        let entries = vec![
            entry("helm", "Update"),
            entry("tera-operator", "Apply"),
            entry("kube-controller-manager", "Update"),
            entry("helm-operator", "Update"),
            embedded,
            entry("Helm", "Apply"),
            entry("helmfile", "Apply"),
            status,
        ];
        let kept: Vec<String> = without_helm(&entries)
            .unwrap()
            .into_iter()
            .filter_map(|e| e.manager)
            .collect();
        assert_eq!(
            kept,
            [
                "tera-operator",
                "kube-controller-manager",
                "helmfile",
                "helm"
            ]
        );
        assert_eq!(without_helm(&entries[1..3]), None);
        assert!(!has_helm_entries(None));
    }
}
