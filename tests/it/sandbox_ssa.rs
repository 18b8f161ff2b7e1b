//! The sandbox answers server-side apply and field validation like a kube-apiserver: fields and
//! list items a manager stops applying go (unless another manager owns them), list semantics
//! come from the API's own definitions, and unknown or mistyped fields are refused or warned
//! about as `fieldValidation` says.
//!
//! References:
//! - removal: <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>
//!   ("If you remove a field from a manifest and apply that manifest, Server-Side Apply checks for
//!   any other field managers that also own the field. If the field is not owned by any other
//!   field managers, it is either deleted from the live object or reset to its default value"),
//!   implemented by sigs.k8s.io/structured-merge-diff `merge/update.go` (`prune`);
//! - list types: <https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy>
//!   (`x-kubernetes-list-type` atomic/set/map, `x-kubernetes-list-map-keys`; lists of custom
//!   resources are atomic unless their schema says otherwise);
//! - field validation: <https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation>
//!   (`Ignore`, `Warn` (default), `Strict`; a value of the wrong type is always a 400), and
//!   KEP-2885 for apply ("For apply patch, server side schema validation already occurs and is not
//!   optional"), which answers 500 "failed to create typed patch object"
//!   (kubernetes/kubernetes#122480).
//!
//! The removal cases were checked by hand against structured-merge-diff itself (Debian's
//! golang-k8s-sigs-structured-merge-diff-dev, v4.1.2): same results for containers, env, ports,
//! volumeMounts, shared ownership, service ports, ownerReferences and status conditions.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start() -> Sandbox {
    let config = SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A response as raw HTTP shows it: status, header lines, body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn warnings(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("warning"))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends one HTTP/1.1 request with a JSON body and reads the whole response.
async fn raw(sb: &Sandbox, method: &str, path: &str, content_type: &str, body: &Value) -> Raw {
    let body = serde_json::to_vec(body).unwrap();
    let mut stream = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("response within 10s")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body_text = if chunked {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_string()
    };
    Raw {
        status,
        headers,
        body: serde_json::from_str(&body_text).unwrap_or(Value::Null),
    }
}

fn deployment(containers: Value, volumes: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": containers, "volumes": volumes}}}
    })
}

fn pod_spec(d: &Deployment) -> Value {
    serde_json::to_value(d).unwrap()["spec"]["template"]["spec"].clone()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    i[key]
                        .as_str()
                        .map_or_else(|| i[key].to_string(), String::from)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn containers_env_ports_and_mounts_go_with_their_only_owner() {
    // An operator applying a Deployment, then the same without the sidecar, one env var, one
    // port and one volume with its mount (tera-operator's WebServer without `spec.content`).
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let pp = PatchParams::apply("operator").force();
    let full = deployment(
        json!([
            {"name": "web", "image": "nginx",
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80}, {"containerPort": 443}],
             "volumeMounts": [{"name": "content", "mountPath": "/usr/share/nginx/html"},
                              {"name": "conf", "mountPath": "/etc/nginx/conf.d"}]},
            {"name": "sidecar", "image": "busybox"}]),
        json!([{"name": "content", "configMap": {"name": "content"}},
               {"name": "conf", "configMap": {"name": "conf"}}]),
    );
    api.patch("web", &pp, &Patch::Apply(&full)).await.unwrap();
    let less = deployment(
        json!([{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80}],
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"}]}]),
        json!([{"name": "conf", "configMap": {"name": "conf"}}]),
    );
    let d = api.patch("web", &pp, &Patch::Apply(&less)).await.unwrap();
    let spec = pod_spec(&d);
    assert_eq!(names(&spec["containers"], "name"), vec!["web"]);
    let web = &spec["containers"][0];
    assert_eq!(names(&web["env"], "name"), vec!["A"]);
    assert_eq!(names(&web["ports"], "containerPort"), vec!["80"]);
    assert_eq!(
        names(&web["volumeMounts"], "mountPath"),
        vec!["/etc/nginx/conf.d"]
    );
    assert_eq!(names(&spec["volumes"], "name"), vec!["conf"]);
    // Defaulted fields of the surviving items stay.
    assert_eq!(web["ports"][0]["protocol"], "TCP");
    assert_eq!(web["imagePullPolicy"], "Always");
    // managedFields name items by their keys, container ports by (containerPort, protocol).
    let mf = serde_json::to_value(&d.metadata.managed_fields).unwrap();
    let op = mf
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "operator")
        .unwrap();
    let c =
        &op["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert!(
        c["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"].is_object(),
        "{op}"
    );
    assert!(c["f:volumeMounts"]["k:{\"mountPath\":\"/etc/nginx/conf.d\"}"].is_object());
    assert!(
        op["fieldsV1"]["f:spec"]["f:selector"] == json!({}),
        "metav1.LabelSelector is atomic: {op}"
    );
}

