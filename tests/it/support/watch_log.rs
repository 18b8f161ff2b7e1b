//! A watch recorded as it goes: every event's type and object, for tests that replay the steps a controller took.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::Value;

use super::eventually;

/// The events seen so far, oldest first: (`ADDED`/`MODIFIED`/`DELETED`, the object as JSON).
pub type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// Records the objects of `api` now (as ADDED) and every watch event (type, object) after.
pub async fn record<K>(api: Api<K>) -> Log
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + Send
        + 'static,
{
    let to_json = |o: &K| serde_json::to_value(o).expect("serializes");
    let log: Log = Arc::default();
    let list = api.list(&Default::default()).await.expect("list");
    let rv = list.metadata.resource_version.unwrap_or_default();
    for o in &list.items {
        log.lock().unwrap().push(("ADDED".to_string(), to_json(o)));
    }
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let out = log.clone();
    tokio::spawn(async move {
        while let Some(Ok(ev)) = stream.next().await {
            let (ty, o) = match ev {
                WatchEvent::Added(o) => ("ADDED", o),
                WatchEvent::Modified(o) => ("MODIFIED", o),
                WatchEvent::Deleted(o) => ("DELETED", o),
                _ => continue,
            };
            out.lock().unwrap().push((ty.to_string(), to_json(&o)));
        }
    });
    log
}

/// The log once `f` holds for it (the watch may deliver after a read saw the result).
pub async fn logged(
    log: &Log,
    what: &str,
    f: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    eventually(what, || async {
        let events = log.lock().unwrap().clone();
        f(&events).then_some(events)
    })
    .await
}
