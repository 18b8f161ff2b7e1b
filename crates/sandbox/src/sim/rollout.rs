//! A Deployment's rollout arithmetic and status: surge and unavailability from the strategy, how far to scale the new and old ReplicaSets, the counts and the Available/Progressing conditions.
//!
//! After pkg/controller/deployment (rolling.go, progress.go, sync.go `calculateStatus`,
//! util/deployment_util.go): `maxSurge` rounds percentages up, `maxUnavailable` down, and both
//! 0 makes unavailability 1 (`ResolveFenceposts`); the new ReplicaSet grows while the total stays
//! within `replicas + maxSurge` (`NewRSNewReplicas`); old ones shrink, unhealthy Pods first,
//! while at least `replicas - maxUnavailable` stay available (`reconcileOldReplicaSets`).

use serde_json::{Value, json};

use crate::sim::timing::Clock;

/// Progressing condition reasons (deployment_util.go).
pub(crate) const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
const RS_UPDATED: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";
const RESUMED: &str = "DeploymentResumed";

/// An int-or-percent scaled to `total` (`intstr.GetScaledValueFromIntOrPercent`).
fn scaled(value: &Value, total: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let p: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .or_else(|| s.parse().ok())
                .unwrap_or(0);
            if !s.ends_with('%') {
                return p;
            }
            if round_up {
                (p * total + 99) / 100
            } else {
                p * total / 100
            }
        }
        _ => 0,
    }
}

