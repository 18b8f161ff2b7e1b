//! HorizontalPodAutoscaler conversion between autoscaling/v1 (what it serves) and autoscaling/v2 (how it is stored).
//!
//! Follows pkg/apis/autoscaling/v1/conversion.go: v1's `targetCPUUtilizationPercentage` is v2's
//! `Resource` metric `cpu` with an `Utilization` target, and v1's
//! `currentCPUUtilizationPercentage` its current value. What v1 cannot express travels in
//! annotations, in the shapes upstream writes, so nothing is lost going through v1:
//! - `autoscaling.alpha.kubernetes.io/metrics`: the other metrics, as autoscaling/v1's
//!   `MetricSpec` (`targetAverageUtilization`, `metricName`, … — the v2beta1 shape);
//! - `autoscaling.alpha.kubernetes.io/current-metrics`: every current metric, the CPU one too,
//!   as v1's `MetricStatus`;
//! - `autoscaling.alpha.kubernetes.io/conditions`: the conditions;
//! - `autoscaling.alpha.kubernetes.io/behavior`: `behavior` as Go marshals the internal type,
//!   whose fields have no JSON tags (`ScaleUp`, `StabilizationWindowSeconds`, …; upstream's TODO
//!   about it), read back with encoding/json's case-insensitive keys.
//!
//! Round-trip annotations already on the stored object are dropped before these are written
//! (`DropRoundTripHorizontalPodAutoscalerAnnotations`), and a v1 write without any metric gets
//! the CPU default of 80 %, as the conversion applies it.

use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const TOLERANCE_DOWN: &str = "autoscaling.alpha.kubernetes.io/scale-down-tolerance";
const TOLERANCE_UP: &str = "autoscaling.alpha.kubernetes.io/scale-up-tolerance";
/// `autoscaling.DefaultCPUUtilization`.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A non-pointer `resource.Quantity` in Go: its zero value marshals as `"0"`.
fn quantity(v: &Value, key: &str) -> Value {
    present(v, key).cloned().unwrap_or_else(|| json!("0"))
}

fn copy(out: &mut Map<String, Value>, to: &str, from: &Value, key: &str) {
    if let Some(x) = present(from, key) {
        out.insert(to.into(), x.clone());
    }
}

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && present(&m["resource"]["target"], "averageUtilization").is_some()
}

fn is_cpu(m: &Value) -> bool {
    m["type"] == "Resource" && m["resource"]["name"] == "cpu"
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

/// `DropRoundTripHorizontalPodAutoscalerAnnotations`.
fn drop_round_trip_annotations(obj: &mut Value) {
    if let Some(a) = obj["metadata"]["annotations"].as_object_mut() {
        for k in [
            METRICS,
            BEHAVIOR,
            CONDITIONS,
            CURRENT,
            TOLERANCE_DOWN,
            TOLERANCE_UP,
        ] {
            a.remove(k);
        }
    }
    drop_empty_annotations(obj);
}

fn object_ref(r: &Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), r.get("kind").cloned().unwrap_or(json!("")));
    out.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
    copy(&mut out, "apiVersion", r, "apiVersion");
    Value::Object(out)
}

/// v2's `metric: {name, selector}` as v1's `metricName` and the selector under `selector_key`.
fn put_identifier(out: &mut Map<String, Value>, src: &Value, selector_key: &str) {
    out.insert(
        "metricName".into(),
        src["metric"].get("name").cloned().unwrap_or(json!("")),
    );
    copy(out, selector_key, &src["metric"], "selector");
}

fn identifier(src: &Value, selector_key: &str) -> Value {
    let mut id = Map::new();
    id.insert(
        "name".into(),
        src.get("metricName").cloned().unwrap_or(json!("")),
    );
    copy(&mut id, "selector", src, selector_key);
    Value::Object(id)
}

