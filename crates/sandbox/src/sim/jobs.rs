//! The Job controller: Pods up to `parallelism`, each succeeding after its simulated run, `succeeded` counted up to `completions`, then the `SuccessCriteriaMet` and `Complete` conditions.
//!
//! After pkg/controller/job/job_controller.go (Kubernetes 1.34):
//! - `NonIndexed`: `min(parallelism, completions - succeeded)` Pods run at once (`<job>-` + a
//!   random suffix); without `completions` (a work queue) `parallelism` Pods run and no new one
//!   starts once one has succeeded, and the Job completes when one succeeded and none is active;
//! - `Indexed`: each index in `[0, completions)` gets a Pod `<job>-<index>-…` with the
//!   `batch.kubernetes.io/job-completion-index` label and annotation and hostname
//!   `<job>-<index>`, lowest missing indexes first; `status.completedIndexes` lists the
//!   succeeded ones (`0-2,4`);
//! - Pods carry the labels the API server puts into a Job's template (`batch.kubernetes.io/
//!   controller-uid`, `batch.kubernetes.io/job-name`, `controller-uid`, `job-name`);
//! - status: `startTime` at the first sync, `active`, `ready`, `succeeded`, `terminating`,
//!   then `SuccessCriteriaMet` (reason `CompletionsReached`) in one sync and `Complete` with
//!   `completionTime` in the next, as 1.31+ do;
//! - `suspend: true` deletes the active Pods, clears `startTime` and sets `Suspended`
//!   (`JobSuspended`); resuming sets it False (`JobResumed`).
//!
//! Not simulated: Pods never fail, so `backoffLimit`, `podFailurePolicy`, `Failed` and
//! `failed` never come into play; `activeDeadlineSeconds`, `ttlSecondsAfterFinished`,
//! `successPolicy` and the `batch.kubernetes.io/job-tracking` Pod finalizer are not applied
//! (the simulated kubelet never loses a finished Pod, so counting needs no finalizer).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::api::apply::Scope;
use crate::api::store::Store;
use crate::sim::kubelet;
use crate::sim::replicasets::{commit, create_pod, delete, owner_ref, pod_from, resource};
use crate::sim::timing::Clock;

const INDEX: &str = "batch.kubernetes.io/job-completion-index";

fn has_condition(status: &Value, ty: &str) -> bool {
    status["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

fn condition(ty: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": status, "reason": reason, "message": message,
           "lastProbeTime": now, "lastTransitionTime": now})
}

fn set_condition(conds: &mut Vec<Value>, c: Value) {
    if let Some(cur) = conds.iter_mut().find(|x| x["type"] == c["type"]) {
        if cur["status"] != c["status"] || cur["reason"] != c["reason"] {
            *cur = c;
        }
    } else {
        conds.push(c);
    }
}

fn index_of(pod: &Value) -> Option<i64> {
    pod["metadata"]["annotations"][INDEX]
        .as_str()
        .or(pod["metadata"]["labels"][INDEX].as_str())?
        .parse()
        .ok()
}

/// `0-2,4` from a set of indexes.
fn ranges(indexes: &BTreeSet<i64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        out.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    out.join(",")
}

/// The indexes in `0-2,4`.
fn parse_ranges(s: &str) -> BTreeSet<i64> {
    s.split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => part.parse().ok().map(|i| (i, i)),
        })
        .flat_map(|(a, b): (i64, i64)| a..=b)
        .collect()
}

/// The labels a Job's Pods carry (the API server defaults them into its template).
fn job_labels(job: &Value) -> Map<String, Value> {
    let uid = &job["metadata"]["uid"];
    let name = &job["metadata"]["name"];
    let mut m = Map::new();
    m.insert("batch.kubernetes.io/controller-uid".into(), uid.clone());
    m.insert("batch.kubernetes.io/job-name".into(), name.clone());
    m.insert("controller-uid".into(), uid.clone());
    m.insert("job-name".into(), name.clone());
    m
}

