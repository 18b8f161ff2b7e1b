//! Defaulting, as the API server fills fields a client left out (Services, Deployments, Pods, Secrets, Namespaces, CRD status) and canonicalizes quantities.

use base64::Engine;
use serde_json::{Value, json};

use crate::api::resources::ResourceInfo;
use crate::api::store::Store;

/// Fills the defaults of `res` into `new` (`old` is the stored object on updates).
pub(crate) fn apply_defaults(
    store: &mut Store,
    res: &ResourceInfo,
    new: &mut Value,
    old: Option<&Value>,
) {
    if k8s_rules::kinds::is_builtin_group(&res.group) {
        k8s_rules::quantity::canonicalize_builtin(&res.kind, new);
    }
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "services") => {
            let spec = new.get_mut("spec").and_then(Value::as_object_mut);
            let Some(spec) = spec else { return };
            spec.entry("type").or_insert(json!("ClusterIP"));
            spec.entry("sessionAffinity").or_insert(json!("None"));
            if spec.get("type").and_then(Value::as_str) != Some("ExternalName")
                && !spec.contains_key("clusterIP")
            {
                let ip = match old.and_then(|o| o["spec"]["clusterIP"].as_str()) {
                    Some(ip) => ip.to_string(),
                    None => {
                        let n = store.next_cluster_ip;
                        store.next_cluster_ip += 1;
                        format!("10.96.{}.{}", n / 250, n % 250 + 1)
                    }
                };
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.entry("protocol").or_insert(json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        p.entry("targetPort").or_insert(port);
                    }
                }
            }
        }
        ("apps", "deployments") => {
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("replicas").or_insert(json!(1));
                spec.entry("revisionHistoryLimit").or_insert(json!(10));
                spec.entry("progressDeadlineSeconds").or_insert(json!(600));
                let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
                if let Some(st) = strategy.as_object_mut() {
                    st.entry("type").or_insert(json!("RollingUpdate"));
                    if st.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            ru.entry("maxUnavailable").or_insert(json!("25%"));
                            ru.entry("maxSurge").or_insert(json!("25%"));
                        }
                    }
                }
                if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                    default_pod_spec(pod);
                }
            }
        }
        ("", "pods") => {
            if let Some(pod) = new.get_mut("spec") {
                default_pod_spec(pod);
            }
        }
        ("", "secrets") => {
            if let Some(m) = new.as_object_mut() {
                if let Some(Value::Object(sd)) = m.remove("stringData") {
                    let data = m.entry("data").or_insert_with(|| json!({}));
                    if let Some(data) = data.as_object_mut() {
                        for (k, v) in sd {
                            let encoded = base64::engine::general_purpose::STANDARD
                                .encode(v.as_str().unwrap_or_default());
                            data.insert(k, json!(encoded));
                        }
                    }
                }
                m.entry("type").or_insert(json!("Opaque"));
            }
        }
        ("", "namespaces") => default_namespace(new, old),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let names = new["spec"]["names"].clone();
            let mut accepted = if names.is_object() {
                names.clone()
            } else {
                json!({})
            };
            if accepted["singular"].is_null()
                && let Some(k) = names["kind"].as_str()
            {
                accepted["singular"] = json!(k.to_lowercase());
            }
            if accepted["listKind"].is_null()
                && let Some(k) = names["kind"].as_str()
            {
                accepted["listKind"] = json!(format!("{k}List"));
            }
            let stored: Vec<Value> = new["spec"]["versions"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v["storage"].as_bool() == Some(true))
                        .map(|v| v["name"].clone())
                        .collect()
                })
                .unwrap_or_default();
            let t = old
                .and_then(|o| o["status"]["conditions"][0]["lastTransitionTime"].as_str())
                .map(String::from);
            let t = t
                .or_else(|| {
                    new["metadata"]["creationTimestamp"]
                        .as_str()
                        .map(String::from)
                })
                .unwrap_or_default();
            new["status"] = json!({
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t},
                ],
                "acceptedNames": accepted,
                "storedVersions": stored,
            });
        }
        _ => {}
    }
}

/// A namespace's defaults: the `kubernetes.io/metadata.name` label (SetDefaults_Namespace), the
/// `kubernetes` finalizer on create (the namespace strategy's PrepareForCreate), and its phase.
fn default_namespace(new: &mut Value, old: Option<&Value>) {
    if !new.is_object() {
        return;
    }
    if let Some(name) = new["metadata"]["name"].as_str().map(String::from)
        && (new["metadata"]["labels"].is_object() || new["metadata"]["labels"].is_null())
    {
        new["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    }
    if old.is_none() {
        if !new["spec"].is_object() {
            new["spec"] = json!({});
        }
        let finalizers = new["spec"]
            .as_object_mut()
            .map(|spec| spec.entry("finalizers").or_insert_with(|| json!([])));
        if let Some(Value::Array(f)) = finalizers
            && !f.iter().any(|x| x == "kubernetes")
        {
            f.push(json!("kubernetes"));
        }
    }
    let phase = if new["metadata"]["deletionTimestamp"].is_null() {
        "Active"
    } else {
        "Terminating"
    };
    if !new["status"].is_object() {
        new["status"] = json!({});
    }
    new["status"]["phase"] = json!(phase);
}

/// The defaults the API server fills into a pod spec (and a pod template's spec).
fn default_pod_spec(pod: &mut Value) {
    let Some(spec) = pod.as_object_mut() else {
        return;
    };
    spec.entry("restartPolicy").or_insert(json!("Always"));
    spec.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, t)| t.to_string());
            let pull = if tag.is_none() || tag.as_deref() == Some("latest") {
                "Always"
            } else {
                "IfNotPresent"
            };
            c.entry("imagePullPolicy").or_insert(json!(pull));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            if let Some(Value::Array(ports)) = c.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.entry("protocol").or_insert(json!("TCP"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_get_a_cluster_ip_and_port_defaults() {
        let mut store = Store::new(10);
        let res = store.registry.find("", "v1", "services").cloned().unwrap();
        let mut svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply_defaults(&mut store, &res, &mut svc, None);
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        let ip = svc["spec"]["clusterIP"].clone();
        let mut again = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply_defaults(&mut store, &res, &mut again, Some(&svc));
        assert_eq!(
            again["spec"]["clusterIP"], ip,
            "the cluster IP is kept across updates"
        );
    }

    #[test]
    fn pod_templates_get_container_defaults() {
        let mut pod = json!({"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "reg:5000/x:1.2"}]});
        default_pod_spec(&mut pod);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["restartPolicy"], "Always");
    }

    #[test]
    fn quantities_are_stored_in_canonical_form() {
        let mut store = Store::new(10);
        let res = store
            .registry
            .find("apps", "v1", "deployments")
            .cloned()
            .unwrap();
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx",
                "resources": {"limits": {"cpu": 0.5, "memory": "1024Mi"}}}]}}}});
        apply_defaults(&mut store, &res, &mut deployment, None);
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
    }
}
