//! Rules every built-in object follows beyond its types: label syntax, one controller owner, containers with names and images, base64 Secret data.

use base64::Engine;
use serde_json::Value;

const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const LABEL_KEY: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";

/// The field errors `(path, message)` of `obj` (any kind): label keys and values
/// (apimachinery's ValidateLabels) and at most one controller owner (ValidateOwnerReferences).
pub(crate) fn metadata_errors(obj: &Value) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if !k8s_rules::names::is_label_key(k) {
                errs.push((
                    "metadata.labels".into(),
                    format!("Invalid value: {k:?}: {LABEL_KEY}"),
                ));
            }
            let v = v.as_str().unwrap_or_default();
            if v.len() > 63 {
                errs.push((
                    "metadata.labels".into(),
                    format!("Invalid value: {v:?}: must be no more than 63 characters"),
                ));
            } else if !k8s_rules::names::is_label_value(v) {
                errs.push((
                    "metadata.labels".into(),
                    format!("Invalid value: {v:?}: {LABEL_VALUE}"),
                ));
            }
        }
    }
    let refs = obj["metadata"]["ownerReferences"].as_array();
    let controllers: Vec<String> = refs
        .into_iter()
        .flatten()
        .filter(|r| r["controller"] == true)
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if controllers.len() > 1 {
        errs.push((
            "metadata.ownerReferences".into(),
            format!(
                "Invalid value: {}: Only one reference can have Controller set to true. Found \"true\" in references for {}",
                obj["metadata"]["ownerReferences"],
                controllers.join(" and ")
            ),
        ));
    }
    errs
}

/// The field errors of a built-in kind's pod template or pod spec: every container and init
/// container needs a DNS-label name and an image (pkg/apis/core/validation validateContainers).
pub(crate) fn pod_errors(group: &str, plural: &str, obj: &Value) -> Vec<(String, String)> {
    let (path, spec) = match (group, plural) {
        ("", "pods") => ("spec", &obj["spec"]),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
        | ("batch", "jobs") => ("spec.template.spec", &obj["spec"]["template"]["spec"]),
        ("batch", "cronjobs") => (
            "spec.jobTemplate.spec.template.spec",
            &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        ),
        _ => return vec![],
    };
    let mut errs = Vec::new();
    if plural == "jobs" || plural == "cronjobs" {
        // A Job's pods must not restart forever (validateJob's restartPolicy check).
        match spec["restartPolicy"].as_str() {
            Some("OnFailure" | "Never") => {}
            Some(other) => errs.push((
                format!("{path}.restartPolicy"),
                format!("Unsupported value: {other:?}: supported values: \"OnFailure\", \"Never\""),
            )),
            None => errs.push((
                format!("{path}.restartPolicy"),
                "Required value: valid values: \"OnFailure\", \"Never\"".into(),
            )),
        }
    }
    if spec["containers"].as_array().is_none_or(Vec::is_empty) {
        errs.push((format!("{path}.containers"), "Required value".into()));
    }
    for list in ["containers", "initContainers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            match c["name"].as_str().filter(|n| !n.is_empty()) {
                None => errs.push((format!("{at}.name"), "Required value".into())),
                Some(n) if !k8s_rules::names::is_dns_label(n) => errs.push((
                    format!("{at}.name"),
                    format!("Invalid value: {n:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
                )),
                Some(_) => {}
            }
            if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
                errs.push((format!("{at}.image"), "Required value".into()));
            }
        }
    }
    errs
}

/// Why a Secret's `data` does not decode (its values are base64 on the wire): the decoding error
/// the API server answers with 400, naming the input byte as Go's encoding/base64 does.
pub(crate) fn secret_data_error(obj: &Value) -> Option<String> {
    let data = obj["data"].as_object()?;
    data.values().filter_map(Value::as_str).find_map(|v| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .err()
            .map(|e| {
                let at = match e {
                    base64::DecodeError::InvalidByte(at, _) => at,
                    base64::DecodeError::InvalidLastSymbol { offset, .. } => offset,
                    _ => v.len(),
                };
                format!("illegal base64 data at input byte {at}")
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_owners_containers_and_secret_data() {
        let o = json!({"metadata": {"labels": {"ok": "yes", "bad key!": "x", "k": "-no"}}});
        let errs = metadata_errors(&o);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|(f, _)| f == "metadata.labels"));
        let owners = json!({"metadata": {"ownerReferences": [
            {"kind": "A", "name": "a", "controller": true}, {"kind": "B", "name": "b", "controller": true}]}});
        assert!(
            metadata_errors(&owners)[0]
                .1
                .ends_with("Found \"true\" in references for A/a and B/b")
        );
        let d = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}, {"name": "b", "image": " "}]}}}});
        let errs = pod_errors("apps", "deployments", &d);
        assert_eq!(
            errs,
            vec![
                (
                    "spec.template.spec.containers[0].name".to_string(),
                    "Required value".to_string()
                ),
                (
                    "spec.template.spec.containers[1].image".to_string(),
                    "Required value".to_string()
                ),
            ]
        );
        assert_eq!(secret_data_error(&json!({"data": {"a": "aGk="}})), None);
        assert_eq!(
            secret_data_error(&json!({"data": {"a": "not base64!"}})),
            Some("illegal base64 data at input byte 3".into())
        );
    }
}
