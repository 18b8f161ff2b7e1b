//! The CronJob controller: starts a Job when a schedule comes due, tracks active and finished Jobs, keeps the history limits.
//!
//! Follows kube-controller-manager's cronjob_controllerv2.go: the most recent missed run after
//! `status.lastScheduleTime` (or creation) is started, within `startingDeadlineSeconds`; the Job
//! is named `<cronjob>-<scheduled time in minutes since the epoch>`, carries the
//! `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation and a controller reference;
//! `concurrencyPolicy` Forbid skips a run while one is active and Replace deletes the active
//! ones; finished Jobs leave `status.active`, successful ones set `lastSuccessfulTime`; at most
//! `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1) finished Jobs are kept.
//! Schedules run on the wall clock of `spec.timeZone` (an IANA name, from the bundled time zone
//! database), or UTC without one: kube-controller-manager's own zone is UTC in its image.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::api::apply::Scope;
use crate::api::store::Store;
use crate::api::verbs::{DeleteOptions, WriteOptions};
use crate::shared::Shared;
use crate::sim::cron::Schedule;
use crate::writes;

const CRONJOBS: &str = "batch/cronjobs";
const JOBS: &str = "batch/jobs";
const MANAGER: &str = "kube-controller-manager";

fn ts(s: &Value) -> Option<Timestamp> {
    s.as_str()?.parse().ok()
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn finished(job: &Value) -> Option<&'static str> {
    let conds = job["status"]["conditions"].as_array()?;
    conds
        .iter()
        .find_map(|c| match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Complete"), Some("True")) => Some("Complete"),
            (Some("Failed"), Some("True")) => Some("Failed"),
            _ => None,
        })
}

fn delete_job(store: &mut Store, ns: &str, name: &str, now: &str) {
    let Some(res) = store.registry.find("batch", "v1", "jobs").cloned() else {
        return;
    };
    let opts = DeleteOptions {
        propagation: Some("Background".into()),
        uid: None,
        resource_version: None,
        dry_run: false,
        now: now.into(),
    };
    if let Err(e) = writes::delete(store, &res, ns, name, &opts) {
        tracing::warn!(job = name, error = %e, "deleting a CronJob's Job failed");
    }
}

