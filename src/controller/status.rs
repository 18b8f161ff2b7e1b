//! Status of a custom resource: kstatus conditions, observedGeneration and per-child readiness.

use serde_json::{Map, Value, json};

use super::reason::Reason;

/// One rendered child and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildStatus {
    /// apiVersion of the child.
    pub(crate) api_version: String,
    /// Kind of the child.
    pub(crate) kind: String,
    /// Name of the child.
    pub(crate) name: String,
    /// Namespace of the child (empty for a cluster-scoped one).
    pub(crate) namespace: String,
    /// `None` when ready, else why not.
    pub(crate) not_ready: Option<String>,
    /// The resourceVersion `not_ready` was worked out from, when known.
    pub(crate) seen_at: Option<String>,
}

impl ChildStatus {
    fn to_json(&self) -> Value {
        json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "ready": self.not_ready.is_none(),
        })
    }
}

/// How a reconcile ended, as the status should tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything applied; `children` says which are ready.
    Applied {
        /// Every rendered child, in apply order.
        children: Vec<ChildStatus>,
    },
    /// The reconcile failed before or while applying; existing children were left alone
    /// (or partly applied for `ApplyFailed`).
    Failed {
        /// `InvalidSpec`, `RenderFailed`, `PolicyViolation`, `OwnershipConflict`,
        /// `AdoptionRefused`, `KindNotServed`, `Forbidden`, `ApplyFailed` or `PruneFailed`.
        reason: Reason,
        /// What failed and where.
        message: String,
    },
}

impl Outcome {
    /// Whether every child is ready.
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self, Outcome::Applied { children } if children.iter().all(|c| c.not_ready.is_none()))
    }
}

