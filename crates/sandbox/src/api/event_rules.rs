//! Event validation as kube-apiserver's `ValidateEventCreate` (pkg/apis/core/validation/events.go).
//!
//! Events are checked in storage (core/v1) form, so field paths of the legacy checks use the
//! core names (`message`, `reportingComponent` for core/v1 requests), as upstream reports them.
//! events.k8s.io/v1 creates get the strict checks on top: `eventTime` required, `type` Normal or
//! Warning, the deprecated fields unset, a series with count ≥ 2 and a lastObservedTime.

use serde_json::Value;

/// Upstream's `ReportingInstanceLengthLimit`, `ActionLengthLimit`, `ReasonLengthLimit`.
const SHORT_LIMIT: usize = 128;
/// Upstream's `NoteLengthLimit`: an Event's note (core `message`) is at most 1 kB.
const NOTE_LIMIT: usize = 1024;

fn text<'a>(ev: &'a Value, field: &str) -> &'a str {
    ev[field].as_str().unwrap_or_default()
}

fn set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_i64() != Some(0),
        Value::Object(m) => m.values().any(set),
        _ => true,
    }
}

/// The field errors `(path, message)` of an Event in storage form, written through
/// `group` (`""` for core/v1, `events.k8s.io`); `create` adds the strict events.k8s.io checks.
pub(crate) fn errors(ev: &Value, group: &str, create: bool) -> Vec<(String, String)> {
    let mut errs = legacy(ev, group);
    if group != "events.k8s.io" || !create {
        return errs;
    }
    let series = &ev["series"];
    if !series.is_null() {
        if series["count"].as_i64().unwrap_or(0) < 2 {
            errs.push((
                "series.count".into(),
                "Invalid value: \"\": should be at least 2".into(),
            ));
        }
        if !set(&series["lastObservedTime"]) {
            errs.push(("series.lastObservedTime".into(), "Required value".into()));
        }
    }
    if !set(&ev["eventTime"]) {
        errs.push(("eventTime".into(), "Required value".into()));
    }
    let kind = text(ev, "type");
    if kind != "Normal" && kind != "Warning" {
        errs.push((
            "type".into(),
            format!("Invalid value: \"\": has invalid value: {kind}"),
        ));
    }
    for (stored, served) in [
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
        ("source", "deprecatedSource"),
    ] {
        if set(&ev[stored]) {
            errs.push((
                served.into(),
                "Invalid value: \"\": needs to be unset".into(),
            ));
        }
    }
    errs
}

/// `legacyValidateEvent`: namespaces agree; an Event with an eventTime names its reporting
/// controller and instance, action and reason, within the length limits.
fn legacy(ev: &Value, group: &str) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let ns = ev["metadata"]["namespace"].as_str().unwrap_or_default();
    let involved_ns = text(&ev["involvedObject"], "namespace");
    let mismatch = || {
        (
            "involvedObject.namespace".to_string(),
            format!("Invalid value: {involved_ns:?}: does not match event.namespace"),
        )
    };
    if !set(&ev["eventTime"]) {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != involved_ns {
            errs.push(mismatch());
        }
        return errs;
    }
    if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
        errs.push(mismatch());
    }
    let controller_field = if group.is_empty() {
        "reportingComponent"
    } else {
        "reportingController"
    };
    let controller = text(ev, "reportingComponent");
    if controller.is_empty() {
        errs.push((controller_field.into(), "Required value".into()));
    } else if !k8s_rules::names::is_label_key(controller) {
        errs.push((
            controller_field.into(),
            format!("Invalid value: {controller:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        ));
    }
    for field in ["reportingInstance", "action", "reason"] {
        let v = text(ev, field);
        if v.is_empty() {
            errs.push((field.into(), "Required value".into()));
        } else if v.len() > SHORT_LIMIT {
            errs.push((
                field.into(),
                format!("Invalid value: \"\": can have at most {SHORT_LIMIT} characters"),
            ));
        }
    }
    if text(ev, "message").len() > NOTE_LIMIT {
        errs.push((
            "message".into(),
            format!("Invalid value: \"\": can have at most {NOTE_LIMIT} characters"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored_new_event() -> Value {
        json!({"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reportingComponent": "ctl.example.com/x",
            "reportingInstance": "ctl-1", "action": "Start", "reason": "Started", "type": "Normal", "message": "ok"})
    }

    #[test]
    fn a_complete_event_passes_and_a_bare_one_names_every_missing_field() {
        assert!(errors(&stored_new_event(), "events.k8s.io", true).is_empty());
        let bare = json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        let fields: Vec<String> = errors(&bare, "events.k8s.io", true)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(fields, ["eventTime", "type"]);
        // core/v1 keeps accepting events without eventTime (old clients)
        assert!(errors(&bare, "", true).is_empty());
    }

    #[test]
    fn an_event_with_event_time_needs_its_reporter_and_a_short_note() {
        let mut ev = stored_new_event();
        for f in [
            "reportingComponent",
            "reportingInstance",
            "action",
            "reason",
        ] {
            ev.as_object_mut().unwrap().remove(f);
        }
        ev["message"] = json!("x".repeat(1025));
        let fields: Vec<String> = errors(&ev, "events.k8s.io", true)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(
            fields,
            [
                "reportingController",
                "reportingInstance",
                "action",
                "reason",
                "message"
            ]
        );
        let core: Vec<String> = errors(&ev, "", true).into_iter().map(|e| e.0).collect();
        assert_eq!(core[0], "reportingComponent");
    }
}
