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
            let ty = spec
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if ty != "ExternalName" {
                // SetDefaults_Service and the REST create's IP family defaulting, on a
                // single-stack IPv4 cluster.
                spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
                spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
                spec.entry("internalTrafficPolicy")
                    .or_insert(json!("Cluster"));
            }
            if ty == "NodePort" || ty == "LoadBalancer" {
                spec.entry("externalTrafficPolicy")
                    .or_insert(json!("Cluster"));
                if ty == "LoadBalancer" {
                    spec.entry("allocateLoadBalancerNodePorts")
                        .or_insert(json!(true));
                }
                let own = crate::api::store::key_of(new);
                node_ports(store, &own, new, old);
            }
            if !new["status"].is_object() {
                new["status"] = json!({"loadBalancer": {}});
            }
        }
        ("apps", "deployments") => {
            if !new["status"].is_object() {
                new["status"] = json!({});
            }
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
        ("apps", "replicasets" | "statefulsets" | "daemonsets") => {
            if !new["status"].is_object() {
                new["status"] = json!({});
            }
            zero_counts(&res.plural, &mut new["status"]);
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                if res.plural != "daemonsets" {
                    spec.entry("replicas").or_insert(json!(1));
                }
                // A ReplicaSet has no update strategy nor revision history: apps/v1 defaults
                // only its replicas (SetDefaults_ReplicaSet).
                if res.plural != "replicasets" {
                    workload_defaults(&res.plural, spec);
                }
                if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                    default_pod_spec(pod);
                }
            }
        }
        ("", "replicationcontrollers") => {
            if !new["status"].is_object() {
                new["status"] = json!({});
            }
            zero_counts(&res.plural, &mut new["status"]);
        }
        ("batch", "jobs") => {
            if !new["status"].is_object() {
                new["status"] = json!({});
            }
            if old.is_none() {
                job_selector(new);
            }
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                job_defaults(spec);
            }
        }
        ("", "pods") => {
            if let Some(pod) = new.get_mut("spec") {
                default_pod_spec(pod);
            }
            // A new Pod is Pending with its QoS class (pkg/registry/core/pod/strategy.go
            // PrepareForCreate); a kubelet moves it on.
            if old.is_none() && !new["status"]["phase"].is_string() {
                new["status"] = json!({"phase": "Pending", "qosClass": qos_class(&new["spec"])});
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

/// The range kube-apiserver allocates node ports from (`--service-node-port-range`).
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Gives every port of a NodePort or LoadBalancer Service a node port: the one it had (matched
/// by port and protocol, as the service REST update's patchAllocatedValues does), else the
/// lowest free one in the range. Ports another Service holds are never handed out twice;
/// validation reports a requested one that is taken.
fn node_ports(store: &Store, own: &crate::api::store::Key, svc: &mut Value, old: Option<&Value>) {
    let mut used: std::collections::BTreeSet<i64> = store
        .list("/services", None)
        .filter(|s| &crate::api::store::key_of(s) != own)
        .flat_map(|s| {
            s["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["nodePort"].as_i64())
                .collect::<Vec<_>>()
        })
        .collect();
    let Some(ports) = svc["spec"]["ports"].as_array_mut() else {
        return;
    };
    for p in ports.iter() {
        if let Some(n) = p["nodePort"].as_i64() {
            used.insert(n);
        }
    }
    for p in ports.iter_mut().filter(|p| p["nodePort"].is_null()) {
        let kept = old
            .and_then(|o| o["spec"]["ports"].as_array())
            .into_iter()
            .flatten()
            .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"])
            .and_then(|o| o["nodePort"].as_i64());
        let port = kept.or_else(|| NODE_PORTS.clone().find(|n| !used.contains(n)));
        if let Some(n) = port {
            used.insert(n);
            p["nodePort"] = json!(n);
        }
    }
}

/// The field errors for node ports a Service asks for that are out of range or held by another
/// Service (the port allocator's "provided port is already allocated").
pub(crate) fn node_port_errors(store: &Store, svc: &Value) -> Vec<(String, String)> {
    let own = crate::api::store::key_of(svc);
    let mut errs = Vec::new();
    for (i, p) in svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(n) = p["nodePort"].as_i64() else {
            continue;
        };
        let taken = store.list("/services", None).any(|s| {
            crate::api::store::key_of(s) != own
                && s["spec"]["ports"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|q| q["nodePort"].as_i64() == Some(n)))
        });
        let field = format!("spec.ports[{i}].nodePort");
        if !NODE_PORTS.contains(&n) {
            errs.push((field, format!("Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767")));
        } else if taken {
            errs.push((
                field,
                format!("Invalid value: {n}: provided port is already allocated"),
            ));
        }
    }
    errs
}

/// A namespace's defaults: the `kubernetes.io/metadata.name` label (SetDefaults_Namespace), the
/// `kubernetes` finalizer on create (the namespace strategy's PrepareForCreate), and its phase.
/// A Pod's QoS class (pkg/apis/core/helper/qos `GetPodQOS`, simplified to cpu and memory of
/// the app containers): BestEffort without requests or limits, Guaranteed when every container
/// limits both and requests what it limits, Burstable otherwise.
fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let r = &c["resources"];
        for res in ["cpu", "memory"] {
            let (req, lim) = (&r["requests"][res], &r["limits"][res]);
            any |= !req.is_null() || !lim.is_null();
            guaranteed &= !lim.is_null() && (req.is_null() || req == lim);
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The status counts Go's API types always serialize (no `omitempty`), 0 until a controller
/// counts: clients that model them as required (the official Python client) refuse an object
/// without them.
fn zero_counts(plural: &str, status: &mut Value) {
    let fields: &[&str] = match plural {
        "replicasets" | "replicationcontrollers" => &["replicas"],
        "statefulsets" => &["replicas", "availableReplicas"],
        "daemonsets" => &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
        ],
        _ => &[],
    };
    if let Some(m) = status.as_object_mut() {
        for f in fields {
            m.entry(*f).or_insert(json!(0));
        }
    }
}

/// StatefulSet and DaemonSet defaults (pkg/apis/apps/v1/defaults.go): the update strategy,
/// the revision history limit, a StatefulSet's pod management policy and claim retention.
fn workload_defaults(plural: &str, spec: &mut serde_json::Map<String, Value>) {
    spec.entry("revisionHistoryLimit").or_insert(json!(10));
    let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    let Some(st) = strategy.as_object_mut() else {
        return;
    };
    let typed = st.contains_key("type");
    st.entry("type").or_insert(json!("RollingUpdate"));
    let rolling = st.get("type").and_then(Value::as_str) == Some("RollingUpdate");
    match plural {
        "statefulsets" => {
            // `rollingUpdate` is made only when the type was defaulted; a partition is then 0.
            if !typed {
                st.entry("rollingUpdate").or_insert_with(|| json!({}));
            }
            if rolling && let Some(ru) = st.get_mut("rollingUpdate").and_then(Value::as_object_mut)
            {
                ru.entry("partition").or_insert(json!(0));
            }
            spec.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            spec.entry("persistentVolumeClaimRetentionPolicy")
                .or_insert(json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        }
        "daemonsets" if rolling => {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                ru.entry("maxUnavailable").or_insert(json!(1));
                ru.entry("maxSurge").or_insert(json!(0));
            }
        }
        _ => {}
    }
}

/// Job defaults (pkg/apis/batch/v1/defaults.go `SetDefaults_Job`).
fn job_defaults(spec: &mut serde_json::Map<String, Value>) {
    if !spec.contains_key("completions") && !spec.contains_key("parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    spec.entry("parallelism").or_insert(json!(1));
    let per_index = spec.contains_key("backoffLimitPerIndex");
    spec.entry("backoffLimit")
        .or_insert(json!(if per_index { i64::from(i32::MAX) } else { 6 }));
    spec.entry("completionMode").or_insert(json!("NonIndexed"));
    spec.entry("suspend").or_insert(json!(false));
    let policy = if spec.contains_key("podFailurePolicy") {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    spec.entry("podReplacementPolicy").or_insert(json!(policy));
}

/// The selector and template labels the API server generates for a Job without
/// `manualSelector` (pkg/registry/batch/job/strategy.go `generateSelector`).
fn job_selector(job: &mut Value) {
    if job["spec"]["manualSelector"] == true || !job["spec"].is_object() {
        return;
    }
    let uid = job["metadata"]["uid"].clone();
    let name = job["metadata"]["name"].clone();
    if !job["spec"]["template"]["metadata"]["labels"].is_object() {
        job["spec"]["template"]["metadata"]["labels"] = json!({});
    }
    if let Some(labels) = job["spec"]["template"]["metadata"]["labels"].as_object_mut() {
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("job-name", &name),
        ] {
            labels.entry(k).or_insert(v.clone());
        }
    }
    if job["spec"]["selector"].is_null() {
        job["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
}

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
    fn workloads_get_their_defaults_and_zero_counts() {
        let mut store = Store::new(10);
        let find =
            |store: &Store, g: &str, p: &str| store.registry.find(g, "v1", p).cloned().unwrap();
        let sts = find(&store, "apps", "statefulsets");
        let mut set = json!({"metadata": {"name": "s"}, "spec": {"template": {"spec": {}}}});
        apply_defaults(&mut store, &sts, &mut set, None);
        assert_eq!(
            set["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(set["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            set["status"],
            json!({"replicas": 0, "availableReplicas": 0})
        );
        let mut typed = json!({"metadata": {"name": "s"}, "spec": {"updateStrategy": {"type": "RollingUpdate"}}});
        apply_defaults(&mut store, &sts, &mut typed, None);
        assert!(
            typed["spec"]["updateStrategy"]["rollingUpdate"].is_null(),
            "{typed}"
        );

        let replicasets = find(&store, "apps", "replicasets");
        let mut rs = json!({"metadata": {"name": "r"}, "spec": {"template": {"spec": {}}}});
        apply_defaults(&mut store, &replicasets, &mut rs, None);
        assert_eq!(rs["spec"]["replicas"], 1);
        for field in [
            "revisionHistoryLimit",
            "updateStrategy",
            "podManagementPolicy",
        ] {
            assert!(
                rs["spec"].get(field).is_none(),
                "a ReplicaSet got {field}: {rs}"
            );
        }

        let jobs = find(&store, "batch", "jobs");
        let mut job =
            json!({"metadata": {"name": "j", "uid": "u1"}, "spec": {"template": {"spec": {}}}});
        apply_defaults(&mut store, &jobs, &mut job, None);
        assert_eq!(
            (
                job["spec"]["completions"].as_i64(),
                job["spec"]["parallelism"].as_i64()
            ),
            (Some(1), Some(1))
        );
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j"
        );

        let pods = find(&store, "", "pods");
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        apply_defaults(&mut store, &pods, &mut pod, None);
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "Guaranteed"})
        );
        let mut bare = json!({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        apply_defaults(&mut store, &pods, &mut bare, None);
        assert_eq!(bare["status"]["qosClass"], "BestEffort");
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
