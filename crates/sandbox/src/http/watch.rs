//! Watch streams: initial events, replay from a resourceVersion, live changes, bookmarks, 410 Gone, timeouts.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::convert::{is_served_form, served_cow, to_served};
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
        if self.sends_stored_form(&c.object) {
            // The text the store keeps of this version: written once for every watch of it
            // (and for the history once a later change supersedes it).
            return Some(event_line_with(kind, &c.object_text()));
        }
        Some(event_line(kind, &self.render(&c.object)))
    }

    /// Whether this watch sends `obj` exactly as it is stored (see [`Filter::render`]).
    fn sends_stored_form(&self, obj: &Value) -> bool {
        !self.params.table && !self.params.metadata_only && is_served_form(&self.res, obj)
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

/// [`event_line`] of an object already written as compact JSON text (`serde_json::to_vec`):
/// the same line.
fn event_line_with(kind: &str, object: &[u8]) -> Bytes {
    if object.is_empty() {
        // What event_line writes when the object cannot be written.
        return Bytes::from_static(b"\n");
    }
    let mut b = Vec::with_capacity(object.len() + kind.len() + 24);
    b.extend_from_slice(b"{\"type\":");
    if serde_json::to_writer(&mut b, kind).is_err() {
        return Bytes::from_static(b"\n");
    }
    b.extend_from_slice(b",\"object\":");
    b.extend_from_slice(object);
    b.extend_from_slice(b"}\n");
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

    use super::*;
    use crate::api::store::Store;

    #[test]
    fn watches_share_one_text_of_a_version_and_send_the_same_line() {
        let mut store = Store::new(100);
        let mut rx = store.subscribe_to("/configmaps");
        let res = store.registry.find("", "v1", "configmaps").unwrap().clone();
        let cm = |v: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "d", "labels": {"k": "v"}},
                "data": {"text": "quote \" backslash \\ newline \n tab \t ctl \u{1} é ✓ 🎉"},
                "n": v})
        };
        store.put(
            "/configmaps",
            cm(json!([1.5e300, 0.1, -9007199254740993i64, 1e-7, null])),
        );
        let first = rx.try_recv().unwrap();
        let watch = |params: WatchParams| Filter {
            res: res.clone(),
            params,
        };
        let plain = watch(WatchParams::default());
        let own = event_line("ADDED", &served_cow(&res, &first.object));
        assert!(
            first.text.get().is_none(),
            "nothing written before a watch asks"
        );
        assert_eq!(plain.event(&first).unwrap(), own, "byte for byte");
        let text = first.text.get().cloned().unwrap();
        assert_eq!(&*text, &serde_json::to_vec(&*first.object).unwrap()[..]);
        // Another watch of the same form sends the same line from the same text.
        let selected = watch(WatchParams {
            labels: LabelSelector::parse("k=v").unwrap(),
            ..Default::default()
        });
        assert_eq!(selected.event(&first).unwrap(), own);
        assert!(Arc::ptr_eq(first.text.get().unwrap(), &text));
        // A watch of another form writes its own line.
        let meta = watch(WatchParams {
            metadata_only: true,
            ..Default::default()
        });
        let meta_line = meta.event(&first).unwrap();
        assert_eq!(
            meta_line,
            event_line("ADDED", &partial_metadata(&first.object))
        );
        // The next version: the history packs the superseded one from the same text, and
        // a watch resuming from the past is sent the same lines as a live one.
        store.put("/configmaps", cm(json!({"x": "y"})));
        let second = rx.try_recv().unwrap();
        let live = plain.event(&second).unwrap();
        let replayed: Vec<Bytes> = store
            .since(first.rv - 1, "/configmaps")
            .unwrap()
            .iter()
            .filter_map(|c| plain.event(c))
            .collect();
        assert_eq!(replayed, [own, live]);
    }

    #[test]
    fn an_event_line_has_its_type_first() {
        let event = json!({"type": "ADDED", "object": {"kind": "ConfigMap", "apiVersion": "v1"}});
        assert_eq!(
            &super::line(&event)[..],
            b"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}}\n"
        );
    }
}