/// `Convert_autoscaling_MetricSpec_To_v1_MetricSpec`.
fn spec_to_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), m.get("type").cloned().unwrap_or(json!("")));
    if let Some(o) = present(m, "object") {
        let t = &o["target"];
        let mut v = Map::new();
        v.insert("target".into(), object_ref(&o["describedObject"]));
        put_identifier(&mut v, o, "selector");
        v.insert("targetValue".into(), quantity(t, "value"));
        copy(&mut v, "averageValue", t, "averageValue");
        out.insert("object".into(), Value::Object(v));
    }
    if let Some(p) = present(m, "pods") {
        let mut v = Map::new();
        put_identifier(&mut v, p, "selector");
        v.insert(
            "targetAverageValue".into(),
            quantity(&p["target"], "averageValue"),
        );
        out.insert("pods".into(), Value::Object(v));
    }
    for key in ["resource", "containerResource"] {
        if let Some(r) = present(m, key) {
            let mut v = Map::new();
            v.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
            copy(
                &mut v,
                "targetAverageUtilization",
                &r["target"],
                "averageUtilization",
            );
            copy(&mut v, "targetAverageValue", &r["target"], "averageValue");
            if key == "containerResource" {
                v.insert(
                    "container".into(),
                    r.get("container").cloned().unwrap_or(json!("")),
                );
            }
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = present(m, "external") {
        let mut v = Map::new();
        put_identifier(&mut v, e, "metricSelector");
        copy(&mut v, "targetValue", &e["target"], "value");
        copy(&mut v, "targetAverageValue", &e["target"], "averageValue");
        out.insert("external".into(), Value::Object(v));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricSpec_To_autoscaling_MetricSpec`.
fn spec_from_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), m.get("type").cloned().unwrap_or(json!("")));
    if let Some(o) = present(m, "object") {
        let kind = if present(o, "averageValue").is_none() {
            "Value"
        } else {
            "AverageValue"
        };
        let mut target = Map::new();
        target.insert("type".into(), json!(kind));
        target.insert("value".into(), quantity(o, "targetValue"));
        copy(&mut target, "averageValue", o, "averageValue");
        out.insert(
            "object".into(),
            json!({"describedObject": object_ref(&o["target"]),
                   "metric": identifier(o, "selector"), "target": target}),
        );
    }
    if let Some(p) = present(m, "pods") {
        out.insert(
            "pods".into(),
            json!({"metric": identifier(p, "selector"),
                   "target": {"type": "AverageValue", "averageValue": quantity(p, "targetAverageValue")}}),
        );
    }
    for key in ["resource", "containerResource"] {
        if let Some(r) = present(m, key) {
            let utilization = present(r, "targetAverageUtilization");
            let mut target = Map::new();
            target.insert(
                "type".into(),
                json!(if utilization.is_some() {
                    "Utilization"
                } else {
                    "AverageValue"
                }),
            );
            copy(&mut target, "averageValue", r, "targetAverageValue");
            copy(
                &mut target,
                "averageUtilization",
                r,
                "targetAverageUtilization",
            );
            let mut v = Map::new();
            v.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
            if key == "containerResource" {
                v.insert(
                    "container".into(),
                    r.get("container").cloned().unwrap_or(json!("")),
                );
            }
            v.insert("target".into(), Value::Object(target));
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = present(m, "external") {
        let kind = if present(e, "targetValue").is_some() {
            "Value"
        } else {
            "AverageValue"
        };
        let mut target = Map::new();
        target.insert("type".into(), json!(kind));
        copy(&mut target, "value", e, "targetValue");
        copy(&mut target, "averageValue", e, "targetAverageValue");
        out.insert(
            "external".into(),
            json!({"metric": identifier(e, "metricSelector"), "target": target}),
        );
    }
    Value::Object(out)
}

/// `Convert_autoscaling_MetricStatus_To_v1_MetricStatus`.
fn status_to_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), m.get("type").cloned().unwrap_or(json!("")));
    if let Some(o) = present(m, "object") {
        let c = &o["current"];
        let mut v = Map::new();
        v.insert("target".into(), object_ref(&o["describedObject"]));
        put_identifier(&mut v, o, "selector");
        v.insert("currentValue".into(), quantity(c, "value"));
        copy(&mut v, "averageValue", c, "averageValue");
        out.insert("object".into(), Value::Object(v));
    }
    if let Some(p) = present(m, "pods") {
        let mut v = Map::new();
        put_identifier(&mut v, p, "selector");
        v.insert(
            "currentAverageValue".into(),
            quantity(&p["current"], "averageValue"),
        );
        out.insert("pods".into(), Value::Object(v));
    }
    for key in ["resource", "containerResource"] {
        if let Some(r) = present(m, key) {
            let mut v = Map::new();
            v.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
            copy(
                &mut v,
                "currentAverageUtilization",
                &r["current"],
                "averageUtilization",
            );
            v.insert(
                "currentAverageValue".into(),
                quantity(&r["current"], "averageValue"),
            );
            if key == "containerResource" {
                v.insert(
                    "container".into(),
                    r.get("container").cloned().unwrap_or(json!("")),
                );
            }
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = present(m, "external") {
        let mut v = Map::new();
        put_identifier(&mut v, e, "metricSelector");
        v.insert("currentValue".into(), quantity(&e["current"], "value"));
        copy(&mut v, "currentAverageValue", &e["current"], "averageValue");
        out.insert("external".into(), Value::Object(v));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricStatus_To_autoscaling_MetricStatus`.
fn status_from_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), m.get("type").cloned().unwrap_or(json!("")));
    if let Some(o) = present(m, "object") {
        let mut current = Map::new();
        current.insert("value".into(), quantity(o, "currentValue"));
        copy(&mut current, "averageValue", o, "averageValue");
        out.insert(
            "object".into(),
            json!({"describedObject": object_ref(&o["target"]),
                   "metric": identifier(o, "selector"), "current": current}),
        );
    }
    if let Some(p) = present(m, "pods") {
        out.insert(
            "pods".into(),
            json!({"metric": identifier(p, "selector"),
                   "current": {"averageValue": quantity(p, "currentAverageValue")}}),
        );
    }
    for key in ["resource", "containerResource"] {
        if let Some(r) = present(m, key) {
            let mut current = Map::new();
            current.insert("averageValue".into(), quantity(r, "currentAverageValue"));
            copy(
                &mut current,
                "averageUtilization",
                r,
                "currentAverageUtilization",
            );
            let mut v = Map::new();
            v.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
            if key == "containerResource" {
                v.insert(
                    "container".into(),
                    r.get("container").cloned().unwrap_or(json!("")),
                );
            }
            v.insert("current".into(), Value::Object(current));
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = present(m, "external") {
        let mut current = Map::new();
        current.insert("value".into(), quantity(e, "currentValue"));
        copy(&mut current, "averageValue", e, "currentAverageValue");
        out.insert(
            "external".into(),
            json!({"metric": identifier(e, "metricSelector"), "current": current}),
        );
    }
    Value::Object(out)
}

/// The fields of the internal `HPAScalingRules` and `HPAScalingPolicy` (Go names, no JSON tags)
/// and their v2 names.
const RULES: [(&str, &str); 4] = [
    ("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
    ("SelectPolicy", "selectPolicy"),
    ("Policies", "policies"),
    ("Tolerance", "tolerance"),
];
const POLICY: [(&str, &str); 3] = [
    ("Type", "type"),
    ("Value", "value"),
    ("PeriodSeconds", "periodSeconds"),
];
const BEHAVIORS: [(&str, &str); 2] = [("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown")];

/// v2's `behavior` as Go's encoding/json marshals the internal type: every field present, nil
/// pointers and slices as `null`.
fn behavior_to_internal(b: &Value) -> Value {
    let rules = |r: &Value| -> Value {
        if r.is_null() {
            return Value::Null;
        }
        let mut out = Map::new();
        for (go, v2) in RULES {
            let v = match (go, r.get(v2)) {
                ("Policies", Some(Value::Array(ps))) => Value::Array(
                    ps.iter()
                        .map(|p| {
                            let mut pm = Map::new();
                            for (go, v2) in POLICY {
                                let zero = if go == "Type" { json!("") } else { json!(0) };
                                pm.insert(go.into(), p.get(v2).cloned().unwrap_or(zero));
                            }
                            Value::Object(pm)
                        })
                        .collect(),
                ),
                (_, v) => v.cloned().unwrap_or(Value::Null),
            };
            out.insert(go.into(), v);
        }
        Value::Object(out)
    };
    let mut out = Map::new();
    for (go, v2) in BEHAVIORS {
        out.insert(go.into(), rules(&b[v2]));
    }
    Value::Object(out)
}

/// A key of `m` equal to `name` ignoring case, as encoding/json matches struct fields.
fn field<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// The behavior annotation read back into v2's `behavior`.
fn behavior_from_internal(b: &Value) -> Value {
    let rename = |v: &Value, names: &[(&str, &str)]| -> Map<String, Value> {
        names
            .iter()
            .filter_map(|(go, v2)| field(v, go).map(|x| ((*v2).to_string(), x.clone())))
            .collect()
    };
    let mut out = Map::new();
    for (go, v2) in BEHAVIORS {
        let Some(r) = field(b, go) else { continue };
        let mut rules = rename(r, &RULES);
        if let Some(Value::Array(ps)) = rules.get("policies") {
            let ps = ps
                .iter()
                .map(|p| Value::Object(rename(p, &POLICY)))
                .collect();
            rules.insert("policies".into(), Value::Array(ps));
        }
        out.insert(v2.into(), Value::Object(rules));
    }
    Value::Object(out)
}

/// An autoscaling/v2 object as autoscaling/v1 serves it.
pub(crate) fn v2_to_v1(v2: &Value) -> Value {
    let mut out = v2.clone();
    drop_round_trip_annotations(&mut out);
    let spec = &v2["spec"];
    let metrics = spec["metrics"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut s = json!({"scaleTargetRef": object_ref(&spec["scaleTargetRef"]), "maxReplicas": spec["maxReplicas"]});
    if !spec["minReplicas"].is_null() {
        s["minReplicas"] = spec["minReplicas"].clone();
    }
    if let Some(cpu) = metrics.iter().find(|m| is_cpu(m))
        && let Some(u) = present(&cpu["resource"]["target"], "averageUtilization")
    {
        s["targetCPUUtilizationPercentage"] = u.clone();
    }
    out["spec"] = s;
    let other: Vec<Value> = metrics
        .iter()
        .filter(|m| !is_cpu_utilization(m))
        .map(spec_to_v1)
        .collect();
    if !other.is_empty() {
        put_json(&mut out, METRICS, &Value::Array(other));
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
        let current = status["currentMetrics"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Every CPU metric is looked at; the last one with a utilization gives the figure.
        for m in current.iter().filter(|m| is_cpu(m)) {
            if let Some(u) = present(&m["resource"]["current"], "averageUtilization") {
                st["currentCPUUtilizationPercentage"] = u.clone();
            }
        }
        if !current.is_empty() {
            let all: Vec<Value> = current.iter().map(status_to_v1).collect();
            put_json(&mut out, CURRENT, &Value::Array(all));
        }
        if let Some(cs) = status["conditions"].as_array().filter(|c| !c.is_empty()) {
            put_json(&mut out, CONDITIONS, &Value::Array(cs.clone()));
        }
        out["status"] = st;
    }
    if let Some(b) = present(spec, "behavior") {
        put_json(&mut out, BEHAVIOR, &behavior_to_internal(b));
    }
    out
}

/// An autoscaling/v1 object as autoscaling/v2 stores it.
pub(crate) fn v1_to_v2(v1: &Value) -> Value {
    let mut out = v1.clone();
    let other = take_json(&mut out, METRICS);
    let behavior = take_json(&mut out, BEHAVIOR);
    let conditions = take_json(&mut out, CONDITIONS);
    let current = take_json(&mut out, CURRENT);
    drop_empty_annotations(&mut out);
    let spec = &v1["spec"];
    // The annotation's metrics first, then the one v1's own field gives (upstream's order).
    let mut metrics: Vec<Value> = other
        .as_ref()
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(spec_from_v1).collect())
        .unwrap_or_default();
    let cpu = |u: &Value| json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": u}}});
    if let Some(u) = present(spec, "targetCPUUtilizationPercentage") {
        metrics.push(cpu(u));
    }
    if metrics.is_empty() {
        metrics.push(cpu(&json!(DEFAULT_CPU_UTILIZATION)));
    }
    let mut s = json!({"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicas"], "metrics": metrics});
    if !spec["minReplicas"].is_null() {
        s["minReplicas"] = spec["minReplicas"].clone();
    }
    if let Some(b) = behavior.as_ref().filter(|b| b.is_object()) {
        s["behavior"] = behavior_from_internal(b);
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
        // The annotation has more than v1's CPU field: it replaces it.
        let current: Vec<Value> = match current.as_ref().and_then(Value::as_array) {
            Some(ms) => ms.iter().map(status_from_v1).collect(),
            None => present(status, "currentCPUUtilizationPercentage")
                .map(|u| vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": u}}})])
                .unwrap_or_default(),
        };
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

    fn annotation(v1: &Value, key: &str) -> Value {
        serde_json::from_str(v1["metadata"]["annotations"][key].as_str().unwrap()).unwrap()
    }

    fn v2() -> Value {
        json!({"metadata": {"name": "h"}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 5,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                                       "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                       "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "250m", "averageUtilization": 40}}}],
                       "conditions": [{"type": "AbleToScale", "status": "True"}]}})
    }

    #[test]
    fn v1_annotations_have_upstreams_shapes() {
        let v1 = v2_to_v1(&v2());
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 40);
        assert!(v1["spec"]["metrics"].is_null());
        // autoscaling/v1's MetricSpec: the v2beta1 field names, quantities Go zero-fills.
        assert_eq!(
            annotation(&v1, METRICS),
            json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
                   {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}])
        );
        // Every current metric, the CPU one too, to keep its raw value.
        assert_eq!(
            annotation(&v1, CURRENT),
            json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 40, "currentAverageValue": "250m"}}])
        );
        // The internal type, Go field names, nil as null.
        assert_eq!(
            annotation(&v1, BEHAVIOR),
            json!({"ScaleUp": null, "ScaleDown": {"StabilizationWindowSeconds": 60, "SelectPolicy": "Max",
                   "Policies": [{"Type": "Pods", "Value": 4, "PeriodSeconds": 60}], "Tolerance": null}})
        );
        assert_eq!(
            annotation(&v1, CONDITIONS),
            json!([{"type": "AbleToScale", "status": "True"}])
        );
    }

    #[test]
    fn v2_round_trips_through_v1() {
        // Upstream's order: the annotation's metrics, then the CPU target from v1's own field.
        let want = v2();
        assert_eq!(v1_to_v2(&v2_to_v1(&want)), want);
    }

    #[test]
    fn a_v1_write_without_metrics_gets_the_cpu_default_and_stale_annotations_go() {
        let v1 = json!({"metadata": {"name": "h", "annotations": {"keep": "me"}},
                        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
        let v2 = v1_to_v2(&v1);
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        let mut stored = v2.clone();
        stored["metadata"]["annotations"][METRICS] = json!("[]");
        let served = v2_to_v1(&stored);
        assert_eq!(served["metadata"]["annotations"], json!({"keep": "me"}));
        assert_eq!(served["spec"]["targetCPUUtilizationPercentage"], 80);
    }

    #[test]
    fn behavior_keys_are_read_back_ignoring_case() {
        let v1 = json!({"metadata": {"name": "h", "annotations": {BEHAVIOR: r#"{"scaleup":{"selectpolicy":"Min","POLICIES":[{"type":"Percent","value":50,"periodseconds":15}]}}"#}},
                        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        assert_eq!(
            v1_to_v2(&v1)["spec"]["behavior"],
            json!({"scaleUp": {"selectPolicy": "Min", "policies": [{"type": "Percent", "value": 50, "periodSeconds": 15}]}})
        );
    }
}
