//! The registry of served resource types: built-ins plus the kinds CRDs add.

use std::sync::Arc;

use serde_json::Value;

/// One served resource (one group/version/plural).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceInfo {
    /// API group ("" for core).
    pub(crate) group: String,
    /// API version.
    pub(crate) version: String,
    /// Kind, e.g. `ConfigMap`.
    pub(crate) kind: String,
    /// Plural resource name, e.g. `configmaps`.
    pub(crate) plural: String,
    /// Singular name.
    pub(crate) singular: String,
    /// Short names (`cm`, `deploy`).
    pub(crate) short_names: Vec<String>,
    /// Categories (`all`).
    pub(crate) categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub(crate) namespaced: bool,
    /// Whether the type has a `status` subresource.
    pub(crate) status: bool,
    /// Whether the type has a `scale` subresource.
    pub(crate) scale: bool,
    /// Where the scale subresource reads and writes (`.spec.replicas`, `.status.replicas`, and
    /// the label selector path; `None` means the Deployment-style `spec.selector.matchLabels`).
    pub(crate) scale_paths: (String, String, Option<String>),
    /// The store this resource lives in (shared by resources that are one type, like events).
    pub(crate) storage: String,
    /// The CRD's openAPIV3Schema for this version, if any.
    pub(crate) schema: Option<Value>,
    /// Whether this resource comes from a CRD.
    pub(crate) custom: bool,
    /// The version's additionalPrinterColumns (CRDs only).
    pub(crate) printer_columns: Vec<Value>,
    /// A create-only review (SelfSubjectAccessReview, …): answered, never stored.
    pub(crate) review: bool,
}

/// The verbs of a stored resource.
const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// The verbs discovery lists for the resource.
    pub(crate) fn verbs(&self) -> &'static [&'static str] {
        if self.review { &["create"] } else { &VERBS }
    }

    /// `group/version`, or `version` for core.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether `api_version` is [`Self::api_version`] (compared without building it).
    pub(crate) fn is_api_version(&self, api_version: &str) -> bool {
        if self.group.is_empty() {
            return api_version == self.version;
        }
        api_version
            .strip_prefix(self.group.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|version| version == self.version)
    }

    /// Whether the type has `metadata.generation` (CRDs, custom resources, Deployments, Pods):
    /// 1 on create, bumped by changes outside metadata and status.
    pub(crate) fn tracks_generation(&self) -> bool {
        self.custom
            || matches!(
                self.plural.as_str(),
                "deployments"
                    | "customresourcedefinitions"
                    | "pods"
                    | "replicasets"
                    | "replicationcontrollers"
                    | "statefulsets"
                    | "daemonsets"
                    | "jobs"
                    | "cronjobs"
                    | "ingresses"
                    | "ingressclasses"
                    | "networkpolicies"
                    | "poddisruptionbudgets"
                    | "horizontalpodautoscalers"
            )
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    short: &[&str],
    namespaced: bool,
    status: bool,
    scale: bool,
) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: if [
            "pods",
            "services",
            "replicationcontrollers",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "jobs",
            "cronjobs",
            "horizontalpodautoscalers",
        ]
        .contains(&plural)
        {
            vec!["all".into()]
        } else {
            vec![]
        },
        namespaced,
        status,
        scale,
        scale_paths: (".spec.replicas".into(), ".status.replicas".into(), None),
        storage: if plural == "events" {
            "events".into()
        } else {
            format!("{group}/{plural}")
        },
        schema: None,
        custom: false,
        printer_columns: vec![],
        review: false,
    }
}

/// A cluster-scoped create-only review kind in `group`/v1.
fn review(group: &str, kind: &str, plural: &str) -> ResourceInfo {
    ResourceInfo {
        review: true,
        ..builtin(group, "v1", kind, plural, &[], false, false, false)
    }
}

/// The built-in types every sandbox serves.
pub(crate) fn builtins() -> Vec<ResourceInfo> {
    vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            &["ns"],
            false,
            true,
            false,
        ),
        builtin(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            &["cm"],
            true,
            false,
            false,
        ),
        builtin("", "v1", "Secret", "secrets", &[], true, false, false),
        builtin("", "v1", "Service", "services", &["svc"], true, true, false),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            &["sa"],
            true,
            false,
            false,
        ),
        builtin("", "v1", "Pod", "pods", &["po"], true, true, false),
        builtin("", "v1", "Event", "events", &["ev"], true, false, false),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            &["deploy"],
            true,
            true,
            true,
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            &["ev"],
            true,
            false,
            false,
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            &[],
            true,
            false,
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            &[],
            true,
            false,
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            &[],
            true,
            false,
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            &[],
            false,
            false,
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            &[],
            false,
            false,
            false,
        ),
        builtin(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            &["pvc"],
            true,
            true,
            false,
        ),
        builtin(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            &["rs"],
            true,
            true,
            true,
        ),
        builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            &["sts"],
            true,
            true,
            true,
        ),
        builtin(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            &["ds"],
            true,
            true,
            false,
        ),
        builtin("batch", "v1", "Job", "jobs", &[], true, true, false),
        builtin(
            "batch",
            "v1",
            "CronJob",
            "cronjobs",
            &["cj"],
            true,
            true,
            false,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            &["ing"],
            true,
            true,
            false,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            &[],
            false,
            false,
            false,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            &["netpol"],
            true,
            false,
            false,
        ),
        builtin(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            &["pdb"],
            true,
            true,
            false,
        ),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            &["hpa"],
            true,
            true,
            false,
        ),
        // The same objects served as autoscaling/v1, converted (api/hpa.rs).
        builtin(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            &["hpa"],
            true,
            true,
            false,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            &["crd", "crds"],
            false,
            true,
            false,
        ),
        // Served so that `kubectl apply --prune`'s default allowlist maps (kubectl's
        // pkg/util/prune names them); stored, with a simulated status where they have one.
        builtin(
            "",
            "v1",
            "Endpoints",
            "endpoints",
            &["ep"],
            true,
            false,
            false,
        ),
        builtin(
            "",
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            &["rc"],
            true,
            true,
            false,
        ),
        builtin(
            "",
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            &["pv"],
            false,
            true,
            false,
        ),
        review(
            "authorization.k8s.io",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
        ),
        review(
            "authorization.k8s.io",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
        ),
        review(
            "authentication.k8s.io",
            "SelfSubjectReview",
            "selfsubjectreviews",
        ),
    ]
}

