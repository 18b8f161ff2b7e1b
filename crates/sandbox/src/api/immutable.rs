//! Fields a built-in kind forbids changing once set, with the field errors kube-apiserver's validation gives.

use serde_json::Value;

/// The field errors `(path, message)` for immutable fields that `new` changes relative to `old`,
/// as pkg/apis/{core,apps,batch}/validation's Validate…Update functions report them.
pub(crate) fn changes(
    group: &str,
    plural: &str,
    old: &Value,
    new: &Value,
) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let mut immutable = |path: &str, o: &Value, n: &Value| {
        if o != n {
            errs.push((
                path.to_string(),
                format!("Invalid value: {}: field is immutable", go_value(n)),
            ));
        }
    };
    match (group, plural) {
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            immutable(
                "spec.selector",
                &old["spec"]["selector"],
                &new["spec"]["selector"],
            );
        }
        ("batch", "jobs") => {
            immutable(
                "spec.selector",
                &old["spec"]["selector"],
                &new["spec"]["selector"],
            );
            immutable(
                "spec.template",
                &old["spec"]["template"],
                &new["spec"]["template"],
            );
            immutable(
                "spec.completionMode",
                &old["spec"]["completionMode"],
                &new["spec"]["completionMode"],
            );
        }
        ("", "services") => {
            let external = |s: &Value| s["spec"]["type"] == "ExternalName";
            let assigned = old["spec"]["clusterIP"]
                .as_str()
                .is_some_and(|ip| !ip.is_empty());
            if !external(old) && !external(new) && assigned {
                immutable(
                    "spec.clusterIP",
                    &old["spec"]["clusterIP"],
                    &new["spec"]["clusterIP"],
                );
            }
        }
        ("", "configmaps" | "secrets") => {
            if old["immutable"] == true {
                let forbidden = "Forbidden: field is immutable when `immutable` is set";
                if new["immutable"] != true {
                    errs.push(("immutable".into(), forbidden.into()));
                }
                let fields: &[&str] = if plural == "secrets" {
                    &["data"]
                } else {
                    &["data", "binaryData"]
                };
                for f in fields {
                    if old[*f] != new[*f] {
                        errs.push(((*f).into(), forbidden.into()));
                    }
                }
            }
            if plural == "secrets" && old["type"] != new["type"] {
                errs.push((
                    "type".into(),
                    format!(
                        "Invalid value: {}: field is immutable",
                        go_value(&new["type"])
                    ),
                ));
            }
        }
        _ => {}
    }
    errs
}

/// A value as a field error prints it: strings quoted, anything else as compact JSON.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_cluster_ips_and_immutable_configmaps() {
        let d = |app: &str| json!({"spec": {"selector": {"matchLabels": {"app": app}}}});
        assert!(changes("apps", "deployments", &d("a"), &d("a")).is_empty());
        let errs = changes("apps", "deployments", &d("a"), &d("b"));
        assert_eq!(errs[0].0, "spec.selector");
        assert!(errs[0].1.ends_with("field is immutable"));
        let svc = |ip: &str| json!({"spec": {"type": "ClusterIP", "clusterIP": ip}});
        assert_eq!(
            changes("", "services", &svc("10.96.0.1"), &svc("10.96.0.2")).len(),
            1
        );
        let cm = |v: &str| json!({"immutable": true, "data": {"k": v}});
        assert!(changes("", "configmaps", &cm("1"), &cm("1")).is_empty());
        assert_eq!(
            changes("", "configmaps", &cm("1"), &cm("2")),
            vec![(
                "data".to_string(),
                "Forbidden: field is immutable when `immutable` is set".to_string()
            )]
        );
    }
}
