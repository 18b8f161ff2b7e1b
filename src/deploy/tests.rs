//! Tests of the install manifests: objects, RBAC, the Deployment and their YAML.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

fn charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts")
}

fn bundled() -> Mapping {
    Mapping::load(&charts().join("watches.yaml")).unwrap()
}

/// A mapping as if written next to the bundled charts.
fn mapping(text: &str) -> Mapping {
    Mapping::parse(&charts().join("test-watches.yaml"), text).unwrap()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn rules(objects: &[Value]) -> Vec<Value> {
    find(objects, "ClusterRole")["rules"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn cluster_role_grants_exactly_what_the_bundled_mapping_needs() {
    let objects = generate(&bundled(), &Options::default()).unwrap();
    assert_eq!(
        rules(&objects),
        [
            json!({"apiGroups": [""], "resources": ["configmaps", "services"],
                   "verbs": ["get", "list", "watch", "create", "patch", "delete"]}),
            json!({"apiGroups": ["apps"], "resources": ["deployments"],
                   "verbs": ["get", "list", "watch", "create", "patch", "delete"]}),
            json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]}),
            json!({"apiGroups": ["web.tera-operator.io"], "resources": ["balancers", "webservers"],
                   "verbs": ["get", "list", "watch"]}),
            json!({"apiGroups": ["web.tera-operator.io"], "resources": ["balancers/status", "webservers/status"],
                   "verbs": ["patch"]}),
            json!({"apiGroups": ["web.tera-operator.io"], "resources": ["balancers/finalizers", "webservers/finalizers"],
                   "verbs": ["update"]}),
        ]
    );
    assert!(
        !serde_json::to_string(&objects)
            .unwrap()
            .contains("customresourcedefinitions"),
        "no CRD privileges without --install-crds"
    );
}

#[test]
fn kinds_that_adopt_helm_releases_may_patch_their_resources() {
    // helm-operator's finalizer is removed from a resource once its objects are taken over.
    let m = mapping(
        "- {group: web.tera-operator.io, version: v1alpha1, kind: WebServer, chart: webserver, adoptHelmReleases: true}\n- {group: web.tera-operator.io, version: v1alpha1, kind: Balancer, chart: balancer}\n",
    );
    let objects = generate(&m, &Options::default()).unwrap();
    let rules = rules(&objects);
    assert!(
        rules.contains(
            &json!({"apiGroups": ["web.tera-operator.io"], "resources": ["webservers"],
                               "verbs": ["get", "list", "watch", "patch"]})
        ),
        "{rules:?}"
    );
    assert!(
        rules.contains(
            &json!({"apiGroups": ["web.tera-operator.io"], "resources": ["balancers"],
                               "verbs": ["get", "list", "watch"]})
        ),
        "{rules:?}"
    );
}

