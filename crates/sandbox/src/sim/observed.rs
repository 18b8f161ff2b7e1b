//! Status computed from other objects: PodDisruptionBudgets count the Pods they select, HorizontalPodAutoscalers read and clamp their target's replicas, Ingresses get the loopback address.
//!
//! - PodDisruptionBudget (pkg/controller/disruption): `expectedPods` = selected Pods,
//!   `currentHealthy` = those Running and Ready, `desiredHealthy` from `minAvailable` or
//!   `expectedPods - maxUnavailable` (percentages rounded up), `disruptionsAllowed` =
//!   `currentHealthy - desiredHealthy` (at least 0), and the `DisruptionAllowed` condition
//!   (`SufficientPods` / `InsufficientPods`).
//! - HorizontalPodAutoscaler (pkg/controller/podautoscaler): `currentReplicas` from the target's
//!   `spec.replicas`; outside `[minReplicas, maxReplicas]` the target is scaled into the range
//!   (upstream does this without metrics); within it the sandbox has no metrics API, so
//!   `desiredReplicas` = `currentReplicas` and `ScalingActive` is False, saying so.
//! - Ingress: `status.loadBalancer.ingress` is the sandbox's address, 127.0.0.1, as an ingress
//!   controller publishes its own.

use serde_json::{Value, json};

use crate::api::selectors::LabelSelector;
use crate::api::store::Store;

/// The stores whose status is computed here.
pub(crate) const OBSERVED: &[&str] = &[PDBS, HPAS, INGRESSES];
pub(crate) const PDBS: &str = "policy/poddisruptionbudgets";
pub(crate) const HPAS: &str = "autoscaling/horizontalpodautoscalers";
pub(crate) const INGRESSES: &str = "networking.k8s.io/ingresses";

/// `value` of an int-or-percent field scaled to `total`, rounded up (GetScaledValueFromIntOrPercent).
fn scaled(value: &Value, total: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((p * total + 99) / 100)
        }
        _ => None,
    }
}

fn ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn condition(old: &Value, ty: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    let prev = old["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty));
    let since = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    json!({"type": ty, "status": status, "reason": reason, "message": message, "lastTransitionTime": since})
}

fn pdb_status(store: &Store, pdb: &Value, now: &str) -> Value {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or_default();
    let selector = LabelSelector::from_json(&pdb["spec"]["selector"]);
    let pods: Vec<&Value> = store
        .list("/pods", Some(ns))
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| selector.as_ref().is_some_and(|s| s.matches(p)))
        .collect();
    let expected = pods.len() as i64;
    let healthy = pods.iter().filter(|p| ready(p)).count() as i64;
    let spec = &pdb["spec"];
    let desired = if !spec["minAvailable"].is_null() {
        scaled(&spec["minAvailable"], expected).unwrap_or(0)
    } else if !spec["maxUnavailable"].is_null() {
        (expected - scaled(&spec["maxUnavailable"], expected).unwrap_or(0)).max(0)
    } else {
        0
    };
    let allowed = (healthy - desired).max(0);
    let old = &pdb["status"];
    let cond = if allowed > 0 {
        condition(old, "DisruptionAllowed", "True", "SufficientPods", "", now)
    } else {
        condition(
            old,
            "DisruptionAllowed",
            "False",
            "InsufficientPods",
            "",
            now,
        )
    };
    json!({"observedGeneration": pdb["metadata"]["generation"], "expectedPods": expected,
           "currentHealthy": healthy, "desiredHealthy": desired, "disruptionsAllowed": allowed,
           "conditions": [cond]})
}

