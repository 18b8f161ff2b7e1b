//! The sandbox as kube-rs sees it: typed and dynamic CRUD, patches, server-side apply, status,
//! watches across forced restarts, discovery of CRDs, schema validation, GC, workloads, fault hooks.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::{Value, json};
use tera_sandbox::{Sandbox, SandboxConfig};

async fn start() -> Sandbox {
    let config = SandboxConfig {
        workload_delay: Duration::from_millis(50),
        ..Default::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// Polls `check` until it returns true or 10 seconds pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn cm(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}),
    )
    .unwrap()
}

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}}
    }))
    .unwrap()
}

fn webserver_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "webservers.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "webservers", "singular": "webserver", "kind": "WebServer", "shortNames": ["ws"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["image"], "properties": {
                        "replicas": {"type": "integer", "minimum": 0, "default": 1},
                        "image": {"type": "string", "minLength": 1}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    }))
    .unwrap()
}

fn webserver_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1alpha1", "WebServer"),
        "webservers",
    )
}

fn webserver(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1alpha1", "kind": "WebServer", "metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn install_crd(sb: &Sandbox) {
    let crds: Api<CustomResourceDefinition> = Api::all(sb.client());
    crds.create(&PostParams::default(), &webserver_crd())
        .await
        .unwrap();
}

fn rv<K: kube::Resource>(o: &K) -> String {
    o.meta().resource_version.clone().unwrap()
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_configmap_crud() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let created = api
        .create(&PostParams::default(), &cm("a", json!({"k": "v"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(
        meta.generation, None,
        "ConfigMaps have no generation, as on a real cluster"
    );
    let err = api_error(
        api.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    let got = api.get("a").await.unwrap();
    assert_eq!(got.data.unwrap()["k"], "v");

    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(rv(&replaced), rv(&created));
    let err = api_error(
        api.replace("a", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    let same = api
        .replace("a", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(
        rv(&same),
        rv(&replaced),
        "a no-op update keeps the resourceVersion"
    );

    let generated = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap(),
        )
        .await
        .unwrap();
    assert!(generated.metadata.name.unwrap().starts_with("gen-"));

    api.delete("a", &DeleteParams::default()).await.unwrap();
    let err = api_error(api.get("a").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
}

#[tokio::test]
async fn list_selectors_and_pagination() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    for i in 0..7 {
        let mut c = cm(&format!("cm-{i}"), json!({}));
        c.metadata.labels = Some(
            [(
                "tier".to_string(),
                if i % 2 == 0 { "front" } else { "back" }.to_string(),
            )]
            .into(),
        );
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    for (selector, expected) in [
        ("tier=front", 4),
        ("tier!=front", 3),
        ("tier in (front,back)", 7),
        ("tier notin (front)", 3),
        ("!tier", 0),
    ] {
        let listed = api.list(&ListParams::default().labels(selector)).await;
        assert_eq!(names(listed.unwrap()).len(), expected, "{selector}");
    }
    let by_name = ListParams::default().fields("metadata.name=cm-3");
    assert_eq!(names(api.list(&by_name).await.unwrap()), vec!["cm-3"]);

    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let token = first.metadata.continue_.clone().unwrap();
    let second = api
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    let third = api
        .list(
            &ListParams::default()
                .limit(3)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(third.items.len(), 1);
    assert!(third.metadata.continue_.is_none());
    let mut all = names(first);
    all.extend(names(second));
    all.extend(names(third));
    all.sort();
    assert_eq!(all, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());
}

/// k8s-openapi writes a CRD's numeric bounds as floats (`0.0`), kubectl as integers (`0`). The
/// server reads both as one number: the same apply by two managers shares the fields instead of
/// conflicting, and the number reads back as `0`, as Go writes it.
#[tokio::test]
async fn whole_floats_and_integers_are_the_same_number() {
    let sb = start().await;
    let name = "webservers.example.com";
    let minimum =
        "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/replicas/minimum";
    let crds: Api<CustomResourceDefinition> = Api::all(sb.client());
    let as_operator = serde_json::to_value(webserver_crd()).unwrap();
    assert!(as_operator.pointer(minimum).unwrap().is_f64());
    crds.patch(
        name,
        &PatchParams::apply("operator").force(),
        &Patch::Apply(&as_operator),
    )
    .await
    .unwrap();

    let mut as_kubectl = as_operator.clone();
    *as_kubectl.pointer_mut(minimum).unwrap() = json!(0);
    crds.patch(
        name,
        &PatchParams::apply("kubectl"),
        &Patch::Apply(&as_kubectl),
    )
    .await
    .expect("identical values do not conflict");

    let resource = ApiResource::erase::<CustomResourceDefinition>(&());
    let live = Api::<DynamicObject>::all_with(sb.client(), &resource)
        .get(name)
        .await
        .unwrap();
    let stored = serde_json::to_value(&live).unwrap();
    assert_eq!(stored.pointer(minimum), Some(&json!(0)));
    assert!(stored.pointer(minimum).unwrap().is_u64());
}

#[tokio::test]
async fn server_side_apply_semantics() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    let pp = PatchParams::apply("operator").force();
    let created = api
        .patch("web", &pp, &Patch::Apply(deployment("web", 2, "nginx:1")))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let managers: Vec<_> = created
        .metadata
        .managed_fields
        .clone()
        .unwrap()
        .into_iter()
        .map(|m| (m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(
        managers,
        vec![("operator".to_string(), "Apply".to_string())]
    );

    // Re-applying the same object is a true no-op: same resourceVersion, no write, no event.
    sb.hooks().clear_request_log();
    let before = sb.resource_version();
    let again = api
        .patch("web", &pp, &Patch::Apply(deployment("web", 2, "nginx:1")))
        .await
        .unwrap();
    assert_eq!(rv(&again), rv(&created));
    assert_eq!(sb.resource_version(), before, "no change was committed");

    // Another manager changing an owned field conflicts without force.
    let err = api_error(
        api.patch(
            "web",
            &PatchParams::apply("other"),
            &Patch::Apply(deployment("web", 5, "nginx:1")),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains(".spec.replicas") && err.message.contains("operator"),
        "{}",
        err.message
    );

    // Fields a manager stops applying are removed.
    let mut with_label = deployment("web", 2, "nginx:1");
    with_label
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("extra".into(), "yes".into());
    let labelled = api
        .patch("web", &pp, &Patch::Apply(&with_label))
        .await
        .unwrap();
    assert_eq!(labelled.metadata.labels.as_ref().unwrap()["extra"], "yes");
    let unlabelled = api
        .patch("web", &pp, &Patch::Apply(deployment("web", 2, "nginx:1")))
        .await
        .unwrap();
    assert!(!unlabelled.metadata.labels.unwrap().contains_key("extra"));
    assert_eq!(
        unlabelled.metadata.generation,
        Some(1),
        "labels are metadata: no generation bump"
    );

    // A spec change bumps generation.
    let bumped = api
        .patch("web", &pp, &Patch::Apply(deployment("web", 2, "nginx:2")))
        .await
        .unwrap();
    assert_eq!(bumped.metadata.generation, Some(2));

    // Force takes the field over.
    let forced = api.patch("web", &PatchParams::apply("other").force(), &Patch::Apply(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 4}}))).await.unwrap();
    assert_eq!(forced.spec.replicas, Some(4));
    let err = api_error(
        api.patch(
            "web",
            &PatchParams::apply("operator"),
            &Patch::Apply(deployment("web", 2, "nginx:2")),
        )
        .await
        .unwrap_err(),
    );
    assert!(err.message.contains("other"), "{}", err.message);
}

#[tokio::test]
async fn patch_types() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    api.create(&PostParams::default(), &deployment("web", 1, "nginx:1"))
        .await
        .unwrap();
    let pp = PatchParams::default();

    let merged = api
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"m": "1"}}, "spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.spec.replicas, Some(2));
    assert_eq!(merged.metadata.labels.unwrap()["m"], "1");

    let jp =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]))
            .unwrap();
    let patched = api.patch("web", &pp, &Patch::<()>::Json(jp)).await.unwrap();
    assert_eq!(patched.spec.replicas, Some(3));

    let strategic = api
        .patch("web", &pp, &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "busybox"}, {"name": "web", "env": [{"name": "X", "value": "1"}]}]}}}})))
        .await
        .unwrap();
    let containers = strategic.spec.template.spec.unwrap().containers;
    assert_eq!(
        containers.len(),
        2,
        "strategic merge adds by name instead of replacing the list"
    );
    let web = containers.iter().find(|c| c.name == "web").unwrap();
    assert_eq!(web.image.as_deref(), Some("nginx:1"));
    assert_eq!(web.env.as_ref().unwrap()[0].name, "X");

    let bad = serde_json::from_value(json!([{"op": "remove", "path": "/spec/nope"}])).unwrap();
    let err = api_error(
        api.patch("web", &pp, &Patch::<()>::Json(bad))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let sb = start().await;
    install_crd(&sb).await;
    let api: Api<DynamicObject> = Api::default_namespaced_with(sb.client(), &webserver_resource());
    let mut ws = webserver("site", json!({"image": "nginx", "replicas": 1}));
    ws.data["status"] = json!({"phase": "ignored"});
    let created = api.create(&PostParams::default(), &ws).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    let st = api
        .patch_status(
            "site",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}, "spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["phase"], "Ready");
    assert_eq!(
        st.data["spec"]["replicas"], 1,
        "status writes leave spec alone"
    );
    assert_eq!(st.metadata.generation, Some(1));

    let main = api
        .patch(
            "site",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Hacked"}, "spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main.data["status"]["phase"], "Ready",
        "main writes ignore status"
    );
    assert_eq!(main.metadata.generation, Some(2));

    let applied = api
        .patch_status("site", &PatchParams::apply("ctl").force(), &Patch::Apply(json!({
            "apiVersion": "example.com/v1alpha1", "kind": "WebServer", "metadata": {"name": "site"},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}})))
        .await
        .unwrap();
    assert_eq!(applied.data["status"]["conditions"][0]["type"], "Ready");
    let mf = applied.metadata.managed_fields.unwrap();
    assert!(
        mf.iter()
            .any(|m| m.manager.as_deref() == Some("ctl")
                && m.subresource.as_deref() == Some("status"))
    );
}

