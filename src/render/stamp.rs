//! Stamping: namespace, ownership labels, the ownerReference and config checksums on pod templates.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::Digest as _;

use super::filters::hex;
use super::policy::is_cluster_scoped;

/// `app.kubernetes.io/managed-by` value on everything tera-operator renders.
pub(crate) const MANAGED_BY: &str = "tera-operator";
/// Label key for the manager.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Label key carrying the owner's name.
pub(crate) const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Label key carrying the owning custom resource's uid.
pub(crate) const OWNER_UID_LABEL: &str = "tera-operator.io/owner-uid";
/// Annotation prefix of ConfigMap checksums on pod templates.
pub(crate) const CONFIGMAP_CHECKSUM_PREFIX: &str = "configmap.checksum.tera-operator.io/";
/// Annotation prefix of Secret checksums on pod templates.
pub(crate) const SECRET_CHECKSUM_PREFIX: &str = "secret.checksum.tera-operator.io/";

/// The custom resource that owns the rendered objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// apiVersion of the custom resource.
    pub(crate) api_version: String,
    /// Kind of the custom resource.
    pub(crate) kind: String,
    /// Name of the custom resource.
    pub(crate) name: String,
    /// Namespace of the custom resource.
    pub(crate) namespace: String,
    /// uid, when the resource exists in a cluster.
    pub(crate) uid: Option<String>,
    /// Chart name, for `app.kubernetes.io/name` where the template sets none.
    pub(crate) chart: String,
}

/// Stamps every object in place: namespace, labels, ownerReference, then checksums.
pub(crate) fn stamp_all(objects: &mut [Value], owner: &Owner) {
    for object in objects.iter_mut() {
        stamp_object(object, owner);
    }
    let checksums = config_checksums(objects);
    if !checksums.is_empty() {
        for object in objects.iter_mut() {
            annotate_pod_template(object, &checksums);
        }
    }
}

fn stamp_object(object: &mut Value, owner: &Owner) {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(metadata) = object
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let cluster_scoped = is_cluster_scoped(&kind);
    if !cluster_scoped {
        metadata.insert("namespace".into(), Value::String(owner.namespace.clone()));
    }
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(labels) = labels {
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        labels.insert(INSTANCE_LABEL.into(), label_value(&owner.name).into());
        labels
            .entry("app.kubernetes.io/name")
            .or_insert_with(|| owner.chart.clone().into());
        if let Some(uid) = &owner.uid {
            labels.insert(OWNER_UID_LABEL.into(), uid.clone().into());
        }
    }
    // Cluster-scoped objects cannot name a namespaced owner; the cluster's GC would ignore it.
    if let (Some(uid), false) = (&owner.uid, cluster_scoped) {
        metadata.insert(
            "ownerReferences".into(),
            json!([{
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "name": owner.name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
        );
    }
}

/// A label value for `name`: itself when it fits in 63 characters, else a prefix plus a hash.
pub(crate) fn label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let digest = hex(&sha2::Sha256::digest(name.as_bytes()));
    let prefix: String = name.chars().take(52).collect();
    format!("{}-{}", prefix.trim_end_matches(['-', '.']), &digest[..10])
}

/// `(kind, name)` → sha256 of the ConfigMap's or Secret's content.
fn config_checksums(objects: &[Value]) -> BTreeMap<(String, String), String> {
    let mut sums = BTreeMap::new();
    for object in objects {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind != "ConfigMap" && kind != "Secret" {
            continue;
        }
        let Some(name) = super::at(object, &["metadata", "name"]).and_then(Value::as_str) else {
            continue;
        };
        let content = json!({
            "data": object.get("data"),
            "binaryData": object.get("binaryData"),
            "stringData": object.get("stringData"),
        });
        let digest = sha2::Sha256::digest(super::compact_json(&content));
        sums.insert((kind.to_string(), name.to_string()), hex(&digest));
    }
    sums
}

/// The pod template of a workload, if the object is one.
fn pod_template_mut(object: &mut Value) -> Option<&mut Value> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    let pointer = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template",
        "CronJob" => "/spec/jobTemplate/spec/template",
        _ => return None,
    };
    object.pointer_mut(pointer)
}

fn annotate_pod_template(object: &mut Value, checksums: &BTreeMap<(String, String), String>) {
    let Some(template) = pod_template_mut(object) else {
        return;
    };
    let referenced = referenced_configs(template.get("spec").unwrap_or(&Value::Null));
    let mut annotations: Vec<(String, String)> = Vec::new();
    for (kind, name) in referenced {
        if let Some(sum) = checksums.get(&(kind.clone(), name.clone())) {
            let prefix = if kind == "ConfigMap" {
                CONFIGMAP_CHECKSUM_PREFIX
            } else {
                SECRET_CHECKSUM_PREFIX
            };
            annotations.push((format!("{prefix}{}", label_value(&name)), sum.clone()));
        }
    }
    if annotations.is_empty() {
        return;
    }
    let Some(template) = template.as_object_mut() else {
        return;
    };
    let metadata = template.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let map = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(map) = map.as_object_mut() {
        for (key, sum) in annotations {
            map.insert(key, Value::String(sum));
        }
    }
}

/// ConfigMaps and Secrets a pod spec mounts or reads, as `(kind, name)`, sorted and unique.
fn referenced_configs(pod_spec: &Value) -> std::collections::BTreeSet<(String, String)> {
    let mut found = std::collections::BTreeSet::new();
    let mut add = |kind: &str, name: Option<&Value>| {
        if let Some(name) = name.and_then(Value::as_str) {
            found.insert((kind.to_string(), name.to_string()));
        }
    };
    for volume in array(pod_spec.get("volumes")) {
        add("ConfigMap", super::at(volume, &["configMap", "name"]));
        add("Secret", super::at(volume, &["secret", "secretName"]));
        for source in array(super::at(volume, &["projected", "sources"])) {
            add("ConfigMap", super::at(source, &["configMap", "name"]));
            add("Secret", super::at(source, &["secret", "name"]));
        }
    }
    for list in ["containers", "initContainers"] {
        for container in array(pod_spec.get(list)) {
            for from in array(container.get("envFrom")) {
                add("ConfigMap", super::at(from, &["configMapRef", "name"]));
                add("Secret", super::at(from, &["secretRef", "name"]));
            }
            for env in array(container.get("env")) {
                add(
                    "ConfigMap",
                    super::at(env, &["valueFrom", "configMapKeyRef", "name"]),
                );
                add(
                    "Secret",
                    super::at(env, &["valueFrom", "secretKeyRef", "name"]),
                );
            }
        }
    }
    found
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Apply order: namespaces and RBAC first, then ConfigMaps/Secrets, Services, workloads, the rest.
pub(crate) fn kind_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" | "CustomResourceDefinition" => 0,
        "ServiceAccount" | "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => 1,
        "ConfigMap" | "Secret" | "PersistentVolumeClaim" => 2,
        "Service" => 3,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod" => 4,
        _ => 5,
    }
}

/// Apply order of two objects: by [`kind_rank`], then kind, then name.
pub(crate) fn apply_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    sort_key(a).cmp(&sort_key(b))
}

fn sort_key(object: &Value) -> (u8, &str, &str) {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = super::at(object, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("");
    (kind_rank(kind), kind, name)
}
