//! `tera-operator manifests`: the checked-in install manifests are current, the command's
//! errors are the user's, and the sandbox API server accepts every object it prints.

use std::path::Path;
use std::process::Command;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use serde_json::{Value, json};
use tera_operator::deploy::{DEFAULT_IMAGE, DEFAULT_NAMESPACE, Options, manifests};
use tera_sandbox::{Sandbox, SandboxConfig};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn default_args() -> Options {
    Options {
        namespace: DEFAULT_NAMESPACE.to_string(),
        image: DEFAULT_IMAGE.to_string(),
        install_crds: false,
        replicas: 2,
        ..Options::default()
    }
}

fn generate(options: &Options) -> Result<String, tera_operator::deploy::Error> {
    manifests(&root().join("charts/watches.yaml"), options)
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn checked_in_install_manifests_are_up_to_date() {
    let generated = generate(&default_args()).unwrap();
    let path = root().join("examples/deploy/tera-operator.yaml");
    let current = std::fs::read_to_string(&path).unwrap();
    assert!(
        current == generated,
        "examples/deploy/tera-operator.yaml is stale: run `cargo run -- manifests > examples/deploy/tera-operator.yaml`"
    );
}

#[test]
fn manifests_command_prints_the_install_and_refuses_unknown_kinds() {
    let out = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args([
            "manifests",
            "--namespace",
            "ops",
            "--image",
            "example/op:1",
            "--install-crds",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    assert!(
        docs.iter().all(|d| d["kind"] != "Namespace"),
        "-n ops uses the namespace as it is"
    );
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "example/op:1");
    assert!(
        container["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--install-crds")
    );

    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("watches.yaml");
    std::fs::write(
        &mapping,
        format!(
            "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  allowedKinds: [ConfigMap, Gadget]\n",
            root().join("charts/webserver").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("manifests")
        .arg("--config")
        .arg(&mapping)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("allowedKinds lists Gadget"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_accepts_every_install_object() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = sb.client();
    let text = std::fs::read_to_string(root().join("examples/deploy/tera-operator.yaml")).unwrap();
    let docs = documents(&text);
    assert_eq!(docs.len(), 10);
    let applied = apply_each(&client, &docs).await;
    assert_eq!(applied.len(), docs.len(), "applied {applied:?}");
    for kind in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] {
        assert!(applied.iter().any(|k| k == kind), "{kind} was not applied");
    }
}

/// Server-side applies each object in order (discovering the kinds the CRDs add as it goes),
/// checks what the server kept, and returns the kinds applied.
async fn apply_each(client: &kube::Client, docs: &[Value]) -> Vec<String> {
    let mut applied = Vec::new();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap().to_string();
        // Discover after each apply: the CRDs add kinds as they go.
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        let (group, version) = match doc["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                doc["apiVersion"].as_str().unwrap().to_string(),
            ),
        };
        let found = discovery
            .groups()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.versioned_resources(&version))
            .find(|(r, _)| r.kind == kind);
        let Some((resource, caps)) = found else {
            panic!("the sandbox does not serve {kind} ({group}/{version})");
        };
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                doc["metadata"]["namespace"].as_str().unwrap(),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let live = api
            .patch(
                &name,
                &PatchParams::apply("tera-operator-test").force(),
                &Patch::Apply(doc),
            )
            .await
            .unwrap_or_else(|e| panic!("the sandbox refused {kind}/{name}: {e}"));
        assert!(live.metadata.uid.is_some(), "{kind}/{name} has no uid");
        check_round_trip(&resource, doc, &serde_json::to_value(&live).unwrap());
        applied.push(kind);
    }
    applied
}

/// `--shards 3`: a StatefulSet of three pods (stable ordinals, started in parallel) running
/// `run --shards 3` without leader election, a Role granting exactly the shard Leases and the
/// count record (and listing Leases), all accepted by the API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_install_is_a_statefulset_of_shard_replicas() {
    let out = run_manifests(&["--shards", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    assert!(docs.iter().all(|d| d["kind"] != "Deployment"));
    let set = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(set["spec"]["serviceName"], "tera-operator-metrics");
    assert_eq!(
        set["spec"]["selector"]["matchLabels"],
        set["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .map(|l| {
                let mut l = l.clone();
                l.retain(|k, _| k != "app.kubernetes.io/part-of");
                Value::Object(l)
            })
            .unwrap()
    );
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]);
    assert_eq!(after("--shards"), Some("3"));
    assert_eq!(after("--shard-lease-prefix"), Some("tera-operator-shard"));
    assert_eq!(
        after("--leader-election-namespace"),
        Some("$(POD_NAMESPACE)")
    );
    assert!(!args.contains(&"--leader-elect"), "{args:?}");
    // The ordinal comes from the pod's name.
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "POD_NAME"
                && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name")
    );
    let role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    assert_eq!(
        role["rules"][0]["resourceNames"],
        json!([
            "tera-operator-shard-0",
            "tera-operator-shard-1",
            "tera-operator-shard-2",
            "tera-operator-shard-count"
        ])
    );
    assert_eq!(role["rules"][0]["verbs"], json!(["get", "update"]));
    assert_eq!(role["rules"][1]["verbs"], json!(["create", "list"]));

    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let applied = apply_each(&sb.client(), &docs).await;
    assert!(applied.iter().any(|k| k == "StatefulSet"), "{applied:?}");

    // More replicas than shards is allowed; CRD installs by every replica are not.
    let out = run_manifests(&["--shards", "2", "--replicas", "4"]);
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let set = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(set["spec"]["replicas"], 4);
    let out = run_manifests(&["--shards", "3", "--install-crds"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--install-crds"), "{stderr}");
    let refused = generate(&Options {
        shards: Some(0),
        ..default_args()
    })
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("--shards must be between 1 and"),
        "{refused}"
    );
}

