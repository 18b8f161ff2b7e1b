//! Create-only reviews that kubectl's `auth can-i` and `auth whoami` send: the sandbox has no
//! authorization, so every access review is allowed and says why; the user is the sandbox's.

use serde_json::{Value, json};

use crate::api::errors::{ApiError, Result};
use crate::api::resources::ResourceInfo;

/// Why every access review is allowed.
const ALLOWED: &str = "the sandbox has no authorization: every request is allowed";

/// The user every request is made as (kube-apiserver's `system:masters` admin).
pub(crate) fn user() -> Value {
    json!({"username": "sandbox-admin", "groups": ["system:masters", "system:authenticated"]})
}

/// Answers a review `body` posted to `res`: the body with its `status` filled in, as
/// kube-apiserver answers (201 Created, nothing stored).
pub(crate) fn answer(res: &ResourceInfo, body: Value) -> Result<Value> {
    let mut out = body;
    if !out["kind"].is_null() && out["kind"] != res.kind.as_str() {
        return Err(ApiError::bad_request(format!(
            "the body is a {}, this endpoint takes a {}",
            out["kind"], res.kind
        )));
    }
    out["apiVersion"] = json!(res.api_version());
    out["kind"] = json!(res.kind);
    if !out["metadata"].is_object() {
        out["metadata"] = json!({});
    }
    out["metadata"]["creationTimestamp"] = Value::Null;
    match res.kind.as_str() {
        "SelfSubjectAccessReview" => {
            // pkg/apis/authorization/validation: exactly one of the two attribute kinds.
            let spec = &out["spec"];
            if spec["resourceAttributes"].is_null() == spec["nonResourceAttributes"].is_null() {
                return Err(ApiError::invalid(
                    &res.group,
                    &res.kind,
                    "",
                    &[(
                        "spec".into(),
                        format!(
                            "Invalid value: {}: exactly one of nonResourceAttributes or resourceAttributes must be specified",
                            spec
                        ),
                    )],
                ));
            }
            out["status"] = json!({"allowed": true, "reason": ALLOWED});
        }
        "SelfSubjectRulesReview" => {
            if out["spec"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                return Err(ApiError::invalid(
                    &res.group,
                    &res.kind,
                    "",
                    &[("spec.namespace".into(), "Required value".into())],
                ));
            }
            out["status"] = json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
                "evaluationError": ALLOWED,
            });
        }
        _ => out["status"] = json!({"userInfo": user()}),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::Registry;

    #[test]
    fn access_reviews_are_allowed_and_need_attributes() {
        let reg = Registry::default();
        let res = reg
            .find("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
            .unwrap();
        let ok = answer(
            res,
            json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "pods"}}}),
        )
        .unwrap();
        assert_eq!(ok["status"]["allowed"], true);
        assert_eq!(answer(res, json!({"spec": {}})).unwrap_err().code, 422);
        let who = reg
            .find("authentication.k8s.io", "v1", "selfsubjectreviews")
            .unwrap();
        assert_eq!(
            answer(who, json!({})).unwrap()["status"]["userInfo"]["username"],
            "sandbox-admin"
        );
    }
}
