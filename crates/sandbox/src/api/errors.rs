//! API errors as `metav1.Status` objects with the code and reason a real API server sends.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error, rendered as a `metav1.Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub(crate) code: u16,
    /// The machine-readable reason (`NotFound`, `Conflict`, …).
    pub(crate) reason: &'static str,
    /// The human-readable message.
    pub(crate) message: String,
    /// Optional `details` (name, group, kind, causes).
    pub(crate) details: Option<Value>,
    /// `metadata.continue` of the Status (a 410 for an expired continue token carries one).
    pub(crate) list_continue: Option<String>,
}

/// Results of API operations.
pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    /// Builds an error with no details.
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            list_continue: None,
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": group, "kind": kind}));
        self
    }

    /// 404 for a named object.
    pub(crate) fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(group, plural, name)
    }

    /// 404 for a path the server does not serve.
    pub(crate) fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409 AlreadyExists.
    pub(crate) fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(group, plural, name)
    }

    /// 409 Conflict for a stale resourceVersion.
    pub(crate) fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_details(group, plural, name)
    }

    /// 409 Conflict from server-side apply, one cause per conflicting field
    /// (`(manager, its apiVersion, field path)`).
    pub(crate) fn apply_conflict(
        group: &str,
        plural: &str,
        name: &str,
        conflicts: &[(String, String, String)],
    ) -> Self {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(manager, av, field)| format!("conflict with \"{manager}\" using {av}: {field}"))
            .collect();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, av, field)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\" using {av}"), "field": field})
            })
            .collect();
        let message = if lines.len() == 1 {
            format!("Apply failed with 1 conflict: {}", lines[0])
        } else {
            format!(
                "Apply failed with {} conflicts: {}",
                lines.len(),
                lines.join("\n")
            )
        };
        let mut err = Self::new(409, "Conflict", message).with_details(group, plural, name);
        if let Some(Value::Object(d)) = err.details.as_mut() {
            d.insert("causes".into(), Value::Array(causes));
        }
        err
    }

    /// 422 Invalid with one cause per field error (`(field, message)`).
    pub(crate) fn invalid(
        group: &str,
        kind: &str,
        name: &str,
        causes: &[(String, String)],
    ) -> Self {
        let joined: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let message = format!("{kind}.{group} \"{name}\" is invalid: {}", bracket(&joined));
        let message = message.replace(&format!("{kind}. \""), &format!("{kind} \""));
        let mut err = Self::new(422, "Invalid", message).with_details(group, kind, name);
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({"reason": cause_reason(m), "message": m, "field": f}))
            .collect();
        if let Some(Value::Object(d)) = err.details.as_mut() {
            d.insert("causes".into(), Value::Array(causes));
        }
        err
    }

    /// 400 BadRequest.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403 Forbidden.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 403 Forbidden for creating `name` in a namespace that is being deleted, as the
    /// NamespaceLifecycle admission plugin answers (plugin/pkg/admission/namespace/lifecycle).
    pub(crate) fn namespace_terminating(group: &str, plural: &str, name: &str, ns: &str) -> Self {
        let mut err = Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(group, plural)
            ),
        )
        .with_details(group, plural, name);
        if let Some(Value::Object(d)) = err.details.as_mut() {
            d.insert(
                "causes".into(),
                json!([{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]),
            );
        }
        err
    }

    /// 405 MethodNotAllowed.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 410 Gone for a list at a resourceVersion the history no longer reaches (etcd3 store).
    pub(crate) fn gone_list() -> Self {
        Self::new(
            410,
            "Expired",
            "The resourceVersion for the provided list is too old.",
        )
    }

    /// 410 Gone for an expired resourceVersion.
    pub(crate) fn gone(rv: &str) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {rv}"))
    }

    /// 415 UnsupportedMediaType.
    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {content_type:?}"
            ),
        )
    }

    /// 413 RequestEntityTooLarge.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// An error with an arbitrary status code, as injected by test hooks.
    pub(crate) fn injected(code: u16) -> Self {
        let reason = match code {
            400 => "BadRequest",
            404 => "NotFound",
            409 => "Conflict",
            410 => "Expired",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Self::new(code, reason, format!("injected failure ({code} {reason})"))
    }

    /// The `metav1.Status` object.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(c) = &self.list_continue {
            status["metadata"]["continue"] = json!(c);
        }
        if let (Some(details), Value::Object(s)) = (&self.details, &mut status) {
            s.insert("details".into(), details.clone());
        }
        if let (true, Value::Object(s)) = (self.reason.is_empty(), &mut status) {
            // metav1.StatusReasonUnknown is "", which the API server leaves out.
            s.remove("reason");
        }
        status
    }
}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn bracket(items: &[String]) -> String {
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("[{}]", items.join(", "))
    }
}

fn cause_reason(message: &str) -> &'static str {
    if message.starts_with("Required value") {
        "FieldValueRequired"
    } else if message.starts_with("Unsupported value") {
        "FieldValueNotSupported"
    } else if message.starts_with("Forbidden") {
        "FieldValueForbidden"
    } else if message.starts_with("Too long") {
        "FieldValueTooLong"
    } else if message.starts_with("Duplicate value") {
        "FieldValueDuplicate"
    } else {
        "FieldValueInvalid"
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let status = self.to_status();
        let body = serde_json::to_vec(&status).unwrap_or_default();
        let mut response = (code, [("content-type", "application/json")], body).into_response();
        // As the apiserver's responsewriters: a status asking to retry later says when in a
        // Retry-After header too, which clients (client-go, kube-rs) honour.
        if let Some(seconds) = status["details"]["retryAfterSeconds"].as_u64()
            && seconds > 0
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_resource() {
        let e = ApiError::not_found("apps", "deployments", "web");
        assert_eq!(e.code, 404);
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_lists_causes() {
        let e = ApiError::invalid(
            "example.com",
            "WebServer",
            "w",
            &[("spec.replicas".into(), "Required value".into())],
        );
        assert_eq!(
            e.message,
            "WebServer.example.com \"w\" is invalid: spec.replicas: Required value"
        );
        assert_eq!(
            e.to_status()["details"]["causes"][0]["reason"],
            "FieldValueRequired"
        );
    }
}
