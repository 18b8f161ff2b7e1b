//! What Helm's `.Capabilities` says without a cluster, which converted charts get as defaults.

/// The API versions Helm v4 reports in `.Capabilities.APIVersions` when it renders without a
/// cluster (`helm template`, or an SDK render): client-go's registered group/versions plus
/// apiextensions, as read from helm-python-sdk 0.2.2. Group/versions only, no kinds, so
/// `.Capabilities.APIVersions.Has "apps/v1/Deployment"` is false there too.
pub(super) const HELM_OFFLINE_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// The default `values.capabilities`: `kube_version`, and Helm's offline API versions.
pub(super) fn defaults(kube_version: &str) -> serde_json::Value {
    serde_json::json!({"kubeVersion": kube_version, "apiVersions": HELM_OFFLINE_API_VERSIONS})
}

/// The same, as the lines appended to values.yaml.
pub(super) fn values_yaml(kube_version: &str) -> String {
    let mut text = format!(
        "\n# Added by `tera-operator migrate helm-chart`: what Helm's `.Capabilities` told the templates\n# (Helm's defaults without a cluster; list the API versions your cluster serves).\ncapabilities:\n  kubeVersion: {kube_version}\n  apiVersions:\n"
    );
    for version in HELM_OFFLINE_API_VERSIONS {
        text.push_str(&format!("    - {version}\n"));
    }
    text
}
