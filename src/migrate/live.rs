//! Which revision of a Helm release is what runs: each revision's manifest compared with the live objects.
//!
//! A failed `helm upgrade` leaves the previous revision `deployed` and the new one `failed`, yet
//! the objects it applied before failing (a post-upgrade hook, a `--wait` that timed out, a later
//! object refused) are what runs. Migrating from the deployed revision would then roll them back
//! silently. So the live objects decide: a revision matches when every field its manifest sets
//! has that value on the live object (what the API server adds, defaults and status, does not
//! count).

use std::collections::BTreeMap;

use serde_json::Value;

/// At most this many differences are listed per revision.
const MAX_LISTED: usize = 8;

/// Which revision the live objects match.
#[derive(Debug, Clone, PartialEq)]
pub enum Runs {
    /// The newer (failed or pending) revision's objects are what runs.
    Newer,
    /// The deployed revision's objects are what runs: the newer one left no trace.
    Deployed,
    /// Neither matches: the differences from each (newer, deployed).
    Neither {
        /// How the live objects differ from the newer revision.
        newer: Vec<String>,
        /// How the live objects differ from the deployed revision.
        deployed: Vec<String>,
    },
}

/// Decides from the differences of the live objects with each revision (see [`differences`]).
pub fn which_runs(newer: Vec<String>, deployed: Vec<String>) -> Runs {
    if newer.is_empty() {
        Runs::Newer
    } else if deployed.is_empty() {
        Runs::Deployed
    } else {
        Runs::Neither { newer, deployed }
    }
}

/// The objects of a release manifest (multi-document YAML), with quantities as the API server
/// stores them.
pub fn manifest_documents(manifest: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(manifest)
        .filter_map(|doc| serde::Deserialize::deserialize(doc).ok())
        .filter(|doc: &Value| doc.is_object())
        .map(|mut doc| {
            k8s_rules::quantity::canonicalize_object(&mut doc);
            doc
        })
        .collect()
}

/// How the `live` objects (by `kind/name`; `None`: absent) differ from what `objects` (one
/// revision's manifest) set, one line per field (`Deployment/site: /spec/replicas is 1 live, 3
/// in the revision`), at most [`MAX_LISTED`] and then a count of the rest.
pub fn differences(objects: &[Value], live: &BTreeMap<String, Option<Value>>) -> Vec<String> {
    let mut out = Vec::new();
    for object in objects {
        let Some(key) = super::plan::object_key(object) else {
            continue;
        };
        match live.get(&key) {
            Some(Some(live)) => {
                let mut compared = object.clone();
                if let Some(Value::Object(metadata)) = compared.get_mut("metadata") {
                    metadata.retain(|k, _| k == "labels" || k == "annotations");
                }
                let mut found = Vec::new();
                subset(&compared, live, &mut String::new(), &mut found);
                out.extend(found.into_iter().map(|d| format!("{key}: {d}")));
            }
            _ => out.push(format!("{key}: absent from the cluster")),
        }
    }
    if out.len() > MAX_LISTED {
        let rest = out.len() - MAX_LISTED;
        out.truncate(MAX_LISTED);
        out.push(format!("and {rest} more"));
    }
    out
}

/// The field-level changes applying `desired` (a rendered object) makes to `live`: one line per
/// field it sets to another value (`/spec/replicas: 1 → 3`, `(absent)` for a new field). The
/// ownerReference and owner-uid label every adopted object gets are left out (the plan says
/// so once).
pub fn field_changes(desired: &Value, live: &Value) -> Vec<String> {
    let mut desired = desired.clone();
    if let Some(Value::Object(metadata)) = desired.get_mut("metadata") {
        metadata.retain(|k, _| k == "labels" || k == "annotations");
        if let Some(Value::Object(labels)) = metadata.get_mut("labels") {
            labels.remove(crate::render::OWNER_UID_LABEL);
        }
    }
    let mut out = Vec::new();
    changed(&desired, Some(live), &mut String::new(), &mut out);
    out
}

/// The fields `helm` (the release's object) sets and `desired` does not: after the switch-over
/// nobody manages them, and they stay as they are.
pub fn unmanaged_fields(helm: &Value, desired: &Value) -> Vec<String> {
    let mut out = Vec::new();
    absent(helm, desired, &mut String::new(), &mut out);
    out
}