#[tokio::test]
async fn crd_schema_validation() {
    let sb = start().await;
    install_crd(&sb).await;
    let api: Api<DynamicObject> = Api::default_namespaced_with(sb.client(), &webserver_resource());
    let err = api_error(
        api.create(
            &PostParams::default(),
            &webserver("bad", json!({"image": "x", "replicas": -1})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
        "{}",
        err.message
    );
    let err = api_error(
        api.create(
            &PostParams::default(),
            &webserver("bad", json!({"replicas": 1})),
        )
        .await
        .unwrap_err(),
    );
    assert!(
        err.message.contains("spec.image: Required value"),
        "{}",
        err.message
    );
    let err = api_error(
        api.patch(
            "bad",
            &PatchParams::apply("m"),
            &Patch::Apply(webserver("bad", json!({"image": "x", "replicas": "two"}))),
        )
        .await
        .unwrap_err(),
    );
    // Server-side apply makes the configuration a typed value first, which refuses the string
    // (structured-merge-diff's message, answered as 500: kubernetes/kubernetes#122480).
    assert_eq!(err.code, 500);
    assert!(
        err.message
            .ends_with(".spec.replicas: expected numeric (int or float), got string"),
        "{}",
        err.message
    );
    // Unknown fields are pruned, as with a structural schema.
    let ok = api
        .create(
            &PostParams::default(),
            &webserver("good", json!({"image": "x", "bogus": true})),
        )
        .await
        .unwrap();
    assert!(ok.data["spec"].get("bogus").is_none());
    assert_eq!(
        ok.data["spec"]["replicas"], 1,
        "schema defaults are applied"
    );
}

#[tokio::test]
async fn discovery_follows_crds() {
    let sb = start().await;
    let gvk = GroupVersionKind::gvk("example.com", "v1alpha1", "WebServer");
    let before = kube::Discovery::new(sb.client()).run().await.unwrap();
    assert!(before.resolve_gvk(&gvk).is_none());
    install_crd(&sb).await;
    let after = kube::Discovery::new(sb.client()).run().await.unwrap();
    let (ar, caps) = after
        .resolve_gvk(&gvk)
        .expect("discovery finds the CRD's kind");
    assert_eq!(ar.plural, "webservers");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(s, _)| s.plural == "webservers/status" || s.plural == "status")
    );
    let aggregated = kube::Discovery::new(sb.client())
        .run_aggregated()
        .await
        .unwrap();
    assert!(
        aggregated.resolve_gvk(&gvk).is_some(),
        "aggregated discovery finds it too"
    );
    let deploy = after
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap();
    assert_eq!(deploy.0.plural, "deployments");

    // Deleting the CRD stops serving the kind and drops its objects.
    let api: Api<DynamicObject> = Api::default_namespaced_with(sb.client(), &webserver_resource());
    api.create(
        &PostParams::default(),
        &webserver("w", json!({"image": "x"})),
    )
    .await
    .unwrap();
    let created = api.get("w").await.unwrap();
    let mut events = api
        .watch(&WatchParams::default(), &rv(&created))
        .await
        .unwrap()
        .boxed();
    let crds: Api<CustomResourceDefinition> = Api::all(sb.client());
    crds.delete("webservers.example.com", &DeleteParams::default())
        .await
        .unwrap();
    // A watch sees its objects deleted, then ends: the kind is no longer served.
    let seen: Vec<_> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut seen = Vec::new();
        while let Some(event) = events.next().await {
            seen.push(match event.unwrap() {
                WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.unwrap()),
                other => format!("{other:?}"),
            });
        }
        seen
    })
    .await
    .expect("the watch ends");
    assert_eq!(seen, vec!["DELETED w"]);
    let gone = kube::Discovery::new(sb.client()).run().await.unwrap();
    assert!(gone.resolve_gvk(&gvk).is_none());
    assert_eq!(api_error(api.get("w").await.unwrap_err()).code, 404);
    install_crd(&sb).await;
    assert!(
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "objects went with the CRD"
    );
}

