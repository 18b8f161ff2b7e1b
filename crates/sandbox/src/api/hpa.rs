//! HorizontalPodAutoscaler conversion between autoscaling/v1 (what it serves) and autoscaling/v2 (how it is stored).
//!
//! Follows pkg/apis/autoscaling/v1/conversion.go: v1's `targetCPUUtilizationPercentage` is v2's
//! `Resource` metric `cpu` with an `Utilization` target, and v1's
//! `currentCPUUtilizationPercentage` its current value. What v1 cannot express travels in
//! annotations, so nothing is lost going through v1: the other metrics
//! (`autoscaling.alpha.kubernetes.io/metrics`), `behavior`
//! (`autoscaling.alpha.kubernetes.io/behavior`), the conditions
//! (`autoscaling.alpha.kubernetes.io/conditions`) and the other current metrics
//! (`autoscaling.alpha.kubernetes.io/current-metrics`). Unlike upstream, which writes the
//! metrics there in the older v2beta1 shape, the sandbox writes them in v2's shape.

use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && m["resource"]["target"]["type"] == "Utilization"
}

fn is_cpu_current(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && !m["resource"]["current"]["averageUtilization"].is_null()
}

fn annotations(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    match obj["metadata"]["annotations"].as_object_mut() {
        Some(m) => m,
        None => unreachable!("just made an object"),
    }
}

fn take_json(obj: &mut Value, key: &str) -> Option<Value> {
    let text = obj["metadata"]["annotations"]
        .as_object_mut()?
        .remove(key)?;
    serde_json::from_str(text.as_str()?).ok()
}

fn put_json(obj: &mut Value, key: &str, v: &Value) {
    annotations(obj).insert(key.into(), Value::String(v.to_string()));
}

fn drop_empty_annotations(obj: &mut Value) {
    if obj["metadata"]["annotations"]
        .as_object()
        .is_some_and(Map::is_empty)
        && let Some(m) = obj["metadata"].as_object_mut()
    {
        m.remove("annotations");
    }
}

/// An autoscaling/v2 object as autoscaling/v1 serves it.
pub(crate) fn v2_to_v1(v2: &Value) -> Value {
    let mut out = v2.clone();
    let spec = &v2["spec"];
    let metrics: Vec<Value> = spec["metrics"].as_array().cloned().unwrap_or_default();
    let (cpu, other): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    let mut s =
        json!({"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicas"]});
    if !spec["minReplicas"].is_null() {
        s["minReplicas"] = spec["minReplicas"].clone();
    }
    if let Some(c) = cpu.first() {
        s["targetCPUUtilizationPercentage"] = c["resource"]["target"]["averageUtilization"].clone();
    }
    out["spec"] = s;
    if !other.is_empty() {
        put_json(&mut out, METRICS, &Value::Array(other));
    }
    if !spec["behavior"].is_null() {
        put_json(&mut out, BEHAVIOR, &spec["behavior"]);
    }
    let status = &v2["status"];
    if status.is_object() {
        let mut st = json!({"currentReplicas": status["currentReplicas"].as_i64().unwrap_or(0),
                            "desiredReplicas": status["desiredReplicas"].as_i64().unwrap_or(0)});
        for f in ["observedGeneration", "lastScaleTime"] {
            if !status[f].is_null() {
                st[f] = status[f].clone();
            }
        }
        let current: Vec<Value> = status["currentMetrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let (cpu, other): (Vec<Value>, Vec<Value>) = current.into_iter().partition(is_cpu_current);
        if let Some(c) = cpu.first() {
            st["currentCPUUtilizationPercentage"] =
                c["resource"]["current"]["averageUtilization"].clone();
        }
        if !other.is_empty() {
            put_json(&mut out, CURRENT, &Value::Array(other));
        }
        if let Some(cs) = status["conditions"].as_array().filter(|c| !c.is_empty()) {
            put_json(&mut out, CONDITIONS, &Value::Array(cs.clone()));
        }
        out["status"] = st;
    }
    out
}

/// An autoscaling/v1 object as autoscaling/v2 stores it.
pub(crate) fn v1_to_v2(v1: &Value) -> Value {
    let mut out = v1.clone();
    let mut metrics: Vec<Value> = take_json(&mut out, METRICS)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let behavior = take_json(&mut out, BEHAVIOR);
    let conditions = take_json(&mut out, CONDITIONS);
    let mut current: Vec<Value> = take_json(&mut out, CURRENT)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    drop_empty_annotations(&mut out);
    let spec = &v1["spec"];
    if let Some(cpu) = spec["targetCPUUtilizationPercentage"].as_i64() {
        metrics.insert(
            0,
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}),
        );
    }
    let mut s =
        json!({"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicas"]});
    if !spec["minReplicas"].is_null() {
        s["minReplicas"] = spec["minReplicas"].clone();
    }
    if !metrics.is_empty() {
        s["metrics"] = Value::Array(metrics);
    }
    if let Some(b) = behavior {
        s["behavior"] = b;
    }
    out["spec"] = s;
    let status = &v1["status"];
    if status.is_object() {
        let mut st = json!({"currentReplicas": status["currentReplicas"], "desiredReplicas": status["desiredReplicas"]});
        for f in ["observedGeneration", "lastScaleTime"] {
            if !status[f].is_null() {
                st[f] = status[f].clone();
            }
        }
        if let Some(cpu) = status["currentCPUUtilizationPercentage"].as_i64() {
            current.insert(0, json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}));
        }
        if !current.is_empty() {
            st["currentMetrics"] = Value::Array(current);
        }
        if let Some(c) = conditions {
            st["conditions"] = c;
        }
        if let Some(m) = st.as_object_mut() {
            m.retain(|_, v| !v.is_null());
        }
        out["status"] = st;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_round_trips_through_v1() {
        let v2 = json!({"metadata": {"name": "h"}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 5,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "conditions": [{"type": "AbleToScale", "status": "True"}]}});
        let v1 = v2_to_v1(&v2);
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert!(v1["spec"]["metrics"].is_null());
        assert!(
            v1["metadata"]["annotations"][METRICS]
                .as_str()
                .unwrap()
                .contains("memory")
        );
        assert_eq!(v1_to_v2(&v1), v2);
    }
}
