//! Deletion as a kube-apiserver and kube-controller-manager do it: a namespace terminates until
//! its contents are gone, a deleting object's generation is bumped, finalizers only shrink.
//!
//! Expected behaviour, from the Kubernetes documentation and source:
//! - <https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/> and the
//!   namespace strategy (pkg/registry/core/namespace/strategy.go): a new namespace gets the
//!   `kubernetes` finalizer in `spec.finalizers` and the `kubernetes.io/metadata.name` label;
//!   `spec.finalizers` changes only through the `finalize` subresource.
//! - The NamespaceLifecycle admission plugin refuses new objects in a terminating namespace with
//!   403 "unable to create new content in namespace … because it is being terminated".
//! - The namespace controller (pkg/controller/namespace/deletion) deletes the contents and reports
//!   what remains in `NamespaceContentRemaining` / `NamespaceFinalizersRemaining` conditions.
//! - apiserver's registry store `markAsDeleting` bumps `metadata.generation` when it sets the
//!   deletionTimestamp; ValidateObjectMetaUpdate refuses new finalizers on a deleting object.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, finalizers: &[&str]) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "finalizers": finalizers}})).unwrap()
}

fn condition(ns: &Namespace, ty: &str) -> Value {
    let v = serde_json::to_value(ns).unwrap();
    v["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == ty).cloned())
        .unwrap_or(Value::Null)
}

async fn create_namespace(sb: &Sandbox, name: &str) -> Namespace {
    let nss: Api<Namespace> = Api::all(sb.client());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap()
}

#[tokio::test]
async fn a_namespace_terminates_until_its_contents_are_gone() {
    let sb = start().await;
    let nss: Api<Namespace> = Api::all(sb.client());
    let created = create_namespace(&sb, "doomed").await;
    let created = serde_json::to_value(&created).unwrap();
    assert_eq!(
        created["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "doomed"
    );
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(created["status"]["phase"], "Active");

    let cms: Api<ConfigMap> = Api::namespaced(sb.client(), "doomed");
    let pp = PostParams::default();
    cms.create(&pp, &cm("free", &[])).await.unwrap();
    cms.create(&pp, &cm("held", &["example.com/hold"]))
        .await
        .unwrap();

    let answer = nss
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let answered = answer
        .left()
        .expect("the namespace is answered, not a Status");
    let answered = serde_json::to_value(&answered).unwrap();
    assert_eq!(answered["status"]["phase"], "Terminating");
    assert!(answered["metadata"]["deletionTimestamp"].is_string());

    let ns = nss
        .get("doomed")
        .await
        .expect("still there while content remains");
    assert_eq!(
        ns.status.as_ref().unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert!(
        cms.get_opt("free").await.unwrap().is_none(),
        "unheld content is deleted"
    );
    let held = cms.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    let content = condition(&ns, "NamespaceContentRemaining");
    assert_eq!(content["status"], "True");
    assert_eq!(content["reason"], "SomeResourcesRemain");
    assert_eq!(
        content["message"],
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    let finalizers = condition(&ns, "NamespaceFinalizersRemaining");
    assert_eq!(
        finalizers["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );

    let refused = api_error(cms.create(&pp, &cm("late", &[])).await.unwrap_err());
    assert_eq!(refused.code, 403);
    assert_eq!(refused.reason, "Forbidden");
    assert_eq!(
        refused.message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    let ssa = PatchParams::apply("test");
    let refused = api_error(
        cms.patch(
            "late",
            &ssa,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        refused.code, 403,
        "server-side apply that creates is a create"
    );

    let more = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/late"]}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(more.code, 422);
    assert!(
        more.message.contains(
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/late\"}"
        ),
        "{}",
        more.message
    );
    let labelled = cms
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"still": "writable"}}})),
        )
        .await
        .expect("updates of existing content are allowed");
    assert_eq!(labelled.metadata.labels.unwrap()["still"], "writable");

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());
    assert!(
        nss.get_opt("doomed").await.unwrap().is_none(),
        "the namespace goes once it is empty"
    );
}

#[tokio::test]
async fn an_empty_namespace_goes_at_once_and_spec_finalizers_change_only_through_finalize() {
    let sb = start().await;
    let nss: Api<Namespace> = Api::all(sb.client());
    create_namespace(&sb, "empty").await;
    nss.delete("empty", &DeleteParams::default()).await.unwrap();
    assert!(nss.get_opt("empty").await.unwrap().is_none());

    create_namespace(&sb, "stuck").await;
    let patched = nss
        .patch(
            "stuck",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"finalizers": ["example.com/other"]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&patched).unwrap()["spec"]["finalizers"],
        json!(["kubernetes"]),
        "a plain update keeps spec.finalizers"
    );
    let cms: Api<ConfigMap> = Api::namespaced(sb.client(), "stuck");
    cms.create(&PostParams::default(), &cm("held", &["example.com/hold"]))
        .await
        .unwrap();
    nss.delete("stuck", &DeleteParams::default()).await.unwrap();
    let mut ns = serde_json::to_value(nss.get("stuck").await.unwrap()).unwrap();
    ns["spec"]["finalizers"] = json!([]);
    nss.replace_subresource("finalize", "stuck", &PostParams::default(), &ns)
        .await
        .expect("PUT …/finalize");
    assert!(
        nss.get_opt("stuck").await.unwrap().is_none(),
        "finalizing by hand removes the namespace at once"
    );
}

#[tokio::test]
async fn deleting_an_object_with_finalizers_bumps_its_generation_once() {
    let sb = start().await;
    let deployments: Api<Deployment> = Api::default_namespaced(sb.client());
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "finalizers": ["example.com/hold"]},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}))
    .unwrap();
    let created = deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let deleting = deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(deleting.metadata.generation, Some(2));
    let again = deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(
        again.metadata.generation,
        Some(2),
        "only the first delete bumps"
    );
    assert_eq!(
        again.metadata.resource_version, deleting.metadata.resource_version,
        "a second delete of a deleting object changes nothing"
    );
}

/// kube-controller-manager's garbage collector
/// (<https://kubernetes.io/docs/concepts/architecture/garbage-collection/>): a dependent whose
/// owners are all gone is deleted, even when the owner never existed; a reference to a gone
/// owner is removed while another owner remains.
#[tokio::test]
async fn dependents_of_missing_owners_are_collected_and_dangling_references_dropped() {
    let sb = start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let pp = PostParams::default();
    let owner_ref = |o: &ConfigMap| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid});
    let orphan: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "orphan",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
                             "uid": "00000000-0000-4000-a000-000000000000"}]}}))
    .unwrap();
    cms.create(&pp, &orphan).await.unwrap();
    assert!(
        cms.get_opt("orphan").await.unwrap().is_none(),
        "an object whose only owner does not exist is collected"
    );

    let a = cms.create(&pp, &cm("a", &[])).await.unwrap();
    let b = cms.create(&pp, &cm("b", &[])).await.unwrap();
    let shared: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "shared", "ownerReferences": [owner_ref(&a), owner_ref(&b)]}}),
    )
    .unwrap();
    cms.create(&pp, &shared).await.unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let left = cms.get("shared").await.expect("kept while b owns it");
    let refs: Vec<String> = left
        .metadata
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(refs, ["b"], "the reference to the deleted owner is removed");
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("shared").await.unwrap().is_none());
}
