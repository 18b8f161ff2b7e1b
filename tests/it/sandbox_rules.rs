//! Validation and defaulting of built-in kinds as kube-apiserver does them: immutable fields,
//! label syntax, one controller owner, containers with names and images, base64 Secret data,
//! Service defaults and node ports, field selectors, custom-resource updates without a
//! resourceVersion.
//!
//! Expected behaviour, from the Kubernetes documentation and source:
//! - Immutable fields: Deployment `spec.selector` ("immutable after creation" in the
//!   Deployment docs), Service `spec.clusterIP`, Job `spec.template`, and immutable ConfigMaps and
//!   Secrets (<https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable>);
//!   pkg/apis/core/validation and pkg/apis/apps/validation word the errors.
//! - Labels: <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set>.
//! - Owners: "Only one reference can have Controller set to true" (apimachinery
//!   ValidateOwnerReferences).
//! - Service defaults (ipFamilies, ipFamilyPolicy, internalTrafficPolicy) and node ports
//!   30000-32767: <https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport>,
//!   <https://kubernetes.io/docs/concepts/services-networking/dual-stack/>.
//! - Field selectors: <https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/>
//!   ("Using unsupported fields ... gives an error").

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

fn deployment(name: &str, app: &str, containers: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}}}}))
    .unwrap()
}

#[tokio::test]
async fn immutable_fields_cannot_change() {
    let sb = start().await;
    let pp = PostParams::default();
    let merge = PatchParams::default();
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    deployments
        .create(
            &pp,
            &deployment(
                "web",
                "web",
                json!([{"name": "web", "image": "nginx:1.27"}]),
            ),
        )
        .await
        .unwrap();
    let err = api_error(
        deployments
            .patch(
                "web",
                &merge,
                &Patch::Merge(
                    json!({"spec": {"selector": {"matchLabels": {"app": "other"}},
                "template": {"metadata": {"labels": {"app": "other"}}}}}),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .starts_with("Deployment.apps \"web\" is invalid: spec.selector: Invalid value:"),
        "{}",
        err.message
    );
    assert!(
        err.message.ends_with("field is immutable"),
        "{}",
        err.message
    );

    let services: Api<Service> = Api::default_namespaced(sb.client());
    let svc: Service = serde_json::from_value(
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .unwrap();
    let svc = services.create(&pp, &svc).await.unwrap();
    let ip = svc.spec.unwrap().cluster_ip.unwrap();
    let err = api_error(
        services
            .patch(
                "web",
                &merge,
                &Patch::Merge(
                    json!({"spec": {"clusterIP": "10.96.99.99", "clusterIPs": ["10.96.99.99"]}}),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("spec.clusterIP: Invalid value: \"10.96.99.99\": field is immutable"),
        "{} (was {ip})",
        err.message
    );

    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let frozen: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "frozen"}, "immutable": true, "data": {"a": "1"}}),
    )
    .unwrap();
    cms.create(&pp, &frozen).await.unwrap();
    let err = api_error(
        cms.patch("frozen", &merge, &Patch::Merge(json!({"data": {"a": "2"}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let err = api_error(
        cms.patch("frozen", &merge, &Patch::Merge(json!({"immutable": false})))
            .await
            .unwrap_err(),
    );
    assert!(
        err.message
            .contains("immutable: Forbidden: field is immutable when `immutable` is set")
    );
    let labelled = cms
        .patch(
            "frozen",
            &merge,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("metadata of an immutable ConfigMap may change");
    assert_eq!(labelled.data.unwrap()["a"], "1");

    let secrets: Api<Secret> = Api::default_namespaced(sb.client());
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "s"}, "immutable": true, "stringData": {"k": "v"}}),
    )
    .unwrap();
    secrets.create(&pp, &s).await.unwrap();
    let err = api_error(
        secrets
            .patch("s", &merge, &Patch::Merge(json!({"data": {"k": "eA=="}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("data: Forbidden: field is immutable when `immutable` is set")
    );
}

#[tokio::test]
async fn labels_owners_containers_and_secret_data_are_validated() {
    let sb = start().await;
    let pp = PostParams::default();
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let bad: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "l", "labels": {"tier": "front end"}}}))
            .unwrap();
    let err = api_error(cms.create(&pp, &bad).await.unwrap_err());
    assert_eq!(err.code, 422);
    assert!(err.message.starts_with("ConfigMap \"l\" is invalid: metadata.labels: Invalid value: \"front end\": a valid label must be an empty string"), "{}", err.message);

    let two: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "o", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "1", "controller": true},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "2", "controller": true}]}}))
        .unwrap();
    let err = api_error(cms.create(&pp, &two).await.unwrap_err());
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("metadata.ownerReferences: Invalid value:")
    );
    assert!(err.message.ends_with("Only one reference can have Controller set to true. Found \"true\" in references for ConfigMap/a and ConfigMap/b"), "{}", err.message);

    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let nameless = deployment("d", "d", json!([{"image": "nginx:1.27"}, {"name": "side"}]));
    let err = api_error(deployments.create(&pp, &nameless).await.unwrap_err());
    assert_eq!(err.code, 422);
    let causes: Vec<String> = err
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    assert_eq!(
        causes,
        [
            "spec.template.spec.containers[0].name: Required value",
            "spec.template.spec.containers[1].image: Required value",
        ]
    );

    let secrets: Api<Secret> = Api::default_namespaced(sb.client());
    let raw = secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "plain"}})).unwrap(),
        )
        .await;
    raw.unwrap();
    let err = api_error(
        secrets
            .patch(
                "plain",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"k": "not base64!"}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3"
    );
}

