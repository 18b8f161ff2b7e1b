//! Events are one store served as core/v1 and events.k8s.io/v1: conversion between the two forms.

use serde_json::{Map, Value};

use crate::api::resources::ResourceInfo;

/// `(events.k8s.io/v1 field, core/v1 field)`.
const RENAMES: [(&str, &str); 6] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
];

fn rename(obj: &mut Value, from_to: impl Iterator<Item = (&'static str, &'static str)>) {
    if let Some(m) = obj.as_object_mut() {
        for (from, to) in from_to {
            if let Some(v) = m.remove(from) {
                m.insert(to.into(), v);
            }
        }
    }
}

fn is_new_api(res: &ResourceInfo) -> bool {
    res.storage == "events" && res.group == "events.k8s.io"
}

/// Converts a served object into storage form (core/v1 for events).
pub(crate) fn to_storage(res: &ResourceInfo, mut obj: Value) -> Value {
    if is_new_api(res) {
        rename(
            &mut obj,
            RENAMES
                .iter()
                .copied()
                .chain([("deprecatedCount", "count")]),
        );
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), Value::String("v1".into()));
        }
    }
    obj
}

/// Converts a stored object into the form `res` serves (sets apiVersion and kind).
pub(crate) fn to_served(res: &ResourceInfo, obj: &Value) -> Value {
    into_served(res, obj.clone())
}

/// [`to_served`] of an object the caller no longer needs (no copy).
pub(crate) fn into_served(res: &ResourceInfo, mut obj: Value) -> Value {
    if is_new_api(res) {
        rename(
            &mut obj,
            RENAMES
                .iter()
                .map(|(a, b)| (*b, *a))
                .chain([("count", "deprecatedCount")]),
        );
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(res.api_version()));
        m.insert("kind".into(), Value::String(res.kind.clone()));
    } else {
        obj = Value::Object(Map::new());
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::Registry;
    use serde_json::json;

    #[test]
    fn round_trips_between_forms() {
        let reg = Registry::default();
        let new = reg.find("events.k8s.io", "v1", "events").unwrap();
        let core = reg.find("", "v1", "events").unwrap();
        let written = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello", "reason": "Started", "reportingController": "ctl"});
        let stored = to_storage(new, written.clone());
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hello");
        let as_core = to_served(core, &stored);
        assert_eq!(as_core["apiVersion"], "v1");
        assert_eq!(to_served(new, &stored), written);
    }
}