/// The target of an HPA: its store and key, if the sandbox serves its kind.
fn target(hpa: &Value) -> Option<(String, (String, String))> {
    let r = &hpa["spec"]["scaleTargetRef"];
    let storage = match (r["apiVersion"].as_str()?, r["kind"].as_str()?) {
        ("apps/v1", "Deployment") => "apps/deployments",
        ("apps/v1", "StatefulSet") => "apps/statefulsets",
        ("apps/v1", "ReplicaSet") => "apps/replicasets",
        ("v1", "ReplicationController") => "/replicationcontrollers",
        _ => return None,
    };
    let ns = hpa["metadata"]["namespace"].as_str()?.to_string();
    Some((storage.into(), (ns, r["name"].as_str()?.to_string())))
}

/// The HPA's status, and the replicas its target must be scaled to (outside the range).
fn hpa_status(store: &Store, hpa: &Value, now: &str) -> (Value, Option<i64>) {
    let old = &hpa["status"];
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
    let max = hpa["spec"]["maxReplicas"].as_i64().unwrap_or(min);
    let found = target(hpa).and_then(|(s, k)| {
        store
            .get(&s, &k)
            .map(|o| o["spec"]["replicas"].as_i64().unwrap_or(1))
    });
    let Some(current) = found else {
        let r = &hpa["spec"]["scaleTargetRef"];
        let message = format!(
            "the HPA controller was unable to get the target's current scale: {} {:?} not found (the sandbox scales Deployments, StatefulSets, ReplicaSets and ReplicationControllers)",
            r["kind"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default()
        );
        let status = json!({"observedGeneration": hpa["metadata"]["generation"], "currentReplicas": 0, "desiredReplicas": 0,
            "conditions": [condition(old, "AbleToScale", "False", "FailedGetScale", &message, now)]});
        return (status, None);
    };
    let (desired, limited) = if current > max {
        (
            max,
            Some((
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )),
        )
    } else if current < min {
        (
            min,
            Some((
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )),
        )
    } else {
        (current, None)
    };
    let mut conditions = vec![
        condition(
            old,
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size",
            now,
        ),
        condition(
            old,
            "ScalingActive",
            "False",
            "FailedGetResourceMetric",
            "the HPA was unable to compute the replica count: the sandbox has no metrics API (no kubelets, no metrics-server)",
            now,
        ),
    ];
    conditions.push(match limited {
        Some((reason, message)) => condition(old, "ScalingLimited", "True", reason, message, now),
        None => condition(
            old,
            "ScalingLimited",
            "False",
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
            now,
        ),
    });
    let mut status = json!({"observedGeneration": hpa["metadata"]["generation"], "currentReplicas": current,
        "desiredReplicas": desired, "conditions": conditions});
    if desired != current {
        status["lastScaleTime"] = old
            .get("lastScaleTime")
            .cloned()
            .unwrap_or_else(|| json!(now));
    } else if let Some(t) = old.get("lastScaleTime") {
        status["lastScaleTime"] = t.clone();
    }
    (status, (desired != current).then_some(desired))
}

/// A target to scale: its store, its key and the replicas it must have.
pub(crate) type Scale = (String, (String, String), i64);

/// The status `obj` of `storage` has given the rest of the store, and for an HPA the target
/// (store, key) and replicas to scale it to.
pub(crate) fn status(
    store: &Store,
    storage: &str,
    obj: &Value,
    now: &str,
) -> Option<(Value, Option<Scale>)> {
    match storage {
        PDBS => Some((pdb_status(store, obj, now), None)),
        HPAS => {
            let (s, scale) = hpa_status(store, obj, now);
            let scale = scale.and_then(|n| target(obj).map(|(st, k)| (st, k, n)));
            Some((s, scale))
        }
        INGRESSES => Some((
            json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}),
            None,
        )),
        _ => None,
    }
}

/// Whether two statuses differ other than in condition times.
pub(crate) fn differs(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.remove("lastTransitionTime");
            }
        }
        if let Some(m) = v.as_object_mut() {
            m.remove("lastScaleTime");
        }
        v
    };
    strip(a) != strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(2), 3), Some(2));
        assert_eq!(scaled(&json!("x"), 3), None);
    }
}