fn create(store: &mut Store, job: &Value, index: Option<i64>, now: &str) -> bool {
    let ns = job["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    let mut labels = job_labels(job);
    let gen_name = match index {
        Some(i) => {
            labels.insert(INDEX.into(), json!(i.to_string()));
            format!("{name}-{i}-")
        }
        None => format!("{name}-"),
    };
    let mut pod = pod_from(
        &job["spec"]["template"],
        owner_ref(job, "batch/v1", "Job"),
        ns,
        ("generateName", &gen_name),
        Some(&labels),
    );
    if let Some(i) = index {
        pod["metadata"]["annotations"][INDEX] = json!(i.to_string());
        pod["spec"]["hostname"] = json!(format!("{name}-{i}"));
    }
    create_pod(store, ns, pod, now)
}

/// One sync of a Job.
pub(crate) fn sync(store: &mut Store, job: &Value, clock: &Clock) {
    let old = &job["status"];
    if has_condition(old, "Complete") || has_condition(old, "Failed") {
        return;
    }
    let Some(pods_res) = resource(store, "", "pods") else {
        return;
    };
    let now = clock.stamp.as_str();
    let ns = job["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = &job["spec"];
    let indexed = spec["completionMode"] == "Indexed";
    let completions = spec["completions"].as_i64();
    let parallelism = spec["parallelism"].as_i64().unwrap_or(1).max(0);
    let pods: Vec<Value> = store
        .controlled_by("/pods", &uid)
        .filter(|p| p["metadata"]["namespace"] == ns.as_str())
        .cloned()
        .collect();
    let active: Vec<&Value> = pods.iter().filter(|p| kubelet::is_active(p)).collect();
    let done_pods = pods.iter().filter(|p| p["status"]["phase"] == "Succeeded");
    let mut conds: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
    let mut status = json!({"uncountedTerminatedPods": {}, "terminating": 0});
    let mut completed = BTreeSet::new();
    let succeeded = if indexed {
        completed = parse_ranges(old["completedIndexes"].as_str().unwrap_or_default());
        completed.extend(done_pods.filter_map(index_of));
        completed.retain(|i| completions.is_none_or(|c| *i < c));
        completed.len() as i64
    } else {
        old["succeeded"]
            .as_i64()
            .unwrap_or(0)
            .max(done_pods.count() as i64)
    };
    let mut active_n = active.len() as i64;
    if spec["suspend"] == true {
        for p in &active {
            delete(
                store,
                &pods_res,
                &ns,
                p["metadata"]["name"].as_str().unwrap_or_default(),
                now,
            );
        }
        active_n = 0;
        set_condition(
            &mut conds,
            condition("Suspended", "True", "JobSuspended", "Job suspended", now),
        );
    } else {
        if has_condition(old, "Suspended") {
            set_condition(
                &mut conds,
                condition("Suspended", "False", "JobResumed", "Job resumed", now),
            );
        }
        status["startTime"] = json!(old["startTime"].as_str().unwrap_or(now));
        let finished = match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active_n == 0,
        };
        if finished {
            if !has_condition(old, "SuccessCriteriaMet") {
                set_condition(
                    &mut conds,
                    condition(
                        "SuccessCriteriaMet",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        now,
                    ),
                );
            } else {
                set_condition(
                    &mut conds,
                    condition(
                        "Complete",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        now,
                    ),
                );
                status["completionTime"] = json!(now);
            }
        } else {
            let want = match completions {
                Some(c) => parallelism.min(c - succeeded),
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            if indexed {
                let running: BTreeSet<i64> = active.iter().filter_map(|p| index_of(p)).collect();
                let missing = (0..completions.unwrap_or(0))
                    .filter(|i| !completed.contains(i) && !running.contains(i));
                for i in missing.take((want - active_n).max(0) as usize) {
                    if create(store, job, Some(i), now) {
                        active_n += 1;
                    }
                }
            } else {
                while active_n < want && create(store, job, None, now) {
                    active_n += 1;
                }
            }
        }
    }
    if active_n > 0 {
        status["active"] = json!(active_n);
    }
    let ready = active.iter().filter(|p| kubelet::is_ready(p)).count();
    status["ready"] = json!(if spec["suspend"] == true { 0 } else { ready });
    if succeeded > 0 {
        status["succeeded"] = json!(succeeded);
    }
    if indexed && !completed.is_empty() {
        status["completedIndexes"] = json!(ranges(&completed));
    }
    if !conds.is_empty() {
        status["conditions"] = Value::Array(conds);
    }
    let Some(res) = resource(store, "batch", "jobs") else {
        return;
    };
    let key = crate::api::store::key_of(job);
    if let Some(current) = store.get(&res.storage, &key).cloned()
        && current["status"] != status
    {
        let mut new = current.clone();
        new["status"] = status;
        commit(store, &res, &current, new, Scope::Status, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_are_ranges() {
        let s: BTreeSet<i64> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(ranges(&s), "0-2,4,6-7");
        assert_eq!(parse_ranges("0-2,4,6-7"), s);
        assert!(parse_ranges("").is_empty());
    }
}