#[tokio::test]
async fn raw_watch_events_and_expired_resource_version() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let start_rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &start_rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("w", json!({"a": "1"})))
        .await
        .unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .unwrap();
    // A no-op write emits nothing.
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);

    sb.expire_history();
    let mut s = api
        .watch(&WatchParams::default().timeout(2), &start_rv)
        .await
        .unwrap()
        .boxed();
    match s.try_next().await {
        Ok(Some(WatchEvent::Error(e))) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone, got {other:?}"),
    }

    // Streaming lists: initial events then a bookmark marking their end.
    api.create(&PostParams::default(), &cm("x", json!({})))
        .await
        .unwrap();
    let mut s = api
        .watch(&WatchParams::default().initial_events().timeout(5), "")
        .await
        .unwrap()
        .boxed();
    let first = s.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(ref c) if c.metadata.name.as_deref() == Some("x")));
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => assert_eq!(
            b.metadata
                .annotations
                .get("k8s.io/initial-events-end")
                .map(String::as_str),
            Some("true")
        ),
        other => panic!("expected the initial-events-end bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn reflector_survives_forced_watch_restarts() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .default_backoff()
        .applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {}
    });
    api.create(&PostParams::default(), &cm("one", json!({})))
        .await
        .unwrap();
    eventually("reflector sees one", || async { reader.state().len() == 1 }).await;
    for i in 0..3 {
        sb.hooks().close_watches();
        api.create(
            &PostParams::default(),
            &cm(&format!("after-close-{i}"), json!({})),
        )
        .await
        .unwrap();
    }
    api.delete("one", &DeleteParams::default()).await.unwrap();
    eventually("reflector converges after restarts", || async {
        let mut names: Vec<String> = reader
            .state()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        names == ["after-close-0", "after-close-1", "after-close-2"]
    })
    .await;
    let watches = sb
        .request_log()
        .iter()
        .filter(|r| r.verb == "watch" && r.resource == "configmaps")
        .count();
    assert!(
        watches >= 2,
        "the watcher re-watched after the forced closes ({watches} watches)"
    );
    // With the history expired, the watcher relists after a 410 and still converges.
    sb.expire_history();
    sb.hooks().close_watches();
    api.create(&PostParams::default(), &cm("after-expiry", json!({})))
        .await
        .unwrap();
    eventually("reflector converges after expiry", || async {
        reader.state().len() == 4
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn finalizers_and_garbage_collection() {
    let sb = start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .unwrap();
    let owner_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.clone().unwrap(), "controller": true}]);
    let child: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "child", "ownerReferences": owner_ref, "finalizers": ["example.com/hold"]}})).unwrap();
    let child = cms.create(&PostParams::default(), &child).await.unwrap();
    let grandchild_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "child", "uid": child.metadata.uid.clone().unwrap()}]);
    let grandchild: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "grandchild", "ownerReferences": grandchild_ref}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &grandchild)
        .await
        .unwrap();

    // Foreground: the owner waits for its dependent, which waits for its finalizer.
    cms.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let pending = cms.get("owner").await.unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(
        pending
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    let held = cms.get("child").await.unwrap();
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "child is being deleted but held by its finalizer"
    );
    assert!(
        cms.get_opt("grandchild").await.unwrap().is_some(),
        "grandchild stays while its owner exists"
    );

    cms.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        cms.get_opt("child").await.unwrap().is_none(),
        "finalizer gone: child deleted"
    );
    assert!(
        cms.get_opt("grandchild").await.unwrap().is_none(),
        "children of children are collected"
    );
    assert!(
        cms.get_opt("owner").await.unwrap().is_none(),
        "foreground deletion completes"
    );

    // Orphan keeps dependents and strips the reference.
    let o2 = cms
        .create(&PostParams::default(), &cm("owner2", json!({})))
        .await
        .unwrap();
    let r2 = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": o2.metadata.uid.unwrap()}]);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "kept", "ownerReferences": r2}}))
            .unwrap(),
    )
    .await
    .unwrap();
    cms.delete("owner2", &DeleteParams::orphan()).await.unwrap();
    let kept = cms.get("kept").await.unwrap();
    assert!(kept.metadata.owner_references.is_none());

    // Background: dependents of other kinds go too.
    let deploys: Api<Deployment> = Api::default_namespaced(sb.client());
    let d = deploys
        .create(&PostParams::default(), &deployment("web", 1, "nginx"))
        .await
        .unwrap();
    let r3 = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d.metadata.uid.unwrap()}]);
    let svcs: Api<Service> = Api::default_namespaced(sb.client());
    svcs.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "web", "ownerReferences": r3}, "spec": {"ports": [{"port": 80}]}})).unwrap()).await.unwrap();
    deploys
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    eventually("service collected", || async {
        svcs.get_opt("web").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn deployment_status_catches_up_unless_paused() {
    let sb = start().await;
    let api: Api<Deployment> = Api::default_namespaced(sb.client());
    api.create(&PostParams::default(), &deployment("web", 3, "nginx"))
        .await
        .unwrap();
    eventually("deployment available", || async {
        let d = api.get("web").await.unwrap();
        let s = d.status.unwrap_or_default();
        s.available_replicas == Some(3)
            && s.ready_replicas == Some(3)
            && s.updated_replicas == Some(3)
            && s.observed_generation == Some(1)
            && s.conditions.unwrap_or_default().iter().any(|c| {
                c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
            })
    })
    .await;
    let d = api.get("web").await.unwrap();
    let conds = d.status.unwrap().conditions.unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c.type_.as_deref() == Some("Progressing")
                && c.reason.as_deref() == Some("NewReplicaSetAvailable"))
    );

    sb.hooks().pause_workloads(true);
    let scaled = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(5));
    let d = api.get("web").await.unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    // While paused the status stays behind; resuming lets it catch up.
    assert_eq!(d.status.unwrap().available_replicas, Some(3));
    sb.hooks().pause_workloads(false);
    eventually("caught up after resume", || async {
        let s = api.get("web").await.unwrap().status.unwrap();
        s.available_replicas == Some(5) && s.observed_generation == Some(2)
    })
    .await;
}

