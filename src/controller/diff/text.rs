//! Objects as diffable text: server-stamped fields left out, keys sorted, and a unified diff of two.

use serde_json::{Map, Value};

/// Metadata the API server stamps on every object: not part of what an apply changes.
const SERVER_METADATA: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionGracePeriodSeconds",
];

/// `object` without `status` and server-stamped metadata, keys sorted at every level.
pub(crate) fn normalize(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_METADATA {
                metadata.remove(field);
            }
        }
    }
    sorted(object)
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// `object` normalized ([`normalize`]) as YAML; the empty text for `None` (absent).
pub(crate) fn to_text(object: Option<&Value>) -> String {
    object
        .map(|o| serde_yaml::to_string(&normalize(o)).unwrap_or_else(|e| format!("# {e}\n")))
        .unwrap_or_default()
}

/// The unified diff (3 lines of context) from `live` to `merged`, headed `live/NAME` and
/// `merged/NAME` as `kubectl diff` heads its files; empty when the texts are equal.
pub(crate) fn unified(name: &str, live: &str, merged: &str) -> String {
    if live == merged {
        return String::new();
    }
    similar::TextDiff::from_lines(live, merged)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{name}"), &format!("merged/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_stamped_fields_and_status_are_left_out() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default", "uid": "u", "resourceVersion": "7",
                "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "x"}], "labels": {"z": "1", "a": "2"}},
            "data": {"k": "v"}, "status": {"ready": true}});
        assert_eq!(
            to_text(Some(&live)),
            "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  labels:\n    a: '2'\n    z: '1'\n  name: a\n  namespace: default\n"
        );
        assert_eq!(to_text(None), "");
    }

    #[test]
    fn a_change_is_a_unified_diff_with_kubectl_headers() {
        let live = to_text(Some(
            &json!({"spec": {"replicas": 1, "a": 1, "b": 2, "c": 3, "d": 4}}),
        ));
        let merged = to_text(Some(
            &json!({"spec": {"replicas": 2, "a": 1, "b": 2, "c": 3, "d": 4}}),
        ));
        assert_eq!(unified("apps.v1.Deployment.default.x", &live, &live), "");
        assert_eq!(
            unified("apps.v1.Deployment.default.x", &live, &merged),
            "--- live/apps.v1.Deployment.default.x\n+++ merged/apps.v1.Deployment.default.x\n@@ -3,4 +3,4 @@\n   b: 2\n   c: 3\n   d: 4\n-  replicas: 1\n+  replicas: 2\n"
        );
        let created = unified("v1.ConfigMap.default.a", "", "kind: ConfigMap\n");
        assert_eq!(
            created,
            "--- live/v1.ConfigMap.default.a\n+++ merged/v1.ConfigMap.default.a\n@@ -0,0 +1 @@\n+kind: ConfigMap\n"
        );
    }
}
