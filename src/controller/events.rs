//! Kubernetes Events (events.k8s.io/v1) about custom resources, de-duplicated.
//!
//! An event identical to the last one published for the same object (same type, reason and
//! note) within [`REPEAT_WINDOW`] is not sent at all; any other is a new Event object. (kube's
//! `Recorder` folds every repeat of a type and reason into a series of the *first* event, so a
//! new failure would show the old failure's message, "x2".)
//!
//! The memory this takes is bounded: at most [`MAX_REMEMBERED`] entries, each a uid, a reason
//! and a hash of the note (never the note itself, which may be long).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use super::reason::Reason;

/// Identical events for one object are sent at most once in this window.
pub(crate) const REPEAT_WINDOW: Duration = Duration::from_secs(600);

/// How many recent events are remembered before old ones are dropped.
const MAX_REMEMBERED: usize = 10_000;

type Key = (String, bool, Reason);

/// Publishes events (events.k8s.io/v1), skipping recent duplicates.
pub(crate) struct EventSink {
    client: kube::Client,
    /// `reportingInstance`: the pod name when known.
    instance: String,
    /// The hash of the last note sent for each key, and when.
    last: Mutex<HashMap<Key, (u64, Instant)>>,
}

/// A note as the de-duplication memory keeps it.
fn note_hash(note: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    note.hash(&mut hasher);
    hasher.finish()
}

impl EventSink {
    /// A sink reporting as `tera-operator`.
    pub(crate) fn new(client: kube::Client) -> Self {
        Self {
            client,
            instance: std::env::var("POD_NAME")
                .unwrap_or_else(|_| crate::render::MANAGED_BY.to_string()),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event should be sent now (and remembers it if so).
    fn should_send(&self, key: Key, note: &str) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        let now = Instant::now();
        let hash = note_hash(note);
        if let Some((previous, at)) = last.get(&key)
            && *previous == hash
            && now.duration_since(*at) < REPEAT_WINDOW
        {
            return false;
        }
        if last.len() >= MAX_REMEMBERED && !last.contains_key(&key) {
            last.retain(|_, (_, at)| now.duration_since(*at) < REPEAT_WINDOW);
            if last.len() >= MAX_REMEMBERED {
                // Still full of recent events: forget the older half (a forgotten event may
                // be sent once more, nothing worse).
                let mut times: Vec<Instant> = last.values().map(|(_, at)| *at).collect();
                let middle = times.len() / 2;
                let (_, median, _) = times.select_nth_unstable(middle);
                let median = *median;
                last.retain(|_, (_, at)| *at > median);
            }
        }
        last.insert(key, (hash, now));
        true
    }

    /// Forgets everything remembered about the object with `uid` (it was deleted).
    pub(crate) fn forget(&self, uid: &str) {
        if let Ok(mut last) = self.last.lock() {
            last.retain(|k, _| k.0 != uid);
        }
    }

    /// Publishes an event about `regarding`; returns whether a request was sent. Failures are
    /// logged, never returned: an event is not worth failing a reconcile for.
    pub(crate) async fn publish(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: Reason,
        action: &str,
        note: String,
    ) -> bool {
        let uid = regarding.uid.clone().unwrap_or_default();
        if !self.should_send((uid, warning, reason), &note) {
            return false;
        }
        let mut note = note;
        if note.len() > 1000 {
            let mut cut = 997;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
            note.push_str("...");
        }
        let event = self.event(regarding, warning, reason, action, note);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(reason = reason.as_str(), error = %e, "publishing an event failed");
        }
        true
    }

    /// The Event object, named as kubectl and client-go name theirs: `<object>.<hex time>`.
    fn event(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: Reason,
        action: &str,
        note: String,
    ) -> Event {
        let now = Timestamp::now();
        Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    regarding
                        .name
                        .as_deref()
                        .unwrap_or(crate::render::MANAGED_BY),
                    now.as_nanosecond()
                )),
                // A cluster-scoped object's events go to `default`, as the API server expects.
                namespace: Some(
                    regarding
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".to_string()),
                ),
                ..ObjectMeta::default()
            },
            action: Some(action.to_string()),
            reason: Some(reason.as_str().to_string()),
            note: Some(note),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_string()),
            regarding: Some(regarding.clone()),
            event_time: Some(MicroTime(now)),
            reporting_controller: Some(crate::render::MANAGED_BY.to_string()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> Option<EventSink> {
        // A client is never used by should_send; build one against an unroutable address.
        let config = kube::Config::new("http://127.0.0.1:9".parse().ok()?);
        let client = kube::Client::try_from(config).ok()?;
        Some(EventSink::new(client))
    }

    #[tokio::test]
    async fn identical_events_are_sent_once() {
        let Some(sink) = sink() else {
            panic!("could not build a client");
        };
        let key = || ("uid-1".to_string(), true, Reason::InvalidSpec);
        assert!(sink.should_send(key(), "bad replicas"));
        assert!(!sink.should_send(key(), "bad replicas"));
        assert!(
            sink.should_send(key(), "bad image"),
            "a different note is a new event"
        );
        assert!(sink.should_send(("uid-2".into(), true, Reason::InvalidSpec), "bad image"));
        sink.forget("uid-1");
        assert!(sink.should_send(key(), "bad image"));
    }

    #[tokio::test]
    async fn the_memory_is_bounded_even_when_every_event_is_recent() {
        let Some(sink) = sink() else {
            panic!("could not build a client");
        };
        let long_note = "x".repeat(1_000);
        for i in 0..MAX_REMEMBERED + 10 {
            assert!(sink.should_send((format!("uid-{i}"), true, Reason::InvalidSpec), &long_note));
        }
        let last = sink.last.lock().unwrap();
        assert!(last.len() <= MAX_REMEMBERED, "{} remembered", last.len());
        // The newest is remembered: its repeat is still suppressed.
        drop(last);
        let newest = (
            format!("uid-{}", MAX_REMEMBERED + 9),
            true,
            Reason::InvalidSpec,
        );
        assert!(!sink.should_send(newest, &long_note));
    }
}