#[tokio::test]
async fn fault_hooks_and_request_log() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    sb.hooks().fail_next(2, "create", "configmaps", 500);
    assert_eq!(
        api_error(
            api.create(&PostParams::default(), &cm("a", json!({})))
                .await
                .unwrap_err()
        )
        .code,
        500
    );
    sb.hooks().fail_next(1, "*", "*", 429);
    // The 429 rule is checked after the remaining 500.
    assert_eq!(
        api_error(
            api.create(&PostParams::default(), &cm("a", json!({})))
                .await
                .unwrap_err()
        )
        .code,
        500
    );
    // kube-rs retries a 429 on its own: the log shows the 429, then the retried get (404: "a" does not exist yet).
    assert_eq!(api_error(api.get("a").await.unwrap_err()).code, 404);
    let gets: Vec<u16> = sb
        .request_log()
        .iter()
        .filter(|r| r.verb == "get")
        .map(|r| r.status)
        .collect();
    assert_eq!(gets, [429, 404]);
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    sb.hooks().fail_next(1, "update", "configmaps", 409);
    let current = api.get("a").await.unwrap();
    assert_eq!(
        api_error(
            api.replace("a", &PostParams::default(), &current)
                .await
                .unwrap_err()
        )
        .code,
        409
    );

    let log = sb.request_log();
    let creates: Vec<u16> = log
        .iter()
        .filter(|r| r.verb == "create")
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [500, 500, 201]);
    assert!(
        log.iter()
            .filter(|r| r.verb == "create")
            .all(|r| r.method == "POST" && r.content_type.starts_with("application/json"))
    );
    assert_eq!(sb.write_count(), 4, "three creates and one update");

    sb.hooks().set_latency(Duration::from_millis(30));
    let t = std::time::Instant::now();
    api.get("a").await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    sb.hooks().set_latency(Duration::ZERO);
}