#[tokio::test]
async fn an_item_another_applier_owns_stays_until_it_lets_go() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let both = deployment(
        json!([{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}]),
        json!([]),
    );
    api.patch("web", &PatchParams::apply("a"), &Patch::Apply(&both))
        .await
        .unwrap();
    let log = deployment(json!([{"name": "log", "image": "busybox"}]), json!([]));
    api.patch("web", &PatchParams::apply("b"), &Patch::Apply(&log))
        .await
        .unwrap();
    let web = deployment(json!([{"name": "web", "image": "nginx"}]), json!([]));
    let d = api
        .patch("web", &PatchParams::apply("a"), &Patch::Apply(&web))
        .await
        .unwrap();
    assert_eq!(
        names(&pod_spec(&d)["containers"], "name"),
        vec!["web", "log"],
        "b still applies the log container"
    );
    let d = api
        .patch(
            "web",
            &PatchParams::apply("b"),
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(names(&pod_spec(&d)["containers"], "name"), vec!["web"]);
}

#[tokio::test]
async fn a_status_condition_its_applier_drops_is_removed() {
    let sb = start().await;
    sb.hooks().pause_workloads(true);
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let d = deployment(json!([{"name": "web", "image": "nginx"}]), json!([]));
    api.patch("web", &PatchParams::apply("op"), &Patch::Apply(&d))
        .await
        .unwrap();
    let status = |conds: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "status": {"conditions": conds}})
    };
    let pp = PatchParams::apply("status-writer").force();
    api.patch_status(
        "web",
        &pp,
        &Patch::Apply(status(json!([
            {"type": "Available", "status": "True"},
            {"type": "ReplicaFailure", "status": "True", "reason": "Quota"}]))),
    )
    .await
    .unwrap();
    let got = api
        .patch_status(
            "web",
            &pp,
            &Patch::Apply(status(json!([{"type": "Available", "status": "True"}]))),
        )
        .await
        .expect("dropping a condition is an ordinary apply");
    let conds = serde_json::to_value(&got.status).unwrap()["conditions"].clone();
    assert_eq!(names(&conds, "type"), vec!["Available"]);
}

#[tokio::test]
async fn changing_a_service_port_leaves_no_leftover() {
    let sb = start().await;
    let api: Api<Service> = Api::default_namespaced(sb.client());
    let svc = |port: i32| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": port}]}})
    };
    let pp = PatchParams::apply("operator").force();
    api.patch("web", &pp, &Patch::Apply(svc(80))).await.unwrap();
    let got = api
        .patch("web", &pp, &Patch::Apply(svc(8080)))
        .await
        .unwrap();
    let ports = serde_json::to_value(&got.spec).unwrap()["ports"].clone();
    assert_eq!(
        ports,
        json!([{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}])
    );
}

