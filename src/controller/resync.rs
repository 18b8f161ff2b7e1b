//! The periodic resyncs of one controller's settled resources: a due time per resource, not a kube-runtime scheduler entry.
//!
//! A reconcile that ends with "look again after `reconcilePeriod`" would leave kube-runtime's
//! scheduler an entry per resource: its `ObjectRef` (name, namespace, uid, resourceVersion and
//! the kind) held twice, in a hash map and a delay queue, about 900 bytes per resource at
//! 10,000 resources (heaptrack). Here a resource costs its `namespace/name` once and a due time.
//! When one is due, its reference is sent to the controller like any other trigger; a resource
//! reconciled again meanwhile (a change, a chart reload) has a newer due time, and the older one
//! is skipped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use kube::ResourceExt as _;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::custom_resource::{CustomResource, Kind};

/// The due resyncs of one controller.
#[derive(Debug, Default)]
pub(crate) struct Resyncs {
    state: Mutex<State>,
    /// Woken when a resync becomes the earliest.
    earlier: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Each resource's current due time, by `namespace/name` (`/name` if cluster-scoped).
    due: HashMap<Arc<str>, Instant>,
    /// Due times in order, superseded ones included until they come up.
    queue: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
}

/// `namespace/name` of a resource; names and namespaces never hold a `/`.
fn key_of(object: &CustomResource) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

impl Resyncs {
    /// Takes over the outcome of a reconcile of `object`: "look again after `period`" is kept
    /// here and becomes "wait for a change" for kube-runtime; any other outcome (an error, a
    /// sooner recheck, nothing) drops the resource's resync and is returned as it is.
    pub(crate) fn settle<E>(
        &self,
        object: &CustomResource,
        period: Duration,
        outcome: Result<Action, E>,
    ) -> Result<Action, E> {
        let key = key_of(object);
        match outcome {
            Ok(action) if !period.is_zero() && action == Action::requeue(period) => {
                // A period beyond the clock's range means never.
                if let Some(at) = Instant::now().checked_add(period) {
                    self.schedule(&key, at);
                } else {
                    self.forget_key(&key);
                }
                Ok(Action::await_change())
            }
            other => {
                self.forget_key(&key);
                other
            }
        }
    }

    /// Drops the resync of a deleted resource.
    pub(crate) fn forget(&self, object: &CustomResource) {
        self.forget_key(&key_of(object));
    }

