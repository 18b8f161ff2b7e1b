//! A bounded change history, as etcd compaction and the watch cache bound a real API server's:
//! paged lists are consistent snapshots while the history reaches back to their first page,
//! expired continue tokens and too-old resourceVersions answer 410 Gone, and the operator's
//! watchers relist after a 410.
//!
//! Expected behaviour, from <https://kubernetes.io/docs/reference/using-api/api-concepts/>
//! ("Retrieving large results sets in chunks": every chunk is served at the resourceVersion of
//! the first; an expired continue token answers 410 with a token continuing at the latest state;
//! "Resource versions" / "Efficient detection of changes": a too-old resourceVersion answers
//! 410 Gone and clients relist), and the etcd3 storage's messages
//! (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use tera_sandbox::{Sandbox, SandboxConfig};

use crate::support::{Harness, configmaps, deployments, example, webservers};

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": v}})).unwrap()
}

fn names(list: &kube::core::ObjectList<ConfigMap>) -> Vec<String> {
    list.items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect()
}

async fn seeded() -> (Sandbox, Api<ConfigMap>) {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    for name in ["a", "b", "c", "d", "e"] {
        api.create(&PostParams::default(), &cm(name, "1"))
            .await
            .unwrap();
    }
    (sb, api)
}

#[tokio::test]
async fn paged_lists_are_one_consistent_snapshot() {
    let (_sb, api) = seeded().await;
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(&first), ["a", "b"]);
    let rv = first.metadata.resource_version.clone().unwrap();
    let token = first.metadata.continue_.clone().unwrap();

    api.delete("d", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("f", "1"))
        .await
        .unwrap();
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();

    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(
        names(&second),
        ["c", "d"],
        "d was deleted after the first page"
    );
    assert_eq!(
        second.items[0].data.as_ref().unwrap()["v"],
        "1",
        "c as it was"
    );
    assert_eq!(
        second.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    let third = api
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(names(&third), ["e"], "f was created after the first page");
    assert!(third.metadata.continue_.is_none());

    let now = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(names(&now), ["a", "b", "c", "e", "f"]);
}

#[tokio::test]
async fn an_expired_continue_token_answers_410_with_a_token_for_the_rest() {
    let (sb, api) = seeded().await;
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap();
    api.delete("d", &DeleteParams::default()).await.unwrap();
    sb.expire_history();

    let err = api_error(
        api.list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (410, "Expired"));
    assert!(err.message.starts_with(
        "The provided continue parameter is too old to display a consistent list result."
    ));
    // kube's Status type drops `metadata`, so the token in it is read over plain HTTP.
    let status = raw_get(
        &sb,
        &format!("/api/v1/namespaces/default/configmaps?limit=2&continue={token}"),
    )
    .await;
    assert_eq!(status["code"], 410);
    let fresh = status["metadata"]["continue"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&fresh))
        .await
        .unwrap();
    assert_eq!(names(&rest), ["c", "e"], "the rest, at the latest state");
}

/// GET over a plain TCP connection, returning the JSON body whatever the status.
async fn raw_get(sb: &Sandbox, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    serde_json::from_str(&body[start..end]).unwrap_or_default()
}

