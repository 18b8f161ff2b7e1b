//! The built-in kinds a chart commonly emits or must not emit: group, preferred version,
//! plural resource and scope, as a Kubernetes 1.3x API server serves them.

/// One built-in kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinKind {
    /// The kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// The preferred version.
    pub version: &'static str,
    /// Plural resource name, e.g. `deployments`.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

const fn namespaced(
    kind: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
) -> BuiltinKind {
    BuiltinKind {
        kind,
        group,
        version,
        plural,
        namespaced: true,
    }
}

const fn cluster(
    kind: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
) -> BuiltinKind {
    BuiltinKind {
        kind,
        group,
        version,
        plural,
        namespaced: false,
    }
}

/// Every built-in kind this project knows, namespaced ones first.
pub const BUILTIN: &[BuiltinKind] = &[
    namespaced("ConfigMap", "", "v1", "configmaps"),
    namespaced("Secret", "", "v1", "secrets"),
    namespaced("Service", "", "v1", "services"),
    namespaced("ServiceAccount", "", "v1", "serviceaccounts"),
    namespaced("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims"),
    namespaced("Pod", "", "v1", "pods"),
    namespaced("Endpoints", "", "v1", "endpoints"),
    namespaced("LimitRange", "", "v1", "limitranges"),
    namespaced("ResourceQuota", "", "v1", "resourcequotas"),
    namespaced("PodTemplate", "", "v1", "podtemplates"),
    namespaced("ReplicationController", "", "v1", "replicationcontrollers"),
    namespaced("ControllerRevision", "apps", "v1", "controllerrevisions"),
    namespaced("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"),
    namespaced("Lease", "coordination.k8s.io", "v1", "leases"),
    namespaced("Deployment", "apps", "v1", "deployments"),
    namespaced("StatefulSet", "apps", "v1", "statefulsets"),
    namespaced("DaemonSet", "apps", "v1", "daemonsets"),
    namespaced("ReplicaSet", "apps", "v1", "replicasets"),
    namespaced("Job", "batch", "v1", "jobs"),
    namespaced("CronJob", "batch", "v1", "cronjobs"),
    namespaced("Ingress", "networking.k8s.io", "v1", "ingresses"),
    namespaced(
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "networkpolicies",
    ),
    namespaced("Role", "rbac.authorization.k8s.io", "v1", "roles"),
    namespaced(
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
    ),
    namespaced(
        "PodDisruptionBudget",
        "policy",
        "v1",
        "poddisruptionbudgets",
    ),
    namespaced(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
    ),
    cluster("APIService", "apiregistration.k8s.io", "v1", "apiservices"),
    cluster(
        "CertificateSigningRequest",
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
    ),
    cluster(
        "ClusterRole",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
    ),
    cluster(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
    ),
    cluster("CSIDriver", "storage.k8s.io", "v1", "csidrivers"),
    cluster("CSINode", "storage.k8s.io", "v1", "csinodes"),
    cluster(
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
    ),
    cluster(
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "flowschemas",
    ),
    cluster("IngressClass", "networking.k8s.io", "v1", "ingressclasses"),
    cluster(
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
    ),
    cluster("Namespace", "", "v1", "namespaces"),
    cluster("Node", "", "v1", "nodes"),
    cluster("PersistentVolume", "", "v1", "persistentvolumes"),
    cluster(
        "PriorityClass",
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
    ),
    cluster(
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
    ),
    cluster("RuntimeClass", "node.k8s.io", "v1", "runtimeclasses"),
    cluster("StorageClass", "storage.k8s.io", "v1", "storageclasses"),
    cluster(
        "ValidatingAdmissionPolicy",
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
    ),
    cluster(
        "ValidatingAdmissionPolicyBinding",
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
    ),
    cluster(
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
    ),
    cluster(
        "VolumeAttachment",
        "storage.k8s.io",
        "v1",
        "volumeattachments",
    ),
];

/// The built-in kind named `kind`, if this table knows it.
pub fn find(kind: &str) -> Option<&'static BuiltinKind> {
    BUILTIN.iter().find(|k| k.kind == kind)
}

/// Whether objects of `kind` are cluster-scoped built-in objects.
pub fn is_cluster_scoped(kind: &str) -> bool {
    find(kind).is_some_and(|k| !k.namespaced)
}

/// Whether an API group belongs to Kubernetes itself (core, `apps`, `*.k8s.io`, …): custom
/// resource groups always contain a dot, and only Kubernetes' own end in `.k8s.io`.
pub fn is_builtin_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Whether `apiVersion` belongs to Kubernetes itself (see [`is_builtin_group`]).
pub fn is_builtin_api(api_version: &str) -> bool {
    is_builtin_group(api_version.rsplit_once('/').map_or("", |(group, _)| group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_with_their_scope() {
        let deployment = find("Deployment").map(|k| (k.group, k.version, k.plural));
        assert_eq!(deployment, Some(("apps", "v1", "deployments")));
        assert!(is_cluster_scoped("ClusterRole"));
        assert!(!is_cluster_scoped("Service"));
        assert!(!is_cluster_scoped("Widget"));
        assert_eq!(find("Widget"), None);
    }

    #[test]
    fn every_kind_is_listed_once() {
        for (i, a) in BUILTIN.iter().enumerate() {
            assert!(
                BUILTIN[i + 1..].iter().all(|b| b.kind != a.kind),
                "{}",
                a.kind
            );
        }
    }

    #[test]
    fn builtin_apis_are_recognized() {
        assert!(is_builtin_api("v1"));
        assert!(is_builtin_api("apps/v1"));
        assert!(is_builtin_api("networking.k8s.io/v1"));
        assert!(!is_builtin_api("example.com/v1"));
        assert!(!is_builtin_api("monitoring.coreos.com/v1"));
    }
}
