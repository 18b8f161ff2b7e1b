//! Watch streams: initial events, replay from a resourceVersion, live changes, bookmarks, 410 Gone, timeouts.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::convert::{served_cow, to_served};
use crate::api::errors::{ApiError, Result};
use crate::api::resources::{CRD_STORAGE, ResourceInfo, crd_storage};
use crate::api::selectors::{FieldSelector, LabelSelector};
use crate::api::store::{Change, ChangeType};
use crate::http::table::{partial_metadata, table};
use crate::shared::Shared;

/// Parameters of a watch request.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchParams {
    /// `resourceVersion` (empty: start now with the current state as ADDED events).
    pub(crate) resource_version: String,
    /// `sendInitialEvents=true`.
    pub(crate) send_initial_events: bool,
    /// `allowWatchBookmarks=true`.
    pub(crate) bookmarks: bool,
    /// `timeoutSeconds`.
    pub(crate) timeout: Option<Duration>,
    /// Only this namespace.
    pub(crate) namespace: Option<String>,
    /// `labelSelector`.
    pub(crate) labels: LabelSelector,
    /// `fieldSelector`.
    pub(crate) fields: FieldSelector,
    /// Send objects as `PartialObjectMetadata`.
    pub(crate) metadata_only: bool,
    /// Send objects as one-row `Table`s (what `kubectl get --watch` asks for).
    pub(crate) table: bool,
}

struct Filter {
    res: Arc<ResourceInfo>,
    params: WatchParams,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.params
            .namespace
            .as_deref()
            .is_none_or(|n| obj["metadata"]["namespace"].as_str() == Some(n))
            && self.params.labels.matches(obj)
            // Field selectors read the served form; converting costs a copy of the object,
            // for every event and every watch, so only a watch that has one pays for it.
            && (self.params.fields.is_empty()
                || self.params.fields.matches(&to_served(&self.res, obj)))
    }

    /// The event a change produces for this watcher, if any, as a line of JSON.
    fn event(&self, c: &Change) -> Option<Bytes> {
        if c.storage != self.res.storage {
            return None;
        }
        let now = self.matches(&c.object);
        let before = c.old.as_ref().is_some_and(|o| self.matches(o));
        let kind = match (c.kind, before, now) {
            (ChangeType::Added, _, true) => "ADDED",
            (ChangeType::Modified, true, true) => "MODIFIED",
            (ChangeType::Modified, false, true) => "ADDED",
            (ChangeType::Modified, true, false) => "DELETED",
            (ChangeType::Deleted, _, true) => "DELETED",
            _ => return None,
        };
        Some(event_line(kind, &self.render(&c.object)))
    }

    /// Whether `c` deletes the CRD serving this watch's resource: the real server then ends the
    /// watch (after the DELETED events of its objects), and clients relist into a 404.
    fn ends_watch(&self, c: &Change) -> bool {
        self.res.custom
            && c.kind == ChangeType::Deleted
            && c.storage == CRD_STORAGE
            && crd_storage(&c.object) == self.res.storage
    }

    /// The object as this watch sends it (the stored one itself when that is the served form).
    fn render<'a>(&self, obj: &'a Value) -> Cow<'a, Value> {
        if !self.params.table && !self.params.metadata_only {
            return served_cow(&self.res, obj);
        }
        let served = to_served(&self.res, obj);
        if self.params.table {
            let rv = served["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            Cow::Owned(table(&self.res, &[served], rv))
        } else {
            Cow::Owned(partial_metadata(&served))
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": {"kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": meta}})
    }
}

/// One watch event as a line of JSON, `type` before `object` as the real server writes it (Go's
/// field order; serde_json would sort the keys). Clients that decode an event as a tagged enum
/// (kube-rs) read the object directly when the tag comes first, and buffer it otherwise, which
/// changes what they can decode.
fn line(v: &Value) -> Bytes {
    match (v.get("type").and_then(Value::as_str), v.get("object")) {
        (Some(kind), Some(object)) => event_line(kind, object),
        _ => {
            let mut b = serde_json::to_vec(v).unwrap_or_default();
            b.push(b'\n');
            Bytes::from(b)
        }
    }
}

/// The line of one watch event of type `kind` (see [`line`]).
fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(b"{\"type\":");
    let written = serde_json::to_writer(&mut b, kind).and_then(|()| {
        b.extend_from_slice(b",\"object\":");
        serde_json::to_writer(&mut b, object)
    });
    if written.is_err() {
        b.clear();
    } else {
        b.push(b'}');
    }
    b.push(b'\n');
    Bytes::from(b)
}

/// Starts a watch; the returned body streams newline-delimited watch events.
pub(crate) fn start(
    shared: Arc<Shared>,
    res: Arc<ResourceInfo>,
    params: WatchParams,
) -> Result<Body> {
    let filter = Filter { res, params };
    let mut initial: Vec<Bytes> = Vec::new();
    let mut gone = false;
    let (mut rx, start_rv) = {
        let mut store = shared.lock();
        store.expire_old();
        let rx = store.subscribe_to(&filter.res.storage);
        let rv_param = filter.params.resource_version.as_str();
        let snapshot = filter.params.send_initial_events || rv_param.is_empty() || rv_param == "0";
        if snapshot {
            for o in store.list(&filter.res.storage, filter.params.namespace.as_deref()) {
                if filter.matches(o) {
                    initial.push(event_line("ADDED", &filter.render(o)));
                }
            }
            if filter.params.send_initial_events && filter.params.bookmarks {
                initial.push(line(&filter.bookmark(store.rv(), true)));
            }
        } else {
            let rv: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?;
            match store.since(rv, &filter.res.storage) {
                Some(changes) => initial.extend(changes.iter().filter_map(|c| filter.event(c))),
                None => {
                    initial.push(event_line("ERROR", &ApiError::gone(rv_param).to_status()));
                    gone = true;
                }
            }
        }
        (rx, store.rv())
    };
    shared.hooks.watch_started();
    if gone {
        shared.hooks.watch_gone();
    }
    let mut close = shared.hooks.close_signal();
    close.borrow_and_update();
    let timeout = filter.params.timeout.unwrap_or(Duration::from_secs(1800));
    let bookmark_every = shared.config.bookmark_interval;
    let stream = async_stream::stream! {
        for e in initial {
            yield Ok::<Bytes, std::convert::Infallible>(e);
        }
        if gone {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        let mut last_rv = start_rv;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = close.changed() => break,
                _ = ticker.tick(), if filter.params.bookmarks => {
                    // Like the watch cache's progress: once every change sent so far is read
                    // (changes are sent under the store lock), the bookmark carries the
                    // current resourceVersion, so a resume needs no history of other resources.
                    {
                        let store = shared.lock();
                        if rx.is_empty() {
                            last_rv = last_rv.max(store.rv());
                        }
                    }
                    yield Ok(line(&filter.bookmark(last_rv, false)));
                }
                msg = rx.recv() => match msg {
                    Ok(c) => {
                        if c.rv <= start_rv {
                            continue;
                        }
                        last_rv = c.rv;
                        if let Some(e) = filter.event(&c) {
                            yield Ok(e);
                        }
                        if filter.ends_watch(&c) {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        shared.hooks.watch_lagged();
                        break;
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
    };
    Ok(Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_event_line_has_its_type_first() {
        let event = json!({"type": "ADDED", "object": {"kind": "ConfigMap", "apiVersion": "v1"}});
        assert_eq!(
            &super::line(&event)[..],
            b"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}}\n"
        );
    }
}
