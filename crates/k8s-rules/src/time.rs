//! Timestamps as the API server writes them.

/// The current time as Kubernetes writes `metav1.Time` (RFC 3339, whole seconds, UTC):
/// condition transitions, creation and deletion timestamps.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_rfc3339_in_whole_seconds() {
        let now = super::now();
        assert_eq!(now.len(), "2026-01-02T03:04:05Z".len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
