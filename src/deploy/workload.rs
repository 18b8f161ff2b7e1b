//! The operator's workload: its Namespace, Deployment (or StatefulSet, sharded) and metrics Service.

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

/// The prefix of the shard Leases: `<lease name>-shard`.
pub(crate) fn shard_lease_prefix(options: &Options) -> String {
    format!("{}-shard", options.lease_name)
}

/// The operator's command line inside the container.
pub(crate) fn operator_args(options: &Options) -> Vec<String> {
    let metrics_addr = format!("0.0.0.0:{METRICS_PORT}");
    let mut args: Vec<String> = [
        "run",
        "--config",
        IMAGE_CONFIG_PATH,
        "--metrics-addr",
        &metrics_addr,
        "--log-format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match options.shards {
        None => args.extend(
            [
                "--leader-elect",
                "--leader-election-namespace",
                "$(POD_NAMESPACE)",
                "--leader-election-id",
                &options.lease_name,
            ]
            .map(String::from),
        ),
        // The ordinal comes from $POD_NAME (`<name>-<ordinal>`, as the StatefulSet names it).
        Some(shards) => args.extend([
            "--shards".to_string(),
            shards.to_string(),
            "--shard-lease-prefix".to_string(),
            shard_lease_prefix(options),
            "--leader-election-namespace".to_string(),
            "$(POD_NAMESPACE)".to_string(),
        ]),
    }
    if options.install_crds {
        args.push("--install-crds".to_string());
    }
    args
}

/// The Deployment: two replicas behind a leader election, probes on the metrics port,
/// requests and limits, and a container that meets the `restricted` Pod Security Standard.
pub(crate) fn deployment(options: &Options) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": options.name, "namespace": options.namespace, "labels": labels(options)},
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": selector(options)},
            "template": pod_template(options),
        },
    })
}

/// With sharding: a StatefulSet, so that each pod has a stable ordinal (its name ends in it)
/// and takes that shard first. Pods start and stop in parallel: the shard Leases, not the
/// pods' order, keep two replicas from serving one shard.
pub(crate) fn stateful_set(options: &Options) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": options.name, "namespace": options.namespace, "labels": labels(options)},
        "spec": {
            "replicas": options.replicas,
            "serviceName": format!("{}-metrics", options.name),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": selector(options)},
            "template": pod_template(options),
        },
    })
}

/// The operator's pod: probes on the metrics port, requests and limits, and a container that
/// meets the `restricted` Pod Security Standard.
fn pod_template(options: &Options) -> Value {
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