fn push_segment(pointer: &mut String, key: &str) {
    pointer.push('/');
    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

fn changed(want: &Value, have: Option<&Value>, pointer: &mut String, out: &mut Vec<String>) {
    match (want, have) {
        (Value::Object(want), Some(Value::Object(have))) => {
            for (key, item) in want {
                let len = pointer.len();
                push_segment(pointer, key);
                changed(item, have.get(key), pointer, out);
                pointer.truncate(len);
            }
        }
        (Value::Object(want), None) if !want.is_empty() => {
            for (key, item) in want {
                let len = pointer.len();
                push_segment(pointer, key);
                changed(item, None, pointer, out);
                pointer.truncate(len);
            }
        }
        (Value::Array(want), Some(Value::Array(have))) if want.len() == have.len() => {
            for (i, (item, live)) in want.iter().zip(have).enumerate() {
                let len = pointer.len();
                push_segment(pointer, &i.to_string());
                changed(item, Some(live), pointer, out);
                pointer.truncate(len);
            }
        }
        (want, None) if is_empty(want) => {}
        (want, Some(have)) if same_scalar(want, have) => {}
        (want, have) => out.push(format!(
            "{pointer}: {} → {}",
            have.map_or_else(|| "(absent)".to_string(), short),
            short(want)
        )),
    }
}

fn absent(helm: &Value, desired: &Value, pointer: &mut String, out: &mut Vec<String>) {
    match (helm, desired) {
        (Value::Object(helm), Value::Object(desired)) => {
            for (key, item) in helm {
                let len = pointer.len();
                push_segment(pointer, key);
                match desired.get(key) {
                    Some(d) => absent(item, d, pointer, out),
                    None if is_empty(item) => {}
                    None => out.push(pointer.clone()),
                }
                pointer.truncate(len);
            }
        }
        (Value::Array(helm), Value::Array(desired)) => {
            for (i, item) in helm.iter().enumerate() {
                let len = pointer.len();
                push_segment(pointer, &i.to_string());
                match desired.get(i) {
                    Some(d) => absent(item, d, pointer, out),
                    None => out.push(pointer.clone()),
                }
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// Where `have` lacks or differs from what `want` sets.
fn subset(want: &Value, have: &Value, pointer: &mut String, out: &mut Vec<String>) {
    match (want, have) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, item) in want {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match have.get(key) {
                    Some(live) => subset(item, live, pointer, out),
                    None if is_empty(item) => {}
                    None => out.push(format!(
                        "{pointer} is absent live, {} in the revision",
                        short(item)
                    )),
                }
                pointer.truncate(len);
            }
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (item, live)) in want.iter().zip(have).enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                subset(item, live, pointer, out);
                pointer.truncate(len);
            }
        }
        (want, have) if same_scalar(want, have) => {}
        (want, have) => out.push(format!(
            "{} is {} live, {} in the revision",
            if pointer.is_empty() { "/" } else { pointer },
            short(have),
            short(want)
        )),
    }
}

/// Scalars equal as the API server would store them (`"80"` and `80` differ; `1.0` and `1`
/// do not).
fn same_scalar(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Null, _) => true,
        (a, b) => a == b,
    }
}

/// An empty mapping, list or null, which the API server drops.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A value as a short text.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: u64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "site",
               "labels": {"app": "site"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    fn live(object: Value) -> BTreeMap<String, Option<Value>> {
        let mut object = object;
        // What the API server adds.
        object["metadata"]["uid"] = json!("u");
        object["metadata"]["namespace"] = json!("shop");
        object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        object["status"] = json!({"replicas": 1});
        BTreeMap::from([("Deployment/site".to_string(), Some(object))])
    }

    #[test]
    fn the_live_objects_pick_the_revision() {
        let deployed = [deployment(1, "nginx:1.16.0")];
        let failed = [deployment(3, "nginx:1.27")];
        // The failed upgrade's objects run: its values, never a rollback.
        let running = live(deployment(3, "nginx:1.27"));
        assert_eq!(
            which_runs(
                differences(&failed, &running),
                differences(&deployed, &running)
            ),
            Runs::Newer
        );
        // It failed before changing anything.
        let running = live(deployment(1, "nginx:1.16.0"));
        assert_eq!(
            which_runs(
                differences(&failed, &running),
                differences(&deployed, &running)
            ),
            Runs::Deployed
        );
        // Half of it, or a hand edit since: neither, each difference named.
        let running = live(deployment(3, "nginx:1.16.0"));
        let Runs::Neither {
            newer,
            deployed: old,
        } = which_runs(
            differences(&failed, &running),
            differences(&deployed, &running),
        )
        else {
            panic!("neither revision runs");
        };
        assert_eq!(
            newer,
            [
                "Deployment/site: /spec/template/spec/containers/0/image is \"nginx:1.16.0\" live, \"nginx:1.27\" in the revision"
            ]
        );
        assert_eq!(
            old,
            ["Deployment/site: /spec/replicas is 3 live, 1 in the revision"]
        );
        assert_eq!(
            differences(&failed, &BTreeMap::new()),
            ["Deployment/site: absent from the cluster"]
        );
    }

    #[test]
    fn field_changes_name_each_field() {
        let mut desired = deployment(3, "nginx:1.27");
        desired["metadata"]["labels"]["tera-operator.io/owner-uid"] = json!("u-1");
        desired["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("tera-operator");
        desired["spec"]["template"]["metadata"] = json!({"annotations": {"checksum/config": "ab"}});
        let mut running = deployment(1, "nginx:1.27");
        running["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("Helm");
        running["spec"]["paused"] = json!(false);
        assert_eq!(
            field_changes(&desired, &running),
            [
                "/metadata/labels/app.kubernetes.io~1managed-by: \"Helm\" → \"tera-operator\"",
                "/spec/replicas: 1 → 3",
                "/spec/template/metadata/annotations/checksum~1config: (absent) → \"ab\"",
            ]
        );
        assert_eq!(unmanaged_fields(&running, &desired), ["/spec/paused"]);
    }

    #[test]
    fn manifests_parse_with_canonical_quantities() {
        let docs = manifest_documents(
            "---\n# Source: x/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        resources:\n          limits:\n            cpu: 0.5\n",
        );
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[1].pointer("/spec/template/spec/containers/0/resources/limits/cpu"),
            Some(&json!("500m"))
        );
    }
}
