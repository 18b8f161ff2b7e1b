//! The custom resources as their caches keep them: without managedFields, the status as compact JSON text.
//!
//! A reconcile renders a resource's metadata and spec; of its status it needs only the last
//! written one, once, to tell whether the new one differs (and since when a condition holds).
//! A parsed `serde_json::Value` tree takes several times the memory of its JSON text, and the
//! status (conditions with messages, the children list) is most of a resource, so the cache
//! keeps it as text, parsed when a reconcile asks for it.

use kube::api::DynamicObject;
use serde_json::Value;

/// Where the packed status is kept in a cached object's data: a name no field of a custom
/// resource has (its top-level fields are apiVersion, kind, metadata, spec and status).
const PACKED_STATUS: &str = "tera-operator.io/status";

/// Slims a watched custom resource for its cache: managedFields and kubectl's last-applied
/// annotation go (see [`super::child_store::slim`]), the status becomes compact JSON text.
pub(crate) fn slim(object: &mut DynamicObject) {
    super::child_store::slim(object);
    if let Some(data) = object.data.as_object_mut()
        && let Some(status) = data.remove("status")
    {
        data.insert(PACKED_STATUS.into(), Value::String(status.to_string()));
    }
}

/// The status of a cached custom resource, packed by [`slim`] or not (`None`: it has none).
pub(crate) fn status(object: &DynamicObject) -> Option<Value> {
    match object.data.get(PACKED_STATUS).and_then(Value::as_str) {
        Some(text) => serde_json::from_str(text).ok(),
        None => object.data.get("status").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_status_is_packed_and_read_back() {
        let status = json!({"observedGeneration": 2, "conditions": [
            {"type": "Ready", "status": "True", "message": "all 3 objects are ready"}]});
        let mut object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
            "metadata": {"name": "a", "managedFields": [{"manager": "x"}]},
            "spec": {"replicas": 1},
            "status": status.clone(),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            super::status(&object),
            Some(status.clone()),
            "not packed yet"
        );
        slim(&mut object);
        assert!(object.data.get("status").is_none());
        assert!(object.data[PACKED_STATUS].is_string());
        assert!(object.metadata.managed_fields.is_none());
        assert_eq!(object.data["spec"], json!({"replicas": 1}));
        assert_eq!(super::status(&object), Some(status));
        let mut bare: DynamicObject = serde_json::from_value(json!({
            "metadata": {"name": "b"}, "spec": {}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        slim(&mut bare);
        assert_eq!(super::status(&bare), None);
    }
}