#[tokio::test]
async fn dynamic_api_and_namespaces() {
    let sb = start().await;
    let namespaces: Api<Namespace> = Api::all(sb.client());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    assert!(names.contains(&"default".to_string()) && names.contains(&"kube-system".to_string()));
    let ar = ApiResource::erase::<ConfigMap>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(sb.client(), "kube-system", &ar);
    let mut obj = DynamicObject::new("dyn", &ar);
    obj.data = json!({"data": {"x": "1"}});
    api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(api.get("dyn").await.unwrap().data["data"]["x"], "1");
    let missing: Api<DynamicObject> = Api::namespaced_with(sb.client(), "nope", &ar);
    let err = api_error(
        missing
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
    // Deleting a namespace removes what is in it.
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap(),
        )
        .await
        .unwrap();
    let tmp: Api<DynamicObject> = Api::namespaced_with(sb.client(), "tmp", &ar);
    tmp.create(&PostParams::default(), &obj).await.unwrap();
    namespaces
        .delete("tmp", &DeleteParams::default())
        .await
        .unwrap();
    assert!(tmp.get_opt("dyn").await.unwrap().is_none());
}

#[tokio::test]
async fn streaming_list_watcher_and_leases() {
    let sb = start().await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::default_namespaced(sb.client());
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(leases.clone(), watcher::Config::default().streaming_lists()),
    )
    .default_backoff()
    .applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {}
    });
    eventually("streaming list delivers the lease", || async {
        reader.state().len() == 1
    })
    .await;
    leases
        .patch(
            "leader",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": "you"}})),
        )
        .await
        .unwrap();
    eventually("update seen", || async {
        reader
            .state()
            .first()
            .and_then(|l| l.spec.as_ref()?.holder_identity.clone())
            .as_deref()
            == Some("you")
    })
    .await;
    assert!(
        sb.request_log()
            .iter()
            .any(|r| r.verb == "watch" && r.query.contains("sendInitialEvents=true"))
    );
    task.abort();
}

