//! Tests of the Lease decision and the leader-election settings.

use std::time::Duration;

use super::record::{Decision, Record, decide};
use super::*;

fn record(holder: Option<&str>, secs: u64) -> Record {
    Record {
        holder: holder.map(str::to_string),
        lease_duration: Duration::from_secs(secs),
        renew_time: None,
        transitions: 0,
    }
}

#[test]
fn decide_renews_own_lease_waits_for_a_live_one_and_takes_an_expired_or_free_one() {
    let d = |r: &Record, unchanged: u64| decide(r, "me", Duration::from_secs(unchanged));
    assert_eq!(d(&record(Some("me"), 15), 100), Decision::Renew);
    assert_eq!(
        d(&record(Some("other"), 15), 14),
        Decision::Wait {
            holder: "other".into()
        }
    );
    assert_eq!(d(&record(Some("other"), 15), 15), Decision::Acquire);
    assert_eq!(d(&record(None, 15), 0), Decision::Acquire);
}

#[test]
fn config_check_orders_the_durations() {
    let ok = LeaseConfig::new("ns", "id");
    assert!(ok.check().is_ok());
    assert_eq!(ok.lease_duration_seconds(), 15);
    let bad = LeaseConfig {
        renew_deadline: Duration::from_secs(20),
        ..ok.clone()
    };
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("renew deadline")
    );
    let bad = LeaseConfig {
        retry_period: Duration::from_secs(10),
        ..ok.clone()
    };
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("retry period")
    );
    let fractional = LeaseConfig {
        lease_duration: Duration::from_millis(1500),
        renew_deadline: Duration::from_secs(1),
        retry_period: Duration::from_millis(100),
        ..ok
    };
    assert_eq!(fractional.lease_duration_seconds(), 2);
}

#[test]
fn identities_are_unique_per_process_start() {
    let a = default_identity();
    let b = default_identity();
    assert_ne!(a, b);
    assert!(a.contains('_'));
}