#[test]
fn install_crds_grants_crd_writes_by_name_and_passes_the_flag() {
    let options = Options {
        install_crds: true,
        ..Options::default()
    };
    let objects = generate(&bundled(), &options).unwrap();
    let crd_rules: Vec<Value> = rules(&objects)
        .into_iter()
        .filter(|r| r["apiGroups"][0] == "apiextensions.k8s.io")
        .collect();
    assert_eq!(
        crd_rules,
        [
            json!({"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                   "resourceNames": ["webservers.web.tera-operator.io", "balancers.web.tera-operator.io"],
                   "verbs": ["get", "patch"]}),
            json!({"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                   "verbs": ["create"]}),
        ]
    );
    let args = &find(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args.as_array().unwrap().contains(&json!("--install-crds")));
}

#[test]
fn allowed_kinds_map_to_their_groups_and_mapped_kinds_to_their_plurals() {
    let m = mapping(
        "- {group: web.tera-operator.io, version: v1alpha1, kind: WebServer, chart: webserver,\n   allowedKinds: [ConfigMap, Secret, StatefulSet, CronJob, Ingress, PersistentVolumeClaim, Role, Balancer]}\n- {group: web.tera-operator.io, version: v1alpha1, kind: Balancer, chart: balancer}\n",
    );
    let objects = generate(&m, &Options::default()).unwrap();
    let child = |group: &str| -> Vec<Value> {
        rules(&objects)
            .into_iter()
            .filter(|r| r["apiGroups"][0] == group && r["verbs"].as_array().unwrap().len() == 6)
            .flat_map(|r| r["resources"].as_array().unwrap().clone())
            .collect()
    };
    assert_eq!(
        child(""),
        [
            json!("configmaps"),
            json!("persistentvolumeclaims"),
            json!("secrets"),
            json!("services")
        ]
    );
    assert_eq!(child("apps"), [json!("deployments"), json!("statefulsets")]);
    assert_eq!(child("batch"), [json!("cronjobs")]);
    assert_eq!(child("networking.k8s.io"), [json!("ingresses")]);
    assert_eq!(child("rbac.authorization.k8s.io"), [json!("roles")]);
    // A chart that emits another mapped kind may create it; its verbs are the union.
    let balancers: Vec<Value> = rules(&objects)
        .into_iter()
        .filter(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .contains(&json!("balancers"))
        })
        .collect();
    assert_eq!(balancers.len(), 1);
    assert_eq!(
        balancers[0]["verbs"],
        json!(["get", "list", "watch", "create", "patch", "delete"])
    );
}

#[test]
fn kinds_of_other_groups_get_their_group_and_plural() {
    let m = mapping(
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: webserver\n  allowedKinds:\n    - ConfigMap\n    - ServiceMonitor.monitoring.coreos.com\n    - HTTPRoute.gateway.networking.k8s.io\n    - NetworkPolicy\n    - {kind: Person, group: example.com, plural: people}\n",
    );
    let objects = generate(&m, &Options::default()).unwrap();
    let resources = |group: &str| -> Vec<Value> {
        rules(&objects)
            .into_iter()
            .filter(|r| r["apiGroups"][0] == group)
            .flat_map(|r| r["resources"].as_array().unwrap().clone())
            .collect()
    };
    assert_eq!(
        resources("monitoring.coreos.com"),
        [json!("servicemonitors")]
    );
    assert_eq!(
        resources("gateway.networking.k8s.io"),
        [json!("httproutes")]
    );
    assert_eq!(resources("networking.k8s.io"), [json!("networkpolicies")]);
    assert_eq!(resources("example.com"), [json!("people")]);
}

#[test]
fn an_unknown_allowed_kind_is_an_error_naming_it() {
    let m = Mapping::parse(
        &charts().join("test-watches.yaml"),
        "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: webserver\n  allowedKinds: [ConfigMap, Frobnicator]\n",
    );
    let err = m.unwrap_err().to_string();
    assert!(err.contains("test-watches.yaml:5"), "{err}");
    assert!(err.contains("allowedKinds lists Frobnicator"), "{err}");
}

#[test]
fn the_namespace_is_emitted_only_when_asked_for_and_never_a_reserved_one() {
    let names = |options: &Options| -> Vec<String> {
        generate(&bundled(), options)
            .unwrap()
            .iter()
            .map(object_name)
            .collect()
    };
    assert!(names(&Options::default()).contains(&format!("Namespace/{DEFAULT_NAMESPACE}")));
    let existing = Options {
        namespace: "kube-system".into(),
        create_namespace: false,
        ..Options::default()
    };
    assert!(!names(&existing).iter().any(|n| n.starts_with("Namespace/")));
    for reserved in ["kube-system", "kube-public", "default"] {
        let options = Options {
            namespace: reserved.into(),
            create_namespace: true,
            ..Options::default()
        };
        let err = generate(&bundled(), &options).unwrap_err().to_string();
        assert!(err.contains("belongs to Kubernetes"), "{err}");
    }
    assert!(creates_namespace_by_default(DEFAULT_NAMESPACE));
    assert!(!creates_namespace_by_default("kube-system"));
    assert!(!creates_namespace_by_default("ops"));
}

#[test]
fn deployment_meets_the_restricted_pod_security_standard() {
    let objects = generate(&bundled(), &Options::default()).unwrap();
    let pod = &find(&objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["serviceAccountName"], "tera-operator");
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    for key in ["requests", "limits"] {
        assert!(container["resources"][key]["cpu"].is_string());
        assert!(container["resources"][key]["memory"].is_string());
    }
    assert_eq!(
        container["args"],
        json!([
            "run",
            "--config",
            "/etc/tera-operator/charts/watches.yaml",
            "--metrics-addr",
            "0.0.0.0:8080",
            "--log-format",
            "json",
            "--leader-elect",
            "--leader-election-namespace",
            "$(POD_NAMESPACE)",
            "--leader-election-id",
            "tera-operator"
        ])
    );
    let service = find(&objects, "Service");
    assert_eq!(service["spec"]["selector"], selector(&Options::default()));
    assert_eq!(
        find(&objects, "Deployment")["spec"]["selector"]["matchLabels"],
        selector(&Options::default())
    );
}

#[test]
fn objects_come_in_apply_order_and_namespaced_ones_use_the_namespace() {
    let options = Options {
        namespace: "ops".into(),
        image: "registry.example/tera-operator:1.2.3".into(),
        ..Options::default()
    };
    let objects = generate(&bundled(), &options).unwrap();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment"
        ]
    );
    assert_eq!(objects[0]["metadata"]["name"], "ops");
    for o in &objects {
        let cluster = [
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
        ]
        .contains(&o["kind"].as_str().unwrap());
        assert_eq!(
            o["metadata"]["namespace"].is_null(),
            cluster,
            "{}",
            object_name(o)
        );
        if !cluster {
            assert_eq!(o["metadata"]["namespace"], "ops");
        }
    }
    assert_eq!(
        find(&objects, "ClusterRoleBinding")["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "tera-operator", "namespace": "ops"})
    );
    assert_eq!(
        find(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/tera-operator:1.2.3"
    );
}

#[test]
fn output_is_deterministic_and_crds_match_the_crd_command() {
    let a = to_yaml(&generate(&bundled(), &Options::default()).unwrap()).unwrap();
    let b = to_yaml(&generate(&bundled(), &Options::default()).unwrap()).unwrap();
    assert_eq!(a, b);
    let crd = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/webservers.web.tera-operator.io.yaml"),
    )
    .unwrap();
    assert!(a.contains(&format!("---\n{crd}")));
}

#[test]
fn an_invalid_namespace_is_refused() {
    let options = Options {
        namespace: "Not_Valid".into(),
        ..Options::default()
    };
    let err = generate(&bundled(), &options).unwrap_err().to_string();
    assert!(err.contains("--namespace \"Not_Valid\""), "{err}");
}
