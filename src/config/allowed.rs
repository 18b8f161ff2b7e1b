//! `allowedKinds`: the kinds a chart may emit, each with its API group (and plural, if given).
//!
//! An entry is written as kubectl names a kind of a group, `Kind.group`
//! (`ServiceMonitor.monitoring.coreos.com`), or as the bare `Kind` of a built-in kind
//! (`Deployment` means `apps` Deployments) or of a kind another entry of the same mapping
//! serves. A bare kind that is neither is refused: its group would be a guess, and RBAC needs
//! it. The long form `{kind: K, group: G, plural: P}` names the plural resource where English
//! pluralization would get it wrong (and is the only way to name an unlisted core-group kind).
//!
//! Cluster-scoped built-in kinds (Namespace, ClusterRole, …) are refused: a namespaced custom
//! resource cannot be their ownerReference, so they could neither be garbage-collected with it
//! nor recognized as its children to prune.

use std::fmt;

use serde_json::Value;

/// One kind a chart may emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedKind {
    /// The kind, e.g. `ServiceMonitor`.
    pub kind: String,
    /// Its API group (`""` for the core group), e.g. `monitoring.coreos.com`.
    pub group: String,
    /// The plural resource name, when the mapping gives it (else derived where needed).
    pub plural: Option<String>,
}

impl AllowedKind {
    /// The built-in kind named `kind` (in its group), if the built-in table knows it.
    pub fn builtin(kind: &str) -> Option<Self> {
        k8s_rules::kinds::find(kind).map(|b| Self {
            kind: b.kind.to_string(),
            group: b.group.to_string(),
            plural: None,
        })
    }

    /// The entry of the built-in table this kind is, if any (same kind and group).
    pub fn builtin_kind(&self) -> Option<&'static k8s_rules::kinds::BuiltinKind> {
        k8s_rules::kinds::find(&self.kind).filter(|b| b.group == self.group)
    }

    /// Whether an object of `apiVersion` and `kind` is this kind.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.kind == kind && self.group == group_of(api_version)
    }
}

/// The kinds a chart may emit when its mapping entry does not say: ConfigMap, Deployment, Service.
pub fn default_allowed_kinds() -> Vec<AllowedKind> {
    super::DEFAULT_ALLOWED_KINDS
        .iter()
        .filter_map(|k| AllowedKind::builtin(k))
        .collect()
}

/// The API group of an apiVersion (`""` for `v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// How a kind of `group` is written in messages and in `allowedKinds`: the bare kind for
/// built-in kinds (and the core group), else `Kind.group`.
pub fn display_kind(kind: &str, group: &str) -> String {
    if group.is_empty() || k8s_rules::kinds::find(kind).is_some_and(|b| b.group == group) {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

impl fmt::Display for AllowedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_kind(&self.kind, &self.group))
    }
}

/// An `allowedKinds` entry as written, before bare kinds are resolved against the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Written {
    /// The text to find the entry's line by.
    pub(super) text: String,
    pub(super) kind: String,
    pub(super) group: Option<String>,
    pub(super) plural: Option<String>,
}

/// Reads one `allowedKinds` item: `Kind`, `Kind.group` or `{kind, group, plural}`.
pub(super) fn parse(item: &Value) -> Result<Written, String> {
    match item {
        Value::String(text) => {
            let (kind, group) = match text.split_once('.') {
                Some((kind, group)) => (kind, Some(group.to_string())),
                None => (text.as_str(), None),
            };
            check_kind(kind, text)?;
            if let Some(group) = &group {
                check_group(group, text)?;
            }
            Ok(Written {
                text: text.clone(),
                kind: kind.to_string(),
                group,
                plural: None,
            })
        }
        Value::Object(fields) => {
            if let Some(unknown) = fields
                .keys()
                .find(|k| !["kind", "group", "plural"].contains(&k.as_str()))
            {
                return Err(format!(
                    "unknown field `{unknown}`, expected `kind`, `group` or `plural`"
                ));
            }
            let text_field = |name: &str| -> Result<Option<String>, String> {
                match fields.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(format!("`{name}` must be a string, not {other}")),
                }
            };
            let kind = text_field("kind")?.ok_or("an entry in long form needs `kind`")?;
            check_kind(&kind, &kind)?;
            let group = text_field("group")?;
            if let Some(group) = group.as_deref().filter(|g| !g.is_empty()) {
                check_group(group, &kind)?;
            }
            let plural = text_field("plural")?;
            if let Some(plural) = &plural
                && !k8s_rules::names::is_dns_label(plural)
            {
                return Err(format!(
                    "{kind}: plural {plural:?} must be a lowercase DNS label, as a resource name is"
                ));
            }
            Ok(Written {
                text: kind.clone(),
                kind,
                group,
                plural,
            })
        }
        other => Err(format!(
            "{other} is not a kind: write `Kind`, `Kind.group` or {{kind, group, plural}}"
        )),
    }
}

fn check_kind(kind: &str, text: &str) -> Result<(), String> {
    if kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a kind: write `Kind` or `Kind.group` (CamelCase letters and digits, then the API group)"
        ))
    }
}

fn check_group(group: &str, text: &str) -> Result<(), String> {
    if k8s_rules::names::is_dns_subdomain(group) {
        Ok(())
    } else {
        Err(format!(
            "{text:?}: group {group:?} is not a valid API group (a lowercase DNS subdomain)"
        ))
    }
}

