//! Which API group and resource each kind a chart may emit maps to, for RBAC rules.

use crate::config::Mapping;

/// The API group and plural resource name of a kind, as an RBAC rule names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceRef {
    /// API group (`""` for the core group).
    pub group: String,
    /// Plural resource name, e.g. `configmaps`.
    pub resource: String,
}

/// The built-in kinds charts commonly emit: `(kind, group, plural)`.
pub const BUILTIN_KINDS: &[(&str, &str, &str)] = &[
    ("ConfigMap", "", "configmaps"),
    ("Secret", "", "secrets"),
    ("Service", "", "services"),
    ("ServiceAccount", "", "serviceaccounts"),
    ("PersistentVolumeClaim", "", "persistentvolumeclaims"),
    ("Pod", "", "pods"),
    ("Deployment", "apps", "deployments"),
    ("StatefulSet", "apps", "statefulsets"),
    ("DaemonSet", "apps", "daemonsets"),
    ("ReplicaSet", "apps", "replicasets"),
    ("Job", "batch", "jobs"),
    ("CronJob", "batch", "cronjobs"),
    ("Ingress", "networking.k8s.io", "ingresses"),
    ("NetworkPolicy", "networking.k8s.io", "networkpolicies"),
    ("Role", "rbac.authorization.k8s.io", "roles"),
    ("RoleBinding", "rbac.authorization.k8s.io", "rolebindings"),
    ("PodDisruptionBudget", "policy", "poddisruptionbudgets"),
    (
        "HorizontalPodAutoscaler",
        "autoscaling",
        "horizontalpodautoscalers",
    ),
];

/// The group and resource of a kind a chart emits: a built-in kind, or a kind served by
/// another entry of the mapping (`plural_of` gives that entry's plural). `None` when unknown.
pub fn resolve(
    kind: &str,
    mapping: &Mapping,
    plural_of: &dyn Fn(&str) -> Option<String>,
) -> Option<ResourceRef> {
    if let Some((_, group, resource)) = BUILTIN_KINDS.iter().find(|(k, _, _)| *k == kind) {
        return Some(ResourceRef {
            group: group.to_string(),
            resource: resource.to_string(),
        });
    }
    let watch = mapping.watches.iter().find(|w| w.kind == kind)?;
    Some(ResourceRef {
        group: watch.group.clone(),
        resource: plural_of(kind)?,
    })
}