    fn forget_key(&self, key: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.due.remove(key);
        }
    }

    fn schedule(&self, key: &str, at: Instant) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let key: Arc<str> = match state.due.get_key_value(key) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(key),
        };
        let earliest = state
            .queue
            .peek()
            .is_none_or(|Reverse((first, _))| at < *first);
        state.due.insert(key.clone(), at);
        state.queue.push(Reverse((at, key)));
        // Superseded entries are dropped as they come up; under churn they could pile up
        // behind a long period, so they are swept once they outnumber the live ones.
        if state.queue.len() > 2 * state.due.len() + 64 {
            let State { due, queue } = &mut *state;
            queue.retain(|Reverse((at, key))| due.get(key) == Some(at));
        }
        drop(state);
        if earliest {
            self.earlier.notify_one();
        }
    }

    /// The next due resource, waiting for it: `Err` holds how long until the earliest, if any.
    fn next_due(&self, now: Instant) -> Result<Arc<str>, Option<Instant>> {
        let Ok(mut state) = self.state.lock() else {
            return Err(None);
        };
        while let Some(Reverse((at, key))) = state.queue.peek().cloned() {
            if state.due.get(&key) != Some(&at) {
                state.queue.pop();
                continue;
            }
            if at > now {
                return Err(Some(at));
            }
            state.queue.pop();
            state.due.remove(&key);
            return Ok(key);
        }
        Err(None)
    }

    /// The references of resources as their resyncs come due, for `Controller::reconcile_on`.
    /// Sleeps until the earliest (no wakeups while none is due).
    pub(crate) fn due(
        self: Arc<Self>,
        kind: Kind,
    ) -> impl Stream<Item = ObjectRef<CustomResource>> {
        futures::stream::unfold(self, move |resyncs| {
            let kind = kind.clone();
            async move {
                // A notification with nobody waiting is kept for the next wait (a permit), so
                // one sent between looking and waiting is not lost.
                loop {
                    match resyncs.next_due(Instant::now()) {
                        Ok(key) => {
                            let (namespace, name) = key.split_once('/').unwrap_or(("", &key));
                            let mut reference = ObjectRef::new_with(name, kind);
                            if !namespace.is_empty() {
                                reference = reference.within(namespace);
                            }
                            return Some((reference, resyncs));
                        }
                        Err(Some(at)) => {
                            tokio::select! {
                                () = tokio::time::sleep_until(at) => {}
                                () = resyncs.earlier.notified() => {}
                            }
                        }
                        Err(None) => resyncs.earlier.notified().await,
                    }
                }
            }
        })
    }

    /// How many resources have a resync due.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().map_or(0, |state| state.due.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;
    use kube::api::ApiResource;
    use kube::core::GroupVersionKind;

    fn kind() -> Kind {
        Kind::from(ApiResource::from_gvk(&GroupVersionKind::gvk(
            "example.com",
            "v1",
            "WebServer",
        )))
    }

    fn resource(namespace: Option<&str>, name: &str) -> CustomResource {
        let mut object = kube::api::DynamicObject::new(
            name,
            &ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "WebServer")),
        );
        object.metadata.namespace = namespace.map(str::to_string);
        CustomResource(object, None)
    }

    const PERIOD: Duration = Duration::from_secs(600);

    #[tokio::test(start_paused = true)]
    async fn a_settled_resource_comes_back_after_the_period_and_only_then() {
        let resyncs = Arc::new(Resyncs::default());
        let web = resource(Some("ns"), "web");
        let outcome: Result<Action, ()> = Ok(Action::requeue(PERIOD));
        assert_eq!(
            resyncs.settle(&web, PERIOD, outcome),
            Ok(Action::await_change())
        );
        let mut due = Box::pin(resyncs.clone().due(kind()));
        let started = Instant::now();
        let reference = due.next().await;
        assert_eq!(started.elapsed(), PERIOD);
        let reference = reference.expect("a due resync");
        assert_eq!(reference.name, "web");
        assert_eq!(reference.namespace.as_deref(), Some("ns"));
        assert_eq!(resyncs.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_reconcile_supersedes_the_due_time_and_others_drop_it() {
        let resyncs = Arc::new(Resyncs::default());
        let (a, b, c) = (
            resource(Some("ns"), "a"),
            resource(None, "b"),
            resource(Some("ns"), "c"),
        );
        let ok = || -> Result<Action, ()> { Ok(Action::requeue(PERIOD)) };
        let _ = resyncs.settle(&a, PERIOD, ok());
        let _ = resyncs.settle(&b, PERIOD, ok());
        let _ = resyncs.settle(&c, PERIOD, ok());
        tokio::time::advance(Duration::from_secs(100)).await;
        // `a` reconciled again: due 100 s later than first planned.
        let _ = resyncs.settle(&a, PERIOD, ok());
        // `c` failed: kube-runtime's backoff has it now.
        assert_eq!(resyncs.settle(&c, PERIOD, Err(())), Err(()));
        // A sooner recheck stays with kube-runtime.
        let sooner = Action::requeue(Duration::from_secs(30));
        let _ = resyncs.settle::<()>(&c, PERIOD, Ok(sooner.clone()));
        assert_eq!(resyncs.len(), 2);
        let mut due = Box::pin(resyncs.clone().due(kind()));
        let started = Instant::now();
        let first = due.next().await.expect("b is due");
        assert_eq!((first.name.as_str(), first.namespace.clone()), ("b", None));
        assert_eq!(started.elapsed(), Duration::from_secs(500));
        let second = due.next().await.expect("a is due");
        assert_eq!(second.name, "a");
        assert_eq!(started.elapsed(), PERIOD);
        // Nothing else comes: c left, a deleted resource forgets its resync.
        let _ = resyncs.settle(&c, PERIOD, ok());
        resyncs.forget(&c);
        let nothing = tokio::time::timeout(PERIOD * 2, due.next()).await;
        assert!(nothing.is_err(), "no resync after a forget");
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_resync_wakes_a_waiting_stream() {
        let resyncs = Arc::new(Resyncs::default());
        let mut due = Box::pin(resyncs.clone().due(kind()));
        let waiting = tokio::spawn(async move { due.next().await.map(|r| r.name) });
        tokio::task::yield_now().await;
        let short = Duration::from_secs(5);
        let _ = resyncs.settle::<()>(
            &resource(Some("ns"), "w"),
            short,
            Ok(Action::requeue(short)),
        );
        let started = Instant::now();
        assert_eq!(waiting.await.ok().flatten().as_deref(), Some("w"));
        assert_eq!(started.elapsed(), short);
    }

    #[test]
    fn superseded_entries_do_not_pile_up() {
        let resyncs = Resyncs::default();
        let web = resource(Some("ns"), "web");
        for _ in 0..1_000 {
            let _ = resyncs.settle::<()>(&web, PERIOD, Ok(Action::requeue(PERIOD)));
        }
        let queued = resyncs.state.lock().map_or(0, |s| s.queue.len());
        assert!(
            queued <= 2 + 64 + 1,
            "{queued} entries queued for one resource"
        );
        assert_eq!(resyncs.len(), 1);
    }
}