/// The stored object keeps what the manifest said (the server may add defaults).
fn check_round_trip(resource: &ApiResource, sent: &Value, live: &Value) {
    // Labels: every label sent is kept (kube-apiserver adds `kubernetes.io/metadata.name` to
    // every Namespace).
    for (key, want) in sent["metadata"]["labels"].as_object().into_iter().flatten() {
        assert_eq!(
            live["metadata"]["labels"].get(key),
            Some(want),
            "{} {}: label {key} changed on the server",
            resource.kind,
            sent["metadata"]["name"]
        );
    }
    for pointer in [
        "/spec/template/spec/containers/0/securityContext",
        "/spec/template/spec/containers/0/args",
        "/spec/names",
        "/rules",
    ] {
        if let Some(want) = sent.pointer(pointer) {
            assert_eq!(
                live.pointer(pointer),
                Some(want),
                "{} {}: {pointer} changed on the server",
                resource.kind,
                sent["metadata"]["name"]
            );
        }
    }
}

/// The image and the install manifests agree: charts where `run --config` looks, the user the
/// pod runs as, the metrics port; the build is locked and the context keeps what cargo needs.
#[test]
fn dockerfile_matches_the_install_manifests() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    // The image is built with the `dist` profile (fat LTO), which Cargo.toml must define.
    assert!(dockerfile.contains("cargo build --profile dist --locked"));
    assert!(dockerfile.contains("target/dist/tera-operator"));
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[profile.dist]\ninherits = \"release\""));
    assert!(dockerfile.contains(&format!(
        "COPY --chown=0:0 charts/ {}/",
        tera_operator::deploy::IMAGE_CHARTS_DIR
    )));
    assert!(
        tera_operator::deploy::IMAGE_CONFIG_PATH
            .starts_with(tera_operator::deploy::IMAGE_CHARTS_DIR)
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/tera-operator\"]"));
    assert!(dockerfile.contains(&format!("EXPOSE {}", tera_operator::deploy::METRICS_PORT)));
    let docs = documents(&generate(&default_args()).unwrap());
    let pod = &docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
    let uid = pod["securityContext"]["runAsUser"].as_u64().unwrap();
    let gid = pod["securityContext"]["runAsGroup"].as_u64().unwrap();
    assert!(dockerfile.contains(&format!("USER {uid}:{gid}")));
    assert!(
        dockerfile.contains(":nonroot"),
        "a runtime image with a non-root user"
    );
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .collect();
    assert!(ignored.contains(&"target/"));
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/",
        "charts/",
        "benches/",
        "tests/",
    ] {
        assert!(
            !ignored
                .iter()
                .any(|p| needed.starts_with(p.trim_start_matches("**/"))),
            ".dockerignore drops {needed}, which the build needs"
        );
    }
}

