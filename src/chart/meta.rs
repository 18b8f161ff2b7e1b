//! Chart.yaml: the chart's name, version, description and optional CRD hints.

use std::path::Path;

use serde::Deserialize;

use super::{Error, Result};

/// The fields of Chart.yaml. Helm's fields are accepted so Helm charts' metadata carries over;
/// anything else is an error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartMeta {
    /// Chart name (a DNS label).
    pub(crate) name: String,
    /// Chart version (SemVer).
    pub(crate) version: String,
    /// One-line description; becomes the CRD's description.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Helm's chart API version (`v2`); accepted and ignored.
    #[serde(default)]
    pub(crate) api_version: Option<String>,
    /// Version of the application the chart deploys.
    #[serde(default)]
    pub(crate) app_version: Option<String>,
    /// Helm's chart type; accepted and ignored.
    #[serde(default, rename = "type")]
    pub(crate) chart_type: Option<String>,
    /// Search keywords.
    #[serde(default)]
    pub(crate) keywords: Vec<String>,
    /// Project home page.
    #[serde(default)]
    pub(crate) home: Option<String>,
    /// Source URLs.
    #[serde(default)]
    pub(crate) sources: Vec<String>,
    /// Maintainers, as Helm writes them.
    #[serde(default)]
    pub(crate) maintainers: Vec<serde_json::Value>,
    /// Icon URL.
    #[serde(default)]
    pub(crate) icon: Option<String>,
    /// Kubernetes version constraint; informational.
    #[serde(default)]
    pub(crate) kube_version: Option<String>,
    /// Free-form annotations.
    #[serde(default)]
    pub(crate) annotations: std::collections::BTreeMap<String, String>,
    /// Whether the chart is deprecated.
    #[serde(default)]
    pub(crate) deprecated: bool,
    /// CRD hints: plural, singular, shortNames, categories, printerColumns.
    #[serde(default)]
    pub(crate) crd: super::CrdHints,
}

impl ChartMeta {
    /// Reads and checks Chart.yaml.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFailed {
            path: path.to_path_buf(),
            source,
        })?;
        let meta: Self = serde_yaml::from_str(&text).map_err(|e| Error::YamlInvalid {
            path: path.to_path_buf(),
            message: crate::config::describe_yaml_error(&e),
        })?;
        meta.check().map_err(|message| Error::MetaInvalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(meta)
    }

    /// Checks the name is a DNS label and the version is SemVer.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !k8s_rules::names::is_dns_label(&self.name) {
            return Err(format!(
                "name: {:?} must be a DNS label (lowercase letters, digits, '-')",
                self.name
            ));
        }
        if !is_semver(&self.version) {
            return Err(format!(
                "version: {:?} is not a SemVer version like 1.2.3",
                self.version
            ));
        }
        Ok(())
    }
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