#[tokio::test]
async fn metadata_watches_and_label_filtered_children() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let labelled = |name: &str, owner: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"owner": owner}}, "data": {"big": "x".repeat(1000)}})).unwrap()
    };
    api.create(&PostParams::default(), &labelled("a", "one"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &labelled("b", "two"))
        .await
        .unwrap();
    let meta = api
        .list_metadata(&ListParams::default().labels("owner=one"))
        .await
        .unwrap();
    assert_eq!(meta.items.len(), 1);
    assert_eq!(meta.items[0].metadata.name.as_deref(), Some("a"));
    assert_eq!(
        meta.items[0].types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata"),
        "served as metadata only"
    );
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(
            Api::<kube::core::PartialObjectMeta<ConfigMap>>::default_namespaced(sb.client()),
            watcher::Config::default().labels("owner=one"),
        ),
    )
    .default_backoff()
    .applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {}
    });
    eventually("metadata reflector has a", || async {
        reader.state().len() == 1
    })
    .await;
    api.create(&PostParams::default(), &labelled("c", "one"))
        .await
        .unwrap();
    // Relabelling b into the selector is an ADDED for this watch; relabelling a out is a DELETED.
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"owner": "one"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"owner": "two"}}})),
    )
    .await
    .unwrap();
    eventually("metadata reflector follows the selector", || async {
        let mut names: Vec<String> = reader
            .state()
            .iter()
            .map(|m| m.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        names == ["b", "c"]
    })
    .await;
    let raw = sb.request_log();
    assert!(
        raw.iter()
            .any(|r| r.verb == "watch" && r.query.contains("labelSelector=owner"))
    );
    task.abort();
}

