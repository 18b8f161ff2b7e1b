//! The project's RBAC (config/rbac) read for what it tells the migration: which built-in kinds
//! helm-operator was allowed to manage, used where a chart's `kind:` is templated.

use std::path::Path;

use k8s_rules::kinds::{BUILTIN, BuiltinKind};
use serde_json::Value;

use super::Result;
use super::project::documents;

/// The namespaced built-in kinds the project's manager role grants `create` (or `*`) on.
#[derive(Debug, Clone, Default)]
pub(super) struct Granted {
    /// Kinds the old operator could create, sorted by group and kind.
    pub(super) kinds: Vec<&'static BuiltinKind>,
    /// The file the rules were read from, relative to the project, if any.
    pub(super) file: Option<String>,
}

/// Reads `config/rbac`: the `manager-role` ClusterRole/Role (operator-sdk's scaffold name,
/// kustomize prefixes it later); without one, every Role and ClusterRole of role.yaml.
pub(super) fn granted(project: &Path) -> Result<Granted> {
    let docs = documents(&project.join("config/rbac"))?;
    let is_role = |d: &Value| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role"));
    let mut roles: Vec<&(String, Value)> = docs
        .iter()
        .filter(|(_, d)| is_role(d) && d["metadata"]["name"] == "manager-role")
        .collect();
    if roles.is_empty() {
        roles = docs
            .iter()
            .filter(|(f, d)| is_role(d) && f == "role.yaml")
            .collect();
    }
    let mut out = Granted {
        file: roles.first().map(|(f, _)| format!("config/rbac/{f}")),
        ..Granted::default()
    };
    for (_, role) in roles {
        for rule in role["rules"].as_array().into_iter().flatten() {
            let list = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            };
            let verbs = list("verbs");
            if !verbs.iter().any(|v| v == "create" || v == "*") {
                continue;
            }
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for kind in BUILTIN.iter().filter(|k| {
                        k.namespaced
                            && (group == "*" || k.group == group)
                            && (resource == "*" || k.plural == resource)
                    }) {
                        if !out.kinds.contains(&kind) {
                            out.kinds.push(kind);
                        }
                    }
                }
            }
        }
    }
    out.kinds.sort_by_key(|k| (k.group, k.kind));
    Ok(out)
}

/// API groups whose `kind:` a template sets from a value (`kind: {{ .Values.kind }}`), from the
/// `apiVersion:` line before it; these kinds cannot be read off the chart.
pub(super) fn templated_kind_groups(chart: &Path) -> Vec<String> {
    let mut groups = Vec::new();
    let mut files = Vec::new();
    collect(&chart.join("templates"), &mut files);
    for text in files {
        let mut api_version = String::new();
        for line in text.lines() {
            if let Some(v) = line.trim_start().strip_prefix("apiVersion:") {
                api_version = v.trim().trim_matches('"').to_string();
            } else if let Some(k) = line.strip_prefix("kind:")
                && k.contains("{{")
                && !api_version.contains("{{")
            {
                let group = crate::config::group_of(&api_version).to_string();
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }
    }
    groups
}

fn collect(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push(text);
        }
    }
}