fn run_manifests(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .arg("manifests")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `manifests -n EXISTING` never emits (so never relabels) the namespace; the Namespace comes
/// with the default namespace or `--create-namespace`, and never for Kubernetes' own.
#[test]
fn an_existing_namespace_is_never_relabelled() {
    let namespaces = |args: &[&str]| -> Vec<Value> {
        let out = run_manifests(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        documents(&String::from_utf8(out.stdout).unwrap())
            .into_iter()
            .filter(|d| d["kind"] == "Namespace")
            .collect()
    };
    assert!(namespaces(&["-n", "kube-system"]).is_empty());
    assert!(namespaces(&["-n", "ops"]).is_empty());
    assert!(namespaces(&["-n", "ops", "--create-namespace=false"]).is_empty());
    let created = namespaces(&["-n", "ops", "--create-namespace"]);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["metadata"]["name"], "ops");
    assert_eq!(
        created[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(
        namespaces(&[]).len(),
        1,
        "the default namespace is the install's own"
    );
    assert!(namespaces(&["--create-namespace=false"]).is_empty());
    for reserved in ["kube-system", "default"] {
        let out = run_manifests(&["-n", reserved, "--create-namespace"]);
        assert_eq!(out.status.code(), Some(1), "{reserved}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("belongs to Kubernetes"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// The ClusterRole grants what the controller calls and nothing else.
#[test]
fn the_cluster_role_is_minimal() {
    let docs = documents(&generate(&default_args()).unwrap());
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let verbs = |group: &str, resource: &str| -> Vec<String> {
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["apiGroups"][0] == group
                    && r["resources"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(resource))
            })
            .flat_map(|r| r["verbs"].as_array().unwrap().clone())
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let web = "web.tera-operator.io";
    assert_eq!(verbs(web, "webservers"), ["get", "list", "watch"]);
    assert_eq!(verbs(web, "webservers/status"), ["patch"]);
    assert_eq!(verbs(web, "webservers/finalizers"), ["update"]);
    assert_eq!(
        verbs("apps", "deployments"),
        ["get", "list", "watch", "create", "patch", "delete"]
    );
    assert_eq!(verbs("events.k8s.io", "events"), ["create"]);
    assert!(verbs("", "events").is_empty(), "no core events");
    assert!(
        role["rules"].as_array().unwrap().iter().all(|r| !r["verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("update"))
            || r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .all(|res| res.as_str().unwrap().ends_with("/finalizers"))),
        "update only on finalizers"
    );
}

/// Group-qualified `allowedKinds` get RBAC for their group and plural, as `lint` accepts them.
#[test]
fn kinds_of_other_groups_are_granted_by_group_and_plural() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("watches.yaml");
    std::fs::write(
        &mapping,
        format!(
            "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  allowedKinds:\n    - ConfigMap\n    - Deployment\n    - Service\n    - ServiceMonitor.monitoring.coreos.com\n    - HTTPRoute.gateway.networking.k8s.io\n    - {{kind: Person, group: example.com, plural: people}}\n",
            root().join("charts/webserver").display()
        ),
    )
    .unwrap();
    let out = run_manifests(&["--config", mapping.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    for (group, resource) in [
        ("monitoring.coreos.com", "servicemonitors"),
        ("gateway.networking.k8s.io", "httproutes"),
        ("example.com", "people"),
    ] {
        let rule = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["apiGroups"][0] == group)
            .unwrap_or_else(|| panic!("no rule for {group}"));
        assert_eq!(rule["resources"], json!([resource]), "{group}");
        assert_eq!(
            rule["verbs"],
            json!(["get", "list", "watch", "create", "patch", "delete"])
        );
    }
    let lint = Command::new(env!("CARGO_BIN_EXE_tera-operator"))
        .args(["lint", "--config"])
        .arg(&mapping)
        .arg(root().join("charts/webserver"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}
