//! The optional `crd:` block of Chart.yaml: naming, scope and printer column hints.

use serde::{Deserialize, Serialize};

/// Printer column hint from Chart.yaml (`crd.printerColumns`), deserialized with camelCase keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PrinterColumn {
    /// Column header, e.g. `Replicas`.
    pub(crate) name: String,
    /// OpenAPI type of the column: integer, number, string, boolean or date.
    #[serde(rename = "type")]
    pub(crate) type_: String,
    /// JSONPath into the object, starting with `.`, e.g. `.spec.replicas`.
    pub(crate) json_path: String,
    /// Human readable description of the column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// 0 shows the column in standard output; higher values only with `-o wide`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<i32>,
    /// Optional OpenAPI format of the column, e.g. `int32`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
}

/// Whether the custom resources live in a namespace or in the whole cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) enum Scope {
    /// One namespace per resource (the default, and the only scope supported for now).
    #[default]
    Namespaced,
    /// Cluster-wide resources: parsed so the error can say it is unsupported.
    Cluster,
}

impl Scope {
    /// The spelling Kubernetes uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Namespaced => "Namespaced",
            Scope::Cluster => "Cluster",
        }
    }
}

/// CRD naming hints from Chart.yaml's optional `crd:` block; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CrdHints {
    /// Plural resource name (default: the lowercased kind, pluralised in English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) plural: Option<String>,
    /// Singular resource name (default: the lowercased kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) singular: Option<String>,
    /// Short names for kubectl, e.g. `ws`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) short_names: Vec<String>,
    /// Categories for kubectl, e.g. `all`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) categories: Vec<String>,
    /// Extra printer columns, shown between `Ready` and `Age`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) printer_columns: Vec<PrinterColumn>,
    /// Resource scope; only `Namespaced` is supported for now.
    #[serde(default)]
    pub(crate) scope: Scope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parse_camel_case_and_default_scope() {
        let hints: CrdHints = serde_yaml::from_str(
            "plural: webservers\nshortNames: [ws]\nprinterColumns:\n- name: Replicas\n  type: integer\n  jsonPath: .spec.replicas\n",
        )
        .unwrap();
        assert_eq!(hints.plural.as_deref(), Some("webservers"));
        assert_eq!(hints.short_names, vec!["ws"]);
        assert_eq!(hints.printer_columns[0].json_path, ".spec.replicas");
        assert_eq!(hints.scope, Scope::Namespaced);
    }

    #[test]
    fn hints_reject_unknown_fields() {
        let err = serde_yaml::from_str::<CrdHints>("plurals: x\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `plurals`"), "{err}");
        let err = serde_yaml::from_str::<CrdHints>("scope: Global\n").unwrap_err();
        assert!(err.to_string().contains("Global"), "{err}");
    }
}