fn rolling(dep: &Value) -> bool {
    dep["spec"]["strategy"]["type"]
        .as_str()
        .unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

/// The desired replicas.
pub(crate) fn replicas(dep: &Value) -> i64 {
    dep["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// `(maxSurge, maxUnavailable)` as Pod counts (`ResolveFenceposts`).
pub(crate) fn fenceposts(dep: &Value) -> (i64, i64) {
    let ru = &dep["spec"]["strategy"]["rollingUpdate"];
    let pct = json!("25%");
    let surge_v = if ru["maxSurge"].is_null() {
        &pct
    } else {
        &ru["maxSurge"]
    };
    let unavail_v = if ru["maxUnavailable"].is_null() {
        &pct
    } else {
        &ru["maxUnavailable"]
    };
    let n = replicas(dep);
    let surge = scaled(surge_v, n, true);
    let unavailable = scaled(unavail_v, n, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// `deploymentutil.MaxUnavailable`: 0 for Recreate or no replicas, else at most `replicas`.
fn max_unavailable(dep: &Value) -> i64 {
    if !rolling(dep) || replicas(dep) == 0 {
        return 0;
    }
    fenceposts(dep).1.min(replicas(dep))
}

/// The size of a ReplicaSet: spec and status counts the rollout reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) spec: i64,
    pub(crate) replicas: i64,
    pub(crate) ready: i64,
    pub(crate) available: i64,
}

impl Size {
    /// The counts of a ReplicaSet object.
    pub(crate) fn of(rs: &Value) -> Self {
        let n = |v: &Value| v.as_i64().unwrap_or(0);
        Self {
            spec: rs["spec"]["replicas"].as_i64().unwrap_or(1),
            replicas: n(&rs["status"]["replicas"]),
            ready: n(&rs["status"]["readyReplicas"]),
            available: n(&rs["status"]["availableReplicas"]),
        }
    }
}

/// How many replicas the new ReplicaSet should have (`NewRSNewReplicas` and the scale-down
/// of `reconcileNewReplicaSet`), given its own and the old ones' sizes.
pub(crate) fn new_rs_replicas(dep: &Value, new: i64, olds: &[Size]) -> i64 {
    let want = replicas(dep);
    if !rolling(dep) || new >= want {
        return want;
    }
    let (surge, _) = fenceposts(dep);
    let current = new + olds.iter().map(|s| s.spec).sum::<i64>();
    let max_total = want + surge;
    if current >= max_total {
        return new;
    }
    new + (max_total - current).min(want - new)
}

/// The new `spec.replicas` of each old ReplicaSet (oldest first) in a rolling update
/// (`reconcileOldReplicaSets`: `cleanupUnhealthyReplicas`, then
/// `scaleDownOldReplicaSetsForRollingUpdate`).
pub(crate) fn old_rs_replicas(dep: &Value, new: Size, olds: &[Size]) -> Vec<i64> {
    let mut specs: Vec<i64> = olds.iter().map(|s| s.spec).collect();
    if specs.iter().sum::<i64>() == 0 {
        return specs;
    }
    let all = new.spec + specs.iter().sum::<i64>();
    let min_available = replicas(dep) - max_unavailable(dep);
    let new_unavailable = new.spec - new.available;
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return specs;
    }
    let mut cleaned = 0;
    for (spec, old) in specs.iter_mut().zip(olds) {
        if cleaned >= max_scaled_down {
            break;
        }
        if *spec == 0 || *spec == old.available {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(*spec - old.available);
        *spec -= down;
        cleaned += down;
    }
    let available = new.available + olds.iter().map(|s| s.available).sum::<i64>();
    if available <= min_available {
        return specs;
    }
    let total = available - min_available;
    let mut done = 0;
    for spec in specs.iter_mut() {
        if done >= total {
            break;
        }
        if *spec == 0 {
            continue;
        }
        let down = (*spec).min(total - done);
        *spec -= down;
        done += down;
    }
    specs
}

fn condition(conds: &[Value], ty: &str) -> Option<Value> {
    conds.iter().find(|c| c["type"] == ty).cloned()
}

fn new_condition(ty: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
           "reason": reason, "message": message})
}

/// `SetDeploymentCondition`: nothing changes if a condition of the type has the same status
/// and reason; a same-status one keeps its transition time; the new one goes last.
pub(crate) fn set_condition(conds: &mut Vec<Value>, mut c: Value) {
    if let Some(cur) = condition(conds, c["type"].as_str().unwrap_or_default()) {
        if cur["status"] == c["status"] && cur["reason"] == c["reason"] {
            return;
        }
        if cur["status"] == c["status"] {
            c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
        }
    }
    conds.retain(|x| x["type"] != c["type"]);
    conds.push(c);
}

/// The Progressing condition a step of `getNewReplicaSet` records: `NewReplicaSetCreated`
/// when it created the ReplicaSet, `FoundNewReplicaSet` when it found one and there was no
/// Progressing condition yet.
pub(crate) fn note_new_rs(conds: &mut Vec<Value>, dep: &Value, reason: &str, rs: &str, now: &str) {
    if !has_deadline(dep) {
        return;
    }
    if reason == FOUND_NEW_RS && condition(conds, "Progressing").is_some() {
        return;
    }
    let msg = if reason == NEW_RS_CREATED {
        format!("Created new replica set \"{rs}\"")
    } else {
        format!("Found new replica set \"{rs}\"")
    };
    set_condition(
        conds,
        new_condition("Progressing", "True", reason, &msg, now),
    );
}

fn has_deadline(dep: &Value) -> bool {
    // A missing field is the default 600 s; upstream's "no deadline" is math.MaxInt32.
    dep["spec"]["progressDeadlineSeconds"].as_i64() != Some(i64::from(i32::MAX))
}

fn deadline(dep: &Value) -> i64 {
    dep["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .unwrap_or(600)
}

/// `checkPausedConditions`: Progressing Unknown `DeploymentPaused` while paused,
/// `DeploymentResumed` once resumed; a timed-out rollout keeps its condition.
pub(crate) fn note_paused(conds: &mut Vec<Value>, dep: &Value, now: &str) {
    if !has_deadline(dep) {
        return;
    }
    let cur = condition(conds, "Progressing");
    if cur.as_ref().is_some_and(|c| c["reason"] == TIMED_OUT) {
        return;
    }
    let paused_cond = cur.as_ref().is_some_and(|c| c["reason"] == PAUSED);
    let paused = dep["spec"]["paused"] == true;
    if paused && !paused_cond {
        let c = new_condition(
            "Progressing",
            "Unknown",
            PAUSED,
            "Deployment is paused",
            now,
        );
        set_condition(conds, c);
    } else if !paused && paused_cond {
        let c = new_condition(
            "Progressing",
            "Unknown",
            RESUMED,
            "Deployment is resumed",
            now,
        );
        set_condition(conds, c);
    }
}

/// The Deployment's status from its ReplicaSets (`calculateStatus`), with the rollout's
/// progress estimated unless paused (`syncRolloutStatus`); and, while a rollout is underway,
/// when its progress deadline runs out.
pub(crate) fn status(
    dep: &Value,
    new: Option<(&str, Size)>,
    all: &[Size],
    mut conds: Vec<Value>,
    clock: &Clock,
) -> (Value, Option<std::time::Duration>) {
    let now = clock.stamp.as_str();
    let want = replicas(dep);
    let available: i64 = all.iter().map(|s| s.available).sum();
    let total_spec: i64 = all.iter().map(|s| s.spec).sum();
    let counts = [
        ("replicas", all.iter().map(|s| s.replicas).sum::<i64>()),
        ("updatedReplicas", new.map_or(0, |n| n.1.replicas)),
        ("readyReplicas", all.iter().map(|s| s.ready).sum()),
        ("availableReplicas", available),
        ("unavailableReplicas", (total_spec - available).max(0)),
    ];
    let mut s = json!({});
    for (field, n) in counts {
        if n != 0 {
            s[field] = json!(n);
        }
    }
    if let Some(g) = dep["metadata"]["generation"].as_i64() {
        s["observedGeneration"] = json!(g);
    }
    let old = &dep["status"];
    if !old["collisionCount"].is_null() {
        s["collisionCount"] = old["collisionCount"].clone();
    }
    let avail = if available >= want - max_unavailable(dep) {
        new_condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    } else {
        new_condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    set_condition(&mut conds, avail);
    let mut wait = None;
    if dep["spec"]["paused"] != true {
        wait = progress(dep, &s, new.map(|n| n.0), &mut conds, clock);
    }
    if !has_deadline(dep) {
        conds.retain(|c| c["type"] != "Progressing");
    }
    if !conds.is_empty() {
        s["conditions"] = Value::Array(conds);
    }
    (s, wait)
}

fn count(s: &Value, f: &str) -> i64 {
    s[f].as_i64().unwrap_or(0)
}

/// `DeploymentComplete`: every replica updated and available, the generation observed.
pub(crate) fn complete(dep: &Value, s: &Value) -> bool {
    let want = replicas(dep);
    count(s, "updatedReplicas") == want
        && count(s, "replicas") == want
        && count(s, "availableReplicas") == want
        && s["observedGeneration"].as_i64() >= dep["metadata"]["generation"].as_i64()
}

/// The Progressing condition after a sync (`syncRolloutStatus`), and when to look again for
/// the deadline.
fn progress(
    dep: &Value,
    s: &Value,
    new_rs: Option<&str>,
    conds: &mut Vec<Value>,
    clock: &Clock,
) -> Option<std::time::Duration> {
    let now = clock.stamp.as_str();
    let name = dep["metadata"]["name"].as_str().unwrap_or_default();
    let old = &dep["status"];
    let cur = condition(conds, "Progressing");
    let done = count(s, "replicas") == count(s, "updatedReplicas")
        && cur
            .as_ref()
            .is_some_and(|c| c["reason"] == NEW_RS_AVAILABLE);
    if !has_deadline(dep) || done {
        return None;
    }
    let what = match new_rs {
        Some(rs) => format!("ReplicaSet \"{rs}\""),
        None => format!("Deployment \"{name}\""),
    };
    let progressing = count(s, "updatedReplicas") > count(old, "updatedReplicas")
        || count(s, "replicas") - count(s, "updatedReplicas")
            < count(old, "replicas") - count(old, "updatedReplicas")
        || count(s, "readyReplicas") > count(old, "readyReplicas")
        || count(s, "availableReplicas") > count(old, "availableReplicas");
    if complete(dep, s) {
        let msg = format!("{what} has successfully progressed.");
        set_condition(
            conds,
            new_condition("Progressing", "True", NEW_RS_AVAILABLE, &msg, now),
        );
        return None;
    }
    if progressing {
        let msg = format!("{what} is progressing.");
        let mut c = new_condition("Progressing", "True", RS_UPDATED, &msg, now);
        if let Some(p) = condition(conds, "Progressing") {
            if p["status"] == "True" {
                c["lastTransitionTime"] = p["lastTransitionTime"].clone();
            }
            conds.retain(|x| x["type"] != "Progressing");
        }
        conds.push(c);
        return clock.wait_past(&json!(now), deadline(dep));
    }
    let p = condition(conds, "Progressing")?;
    if p["reason"] == NEW_RS_AVAILABLE || p["reason"] == TIMED_OUT {
        return None;
    }
    match clock.wait_past(&p["lastUpdateTime"], deadline(dep)) {
        None => {
            let msg = format!("{what} has timed out progressing.");
            set_condition(
                conds,
                new_condition("Progressing", "False", TIMED_OUT, &msg, now),
            );
            None
        }
        wait => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(replicas: i64, surge: Value, unavailable: Value) -> Value {
        json!({"metadata": {"name": "d", "generation": 1}, "spec": {"replicas": replicas,
               "strategy": {"type": "RollingUpdate",
                            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}})
    }

    fn size(spec: i64, available: i64) -> Size {
        Size {
            spec,
            replicas: spec,
            ready: available,
            available,
        }
    }

    #[test]
    fn surge_rounds_up_and_unavailability_down() {
        assert_eq!(fenceposts(&dep(10, json!("25%"), json!("25%"))), (3, 2));
        assert_eq!(fenceposts(&dep(3, json!("25%"), json!("25%"))), (1, 0));
        assert_eq!(fenceposts(&dep(3, json!(0), json!("10%"))), (0, 1));
        assert_eq!(fenceposts(&dep(4, json!(2), json!(1))), (2, 1));
    }

    #[test]
    fn a_rolling_update_moves_within_surge_and_unavailability() {
        // 4 replicas, maxSurge 1, maxUnavailable 0: one new Pod at a time, an old one goes
        // once the new one is available.
        let d = dep(4, json!(1), json!(0));
        let olds = [size(4, 4)];
        assert_eq!(new_rs_replicas(&d, 0, &olds), 1);
        assert_eq!(old_rs_replicas(&d, size(1, 0), &olds), vec![4]);
        assert_eq!(old_rs_replicas(&d, size(1, 1), &olds), vec![3]);
        assert_eq!(new_rs_replicas(&d, 1, &[size(3, 3)]), 2);
        // maxUnavailable 2, no surge: two old Pods go first.
        let d = dep(4, json!(0), json!(2));
        assert_eq!(new_rs_replicas(&d, 0, &olds), 0);
        assert_eq!(old_rs_replicas(&d, size(0, 0), &olds), vec![2]);
        assert_eq!(new_rs_replicas(&d, 0, &[size(2, 2)]), 2);
        // Unhealthy old Pods are scaled away first.
        let d = dep(4, json!(1), json!(1));
        assert_eq!(
            old_rs_replicas(&d, size(1, 0), &[size(2, 0), size(2, 2)]),
            vec![1, 2]
        );
    }

    #[test]
    fn the_status_counts_and_progress() {
        let c = Clock::new(std::time::Duration::ZERO);
        let mut d = dep(2, json!(1), json!(0));
        d["status"] = json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        let mut conds = Vec::new();
        note_new_rs(&mut conds, &d, NEW_RS_CREATED, "d-1", &c.stamp);
        // Just created: the new ReplicaSet has no Pods yet.
        let fresh = Size {
            spec: 1,
            ..Size::default()
        };
        let (s, wait) = status(&d, Some(("d-1", fresh)), &[fresh, size(2, 2)], conds, &c);
        assert_eq!(
            (s["replicas"].as_i64(), s["updatedReplicas"].as_i64()),
            (Some(2), None)
        );
        assert_eq!(s["unavailableReplicas"], 1);
        assert_eq!(s["conditions"][0]["reason"], NEW_RS_CREATED);
        assert_eq!(s["conditions"][1]["reason"], "MinimumReplicasAvailable");
        assert!(
            wait.is_some_and(|w| w > std::time::Duration::from_secs(590)),
            "the deadline counts from the created condition: {wait:?}"
        );
        let mut d2 = d.clone();
        d2["status"] = s;
        let (s2, wait) = status(
            &d2,
            Some(("d-1", size(2, 2))),
            &[size(2, 2)],
            d2["status"]["conditions"].as_array().cloned().unwrap(),
            &c,
        );
        assert!(wait.is_none());
        assert_eq!(s2["conditions"][1]["reason"], NEW_RS_AVAILABLE);
        assert_eq!(
            s2["conditions"][1]["message"],
            "ReplicaSet \"d-1\" has successfully progressed."
        );
        // A rollout that stalls past its deadline times out.
        let mut stuck = dep(2, json!(1), json!(0));
        stuck["spec"]["progressDeadlineSeconds"] = json!(5);
        stuck["status"] = json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2});
        let conds = vec![new_condition(
            "Progressing",
            "True",
            RS_UPDATED,
            "",
            "2020-01-01T00:00:00Z",
        )];
        let (s3, _) = status(
            &stuck,
            Some(("d-1", size(1, 0))),
            &[size(1, 0), size(2, 2)],
            conds,
            &c,
        );
        let p = condition(s3["conditions"].as_array().unwrap(), "Progressing").unwrap();
        assert_eq!(
            (p["status"].as_str(), p["reason"].as_str()),
            (Some("False"), Some(TIMED_OUT))
        );
    }
}