/// Turns a CRD object into the resources it serves (one per served version).
pub(crate) fn from_crd(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return vec![];
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?;
            Some(ResourceInfo {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_lowercase()),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                status: !v["subresources"]["status"].is_null(),
                scale: !v["subresources"]["scale"].is_null(),
                scale_paths: {
                    let sc = &v["subresources"]["scale"];
                    (
                        sc["specReplicasPath"]
                            .as_str()
                            .unwrap_or(".spec.replicas")
                            .to_string(),
                        sc["statusReplicasPath"]
                            .as_str()
                            .unwrap_or(".status.replicas")
                            .to_string(),
                        Some(
                            sc["labelSelectorPath"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        ),
                    )
                },
                storage: format!("{group}/{plural}"),
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                custom: true,
                printer_columns: v["additionalPrinterColumns"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                review: false,
            })
        })
        .collect()
}

/// The set of served resources.
///
/// Each resource is shared: a request or a simulated controller that keeps the resource it
/// works on takes a reference, not a copy of its names and schema.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    resources: Vec<Arc<ResourceInfo>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            resources: builtins().into_iter().map(Arc::new).collect(),
        }
    }
}

impl Registry {
    /// Finds the resource served at `group/version/plural`.
    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&Arc<ResourceInfo>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Finds any served version of a group/kind (used for ownerReferences and apply bodies).
    pub(crate) fn find_kind(&self, api_version: &str, kind: &str) -> Option<&Arc<ResourceInfo>> {
        self.resources
            .iter()
            .find(|r| r.kind == kind && r.is_api_version(api_version))
    }

    /// The first served resource stored under `storage`.
    pub(crate) fn by_storage(&self, storage: &str) -> Option<&Arc<ResourceInfo>> {
        self.resources.iter().find(|r| r.storage == storage)
    }

    /// Every served resource.
    pub(crate) fn all(&self) -> &[Arc<ResourceInfo>] {
        &self.resources
    }

    /// Replaces the resources of one CRD (by storage key) with `served`.
    pub(crate) fn set_crd(&mut self, storage: &str, served: Vec<ResourceInfo>) {
        self.resources
            .retain(|r| !(r.custom && r.storage == storage));
        self.resources.extend(served.into_iter().map(Arc::new));
    }

    /// Groups in discovery order with their versions (preferred first).
    pub(crate) fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let re = v.strip_prefix('v').unwrap_or(v);
    let digits: String = re.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major = digits.parse().unwrap_or(0);
    let rest = &re[digits.len()..];
    if rest.is_empty() {
        return (3, major, 0);
    }
    let (stage, n) = if let Some(n) = rest.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = rest.strip_prefix("alpha") {
        (1, n)
    } else {
        (0, "0")
    };
    (stage, major, n.parse().unwrap_or(0))
}

/// The storage key of CustomResourceDefinitions themselves.
pub(crate) const CRD_STORAGE: &str = "apiextensions.k8s.io/customresourcedefinitions";

/// Whether `res` is CustomResourceDefinitions.
pub(crate) fn is_crd(res: &ResourceInfo) -> bool {
    res.storage == CRD_STORAGE
}

/// The storage key of the objects a CRD serves: `<group>/<plural>`.
pub(crate) fn crd_storage(crd: &Value) -> String {
    format!(
        "{}/{}",
        crd["spec"]["group"].as_str().unwrap_or_default(),
        crd["spec"]["names"]["plural"].as_str().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_serves_each_served_version() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "webservers", "kind": "WebServer", "shortNames": ["ws"]},
            "versions": [{"name": "v1alpha1", "served": true, "subresources": {"status": {}}},
                         {"name": "v1", "served": true}, {"name": "v0", "served": false}]}});
        let rs = from_crd(&crd);
        assert_eq!(rs.len(), 2);
        assert!(rs[0].status && !rs[1].status);
        assert_eq!(rs[0].singular, "webserver");
        let mut reg = Registry::default();
        reg.set_crd("example.com/webservers", rs);
        let groups = reg.groups();
        let (_, versions) = groups.iter().find(|(g, _)| g == "example.com").unwrap();
        assert_eq!(versions, &vec!["v1".to_string(), "v1alpha1".to_string()]);
    }

    #[test]
    fn events_share_one_store() {
        let reg = Registry::default();
        assert_eq!(
            reg.find("", "v1", "events").unwrap().storage,
            reg.find("events.k8s.io", "v1", "events").unwrap().storage
        );
    }
}