#[tokio::test]
async fn services_get_ip_family_defaults_and_node_ports() {
    let sb = start().await;
    let pp = PostParams::default();
    let services: Api<Service> = Api::default_namespaced(sb.client());
    let plain: Service = serde_json::from_value(
        json!({"metadata": {"name": "plain"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .unwrap();
    let plain = serde_json::to_value(services.create(&pp, &plain).await.unwrap()).unwrap();
    assert_eq!(plain["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(plain["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(plain["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(
        plain["status"],
        json!({"loadBalancer": {}}),
        "create answers with status"
    );
    assert!(plain["spec"]["ports"][0]["nodePort"].is_null());

    let np = |name: &str, port: Value| -> Service {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})).unwrap()
    };
    let first = serde_json::to_value(
        services
            .create(&pp, &np("first", Value::Null))
            .await
            .unwrap(),
    )
    .unwrap();
    let port = first["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .expect("a node port");
    assert!((30000..=32767).contains(&port));
    assert_eq!(first["spec"]["externalTrafficPolicy"], "Cluster");
    let second = serde_json::to_value(
        services
            .create(&pp, &np("second", Value::Null))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_ne!(
        second["spec"]["ports"][0]["nodePort"].as_i64(),
        Some(port),
        "never handed out twice"
    );
    let err = api_error(
        services
            .create(&pp, &np("third", json!(port)))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains(&format!(
            "spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"
        )),
        "{}",
        err.message
    );
    let kept = services
        .patch(
            "first",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        kept.spec.unwrap().ports.unwrap()[0].node_port,
        Some(port as i32)
    );

    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let d = deployments
        .create(
            &pp,
            &deployment(
                "web",
                "web",
                json!([{"name": "web", "image": "nginx:1.27"}]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&d).unwrap()["status"],
        json!({}),
        "create answers with status: {{}}"
    );
}

#[tokio::test]
async fn unsupported_field_selectors_and_unconditional_custom_resource_updates_are_refused() {
    let sb = start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let err = api_error(
        cms.list(&ListParams::default().fields("data.a=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "field label not supported: data.a")
    );
    cms.list(&ListParams::default().fields("metadata.name=x"))
        .await
        .unwrap();

    let client = sb.client();
    crate::support::create_crd(&client, "WebServer", "webservers").await;
    let api = Api::<kube::api::DynamicObject>::namespaced_with(
        client,
        "default",
        &crate::support::webservers(),
    );
    let mut ws: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
        "metadata": {"name": "w"}, "spec": {"image": "nginx:1.27", "replicas": 1}}))
    .unwrap();
    let created = api.create(&PostParams::default(), &ws).await.unwrap();
    ws.metadata.resource_version = None;
    let err = api_error(
        api.replace("w", &PostParams::default(), &ws)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert!(
        err.message.ends_with(
            "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        ),
        "{}",
        err.message
    );
    ws.metadata.resource_version = created.metadata.resource_version;
    api.replace("w", &PostParams::default(), &ws)
        .await
        .expect("with a resourceVersion");
}
