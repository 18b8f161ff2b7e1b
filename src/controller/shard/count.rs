//! The shard count agreement, as pure decisions: serve under the recorded count, or change it
//! only once no shard Lease is held under another count.

use std::collections::BTreeMap;

/// The annotation that records a shard count: on the count record (the count in force) and on
/// every shard Lease (the count it was taken under).
pub(crate) const COUNT_ANNOTATION: &str = "tera-operator.io/shards";
/// The annotation a replica rewrites on the count record when it starts serving a shard; the
/// write (conditional on the record's resourceVersion) is what orders it against a change.
pub(crate) const STARTED_ANNOTATION: &str = "tera-operator.io/last-started";
/// The label every shard Lease of one set carries (its value: the Lease name prefix).
pub(crate) const SET_LABEL: &str = "tera-operator.io/shard-set";

/// The shard count an object's annotations record, if any (and if it is a number above 0).
pub(crate) fn recorded_count(annotations: Option<&BTreeMap<String, String>>) -> Option<u32> {
    annotations?
        .get(COUNT_ANNOTATION)?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// A shard Lease as a replica deciding about the count sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardLease {
    /// The Lease's name.
    pub(crate) name: String,
    /// Its holder, if it has one that has not let it expire (by the local clock).
    pub(crate) live_holder: Option<String>,
    /// The shard count it was taken under.
    pub(crate) count: Option<u32>,
}

/// What a replica that holds a shard Lease under `mine` does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The record says `mine`: confirm it (a conditional write) and serve.
    Confirm,
    /// No live Lease is held under another count: record `mine` (a conditional write) and serve.
    Adopt,
    /// Another count is in force and still held: serve nothing yet.
    Wait(String),
}

/// Decides from the recorded count `agreed` (`None`: no record yet) and, when it differs from
/// `mine`, the shard Leases read after the record.
pub(crate) fn step(agreed: Option<u32>, mine: u32, leases: &[ShardLease]) -> Step {
    if agreed == Some(mine) {
        return Step::Confirm;
    }
    let blocking = leases
        .iter()
        .find(|lease| lease.live_holder.is_some() && lease.count != Some(mine));
    match blocking {
        None => Step::Adopt,
        Some(lease) => Step::Wait(format!(
            "the shard count in force is {}, not {mine}, and Lease {} is still held by {} under {}",
            agreed.map_or("unrecorded".to_string(), |n| n.to_string()),
            lease.name,
            lease.live_holder.as_deref().unwrap_or_default(),
            lease
                .count
                .map_or("an unrecorded count".to_string(), |n| format!("{n} shards")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(name: &str, holder: Option<&str>, count: Option<u32>) -> ShardLease {
        ShardLease {
            name: name.into(),
            live_holder: holder.map(str::to_string),
            count,
        }
    }

    #[test]
    fn step_table() {
        let old_held = lease("s-1", Some("old"), Some(3));
        let old_free = lease("s-2", None, Some(3));
        let mine_held = lease("s-3", Some("new"), Some(4));
        let unmarked = lease("s-0", Some("x"), None);
        let cases: Vec<(Option<u32>, Vec<ShardLease>, Option<&str>)> = vec![
            // The record agrees: serve, whatever else is held (they defer to the record).
            (Some(4), vec![old_held.clone()], None),
            // No record yet, nothing else held: adopt.
            (None, vec![], None),
            (None, vec![mine_held.clone()], None),
            // Another count in force, its Leases released or expired: adopt.
            (Some(3), vec![old_free.clone(), mine_held.clone()], None),
            // Another count in force and still held: wait, naming the Lease.
            (
                Some(3),
                vec![old_free.clone(), old_held.clone()],
                Some("s-1"),
            ),
            (None, vec![old_held.clone()], Some("s-1")),
            (Some(3), vec![unmarked.clone()], Some("s-0")),
        ];
        for (agreed, leases, waits_for) in cases {
            let got = step(agreed, 4, &leases);
            match waits_for {
                None if agreed == Some(4) => assert_eq!(got, Step::Confirm),
                None => assert_eq!(got, Step::Adopt, "{agreed:?} {leases:?}"),
                Some(name) => {
                    let Step::Wait(reason) = &got else {
                        panic!("{agreed:?} {leases:?}: {got:?}")
                    };
                    assert!(reason.contains(name), "{reason}");
                }
            }
        }
    }

    #[test]
    fn recorded_count_reads_positive_numbers_only() {
        let of = |v: &str| {
            recorded_count(Some(&BTreeMap::from([(
                COUNT_ANNOTATION.to_string(),
                v.to_string(),
            )])))
        };
        assert_eq!(of("3"), Some(3));
        assert_eq!(of("0"), None);
        assert_eq!(of("three"), None);
        assert_eq!(recorded_count(None), None);
        assert_eq!(recorded_count(Some(&BTreeMap::new())), None);
    }
}
