//! Policy: what a chart may emit — allowed kinds, the owner's namespace, valid names, no duplicates.

use std::collections::BTreeSet;

use serde_json::Value;

use super::documents::ParsedObject;
use super::documents::has_placeholder;
use crate::config::{AllowedKind, display_kind, group_of};

pub(crate) use k8s_rules::kinds::is_cluster_scoped;
pub(crate) use k8s_rules::names::label_problem_of as label_problem;

/// One broken rule, located by template and object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// Template that emitted the object.
    pub(crate) file: String,
    /// `Kind/name` of the object (as far as it is known).
    pub(crate) object: String,
    /// The rule and how it was broken.
    pub(crate) message: String,
}

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.object, self.message)
    }
}

/// What the policy needs to know about the owner and the mapping.
pub(crate) struct PolicyContext<'a> {
    /// Namespace of the custom resource; namespaced objects must live there.
    pub(crate) namespace: &'a str,
    /// Kinds (of their groups) the mapping lets this chart emit.
    pub(crate) allowed_kinds: &'a [AllowedKind],
}

/// Checks every object; returns every violation found (empty when all is well).
pub(crate) fn check(objects: &[ParsedObject], ctx: &PolicyContext) -> Vec<PolicyViolation> {
    let mut violations = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for parsed in objects {
        let object = &parsed.object;
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = super::at(object, &["metadata", "name"])
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut violation = |message: String| {
            violations.push(PolicyViolation {
                file: parsed.file.clone(),
                object: format!(
                    "{}/{}",
                    if kind.is_empty() { "?" } else { kind },
                    if name.is_empty() { "?" } else { name }
                ),
                message,
            })
        };
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if api_version.is_empty() {
            violation("apiVersion is missing".to_string());
        }
        if kind.is_empty() {
            violation("kind is missing".to_string());
            continue;
        }
        if !ctx
            .allowed_kinds
            .iter()
            .any(|k| k.matches(api_version, kind))
        {
            let allowed: Vec<String> = ctx.allowed_kinds.iter().map(|k| k.to_string()).collect();
            violation(format!(
                "kind {} is not allowed for this chart (allowedKinds: {})",
                display_kind(kind, group_of(api_version)),
                allowed.join(", ")
            ));
        }
        if name.is_empty() {
            violation("metadata.name is missing".to_string());
        } else if let Some(reason) = name_problem(kind, name) {
            violation(reason);
        }
        if let Some(ns) = super::at(object, &["metadata", "namespace"]) {
            match ns.as_str() {
                Some(ns) if is_cluster_scoped(kind) => violation(format!(
                    "{kind} is cluster-scoped and cannot have namespace {ns:?}"
                )),
                Some(ns) if ns != ctx.namespace => violation(format!(
                    "namespace {ns:?} differs from the custom resource's namespace {:?}",
                    ctx.namespace
                )),
                Some(_) => {}
                None => violation("metadata.namespace must be a string".to_string()),
            }
        }
        if let Some(metadata) = object.get("metadata") {
            if !metadata.is_object() {
                violation("metadata must be a mapping".to_string());
            }
            for field in ["labels", "annotations"] {
                if let Some(map) = metadata.get(field) {
                    match map.as_object() {
                        Some(entries) => {
                            for (key, value) in entries {
                                if !value.is_string() {
                                    violation(format!(
                                        "metadata.{field}.{key} must be a string, not {value}"
                                    ));
                                } else if field == "labels"
                                    && let Some(reason) =
                                        label_problem(key, value.as_str().unwrap_or(""))
                                {
                                    violation(reason);
                                }
                            }
                        }
                        None => violation(format!("metadata.{field} must be a mapping")),
                    }
                }
            }
        }
        if contains_placeholder(object) {
            violation("an interpolated value was not restored".to_string());
        }
        if !name.is_empty() && !seen.insert((kind.to_string(), name.to_string())) {
            violation(format!("{kind} {name:?} is rendered more than once"));
        }
    }
    violations
}

fn name_problem(kind: &str, name: &str) -> Option<String> {
    if kind == "Service" || kind == "Namespace" {
        if !k8s_rules::names::is_dns1035_label(name) {
            return Some(format!(
                "name {name:?} must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters)"
            ));
        }
    } else if !k8s_rules::names::is_dns_subdomain(name) {
        return Some(format!(
            "name {name:?} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)"
        ));
    }
    None
}

fn contains_placeholder(value: &Value) -> bool {
    match value {
        Value::String(s) => has_placeholder(s),
        Value::Array(items) => items.iter().any(contains_placeholder),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| has_placeholder(k) || contains_placeholder(v)),
        _ => false,
    }
}
