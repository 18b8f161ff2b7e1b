//! The operator's workload: its Namespace, Deployment and metrics Service.

use serde_json::{Value, json};

use super::{IMAGE_CONFIG_PATH, METRICS_PORT, Options, labels, selector};

/// The Namespace, enforcing the `restricted` Pod Security Standard the operator meets.
pub(crate) fn namespace(options: &Options) -> Value {
    let mut labels = labels(options);
    if let Some(map) = labels.as_object_mut() {
        for mode in ["enforce", "audit", "warn"] {
            map.insert(
                format!("pod-security.kubernetes.io/{mode}"),
                json!("restricted"),
            );
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": options.namespace, "labels": labels},
    })
}

/// The operator's command line inside the container.
pub(crate) fn operator_args(options: &Options) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--config",
        IMAGE_CONFIG_PATH,
        "--metrics-addr",
        &format!("0.0.0.0:{METRICS_PORT}"),
        "--log-format",
        "json",
        "--leader-elect",
        "--leader-election-namespace",
        "$(POD_NAMESPACE)",
        "--leader-election-id",
        &options.lease_name,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if options.install_crds {
        args.push("--install-crds".to_string());
    }
    args
}

/// The Deployment: two replicas behind a leader election, probes on the metrics port,
/// requests and limits, and a container that meets the `restricted` Pod Security Standard.
pub(crate) fn deployment(options: &Options) -> Value {
    let env = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    let probe = |path: &str, delay: u32| {
        json!({
            "httpGet": {"path": path, "port": "metrics"},
            "initialDelaySeconds": delay,
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        })
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": options.name, "namespace": options.namespace, "labels": labels(options)},
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": selector(options)},
            "template": {
                "metadata": {"labels": labels(options)},
                "spec": {
                    "serviceAccountName": options.name,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "operator",
                        "image": options.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": operator_args(options),
                        "env": [
                            env("POD_NAME", "metadata.name"),
                            env("POD_NAMESPACE", "metadata.namespace"),
                        ],
                        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
                        "livenessProbe": probe("/healthz", 10),
                        "readinessProbe": probe("/readyz", 5),
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                            "limits": {"cpu": "1", "memory": "256Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]},
                            "privileged": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    })
}

/// The Service in front of the metrics port (`/metrics`, `/healthz`, `/readyz`).
pub(crate) fn metrics_service(options: &Options) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": format!("{}-metrics", options.name),
            "namespace": options.namespace,
            "labels": labels(options),
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": METRICS_PORT.to_string(),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(options),
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}],
        },
    })
}