#[tokio::test]
async fn two_appliers_of_owner_references_leave_no_empty_element() {
    // Two field managers apply one Service, each with its own ownerReference (a map list keyed
    // by uid): each keeps its item, and the one that stops applying takes only its own.
    let sb = start().await;
    let api: Api<Service> = Api::default_namespaced(sb.client());
    let owner = |uid: &str, name: &str| json!({"apiVersion": "example.com/v1", "kind": "Owner", "name": name, "uid": uid});
    let svc = |refs: Value| {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "shared", "ownerReferences": refs},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    };
    let a = PatchParams::apply("a");
    let b = PatchParams::apply("b");
    api.patch(
        "shared",
        &a,
        &Patch::Apply(svc(json!([owner("u1", "one")]))),
    )
    .await
    .unwrap();
    api.patch(
        "shared",
        &b,
        &Patch::Apply(svc(json!([owner("u2", "two")]))),
    )
    .await
    .unwrap();
    let got = api
        .patch(
            "shared",
            &a,
            &Patch::Apply(svc(json!([owner("u1", "one")]))),
        )
        .await
        .unwrap();
    let refs = serde_json::to_value(&got.metadata.owner_references).unwrap();
    assert_eq!(names(&refs, "uid"), vec!["u1", "u2"], "{refs}");
    assert!(
        refs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["uid"].is_string()),
        "no empty element: {refs}"
    );
    let got = api
        .patch(
            "shared",
            &b,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shared"}}),
            ),
        )
        .await
        .unwrap();
    let refs = serde_json::to_value(&got.metadata.owner_references).unwrap();
    assert_eq!(names(&refs, "uid"), vec!["u1"], "{refs}");
    let ports = serde_json::to_value(&got.spec).unwrap()["ports"].clone();
    assert_eq!(
        names(&ports, "port"),
        vec!["80"],
        "a still applies the port"
    );
}

#[tokio::test]
async fn atomic_lists_are_replaced_whole() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    // core/v1 Container.args is atomic (no list type): the last applier's value wins whole, and
    // it is owned as one field.
    let with_args = |args: Value| {
        deployment(
            json!([{"name": "web", "image": "nginx", "args": args}]),
            json!([]),
        )
    };
    api.patch(
        "web",
        &PatchParams::apply("a"),
        &Patch::Apply(with_args(json!(["x", "y"]))),
    )
    .await
    .unwrap();
    let d = api
        .patch(
            "web",
            &PatchParams::apply("b").force(),
            &Patch::Apply(with_args(json!(["z"]))),
        )
        .await
        .unwrap();
    assert_eq!(pod_spec(&d)["containers"][0]["args"], json!(["z"]));
    let mf = serde_json::to_value(&d.metadata.managed_fields).unwrap();
    let b = mf
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "b")
        .unwrap();
    assert_eq!(
        b["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:args"],
        json!({})
    );

    // A custom resource's list without x-kubernetes-list-type is atomic too.
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "sites.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "sites", "singular": "site", "kind": "Site"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "hosts": {"type": "array", "items": {"type": "string"}},
                    "backends": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"}, "weight": {"type": "integer"}}}}}}}}}}]}});
    let crds: Api<DynamicObject> = Api::all_with(
        sb.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let sites: Api<DynamicObject> = Api::default_namespaced_with(
        sb.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Site"),
            "sites",
        ),
    );
    let site = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Site", "metadata": {"name": "s"}, "spec": spec});
    sites
        .patch(
            "s",
            &PatchParams::apply("a"),
            &Patch::Apply(site(
                json!({"hosts": ["a", "b"], "backends": [{"name": "one", "weight": 1}]}),
            )),
        )
        .await
        .unwrap();
    let got = sites
        .patch(
            "s",
            &PatchParams::apply("b").force(),
            &Patch::Apply(site(
                json!({"hosts": ["c"], "backends": [{"name": "two", "weight": 2}]}),
            )),
        )
        .await
        .unwrap();
    assert_eq!(got.data["spec"]["hosts"], json!(["c"]), "atomic: replaced");
    assert_eq!(
        names(&got.data["spec"]["backends"], "name"),
        vec!["one", "two"],
        "a map list merges by key"
    );
}

