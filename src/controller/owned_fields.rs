//! A live child cut down to the fields tera-operator's server-side apply owns (its fieldsV1).
//!
//! The comparison of a rendered object with its live version only looks at the fields the
//! chart sets, and those are exactly the fields our field manager owns: server-side apply
//! records them in the object's managedFields (`fieldsV1`, see
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>). So
//! the child caches keep only those fields, with their live values, instead of the whole
//! object with its defaults and status — a fraction of the memory.
//!
//! The cut never hides drift: a field someone else changed with an update (`kubectl edit`,
//! `kubectl scale`) moves to their field manager, so it is missing from the cut, which no
//! longer matches the rendered object, and the next apply takes the field back. What the cut
//! drops is what no rendered object sets: defaults, status, and list elements others added
//! (server-side apply keeps those anyway, so comparing them could only cause useless writes).

use serde_json::{Map, Value};

/// The fieldsV1 set of `manager`'s `Apply` entry in `managed_fields` (of the main resource,
/// not a subresource), if it has one.
pub(crate) fn applied_fields<'a>(
    managed_fields: Option<
        &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry],
    >,
    manager: &str,
) -> Option<&'a Value> {
    managed_fields?
        .iter()
        .find(|entry| {
            entry.manager.as_deref() == Some(manager)
                && entry.operation.as_deref() == Some("Apply")
                && entry.subresource.as_deref().unwrap_or("").is_empty()
        })?
        .fields_v1
        .as_ref()
        .map(|fields| &fields.0)
}

/// `value` with only the fields the fieldsV1 set `fields` names. A field set without members
/// (`{}`, or only `"."`) keeps its value whole: a scalar, or an atomic struct or list. What is
/// kept is moved out of `value`, not copied.
pub(crate) fn cut(value: Value, fields: &Value) -> Value {
    let Some(members) = fields.as_object().filter(|m| m.keys().any(|k| k != ".")) else {
        return value;
    };
    match value {
        Value::Object(mut object) => {
            let mut kept = Map::new();
            for (key, sub) in members {
                if let Some(name) = key.strip_prefix("f:")
                    && let Some(field) = object.remove(name)
                {
                    kept.insert(name.to_string(), cut(field, sub));
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let sub = members
                        .iter()
                        .find(|(key, _)| names_item(key, index, &item))?
                        .1;
                    Some(cut(item, sub))
                })
                .collect(),
        ),
        // A field set with members on a scalar: not what fieldsV1 describes; keep it whole.
        other => other,
    }
}

/// Whether the fieldsV1 member `key` names list element `item` at `index`: `k:{…}` by its key
/// fields (an associative list), `v:…` by its value (a set), `i:N` by its position.
fn names_item(key: &str, index: usize, item: &Value) -> bool {
    if let Some(keys) = key.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
            return false;
        };
        keys.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(value) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(value).is_ok_and(|v| &v == item)
    } else if let Some(position) = key.strip_prefix("i:") {
        position.parse::<usize>() == Ok(index)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "spec": {
                "replicas": 2,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.28", "imagePullPolicy": "IfNotPresent",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "args": ["-a", "-b"]},
                        {"name": "sidecar", "image": "envoy"}
                    ],
                    "dnsPolicy": "ClusterFirst"
                }}
            },
            "status": {"replicas": 2}
        })
    }

    fn fields() -> Value {
        json!({
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {
                        ".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}
                        }}
                    }
                }}}
            }
        })
    }

    #[test]
    fn only_the_owned_fields_are_kept() {
        let kept = cut(deployment(), &fields());
        assert_eq!(
            kept,
            json!({"spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.28", "args": ["-a", "-b"],
                     "ports": [{"containerPort": 80}]}
                ]}}
            }})
        );
    }

    #[test]
    fn a_field_taken_by_another_manager_is_missing_from_the_cut() {
        // `kubectl scale` took spec.replicas: it is no longer in our set.
        let mut fields = fields();
        if let Some(spec) = fields["f:spec"].as_object_mut() {
            spec.remove("f:replicas");
        }
        let kept = cut(deployment(), &fields);
        assert!(kept["spec"].get("replicas").is_none());
        let rendered = json!({"spec": {"replicas": 1}});
        assert!(!super::super::apply::matches_live(&rendered, &kept));
    }

    #[test]
    fn sets_and_positions_name_list_elements() {
        let value = json!({"finalizers": ["a", "b", "c"], "list": [1, 2, 3]});
        let fields = json!({"f:finalizers": {"v:\"b\"": {}}, "f:list": {"i:2": {}}});
        assert_eq!(
            cut(value.clone(), &fields),
            json!({"finalizers": ["b"], "list": [3]})
        );
        assert!(!names_item("k:not json", 0, &json!({})));
        assert!(!names_item("x:1", 0, &json!(1)));
    }

    #[test]
    fn the_entry_is_our_apply_of_the_main_resource() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
        let entry = |manager: &str, operation: &str, subresource: Option<&str>, field: &str| {
            ManagedFieldsEntry {
                manager: Some(manager.into()),
                operation: Some(operation.into()),
                subresource: subresource.map(str::to_string),
                fields_v1: Some(FieldsV1(json!({ field: {} }))),
                ..Default::default()
            }
        };
        let entries = [
            entry("tera-operator", "Update", None, "f:a"),
            entry("tera-operator", "Apply", Some("status"), "f:b"),
            entry("kubectl", "Apply", None, "f:c"),
            entry("tera-operator", "Apply", Some(""), "f:d"),
        ];
        assert_eq!(
            applied_fields(Some(&entries), "tera-operator"),
            Some(&json!({"f:d": {}}))
        );
        assert_eq!(applied_fields(Some(&entries[..3]), "tera-operator"), None);
        assert_eq!(applied_fields(None, "tera-operator"), None);
    }
}
