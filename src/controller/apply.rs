//! Applying one rendered object: compare it with the live object, server-side apply only on a difference.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use sha2::Digest as _;

/// The field manager every write of tera-operator uses.
pub const FIELD_MANAGER: &str = "tera-operator";

/// Annotation carrying a hash of the whole desired object, so that a field the chart stops
/// setting (which a subset comparison cannot see) still causes an apply that removes it.
pub const DESIRED_HASH_ANNOTATION: &str = "tera-operator.io/desired-hash";

/// Errors applying one object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rendered object cannot be turned into a request.
    #[error("{kind} {name}: the rendered object is not a valid object: {source}")]
    ObjectInvalid {
        /// Kind of the object.
        kind: String,
        /// Name of the object.
        name: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// The API server refused the server-side apply.
    #[error("applying {kind} {namespace}/{name} failed: {source}")]
    ApplyFailed {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds [`DESIRED_HASH_ANNOTATION`] to a rendered object (in place).
pub fn add_desired_hash(object: &mut Value) {
    let digest = sha2::Sha256::digest(object.to_string().as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let Some(metadata) = object
        .as_object_mut()
        .and_then(|o| o.get_mut("metadata"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(DESIRED_HASH_ANNOTATION.into(), Value::String(hash));
    }
}

/// Whether `desired` is a semantic subset of `live`: every field the desired object sets has
/// the same value in the live one. Lists must have the same length and match element-wise;
/// numbers compare by value (`3` equals `3.0`); fields only the live object has are ignored.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) => is_subset(dv, lv),
            // An explicit null or an empty collection in the desired object matches absence.
            None => is_empty_value(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => match (d.as_i64(), l.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => d.as_f64() == l.as_f64(),
        },
        (Value::Null, Value::Null) => true,
        (d, Value::Null) => is_empty_value(d),
        (d, l) => d == l,
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Server-side applies `object` (field manager [`FIELD_MANAGER`], forced) and returns the live result.
pub async fn server_side_apply(
    client: &kube::Client,
    resource: &ApiResource,
    namespaced: bool,
    object: &Value,
) -> Result<DynamicObject> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), &namespace, resource)
    } else {
        Api::all_with(client.clone(), resource)
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|source| Error::ApplyFailed {
            kind,
            namespace,
            name,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_objects_are_subsets() {
        let o = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
        assert!(is_subset(&o, &o));
    }

    #[test]
    fn live_may_have_more_fields() {
        let desired = json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}});
        let live = json!({"spec": {"replicas": 3, "ports": [{"port": 80, "protocol": "TCP"}],
            "strategy": {}}, "status": {"x": 1}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_scalar_is_not_subset() {
        let desired = json!({"spec": {"replicas": 3}});
        let live = json!({"spec": {"replicas": 5}});
        assert!(!is_subset(&desired, &live));
    }

    #[test]
    fn missing_field_is_not_subset() {
        let desired = json!({"data": {"nginx.conf": "x"}});
        let live = json!({"data": {}});
        assert!(!is_subset(&desired, &live));
    }

    #[test]
    fn list_length_must_match() {
        let desired = json!({"ports": [{"port": 80}]});
        let live = json!({"ports": [{"port": 80}, {"port": 81}]});
        assert!(!is_subset(&desired, &live));
        assert!(!is_subset(&live, &desired));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(is_subset(&json!(3), &json!(3.0)));
        assert!(!is_subset(&json!(3), &json!("3")));
    }

    #[test]
    fn empty_desired_matches_absent() {
        assert!(is_subset(&json!({"a": {}, "b": null, "c": []}), &json!({})));
        assert!(!is_subset(&json!({"a": {"x": 1}}), &json!({})));
    }

    #[test]
    fn desired_hash_changes_with_content_and_is_stable() {
        let mut a = json!({"metadata": {"name": "x"}, "data": {"k": "1"}});
        let mut b = a.clone();
        let mut c = json!({"metadata": {"name": "x"}, "data": {"k": "2"}});
        add_desired_hash(&mut a);
        add_desired_hash(&mut b);
        add_desired_hash(&mut c);
        let hash = |v: &Value| v["metadata"]["annotations"][DESIRED_HASH_ANNOTATION].clone();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
        assert!(hash(&a).is_string());
    }
}
