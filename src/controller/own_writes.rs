//! The custom resources' own status writes, so that their watch events trigger no reconcile.
//!
//! Writing a resource's status changes its resourceVersion, and its watch delivers that change
//! like any other. The reconcile that wrote it already knows what it says, so reconciling again
//! for it would only render, compare and write nothing. Each status write remembers the
//! resourceVersion the API server answered with; the watch event carrying exactly that version
//! is the write's echo and is dropped as a trigger (the cache still takes it). Any other
//! version — a user's change, a change made between our read and our write — still triggers.
//!
//! Until the echo arrives the cache still holds the status from before the write, so the
//! written status is kept with it: a reconcile running meanwhile (a child changed) compares
//! with what was written, and does not write the same status twice.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

/// The resourceVersion of each resource's latest status write whose echo is still due.
///
/// An entry lives from the write until its echo (or a newer version) arrives, so the map holds
/// only writes in flight, never one entry per resource.
#[derive(Debug, Default)]
pub(crate) struct OwnWrites {
    pending: Mutex<HashMap<String, Pending>>,
}

/// A write whose echo is due.
#[derive(Debug)]
struct Pending {
    /// The resourceVersion the API server answered the write with.
    version: String,
    /// The status written, as compact JSON: a burst of writes (thousands of resources created
    /// at once) can leave many echoes due, and a parsed tree takes several times its text.
    status: Box<str>,
}

impl OwnWrites {
    /// Remembers that our write of `status` left the resource `key` (`namespace/name`) at
    /// `resource_version`.
    pub(crate) fn wrote(&self, key: String, resource_version: String, status: Value) {
        // Serialized before the lock is taken (without `Display`'s formatting machinery).
        let status = serde_json::to_string(&status)
            .unwrap_or_default()
            .into_boxed_str();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(
                key,
                Pending {
                    version: resource_version,
                    status,
                },
            );
        }
    }

    /// The status our latest write gave the resource `key`, while the cache has not caught up
    /// with it yet (`None`: the cache is current).
    pub(crate) fn written_status(&self, key: &str) -> Option<Value> {
        let pending = self.pending.lock().ok()?;
        let status = &pending.get(key)?.status;
        // The text was written from a JSON value: it parses back to that value.
        serde_json::from_str(status).ok()
    }

    /// Whether the watch event of `key` at `resource_version` is the echo of our own write (and
    /// so needs no reconcile). An echo, or any newer version, ends the wait for it.
    pub(crate) fn is_echo(&self, key: &str, resource_version: Option<&str>) -> bool {
        let Some(version) = resource_version else {
            return false;
        };
        let Ok(mut pending) = self.pending.lock() else {
            return false;
        };
        let Some(written) = pending.get(key).map(|p| &p.version) else {
            return false;
        };
        if written == version {
            pending.remove(key);
            return true;
        }
        // resourceVersions are opaque to clients; when both are numbers (etcd's revisions, the
        // sandbox's counter), a newer one means our echo was passed (a relist) and is no longer due.
        if let (Ok(seen), Ok(ours)) = (version.parse::<u64>(), written.parse::<u64>())
            && seen > ours
        {
            pending.remove(key);
        }
        false
    }

    /// Forgets the resource `key` (it was deleted: no echo is due any more).
    pub(crate) fn forget(&self, key: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(key);
        }
    }

    /// How many writes still wait for their echo.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_written_version_is_an_echo_and_only_once() {
        let writes = OwnWrites::default();
        writes.wrote("ns/a".into(), "12".into(), json!({"n": 12}));
        assert_eq!(writes.written_status("ns/a"), Some(json!({"n": 12})));
        assert_eq!(writes.written_status("ns/b"), None);
        // An older event (someone's change delivered after our write's response) still counts.
        assert!(!writes.is_echo("ns/a", Some("11")));
        assert!(!writes.is_echo("ns/b", Some("12")), "another resource");
        assert!(!writes.is_echo("ns/a", None));
        assert!(writes.is_echo("ns/a", Some("12")));
        assert!(
            !writes.is_echo("ns/a", Some("12")),
            "an echo is dropped once"
        );
        assert_eq!(writes.len(), 0);
        assert_eq!(writes.written_status("ns/a"), None, "the cache caught up");
    }

    #[test]
    fn a_newer_version_ends_the_wait() {
        let writes = OwnWrites::default();
        writes.wrote("ns/a".into(), "12".into(), json!({"n": 12}));
        assert!(!writes.is_echo("ns/a", Some("13")));
        assert_eq!(writes.len(), 0, "the echo was passed: nothing stays behind");
        writes.wrote("ns/a".into(), "opaque-1".into(), json!({}));
        assert!(!writes.is_echo("ns/a", Some("opaque-0")));
        assert!(writes.is_echo("ns/a", Some("opaque-1")));
        writes.wrote("ns/a".into(), "14".into(), json!({}));
        writes.forget("ns/a");
        assert!(!writes.is_echo("ns/a", Some("14")), "deleted meanwhile");
    }
}