#[tokio::test]
async fn lists_at_a_resource_version_follow_resource_version_match() {
    let (sb, api) = seeded().await;
    let then = api.list(&ListParams::default()).await.unwrap();
    let rv = then.metadata.resource_version.clone().unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();

    let exact = ListParams::default()
        .at(&rv)
        .matching(kube::api::VersionMatch::Exact);
    let old = api.list(&exact).await.unwrap();
    assert_eq!(
        names(&old),
        ["a", "b", "c", "d", "e"],
        "Exact reads the past"
    );
    let not_older = ListParams::default()
        .at(&rv)
        .matching(kube::api::VersionMatch::NotOlderThan);
    assert_eq!(
        names(&api.list(&not_older).await.unwrap()),
        ["b", "c", "d", "e"]
    );

    let too_new = (rv.parse::<u64>().unwrap() + 1000).to_string();
    // kube's default client retries a 504 (up to 15 times, honouring Retry-After): ask once.
    let mut config = kube::Config::new(sb.url().parse().unwrap());
    config.default_namespace = "default".into();
    config.default_retry = false;
    let once: Api<ConfigMap> = Api::default_namespaced(kube::Client::try_from(config).unwrap());
    let err = api_error(
        once.list(&ListParams::default().at(&too_new))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (504, "Timeout"));
    let details = err.details.unwrap();
    assert_eq!(details.retry_after_seconds, 1, "retry after a second");
    assert_eq!(details.causes[0].reason, "ResourceVersionTooLarge");

    let raw = raw_get(
        &sb,
        "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(raw["code"], 422);
    assert_eq!(
        raw["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );

    sb.expire_history();
    let err = api_error(api.list(&exact).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (410, "Expired"));
    assert_eq!(
        err.message,
        "The resourceVersion for the provided list is too old."
    );
}

#[tokio::test]
async fn changes_older_than_the_history_window_expire() {
    let sb = Sandbox::start(SandboxConfig {
        history_window: Duration::ZERO,
        ..Default::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &cm("late", "1"))
        .await
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match events.try_next().await {
        Ok(Some(WatchEvent::Error(e))) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone for a change outside the window, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_relists_after_410_gone_and_keeps_reconciling() {
    // No bookmark during the test: one arriving after the write below would bring the watch to
    // the newest version, from which Kubernetes, too, lets a watch resume.
    let mut h = Harness::without_operator_on(
        None,
        SandboxConfig {
            workload_delay: Duration::from_millis(50),
            bookmark_interval: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .await;
    h.start_operator(Vec::new(), false).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    // Ready: its Deployment's rollout has taken its last step, so no status write of the
    // operator's moves the WebServer watch past the write below.
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    let seen = h.sandbox.request_log().len();
    // A write the WebServer watch is not told of, then the history goes and the watches close
    // (in that order: a watch reopened before the history went would go on from where it was):
    // the watch resumes from a version older than the compacted one, and gets 410 Gone.
    h.create(
        &configmaps(),
        "default",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bump\n",
    )
    .await;
    h.sandbox.expire_history();
    h.sandbox.hooks().close_watches();
    // A second node port: two Services never share one (the sandbox refuses it, as Kubernetes does).
    let second = example("webserver")
        .replacen("name: hello", "name: second", 1)
        .replacen("nodePort: 30080", "nodePort: 30081", 1);
    assert!(!second.contains("30080") && second.contains("name: second"));
    h.create(&webservers(), "default", &second).await;
    h.get(&deployments(), "default", "second").await;

    let relisted = h.sandbox.request_log()[seen..]
        .iter()
        .any(|r| r.verb == "list" && r.resource == "webservers");
    assert!(relisted, "the watcher relisted WebServers after the 410");
    let watches = h.sandbox.hooks().watch_stats();
    assert!(
        watches.gone >= 1,
        "the sandbox counted the 410: {watches:?}"
    );
    assert_eq!(watches.lagged, 0, "no watch fell behind: {watches:?}");
}

/// A watch is sent only its own resource's changes, as the watch cache dispatches per resource
/// type, yet its bookmarks move past other resources' changes once it has read its own: resuming
/// from such a bookmark needs no history of them, even after the history is gone.
#[tokio::test]
async fn bookmarks_move_past_other_resources_changes() {
    let sb = Sandbox::start(SandboxConfig {
        bookmark_interval: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(sb.client());
    let secrets: Api<Secret> = Api::default_namespaced(sb.client());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut watch = api
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap();
    let secret = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let secret_rv: u64 = secret.metadata.resource_version.unwrap().parse().unwrap();
    let bookmark_rv = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watch.try_next().await.unwrap() {
                Some(WatchEvent::Bookmark(b)) => {
                    let at: u64 = b.metadata.resource_version.parse().unwrap();
                    if at >= secret_rv {
                        return at;
                    }
                }
                other => panic!("a ConfigMap watch got {other:?}"),
            }
        }
    })
    .await
    .expect("a bookmark past the Secret's resourceVersion");
    sb.expire_history();
    api.create(&PostParams::default(), &cm("after", "1"))
        .await
        .unwrap();
    let mut resumed = api
        .watch(
            &WatchParams::default().disable_bookmarks().timeout(5),
            &bookmark_rv.to_string(),
        )
        .await
        .unwrap()
        .boxed();
    match resumed.try_next().await.unwrap() {
        Some(WatchEvent::Added(c)) => assert_eq!(c.metadata.name.as_deref(), Some("after")),
        other => panic!("resuming from the bookmark: {other:?}"),
    }
}