#[tokio::test]
async fn unknown_fields_warn_by_default_fail_under_strict_and_drop_under_ignore() {
    let sb = start().await;
    let cm = |name: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
               "spec": {"replica": 3, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx", "imagee": "x"}]}}}})
    };
    let path = "/apis/apps/v1/namespaces/default/deployments";
    // Warn, the API server's default: created without the fields, one Warning header each.
    let r = raw(&sb, "POST", path, "application/json", &cm("warned")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.warnings(),
        vec![
            "299 - \"unknown field \\\"spec.replica\\\"\"",
            "299 - \"unknown field \\\"spec.template.spec.containers[0].imagee\\\"\""
        ]
    );
    assert!(r.body["spec"].get("replica").is_none());
    assert_eq!(r.body["spec"]["replicas"], 1, "defaulted, not set");
    // Strict: 400 BadRequest naming every unknown field; nothing stored.
    let r = raw(
        &sb,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        &cm("strict"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    assert_eq!(
        r.body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagee\""
    );
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    assert!(deployments.get_opt("strict").await.unwrap().is_none());
    // Ignore: created, no warning.
    let r = raw(
        &sb,
        "POST",
        &format!("{path}?fieldValidation=Ignore"),
        "application/json",
        &cm("ignored"),
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(r.warnings().is_empty());
    // Patches are checked on the patched object the same way.
    let r = raw(
        &sb,
        "PATCH",
        &format!("{path}/warned?fieldValidation=Strict"),
        "application/merge-patch+json",
        &json!({"spec": {"paused": true, "replica": 2}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Server-side apply validates against the schema whatever fieldValidation says.
    let r = raw(
        &sb,
        "PATCH",
        &format!("{path}/warned?fieldManager=op&fieldValidation=Ignore"),
        "application/apply-patch+yaml",
        &cm("warned"),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.body["message"],
        "failed to create typed patch object (default/warned; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema"
    );
}

#[tokio::test]
async fn mistyped_fields_are_refused_at_every_validation_level() {
    let sb = start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": {"flag": true}});
    for level in ["Ignore", "Warn", "Strict"] {
        let r = raw(
            &sb,
            "POST",
            &format!("{path}?fieldValidation={level}"),
            "application/json",
            &cm,
        )
        .await;
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (400, Some("BadRequest")),
            "{level}"
        );
        assert_eq!(
            r.body["message"],
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
        );
    }
    // Through kube-rs: a Deployment whose replicas is a string.
    let api: Api<DynamicObject> = Api::default_namespaced_with(
        sb.client(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apps", "v1", "Deployment"),
            "deployments",
        ),
    );
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": "two", "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    let err = api_error(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!(err.code, 400);
    assert!(
        err.message.ends_with(
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        ),
        "{}",
        err.message
    );
    // Server-side apply: structured-merge-diff's own message.
    let err = api_error(
        api.patch("d", &PatchParams::apply("op"), &Patch::Apply(&bad))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 500);
    assert!(
        err.message
            .ends_with(".spec.replicas: expected numeric (int or float), got string"),
        "{}",
        err.message
    );
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    assert!(cms.get_opt("flags").await.unwrap().is_none());
}

#[tokio::test]
async fn strategic_merge_patch_follows_the_definitions() {
    // Pod volumes merge by name and container volumeMounts by mountPath
    // (`patchMergeKey`), tolerations have no patch strategy and are replaced.
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let d = deployment(
        json!([{"name": "web", "image": "nginx", "volumeMounts": [{"name": "a", "mountPath": "/a"}]}]),
        json!([{"name": "a", "emptyDir": {}}]),
    );
    let mut d = d;
    d["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "x", "operator": "Exists"}]);
    api.create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    let got = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {
                "containers": [{"name": "web", "volumeMounts": [{"name": "b", "mountPath": "/b"}]}],
                "volumes": [{"name": "b", "emptyDir": {}}],
                "tolerations": [{"key": "y", "operator": "Exists"}]}}}})),
        )
        .await
        .unwrap();
    let spec = pod_spec(&got);
    assert_eq!(names(&spec["volumes"], "name"), vec!["a", "b"]);
    assert_eq!(
        names(&spec["containers"][0]["volumeMounts"], "mountPath"),
        vec!["/a", "/b"]
    );
    assert_eq!(names(&spec["tolerations"], "key"), vec!["y"]);
}