/// Resolves a written entry to its group, given every `(kind, group)` the mapping serves.
pub(super) fn resolve(written: Written, mapped: &[(&str, &str)]) -> Result<AllowedKind, String> {
    let Written {
        text,
        kind,
        group,
        plural,
    } = written;
    let builtin = k8s_rules::kinds::find(&kind);
    let group = match group {
        Some(group) => {
            if let Some(b) = builtin
                && b.group != group
                && k8s_rules::kinds::is_builtin_group(&group)
            {
                return Err(format!(
                    "allowedKinds lists {text}, but the built-in kind {kind} is in group {:?}, not {group:?}",
                    b.group
                ));
            }
            group
        }
        None => match builtin {
            Some(b) => b.group.to_string(),
            None => {
                let groups: Vec<&str> = mapped
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, g)| *g)
                    .collect();
                match groups.as_slice() {
                    [group] => group.to_string(),
                    [] => {
                        return Err(format!(
                            "allowedKinds lists {kind}, which is neither a built-in kind nor a kind of this mapping: write it with its API group, as in {kind}.example.com"
                        ));
                    }
                    several => {
                        return Err(format!(
                            "allowedKinds lists {kind}, which this mapping serves in groups {}: write it with its API group",
                            several.join(", ")
                        ));
                    }
                }
            }
        },
    };
    let allowed = AllowedKind {
        kind,
        group,
        plural,
    };
    if let Some(b) = allowed.builtin_kind() {
        if !b.namespaced {
            return Err(format!(
                "allowedKinds lists {}, which is cluster-scoped: a namespaced custom resource cannot own it (ownerReference), so it could be neither garbage-collected nor pruned; create it outside the chart",
                b.kind
            ));
        }
        if let Some(plural) = allowed.plural.as_deref().filter(|p| *p != b.plural) {
            return Err(format!(
                "allowedKinds lists {} with plural {plural:?}, but the built-in resource is {:?}",
                b.kind, b.plural
            ));
        }
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(item: Value) -> Result<AllowedKind, String> {
        resolve(
            parse(&item)?,
            &[("WebServer", "web.example.com"), ("Gadget", "a.io")],
        )
    }

    #[test]
    fn bare_kinds_resolve_to_builtin_or_mapped_groups() {
        let cases = [
            (json!("Deployment"), "Deployment", "apps", None),
            (json!("ConfigMap"), "ConfigMap", "", None),
            (json!("Deployment.apps"), "Deployment", "apps", None),
            (json!("WebServer"), "WebServer", "web.example.com", None),
            (
                json!("ServiceMonitor.monitoring.coreos.com"),
                "ServiceMonitor",
                "monitoring.coreos.com",
                None,
            ),
            (
                json!("Service.serving.knative.dev"),
                "Service",
                "serving.knative.dev",
                None,
            ),
            (
                json!({"kind": "Endpoints", "group": "", "plural": "endpoints"}),
                "Endpoints",
                "",
                Some("endpoints"),
            ),
            (
                json!({"kind": "Prometheus", "group": "monitoring.coreos.com", "plural": "prometheuses"}),
                "Prometheus",
                "monitoring.coreos.com",
                Some("prometheuses"),
            ),
        ];
        for (item, kind, group, plural) in cases {
            let got = one(item.clone()).unwrap_or_else(|e| panic!("{item}: {e}"));
            assert_eq!(
                (got.kind.as_str(), got.group.as_str(), got.plural.as_deref()),
                (kind, group, plural),
                "{item}"
            );
        }
    }

    #[test]
    fn unknown_cluster_scoped_and_malformed_kinds_are_refused() {
        let cases = [
            (json!("Frobnicator"), "write it with its API group"),
            (json!("ClusterRole"), "cluster-scoped"),
            (
                json!("ClusterRole.rbac.authorization.k8s.io"),
                "cluster-scoped",
            ),
            (json!("Namespace"), "cluster-scoped"),
            (json!("Deployment.extensions"), "is in group \"apps\""),
            (json!("deployment"), "is not a kind"),
            (json!("Thing.Not_A_Group"), "not a valid API group"),
            (json!(3), "is not a kind"),
            (
                json!({"kind": "A", "colour": "red"}),
                "unknown field `colour`",
            ),
            (json!({"group": "a.io"}), "needs `kind`"),
            (
                json!({"kind": "Thing", "group": "a.io", "plural": "Things"}),
                "lowercase DNS label",
            ),
            (
                json!({"kind": "ConfigMap", "group": "", "plural": "cms"}),
                "the built-in resource is \"configmaps\"",
            ),
        ];
        for (item, expected) in cases {
            let err = one(item.clone()).unwrap_err();
            assert!(err.contains(expected), "{item}: {err}");
        }
    }

    #[test]
    fn objects_match_by_kind_and_group() {
        let deployment = one(json!("Deployment")).unwrap();
        assert!(deployment.matches("apps/v1", "Deployment"));
        assert!(!deployment.matches("extensions/v1beta1", "Deployment"));
        let service = one(json!("Service")).unwrap();
        assert!(service.matches("v1", "Service"));
        assert!(!service.matches("serving.knative.dev/v1", "Service"));
        assert_eq!(service.to_string(), "Service");
        let monitor = one(json!("ServiceMonitor.monitoring.coreos.com")).unwrap();
        assert!(monitor.matches("monitoring.coreos.com/v1", "ServiceMonitor"));
        assert_eq!(monitor.to_string(), "ServiceMonitor.monitoring.coreos.com");
    }
}
