//! Object and label names as the API server validates them (`k8s.io/apimachinery/pkg/util/validation`).

/// Why `value` is not a lowercase RFC 1123 label (or, with `letter_first`, an RFC 1035 label):
/// 1 to 63 lowercase letters, digits and `-`, starting and ending alphanumeric.
pub fn label_problem(value: &str, letter_first: bool) -> Option<&'static str> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if value.is_empty() || value.len() > 63 {
        return Some("must be 1 to 63 characters");
    }
    if !value.chars().all(ok_char) {
        return Some("must contain only lowercase letters, digits and '-'");
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Some("must start and end with a letter or digit");
    }
    if letter_first && !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lowercase letter");
    }
    None
}

/// Whether `s` is a DNS-1123 label (lowercase alphanumerics and `-`, at most 63 characters):
/// the names of Namespaces and most resources' name segments.
pub fn is_dns_label(s: &str) -> bool {
    label_problem(s, false).is_none()
}

/// Whether `s` is a DNS-1035 label: a DNS-1123 label that starts with a letter (Service names).
pub fn is_dns1035_label(s: &str) -> bool {
    label_problem(s, true).is_none()
}

/// Whether `s` is a DNS-1123 subdomain (dot-separated labels, at most 253 characters): the
/// names of most objects, API groups and label-key prefixes.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Whether `s` is a label value or the name part of a qualified name: at most 63 letters,
/// digits, `-`, `_` or `.`, starting and ending alphanumeric (the empty value is checked by
/// [`label_problem_of`]).
fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Whether `key` is a valid label or annotation key: an optional DNS-subdomain prefix and `/`,
/// then a qualified name.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns_subdomain) && is_qualified_name_part(name)
}

/// Whether `value` is a valid label value (empty, or a qualified name part).
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_qualified_name_part(value)
}

/// Why a label key/value pair is invalid, if it is.
pub fn label_problem_of(key: &str, value: &str) -> Option<String> {
    if !is_label_key(key) {
        return Some(format!("label key {key:?} is invalid"));
    }
    if !is_label_value(value) {
        return Some(format!(
            "label {key}: value {value:?} is invalid (at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for (name, label, subdomain, dns1035) in [
            ("web", true, true, true),
            ("web-1", true, true, true),
            ("1web", true, true, false),
            ("a.b", false, true, false),
            ("sh.helm.release.v1.demo.v1", false, true, false),
            ("-web", false, false, false),
            ("web-", false, false, false),
            ("Web", false, false, false),
            ("", false, false, false),
            ("a..b", false, false, false),
            ("web_1", false, false, false),
        ] {
            assert_eq!(is_dns_label(name), label, "label {name:?}");
            assert_eq!(is_dns_subdomain(name), subdomain, "subdomain {name:?}");
            assert_eq!(is_dns1035_label(name), dns1035, "dns1035 {name:?}");
        }
        assert!(is_dns_label(&"a".repeat(63)));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain(
            &["a".repeat(63), "b".repeat(63)].join(".")
        ));
        assert!(!is_dns_subdomain(
            &"a.".repeat(127).trim_end_matches('.').repeat(2)
        ));
    }

    #[test]
    fn label_keys_and_values() {
        for (key, value, ok) in [
            ("app", "web", true),
            ("app.kubernetes.io/name", "web", true),
            ("app", "", true),
            ("app", "Web_1.x", true),
            ("app", "-web", false),
            ("App.io/name", "web", false),
            ("/name", "web", false),
            ("a/b/c", "web", false),
            ("app", "has space", false),
        ] {
            assert_eq!(label_problem_of(key, value).is_none(), ok, "{key}={value}");
        }
        assert_eq!(
            label_problem(&"x".repeat(64), false),
            Some("must be 1 to 63 characters")
        );
        assert_eq!(
            label_problem("9lives", true),
            Some("must start with a lowercase letter")
        );
    }
}