#[tokio::test]
async fn no_op_writes_emit_no_watch_events() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let pp = PatchParams::apply("operator").force();
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "steady", "labels": {"a": "b"}}, "data": {"k": "v"}});
    let first = api
        .patch("steady", &pp, &Patch::Apply(&desired))
        .await
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv(&first))
        .await
        .unwrap()
        .boxed();
    // Identical apply, identical merge patch, identical replace: nothing to see.
    api.patch("steady", &pp, &Patch::Apply(&desired))
        .await
        .unwrap();
    api.patch(
        "steady",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    let current = api.get("steady").await.unwrap();
    api.replace("steady", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(rv(&api.get("steady").await.unwrap()), rv(&first));
    // The next event is the sentinel's, proving none came before it.
    api.create(&PostParams::default(), &cm("sentinel", json!({})))
        .await
        .unwrap();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(c) => assert_eq!(c.metadata.name.as_deref(), Some("sentinel")),
        other => panic!("a no-op write produced an event: {other:?}"),
    }
}

#[tokio::test]
async fn dry_run_and_delete_collection() {
    let sb = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api
        .create(&dry, &cm("dry", json!({"a": "1"})))
        .await
        .unwrap();
    assert_eq!(would.data.unwrap()["a"], "1");
    assert!(
        api.get_opt("dry").await.unwrap().is_none(),
        "dry run stores nothing"
    );
    for (name, tier) in [("x", "a"), ("y", "a"), ("z", "b")] {
        let mut c = cm(name, json!({}));
        c.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=a"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(left, ["z"]);
}

#[tokio::test]
async fn bookmarks_and_watch_timeouts() {
    let config = SandboxConfig {
        bookmark_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let sb = Sandbox::start(config).await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let start_rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &cm("elsewhere", json!({})))
        .await
        .unwrap();
    let mut s = api
        .watch(
            &WatchParams::default().labels("none=here").timeout(30),
            &start_rv,
        )
        .await
        .unwrap()
        .boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => {
            let bookmark_rv: u64 = b.metadata.resource_version.parse().unwrap();
            assert!(
                bookmark_rv > start_rv.parse::<u64>().unwrap(),
                "the bookmark moves past changes the selector filtered out"
            );
        }
        other => panic!("expected a bookmark, got {other:?}"),
    }
    // Without bookmarks, a watch with timeoutSeconds=1 ends by itself with no events.
    let mut s = api
        .watch(
            &WatchParams::default().disable_bookmarks().timeout(1),
            &start_rv,
        )
        .await
        .unwrap()
        .boxed();
    let first = s.try_next().await.unwrap();
    assert!(
        matches!(first, Some(WatchEvent::Added(_))),
        "the replayed create: {first:?}"
    );
    let end = tokio::time::timeout(Duration::from_secs(10), s.try_next())
        .await
        .expect("the server ends the watch");
    assert!(end.unwrap().is_none());
}

#[tokio::test]
async fn custom_resource_scale_subresource() {
    let sb = start().await;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "pools.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "pools", "kind": "Pool"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready", "labelSelectorPath": ".status.selector"}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    Api::<CustomResourceDefinition>::all(sb.client())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Pool"),
        "pools",
    );
    let api: Api<DynamicObject> = Api::default_namespaced_with(sb.client(), &ar);
    let mut pool = DynamicObject::new("p", &ar);
    pool.data = json!({"spec": {"size": 2}});
    api.create(&PostParams::default(), &pool).await.unwrap();
    api.patch_status(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"ready": 2, "selector": "app=p"}})),
    )
    .await
    .unwrap();
    let scale = api.get_scale("p").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    let status = scale.status.unwrap();
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (2, Some("app=p"))
    );
    api.patch_scale(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get("p").await.unwrap().data["spec"]["size"], 5);
}

/// `/version` names the Kubernetes version whose API definitions the sandbox validates against
/// and serves at `/openapi` (1.34), so a client reading one is not told another.
#[tokio::test]
async fn version_agrees_with_the_served_definitions() {
    let sb = start().await;
    let version = sb.client().apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "34")
    );
    let openapi: Value = sb
        .client()
        .request(
            axum::http::Request::get("/openapi/v2")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(openapi["info"]["version"], version.git_version.as_str());
    // A field Kubernetes 1.34 added (container restart rules, alpha in 1.34).
    assert!(
        openapi["definitions"]["io.k8s.api.core.v1.Container"]["properties"]["restartPolicyRules"]
            .is_object()
    );
}
