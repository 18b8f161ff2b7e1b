//! Time as the simulated controllers read it: the wall clock moved by the test hook's offset, measured against the timestamps objects carry.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The moment a simulated controller acts at.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// What the controller writes into objects (the wall clock, like every other timestamp).
    pub(crate) stamp: String,
    /// What deadlines are measured against: the wall clock plus
    /// [`crate::Hooks::advance_clock`]'s offset.
    now: Timestamp,
}

impl Clock {
    /// The wall clock moved forward by `offset`.
    pub(crate) fn new(offset: Duration) -> Self {
        let wall = Timestamp::now();
        let now = SignedDuration::try_from(offset)
            .ok()
            .and_then(|d| wall.checked_add(d).ok())
            .unwrap_or(wall);
        Self {
            stamp: k8s_rules::now(),
            now,
        }
    }

    /// `None` once the moment `secs` seconds after the timestamp `at` lies before now (upstream's
    /// `from.Add(d).Before(now)`), else how long until it does. A missing or unreadable
    /// timestamp counts as now.
    pub(crate) fn wait_past(&self, at: &Value, secs: i64) -> Option<Duration> {
        let from: Timestamp = at.as_str().and_then(|s| s.parse().ok()).unwrap_or(self.now);
        let due = from.checked_add(SignedDuration::from_secs(secs)).ok()?;
        if due < self.now {
            return None;
        }
        let left = Duration::try_from(self.now.duration_until(due)).unwrap_or_default();
        // Just past `due`: the first moment the comparison above holds.
        Some(left + Duration::from_millis(20))
    }
}

/// The earlier of two optional waits.
pub(crate) fn sooner(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deadline_passes_strictly_after_its_moment() {
        let c = Clock::new(Duration::ZERO);
        let past = json!("2020-01-01T00:00:00Z");
        assert_eq!(c.wait_past(&past, 600), None);
        let wait = c.wait_past(&json!(c.stamp), 5).unwrap();
        assert!(wait > Duration::from_secs(3) && wait <= Duration::from_secs(6));
        let later = Clock::new(Duration::from_secs(10));
        assert_eq!(later.wait_past(&json!(c.stamp), 5), None);
        assert_eq!(sooner(Some(wait), None), Some(wait));
    }
}