/// One pass over one CronJob at simulated time `now`.
fn sync(store: &mut Store, cj: &Value, now: Timestamp) {
    let (Some(cj_res), Some(job_res)) = (
        store.registry.find("batch", "v1", "cronjobs").cloned(),
        store.registry.find("batch", "v1", "jobs").cloned(),
    ) else {
        return;
    };
    if !cj["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let ns = cj["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = cj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = cj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let wall = k8s_rules::now();
    let mut jobs: Vec<Value> = store
        .list(JOBS, Some(&ns))
        .filter(|j| {
            j["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|rs| {
                    rs.iter()
                        .any(|r| r["controller"] == true && r["uid"] == uid.as_str())
                })
        })
        .cloned()
        .collect();
    let mut status = cj["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    // Finished Jobs leave `active`; a successful one sets lastSuccessfulTime.
    let active: Vec<Value> = jobs
        .iter()
        .filter(|j| finished(j).is_none() && j["metadata"]["deletionTimestamp"].is_null())
        .map(|j| json!({"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                        "namespace": ns, "uid": j["metadata"]["uid"], "resourceVersion": j["metadata"]["resourceVersion"]}))
        .collect();
    if let Some(t) = jobs
        .iter()
        .filter(|j| finished(j) == Some("Complete"))
        .filter_map(|j| ts(&j["status"]["completionTime"]))
        .max()
        && ts(&status["lastSuccessfulTime"]).is_none_or(|old| t > old)
    {
        status["lastSuccessfulTime"] = json!(rfc3339(t));
    }
    // History limits: the oldest finished Jobs beyond them go.
    for (kind, default) in [("Complete", 3), ("Failed", 1)] {
        let field = if kind == "Complete" {
            "successfulJobsHistoryLimit"
        } else {
            "failedJobsHistoryLimit"
        };
        let limit = cj["spec"][field].as_i64().unwrap_or(default).max(0) as usize;
        let mut done: Vec<&Value> = jobs.iter().filter(|j| finished(j) == Some(kind)).collect();
        done.sort_by_key(|j| {
            j["metadata"]["creationTimestamp"]
                .as_str()
                .map(String::from)
        });
        let excess = done.len().saturating_sub(limit);
        let names: Vec<String> = done
            .iter()
            .take(excess)
            .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
            .collect();
        for n in names {
            delete_job(store, &ns, &n, &wall);
        }
    }
    let mut active = active;
    let due = if cj["spec"]["suspend"] == true {
        None
    } else {
        let mut earliest = ts(&status["lastScheduleTime"])
            .or_else(|| ts(&cj["metadata"]["creationTimestamp"]))
            .unwrap_or(now);
        if let Some(deadline) = cj["spec"]["startingDeadlineSeconds"].as_i64()
            && let Ok(d) = now.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(deadline))
            && d > earliest
        {
            earliest = d;
        }
        let tz = match cj["spec"]["timeZone"].as_str() {
            Some(name) => TimeZone::get(name).ok(),
            None => Some(TimeZone::UTC),
        };
        Schedule::parse(cj["spec"]["schedule"].as_str().unwrap_or_default())
            .ok()
            .zip(tz)
            .and_then(|(s, tz)| s.latest(earliest, now, &tz))
    };
    if let Some(t) = due {
        let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
        let skip = policy == "Forbid" && !active.is_empty();
        if policy == "Replace" {
            for a in std::mem::take(&mut active) {
                delete_job(store, &ns, a["name"].as_str().unwrap_or_default(), &wall);
            }
        }
        if !skip {
            let job_name = format!("{name}-{}", t.as_second() / 60);
            let tmpl = &cj["spec"]["jobTemplate"];
            let mut annotations = tmpl["metadata"]["annotations"].clone();
            if !annotations.is_object() {
                annotations = json!({});
            }
            annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(rfc3339(t));
            let mut labels = tmpl["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            let job = json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name, "namespace": ns, "labels": labels, "annotations": annotations,
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name, "uid": uid,
                                                  "controller": true, "blockOwnerDeletion": true}]},
                "spec": tmpl["spec"],
            });
            let opts = WriteOptions::internal(MANAGER, &wall);
            match writes::create(store, &job_res, &ns, job, &opts) {
                Ok(created) => {
                    active.push(json!({"apiVersion": "batch/v1", "kind": "Job", "name": created["metadata"]["name"],
                        "namespace": ns, "uid": created["metadata"]["uid"], "resourceVersion": created["metadata"]["resourceVersion"]}));
                    jobs.push(created.into_owned());
                }
                Err(e) if e.code == 409 => {}
                Err(e) => {
                    tracing::warn!(cronjob = %name, error = %e, "starting a scheduled Job failed");
                    return;
                }
            }
        }
        status["lastScheduleTime"] = json!(rfc3339(t));
    }
    if active.is_empty() {
        if let Some(m) = status.as_object_mut() {
            m.remove("active");
        }
    } else {
        status["active"] = Value::Array(active);
    }
    let Some(old) = store.get(CRONJOBS, &(ns.clone(), name.clone())).cloned() else {
        return;
    };
    if old["status"] == status {
        return;
    }
    let mut new = old.clone();
    new["status"] = status;
    if let Err(e) =
        writes::internal_commit(store, &cj_res, &old, new, Scope::Status, MANAGER, &wall)
    {
        tracing::warn!(cronjob = %name, error = %e, "updating a CronJob's status failed");
    }
}

fn sync_all(shared: &Shared) {
    if *shared.hooks.paused_signal().borrow() {
        return;
    }
    let offset = *shared.hooks.clock_signal().borrow();
    let now = Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::try_from(offset).unwrap_or_default())
        .unwrap_or_else(|_| Timestamp::now());
    let mut store = shared.lock();
    let cronjobs: Vec<Value> = store.list(CRONJOBS, None).cloned().collect();
    for cj in cronjobs {
        sync(&mut store, &cj, now);
    }
}

/// Runs the controller until the store's change channel closes: after every change to a
/// CronJob or Job, when the simulated clock moves, and at the start of every minute.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut rx = shared.lock().subscribe();
    let mut clock = shared.hooks.clock_signal();
    let mut paused = shared.hooks.paused_signal();
    loop {
        let secs = Timestamp::now().as_second().rem_euclid(60) as u64;
        let tick = tokio::time::sleep(Duration::from_secs(60 - secs));
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(c) if c.storage == CRONJOBS || c.storage == JOBS => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            changed = clock.changed() => if changed.is_err() { return },
            changed = paused.changed() => if changed.is_err() { return },
            () = tick => {}
        }
        sync_all(&shared);
    }
}
