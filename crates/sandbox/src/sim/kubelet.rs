//! The simulated kubelet: Pods of the simulated controllers start and get Ready, a Job's Pods then run to completion; pausing it (`Hooks::pause_kubelet`) is how a rollout stalls here.
//!
//! There are no nodes, no scheduler and no containers: a Pod owned by a ReplicaSet,
//! ReplicationController, StatefulSet or Job goes from no status to Running with every
//! container ready (conditions as the kubelet writes them, `hostIP`/`podIP` 127.0.0.1) one
//! simulation delay after it was created; a Job's Pod goes on to Succeeded (exit code 0,
//! reason Completed) one delay later. Pods nobody simulated made (a bare Pod) stay as written.

use serde_json::{Value, json};

/// Controllers whose Pods the simulated kubelet runs.
const RUN_BY: [&str; 4] = ["ReplicaSet", "ReplicationController", "StatefulSet", "Job"];

/// The kind of a Pod's controller, if it has one.
pub(crate) fn controller_kind(pod: &Value) -> Option<&str> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?["kind"]
        .as_str()
}

/// Whether a Pod still counts for its controller: not finished, not being deleted
/// (upstream's `controller.IsPodActive`).
pub(crate) fn is_active(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

fn ready_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// Whether the Pod is Ready (`podutil.IsPodReady`).
pub(crate) fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some_and(|c| c["status"] == "True")
}

/// When the Pod became Ready (its Ready condition's `lastTransitionTime`).
pub(crate) fn ready_since(pod: &Value) -> &Value {
    ready_condition(pod).map_or(&Value::Null, |c| &c["lastTransitionTime"])
}

/// The status the simulated kubelet gives a Pod next, or `None` for a Pod it does not run.
pub(crate) fn pod_status(pod: &Value, now: &str) -> Option<Value> {
    let kind = controller_kind(pod).filter(|k| RUN_BY.contains(k))?;
    let old = &pod["status"];
    if matches!(old["phase"].as_str(), Some("Succeeded" | "Failed")) {
        return Some(old.clone());
    }
    let since = old["startTime"].as_str().unwrap_or(now).to_string();
    let finished = kind == "Job" && old["phase"] == "Running";
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let state = if finished {
                        json!({"terminated": {"exitCode": 0, "reason": "Completed",
                                              "startedAt": since, "finishedAt": now}})
                    } else {
                        json!({"running": {"startedAt": since}})
                    };
                    json!({"name": c["name"], "image": c["image"], "imageID": "",
                           "ready": !finished, "started": !finished, "restartCount": 0,
                           "state": state})
                })
                .collect()
        })
        .unwrap_or_default();
    let cond = |ty: &str, up: bool, at: &str| {
        let mut c = json!({"type": ty, "status": if up { "True" } else { "False" },
                           "lastProbeTime": null, "lastTransitionTime": at});
        if !up {
            c["reason"] = json!("PodCompleted");
        }
        c
    };
    let run = !finished;
    Some(json!({
        "phase": if finished { "Succeeded" } else { "Running" },
        "startTime": since, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
        "qosClass": old["qosClass"].as_str().unwrap_or("BestEffort"),
        "conditions": [
            cond("PodReadyToStartContainers", run, if run { &since } else { now }),
            cond("Initialized", true, &since),
            cond("Ready", run, if run { &since } else { now }),
            cond("ContainersReady", run, if run { &since } else { now }),
            cond("PodScheduled", true, &since),
        ],
        "containerStatuses": containers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(kind: &str) -> Value {
        json!({"metadata": {"ownerReferences": [{"kind": kind, "controller": true}]},
               "spec": {"containers": [{"name": "c", "image": "i"}]}})
    }

    #[test]
    fn pods_run_and_job_pods_finish() {
        let mut p = pod("ReplicaSet");
        p["status"] = pod_status(&p, "t1").unwrap();
        assert!(is_ready(&p) && is_active(&p));
        assert_eq!(ready_since(&p), "t1");
        assert_eq!(pod_status(&p, "t2").unwrap()["startTime"], "t1");

        let mut j = pod("Job");
        j["status"] = pod_status(&j, "t1").unwrap();
        assert_eq!(j["status"]["phase"], "Running");
        j["status"] = pod_status(&j, "t2").unwrap();
        assert_eq!(j["status"]["phase"], "Succeeded");
        assert!(!is_active(&j) && !is_ready(&j));
        let c = &j["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (c["exitCode"].as_i64(), c["finishedAt"].as_str()),
            (Some(0), Some("t2"))
        );
        assert_eq!(pod_status(&j, "t3").unwrap(), j["status"]);

        assert_eq!(pod_status(&json!({"metadata": {}}), "t"), None);
        assert_eq!(pod_status(&pod("DaemonSet"), "t"), None);
    }
}
