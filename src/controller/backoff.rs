//! Per-object exponential backoff for failed reconciles, with a cap.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// First retry delay after a failure.
pub(crate) const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(300);

/// Consecutive failures per object key, and the delay they earn.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// A backoff doubling from `base` up to `cap`.
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            base,
            cap,
        }
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub(crate) fn failed(&self, key: &str) -> Duration {
        let attempt = match self.failures.lock() {
            Ok(mut failures) => {
                let n = failures.entry(key.to_string()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            }
            Err(_) => 1,
        };
        delay_for(attempt, self.base, self.cap)
    }

    /// Forgets the failures of `key` (after a success).
    pub(crate) fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }

    /// How many keys have failures recorded.
    pub(crate) fn len(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Consecutive failures recorded for `key`.
    pub(crate) fn failures(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .ok()
            .and_then(|f| f.get(key).copied())
            .unwrap_or(0)
    }
}

/// `base * 2^(attempt-1)`, at most `cap`.
pub(crate) fn delay_for(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << exponent).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..6).map(|_| b.failed("ns/a")).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
    }

    #[test]
    fn objects_back_off_independently_and_reset_on_success() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        b.failed("ns/a");
        b.failed("ns/a");
        assert_eq!(b.failed("ns/b"), Duration::from_millis(100));
        assert_eq!(b.failures("ns/a"), 2);
        assert_eq!(b.len(), 2);
        b.succeeded("ns/a");
        assert_eq!(b.len(), 1);
        assert_eq!(b.failures("ns/a"), 0);
        assert_eq!(b.failed("ns/a"), Duration::from_millis(100));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        assert_eq!(delay_for(u32::MAX, BASE_DELAY, MAX_DELAY), MAX_DELAY);
    }
}
