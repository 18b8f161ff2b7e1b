//! Reconcile requests caused by children's changes, each resource's merged over a short window.
//!
//! A child's controller moves it through several states in quick succession: a Deployment's
//! rollout observes the new generation, creates a ReplicaSet, counts updated replicas, then
//! available ones, each a change its owner hears of. Reconciling on every one renders and
//! compares each time, and writes a status for every step its template shows. So the first
//! change of a resource's children opens a window of [`CHILD_CHANGE_WINDOW`]; the changes that
//! follow inside it are merged into the one reconcile requested when it closes, which sees the
//! children as they are by then. The window is fixed, not moved by each change, so a child
//! that never stops changing still gets its owner reconciled once per window. Creations and
//! spec changes do not come this way: they reconcile at once.

use std::collections::HashSet;
use std::hash::Hash;
use std::time::Duration;

use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};

/// How long a resource's first child change waits for the others that follow it.
pub(crate) const CHILD_CHANGE_WINDOW: Duration = Duration::from_millis(250);

/// The requests of `requests`, each held `window` after the first of its kind and merged with
/// the same requests that arrive meanwhile. Ends once `requests` has ended and every held
/// request has been passed on, or when the receiver is dropped.
pub(crate) fn coalesce<T>(
    mut requests: UnboundedReceiver<T>,
    window: Duration,
) -> UnboundedReceiver<T>
where
    T: Clone + Eq + Hash + Send + 'static,
{
    let (out, merged) = unbounded();
    tokio::spawn(async move {
        let mut held: HashSet<T> = HashSet::new();
        let mut due = FuturesUnordered::new();
        let mut open = true;
        while open || !due.is_empty() {
            tokio::select! {
                request = requests.next(), if open => match request {
                    Some(request) => {
                        if held.insert(request.clone()) {
                            due.push(tokio::time::sleep(window).map(move |()| request));
                        }
                    }
                    None => open = false,
                },
                Some(request) = due.next() => {
                    held.remove(&request);
                    if out.unbounded_send(request).is_err() {
                        return;
                    }
                }
            }
        }
    });
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `request` into the coalescer.
    fn send(
        requests: &futures::channel::mpsc::UnboundedSender<&'static str>,
        request: &'static str,
    ) {
        assert!(
            requests.unbounded_send(request).is_ok(),
            "the coalescer stopped taking requests"
        );
    }

    /// What `merged` has passed on so far.
    fn drain(merged: &mut UnboundedReceiver<&'static str>) -> Vec<&'static str> {
        let mut got = Vec::new();
        while let Ok(request) = merged.try_recv() {
            got.push(request);
        }
        got.sort_unstable();
        got
    }

    #[tokio::test(start_paused = true)]
    async fn requests_inside_a_window_merge_into_one_at_its_end() {
        let (requests, input) = unbounded();
        let mut merged = coalesce(input, Duration::from_millis(250));
        for request in ["a", "a", "b"] {
            send(&requests, request);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        send(&requests, "a");
        assert_eq!(drain(&mut merged), Vec::<&str>::new(), "held");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            drain(&mut merged),
            ["a", "b"],
            "one each, at the end of the window"
        );
        send(&requests, "a");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            drain(&mut merged),
            ["a"],
            "a later change opens a new window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_does_not_move_with_each_change() {
        let (requests, input) = unbounded();
        let mut merged = coalesce(input, Duration::from_millis(250));
        let mut passed = 0;
        // A change every 100 ms for a second: the owner still gets one request per window.
        for _ in 0..10 {
            send(&requests, "a");
            tokio::time::sleep(Duration::from_millis(100)).await;
            passed += drain(&mut merged).len();
        }
        assert!((3..=4).contains(&passed), "{passed} requests");
    }

    #[tokio::test(start_paused = true)]
    async fn held_requests_pass_on_after_the_input_ends() {
        let (requests, input) = unbounded();
        let mut merged = coalesce(input, Duration::from_millis(250));
        send(&requests, "a");
        drop(requests);
        assert_eq!(merged.next().await, Some("a"));
        assert_eq!(merged.next().await, None, "ended");
    }
}