/// Whether a live child is ready; `Err` says why not.
pub(crate) fn child_readiness(object: &Value) -> Result<(), String> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let int = |pointer: &str| object.pointer(pointer).and_then(Value::as_i64);
    match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let generation = int("/metadata/generation").unwrap_or(0);
            let observed = int("/status/observedGeneration").unwrap_or(0);
            if observed < generation {
                return Err(format!(
                    "{kind} has not observed generation {generation} yet (observed {observed})"
                ));
            }
            let wanted = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let replicas = int("/status/replicas").unwrap_or(0);
            let ready_field = if kind == "Deployment" {
                "/status/availableReplicas"
            } else {
                "/status/readyReplicas"
            };
            let available = int(ready_field).unwrap_or(0);
            let updated_ok = kind == "ReplicaSet" || updated == wanted;
            if !(updated_ok && replicas == wanted && available == wanted) {
                return Err(format!(
                    "{available} of {wanted} replicas available, {updated} updated"
                ));
            }
            if kind == "Deployment" {
                let available_condition = object
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|cs| {
                        cs.iter()
                            .find(|c| c.get("type").and_then(Value::as_str) == Some("Available"))
                    })
                    .and_then(|c| c.get("status").and_then(Value::as_str));
                if available_condition != Some("True") {
                    return Err("condition Available is not True".to_string());
                }
            }
            Ok(())
        }
        "DaemonSet" => {
            let desired = int("/status/desiredNumberScheduled").unwrap_or(0);
            let ready = int("/status/numberReady").unwrap_or(0);
            if ready < desired {
                return Err(format!("{ready} of {desired} pods ready"));
            }
            Ok(())
        }
        "Job" => {
            let done = object
                .pointer("/status/succeeded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if done < 1 {
                return Err("not complete".to_string());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The type of the condition that says whether the chart's status fields are up to date.
pub(crate) const STATUS_COMPUTED: &str = "StatusComputed";

/// The chart's computed status fields (see [`crate::chart::STATUS_TEMPLATE`]) as one
/// reconcile found them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Computed {
    /// The chart computes no status fields (fields an earlier chart version computed go).
    NotDeclared,
    /// The fields as computed now from the values and the live children.
    Fields(Map<String, Value>),
    /// Computing them failed (what failed and where): the previous fields stay, the
    /// `StatusComputed` condition says why; the children are applied all the same.
    Failed(String),
    /// Not computed this time (the resource could not be rendered): the previous fields and
    /// `StatusComputed` condition stay as they were.
    Kept,
}

/// `new` as a JSON merge patch over `old`: keys of `old` that `new` lacks become `null`
/// (removed), in nested mappings too.
fn replacing(old: Option<&Value>, new: &Value) -> Value {
    match (old, new) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                patch.insert(key.clone(), replacing(old.get(key), value));
            }
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// Whether `key` is a status field the chart computes (not one tera-operator writes itself).
fn is_computed_field(key: &str) -> bool {
    !crate::chart::RESERVED_STATUS_FIELDS.contains(&key)
}

/// A `Ready` / `Reconciling` / `Stalled` condition set plus the `Ready` message, for an outcome.
fn conditions_for(
    outcome: &Outcome,
    chart_warning: Option<&str>,
) -> Vec<(String, bool, Reason, String)> {
    let with_warning = |message: String| match chart_warning {
        Some(w) => format!("{message}; {w}"),
        None => message,
    };
    match outcome {
        Outcome::Applied { children } => {
            let not_ready: Vec<String> = children
                .iter()
                .filter_map(|c| {
                    c.not_ready
                        .as_ref()
                        .map(|why| format!("{} {}: {why}", c.kind, c.name))
                })
                .collect();
            if not_ready.is_empty() {
                let message = with_warning(format!("all {} objects are ready", children.len()));
                vec![
                    ("Ready".into(), true, Reason::Ready, message),
                    ("Reconciling".into(), false, Reason::Ready, String::new()),
                    ("Stalled".into(), false, Reason::Ready, String::new()),
                ]
            } else {
                let message = with_warning(format!(
                    "{} of {} objects ready; waiting for {}",
                    children.len() - not_ready.len(),
                    children.len(),
                    not_ready.join("; ")
                ));
                vec![
                    ("Ready".into(), false, Reason::Progressing, message.clone()),
                    ("Reconciling".into(), true, Reason::Progressing, message),
                    ("Stalled".into(), false, Reason::Progressing, String::new()),
                ]
            }
        }
        Outcome::Failed { reason, message } => {
            let message = with_warning(message.clone());
            // An API failure is retried (still reconciling); a spec, chart, policy or ownership
            // failure, a missing kind or a forbidden one cannot progress until someone acts
            // (stalled).
            let stalled = !reason.is_retried();
            vec![
                ("Ready".into(), false, *reason, message.clone()),
                (
                    "Reconciling".into(),
                    !stalled,
                    *reason,
                    if stalled {
                        String::new()
                    } else {
                        message.clone()
                    },
                ),
                (
                    "Stalled".into(),
                    stalled,
                    *reason,
                    if stalled { message } else { String::new() },
                ),
            ]
        }
    }
}

/// A condition message as the API allows it: at most 32768 bytes (metav1.Condition), cut at a
/// character boundary and marked `… (truncated)` when longer.
pub(crate) fn bounded_message(mut message: String) -> String {
    const MAX: usize = 32_768;
    const MARK: &str = "… (truncated)";
    if message.len() > MAX {
        let mut cut = MAX - MARK.len();
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(MARK);
    }
    message
}

/// The status to write for `outcome` and the `computed` fields, reusing `lastTransitionTime`
/// of conditions whose status did not change, and the previous children list when the
/// reconcile failed. It is a JSON merge patch: computed fields that went are `null`.
pub(crate) fn desired_status(
    previous: Option<&Value>,
    generation: Option<i64>,
    outcome: &Outcome,
    computed: &Computed,
    chart_warning: Option<&str>,
    now: &str,
) -> Value {
    let previous_conditions: Vec<&Value> = previous
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .map(|cs| cs.iter().collect())
        .unwrap_or_default();
    let mut wanted = conditions_for(outcome, chart_warning);
    match computed {
        Computed::Fields(_) => wanted.push((
            STATUS_COMPUTED.into(),
            true,
            Reason::StatusComputed,
            format!(
                "computed by {} from the values and the live children",
                crate::chart::STATUS_TEMPLATE
            ),
        )),
        Computed::Failed(why) => wanted.push((
            STATUS_COMPUTED.into(),
            false,
            Reason::StatusFailed,
            format!("the status fields are left as they were: {why}"),
        )),
        Computed::NotDeclared | Computed::Kept => {}
    }
    let mut conditions: Vec<Value> = wanted
        .into_iter()
        .map(|(type_, status, reason, message)| {
            let status = if status { "True" } else { "False" };
            let transition = previous_conditions
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(type_.as_str()))
                .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| Value::String(now.to_string()));
            let mut condition = Map::new();
            condition.insert("type".into(), type_.into());
            condition.insert("status".into(), status.into());
            condition.insert("reason".into(), reason.as_str().into());
            condition.insert("message".into(), bounded_message(message).into());
            condition.insert("lastTransitionTime".into(), transition);
            if let Some(g) = generation {
                condition.insert("observedGeneration".into(), g.into());
            }
            Value::Object(condition)
        })
        .collect();
    if *computed == Computed::Kept
        && let Some(kept) = previous_conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(STATUS_COMPUTED))
    {
        conditions.push((*kept).clone());
    }
    let children = match outcome {
        Outcome::Applied { children } => {
            Value::Array(children.iter().map(ChildStatus::to_json).collect())
        }
        Outcome::Failed { .. } => previous
            .and_then(|s| s.get("children"))
            .cloned()
            .unwrap_or_else(|| json!([])),
    };
    let mut status = Map::new();
    if let Some(g) = generation {
        status.insert("observedGeneration".into(), g.into());
    }
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("children".into(), children);
    let previous_fields: Map<String, Value> = previous
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(k, _)| is_computed_field(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let fields = match computed {
        Computed::Fields(fields) => fields.clone(),
        Computed::Failed(_) | Computed::Kept => previous_fields.clone(),
        Computed::NotDeclared => Map::new(),
    };
    let patch = replacing(
        Some(&Value::Object(previous_fields)),
        &Value::Object(fields),
    );
    if let Value::Object(patch) = patch {
        status.extend(patch);
    }
    Value::Object(status)
}

