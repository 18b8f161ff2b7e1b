//! The custom resources as their caches keep them: without managedFields, their content as packed JSON text.
//!
//! A reconcile renders a resource's metadata and spec; of its status it needs only the last
//! written one, once, to tell whether the new one differs (and since when a condition holds).
//! A parsed `serde_json::Value` tree takes several times the memory of its JSON text, and the
//! status (conditions with messages, the children list) is most of a resource, so the cache
//! keeps everything but the metadata (spec and status) as compact JSON text, [`Packed`] so that
//! what resources have in common is kept once: their names, uid and timestamps are cut out, and
//! resources of one spec in one state share the rest. A reconcile gets the resource
//! [`unpacked`]; [`status`] reads a cached status.

use std::borrow::Cow;

use kube::api::DynamicObject;
use serde_json::{Map, Value};

use super::custom_resource::CustomResource;
use super::packed::Packed;

/// Slims a watched custom resource for its cache: managedFields and kubectl's last-applied
/// annotation go (see [`super::child_store::slim`]), its content is packed.
pub(crate) fn slim(resource: &mut CustomResource) {
    let object = &mut resource.0;
    super::child_store::slim(object);
    let Value::Object(data) = std::mem::replace(&mut object.data, Value::Object(Map::new())) else {
        return;
    };
    if data.is_empty() {
        return;
    }
    let metadata = &object.metadata;
    let mut fills: Vec<&str> = [&metadata.name, &metadata.namespace, &metadata.uid]
        .into_iter()
        .filter_map(|field| field.as_deref())
        .collect();
    if let Some(status) = data.get("status") {
        timestamps(status, &mut fills);
    }
    match serde_json::to_string(&data) {
        Ok(text) => resource.1 = Some(Packed::new(&text, &fills)),
        // Not reached (JSON values always serialize): the content stays as it was.
        Err(_) => object.data = Value::Object(data),
    }
}

/// Adds the strings in `value` that look like RFC 3339 times (conditions' lastTransitionTime)
/// to `found`: they differ between resources that otherwise say the same.
fn timestamps<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => {
            let bytes = text.as_bytes();
            if (20..=35).contains(&bytes.len())
                && bytes[4] == b'-'
                && bytes[10] == b'T'
                && bytes[..4].iter().all(u8::is_ascii_digit)
                && !found.contains(&text.as_str())
            {
                found.push(text);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| timestamps(item, found)),
        Value::Object(map) => map.values().for_each(|item| timestamps(item, found)),
        _ => {}
    }
}

/// The resource with its content, unpacked if the cache packed it.
pub(crate) fn unpacked(resource: &CustomResource) -> Cow<'_, DynamicObject> {
    let Some(packed) = &resource.1 else {
        return Cow::Borrowed(&resource.0);
    };
    let mut object = resource.0.clone();
    // The packed text is the JSON of a map, as serde_json wrote it.
    if let Ok(data @ Value::Object(_)) = serde_json::from_str(&packed.expand()) {
        object.data = data;
    }
    Cow::Owned(object)
}

/// The status of a custom resource, packed by [`slim`] or not (`None`: it has none).
pub(crate) fn status(resource: &CustomResource) -> Option<Value> {
    match &resource.1 {
        Some(packed) => match serde_json::from_str::<Value>(&packed.expand()) {
            Ok(Value::Object(mut data)) => data.remove("status"),
            _ => None,
        },
        None => resource.0.data.get("status").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(name: &str, uid: &str, since: &str) -> CustomResource {
        let object = serde_json::from_value(json!({
            "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
            "metadata": {"name": name, "namespace": "default", "uid": uid,
                         "managedFields": [{"manager": "x"}]},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": since,
                 "message": format!("{name}: all 3 objects are ready")}]},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        CustomResource(object, None)
    }

    #[test]
    fn the_content_is_packed_and_read_back() {
        let mut cached = resource("alpha", "uid-1111", "2026-12-02T12:00:00Z");
        let original = cached.0.clone();
        let status = original.data["status"].clone();
        assert_eq!(
            super::status(&cached),
            Some(status.clone()),
            "not packed yet"
        );
        slim(&mut cached);
        assert_eq!(cached.0.data, json!({}));
        assert!(cached.1.is_some());
        assert!(cached.0.metadata.managed_fields.is_none());
        assert_eq!(super::status(&cached), Some(status));
        let unpacked = unpacked(&cached);
        assert_eq!(unpacked.data, original.data);
        assert_eq!(unpacked.metadata.name.as_deref(), Some("alpha"));
        assert_eq!(
            serde_json::to_value(&cached).unwrap_or_else(|e| panic!("{e}"))["spec"],
            json!({"replicas": 1}),
            "a packed resource serializes whole"
        );
    }

    #[test]
    fn resources_in_one_state_share_their_packed_content() {
        let mut a = resource("alpha", "uid-1111", "2026-12-02T12:00:00Z");
        let mut b = resource("bravo", "uid-2222", "2026-12-02T12:00:07Z");
        let b_data = b.0.data.clone();
        slim(&mut a);
        slim(&mut b);
        let (Some(a_packed), Some(b_packed)) = (&a.1, &b.1) else {
            panic!("both packed");
        };
        assert!(a_packed.shares_skeleton_with(b_packed));
        assert_eq!(unpacked(&b).data, b_data);
    }

    #[test]
    fn a_resource_without_content_stays_as_it_is() {
        let object: DynamicObject = serde_json::from_value(json!({"metadata": {"name": "b"}}))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bare = CustomResource(object, None);
        slim(&mut bare);
        assert!(bare.1.is_none());
        assert_eq!(super::status(&bare), None);
        assert!(matches!(unpacked(&bare), Cow::Borrowed(_)));
    }
}