/// The type of the condition [`paused_status`] adds (its reason is [`Reason::Paused`]).
pub(crate) const PAUSED: &str = "Paused";

/// The status while reconciliation is paused: the previous status as it was (observedGeneration
/// too, since a spec changed meanwhile has not been acted on) plus a `Paused` condition. The
/// next normal reconcile writes the status afresh, without it.
pub(crate) fn paused_status(previous: Option<&Value>, message: &str, now: &str) -> Value {
    let mut status = previous
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let since = conditions
        .iter()
        .find(|c| c["type"] == PAUSED && c["status"] == "True")
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::String(now.to_string()));
    conditions.retain(|c| c["type"] != PAUSED);
    conditions.push(json!({
        "type": PAUSED,
        "status": "True",
        "reason": Reason::Paused.as_str(),
        "message": bounded_message(message.to_string()),
        "lastTransitionTime": since,
    }));
    status["conditions"] = Value::Array(conditions);
    status
}

/// Whether writing `desired` would change `previous` (so a write is needed).
pub(crate) fn status_changed(previous: Option<&Value>, desired: &Value) -> bool {
    match previous {
        None => true,
        Some(previous) => !super::apply::is_subset(desired, previous),
    }
}

pub(crate) use k8s_rules::now;

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(
        generation: i64,
        observed: i64,
        replicas: i64,
        updated: i64,
        available: i64,
    ) -> Value {
        json!({
            "kind": "Deployment",
            "metadata": {"name": "d", "generation": generation},
            "spec": {"replicas": replicas},
            "status": {
                "observedGeneration": observed,
                "replicas": replicas,
                "updatedReplicas": updated,
                "availableReplicas": available,
                "conditions": [{"type": "Available", "status": "True"}]
            }
        })
    }

    fn child(kind: &str, not_ready: Option<&str>) -> ChildStatus {
        ChildStatus {
            api_version: "v1".into(),
            kind: kind.into(),
            name: "x".into(),
            namespace: "default".into(),
            not_ready: not_ready.map(str::to_string),
            seen_at: None,
        }
    }

    fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
        status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
            .unwrap_or(&Value::Null)
    }

    #[test]
    fn settled_deployment_is_ready() {
        assert_eq!(child_readiness(&deployment(2, 2, 3, 3, 3)), Ok(()));
    }

    #[test]
    fn deployment_readiness_table() {
        for (case, object) in [
            ("old generation", deployment(3, 2, 3, 3, 3)),
            ("not all updated", deployment(2, 2, 3, 1, 3)),
            ("not all available", deployment(2, 2, 3, 3, 2)),
        ] {
            assert!(child_readiness(&object).is_err(), "{case}");
        }
        let mut unavailable = deployment(1, 1, 1, 1, 1);
        unavailable["status"]["conditions"][0]["status"] = json!("False");
        assert!(child_readiness(&unavailable).is_err());
        let no_status =
            json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 1}});
        assert!(child_readiness(&no_status).is_err());
    }

    #[test]
    fn config_maps_and_services_are_ready_once_they_exist() {
        assert_eq!(child_readiness(&json!({"kind": "ConfigMap"})), Ok(()));
        assert_eq!(child_readiness(&json!({"kind": "Service"})), Ok(()));
    }

    #[test]
    fn all_children_ready_gives_ready_true() {
        let outcome = Outcome::Applied {
            children: vec![child("ConfigMap", None), child("Deployment", None)],
        };
        assert!(outcome.is_ready());
        let status = desired_status(None, Some(4), &outcome, &Computed::NotDeclared, None, "T0");
        assert_eq!(status["observedGeneration"], 4);
        assert_eq!(condition(&status, "Ready")["status"], "True");
        assert_eq!(condition(&status, "Reconciling")["status"], "False");
        assert_eq!(condition(&status, "Stalled")["status"], "False");
        assert_eq!(status["children"][1]["ready"], true);
    }

    #[test]
    fn unready_child_gives_progressing() {
        let outcome = Outcome::Applied {
            children: vec![
                child("ConfigMap", None),
                child("Deployment", Some("1 of 3 replicas available")),
            ],
        };
        assert!(!outcome.is_ready());
        let status = desired_status(None, Some(1), &outcome, &Computed::NotDeclared, None, "T0");
        let ready = condition(&status, "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "Progressing");
        assert!(
            ready["message"]
                .as_str()
                .unwrap_or("")
                .contains("1 of 3 replicas")
        );
        assert_eq!(condition(&status, "Reconciling")["status"], "True");
    }

    #[test]
    fn spec_failures_stall_and_keep_previous_children() {
        let previous = json!({"children": [{"kind": "ConfigMap", "name": "x", "ready": true}]});
        let outcome = Outcome::Failed {
            reason: Reason::InvalidSpec,
            message: "/spec/replicas: -1 is less than the minimum of 0".into(),
        };
        let status = desired_status(
            Some(&previous),
            Some(2),
            &outcome,
            &Computed::NotDeclared,
            None,
            "T0",
        );
        assert_eq!(condition(&status, "Ready")["reason"], "InvalidSpec");
        assert_eq!(condition(&status, "Stalled")["status"], "True");
        assert_eq!(condition(&status, "Reconciling")["status"], "False");
        assert_eq!(status["children"], previous["children"]);
    }

    #[test]
    fn conflicts_missing_kinds_and_forbidden_writes_stall() {
        for reason in [
            Reason::OwnershipConflict,
            Reason::KindNotServed,
            Reason::Forbidden,
        ] {
            let outcome = Outcome::Failed {
                reason,
                message: "Service shop belongs to WebServer shop".into(),
            };
            let status =
                desired_status(None, Some(1), &outcome, &Computed::NotDeclared, None, "T0");
            assert_eq!(condition(&status, "Ready")["reason"], reason.as_str());
            assert_eq!(condition(&status, "Stalled")["status"], "True");
            assert_eq!(condition(&status, "Reconciling")["status"], "False");
        }
    }

    #[test]
    fn apply_failures_keep_reconciling() {
        let outcome = Outcome::Failed {
            reason: Reason::ApplyFailed,
            message: "boom".into(),
        };
        let status = desired_status(None, Some(2), &outcome, &Computed::NotDeclared, None, "T0");
        assert_eq!(condition(&status, "Reconciling")["status"], "True");
        assert_eq!(condition(&status, "Stalled")["status"], "False");
    }

    #[test]
    fn unchanged_status_keeps_transition_times_and_needs_no_write() {
        let outcome = Outcome::Applied {
            children: vec![child("ConfigMap", None)],
        };
        let first = desired_status(None, Some(1), &outcome, &Computed::NotDeclared, None, "T0");
        let second = desired_status(
            Some(&first),
            Some(1),
            &outcome,
            &Computed::NotDeclared,
            None,
            "T1",
        );
        assert_eq!(first, second);
        assert!(!status_changed(Some(&first), &second));
        let third = desired_status(
            Some(&first),
            Some(2),
            &outcome,
            &Computed::NotDeclared,
            None,
            "T2",
        );
        assert!(status_changed(Some(&first), &third));
        assert_eq!(condition(&third, "Ready")["lastTransitionTime"], "T0");
    }

    #[test]
    fn flipped_condition_gets_new_transition_time() {
        let ok = Outcome::Applied {
            children: vec![child("ConfigMap", None)],
        };
        let bad = Outcome::Failed {
            reason: Reason::RenderFailed,
            message: "x".into(),
        };
        let first = desired_status(None, Some(1), &ok, &Computed::NotDeclared, None, "T0");
        let second = desired_status(
            Some(&first),
            Some(1),
            &bad,
            &Computed::NotDeclared,
            None,
            "T1",
        );
        assert_eq!(condition(&second, "Ready")["lastTransitionTime"], "T1");
        assert!(status_changed(Some(&first), &second));
    }

    #[test]
    fn chart_warning_is_in_ready_message() {
        let ok = Outcome::Applied {
            children: vec![child("ConfigMap", None)],
        };
        let status = desired_status(
            None,
            None,
            &ok,
            &Computed::NotDeclared,
            Some("chart reload failed: boom"),
            "T0",
        );
        assert!(
            condition(&status, "Ready")["message"]
                .as_str()
                .unwrap_or("")
                .contains("chart reload failed: boom")
        );
    }

    #[test]
    fn missing_status_needs_a_write() {
        assert!(status_changed(None, &json!({})));
    }

    #[test]
    fn paused_status_keeps_the_rest_and_its_own_transition_time() {
        let previous = json!({
            "observedGeneration": 2,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "ok",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "children": [{"kind": "Service", "name": "s", "ready": true}],
        });
        let paused = paused_status(Some(&previous), "paused by x", "2026-02-02T00:00:00Z");
        assert_eq!(paused["observedGeneration"], 2);
        assert_eq!(paused["children"], previous["children"]);
        assert_eq!(paused["conditions"][0], previous["conditions"][0]);
        assert_eq!(paused["conditions"][1]["type"], PAUSED);
        assert_eq!(paused["conditions"][1]["status"], "True");
        assert_eq!(paused["conditions"][1]["message"], "paused by x");
        assert_eq!(
            paused["conditions"][1]["lastTransitionTime"],
            "2026-02-02T00:00:00Z"
        );

        // Paused again later: nothing changes, so nothing is written.
        let again = paused_status(Some(&paused), "paused by x", "2026-03-03T00:00:00Z");
        assert_eq!(again, paused);
        assert!(!status_changed(Some(&paused), &again));
        // A resource never reconciled before gets just the condition.
        let fresh = paused_status(None, "m", "2026-02-02T00:00:00Z");
        assert_eq!(fresh["conditions"].as_array().map(Vec::len), Some(1));
    }

    fn fields(value: Value) -> Computed {
        match value {
            Value::Object(map) => Computed::Fields(map),
            _ => Computed::Fields(Map::new()),
        }
    }

    #[test]
    fn computed_fields_join_the_status_and_an_unchanged_set_needs_no_write() {
        let ok = Outcome::Applied {
            children: vec![child("Service", None)],
        };
        let counts = fields(json!({"activeBackendsNum": 2, "obsoleteBackendsNum": 0}));
        let first = desired_status(None, Some(1), &ok, &counts, None, "T0");
        assert_eq!(first["activeBackendsNum"], 2);
        assert_eq!(first["obsoleteBackendsNum"], 0);
        assert_eq!(condition(&first, STATUS_COMPUTED)["status"], "True");
        assert_eq!(
            condition(&first, STATUS_COMPUTED)["reason"],
            "StatusComputed"
        );
        let again = desired_status(Some(&first), Some(1), &ok, &counts, None, "T1");
        assert!(!status_changed(Some(&first), &again));
        let changed = fields(json!({"activeBackendsNum": 1, "obsoleteBackendsNum": 1}));
        let second = desired_status(Some(&first), Some(1), &ok, &changed, None, "T1");
        assert!(status_changed(Some(&first), &second));
        assert_eq!(second["obsoleteBackendsNum"], 1);
    }

    #[test]
    fn fields_no_longer_computed_are_removed() {
        let ok = Outcome::Applied {
            children: vec![child("Service", None)],
        };
        let previous =
            json!({"conditions": [], "children": [], "old": 1, "nested": {"a": 1, "b": 2}});
        let now = fields(json!({"nested": {"a": 1}}));
        let status = desired_status(Some(&previous), Some(1), &ok, &now, None, "T0");
        assert_eq!(status["old"], Value::Null);
        assert!(status.as_object().is_some_and(|s| s.contains_key("old")));
        assert_eq!(status["nested"], json!({"a": 1, "b": null}));
        assert!(status_changed(Some(&previous), &status));
        // A chart that stops computing status fields removes them.
        let dropped = desired_status(
            Some(&previous),
            Some(1),
            &ok,
            &Computed::NotDeclared,
            None,
            "T0",
        );
        assert_eq!(dropped["old"], Value::Null);
        assert!(
            dropped
                .as_object()
                .is_some_and(|s| s.contains_key("nested"))
        );
        assert_eq!(dropped["nested"], Value::Null);
    }

    #[test]
    fn a_failed_computation_keeps_the_fields_and_says_why() {
        let ok = Outcome::Applied {
            children: vec![child("Service", None)],
        };
        let first = desired_status(
            None,
            Some(1),
            &ok,
            &fields(json!({"activeBackendsNum": 2})),
            None,
            "T0",
        );
        let failed = Computed::Failed("templates/_status.tera:3:4: boom".into());
        let second = desired_status(Some(&first), Some(1), &ok, &failed, None, "T1");
        assert_eq!(second["activeBackendsNum"], 2);
        let computed = condition(&second, STATUS_COMPUTED);
        assert_eq!(computed["status"], "False");
        assert_eq!(computed["reason"], "StatusFailed");
        assert_eq!(computed["lastTransitionTime"], "T1");
        assert!(
            computed["message"]
                .as_str()
                .unwrap_or("")
                .contains("_status.tera:3:4: boom")
        );
        // The children are fine, so Ready stays True.
        assert_eq!(condition(&second, "Ready")["status"], "True");
        // A failed render keeps both the fields and the condition.
        let bad = Outcome::Failed {
            reason: Reason::RenderFailed,
            message: "x".into(),
        };
        let third = desired_status(Some(&second), Some(2), &bad, &Computed::Kept, None, "T2");
        assert_eq!(third["activeBackendsNum"], 2);
        assert_eq!(condition(&third, STATUS_COMPUTED), computed);
    }
}
