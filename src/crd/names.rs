//! Resource names of a CRD: defaults (English plural), hints, and Kubernetes' naming rules.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionNames;

use super::{CrdHints, Error, Result};

/// English plural of a lowercase word as Kubernetes tooling forms it: `s`, `x`, `z`,
/// `ch`, `sh` endings take `es`; a consonant followed by `y` becomes `ies`; anything
/// else takes `s`.
pub(crate) fn pluralize(word: &str) -> String {
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| word.ends_with(end))
    {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y') {
        let before = stem.chars().last();
        if before.is_some_and(|c| c.is_ascii_alphabetic() && !"aeiou".contains(c)) {
            return format!("{stem}ies");
        }
    }
    format!("{word}s")
}

/// The CRD's `names`, from the kind and the chart's hints, checked against the rules
/// the API server applies.
pub(crate) fn resolve(kind: &str, hints: &CrdHints) -> Result<CustomResourceDefinitionNames> {
    check_kind(kind)?;
    let lower = kind.to_ascii_lowercase();
    let plural = hints.plural.clone().unwrap_or_else(|| pluralize(&lower));
    let singular = hints.singular.clone().unwrap_or(lower);
    check_label("plural", &plural)?;
    check_label("singular", &singular)?;
    for short in &hints.short_names {
        check_label("shortNames", short)?;
    }
    for category in &hints.categories {
        check_label("categories", category)?;
    }
    Ok(CustomResourceDefinitionNames {
        kind: kind.to_string(),
        list_kind: Some(format!("{kind}List")),
        plural,
        singular: Some(singular),
        short_names: non_empty(&hints.short_names),
        categories: non_empty(&hints.categories),
    })
}

/// Checks the API group: a lowercase DNS subdomain with at least one dot.
pub(crate) fn check_group(group: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidName {
        field: "group",
        value: group.to_string(),
        reason: reason.to_string(),
    };
    if !group.contains('.') {
        return Err(invalid("must be a domain with at least one dot"));
    }
    if group.len() > 253 {
        return Err(invalid("must be at most 253 characters"));
    }
    for part in group.split('.') {
        if k8s_rules::names::label_problem(part, false).is_some() {
            return Err(invalid(
                "must be a lowercase DNS subdomain (a-z, 0-9, '-' and '.')",
            ));
        }
    }
    Ok(())
}

/// Checks the version: a DNS-1035 label such as `v1alpha1`.
pub(crate) fn check_version(version: &str) -> Result<()> {
    check_label("version", version)
}

fn check_kind(kind: &str) -> Result<()> {
    let starts_upper = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || !kind.chars().all(|c| c.is_ascii_alphanumeric()) || kind.len() > 63 {
        return Err(Error::InvalidName {
            field: "kind",
            value: kind.to_string(),
            reason: "must be CamelCase ASCII letters and digits, starting with an uppercase letter"
                .to_string(),
        });
    }
    Ok(())
}

fn check_label(field: &'static str, value: &str) -> Result<()> {
    match k8s_rules::names::label_problem(value, true) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            field,
            value: value.to_string(),
            reason: reason.to_string(),
        }),
    }
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluralize_table() {
        for (word, plural) in [
            ("webserver", "webservers"),
            ("balancer", "balancers"),
            ("ingress", "ingresses"),
            ("box", "boxes"),
            ("quiz", "quizes"),
            ("batch", "batches"),
            ("mesh", "meshes"),
            ("policy", "policies"),
            ("gateway", "gateways"),
            ("key", "keys"),
            ("y", "ys"),
            ("redis", "redises"),
        ] {
            assert_eq!(pluralize(word), plural, "{word}");
        }
    }

    #[test]
    fn names_default_from_kind() {
        let names = resolve("NetworkPolicy", &CrdHints::default()).unwrap();
        assert_eq!(names.plural, "networkpolicies");
        assert_eq!(names.singular.as_deref(), Some("networkpolicy"));
        assert_eq!(names.list_kind.as_deref(), Some("NetworkPolicyList"));
        assert_eq!(names.short_names, None);
    }

    #[test]
    fn names_follow_hints() {
        let hints = CrdHints {
            plural: Some("webs".into()),
            singular: Some("web".into()),
            short_names: vec!["ws".into()],
            categories: vec!["all".into()],
            ..CrdHints::default()
        };
        let names = resolve("WebServer", &hints).unwrap();
        assert_eq!(names.plural, "webs");
        assert_eq!(names.singular.as_deref(), Some("web"));
        assert_eq!(names.short_names, Some(vec!["ws".to_string()]));
        assert_eq!(names.categories, Some(vec!["all".to_string()]));
    }

    #[test]
    fn invalid_names_are_refused() {
        let cases: [(&str, CrdHints, &str); 4] = [
            ("webServer", CrdHints::default(), "crd.kind: \"webServer\""),
            ("Web-Server", CrdHints::default(), "crd.kind"),
            (
                "WebServer",
                CrdHints {
                    plural: Some("Webs".into()),
                    ..CrdHints::default()
                },
                "crd.plural: \"Webs\" must contain only lowercase",
            ),
            (
                "WebServer",
                CrdHints {
                    short_names: vec!["-w".into()],
                    ..CrdHints::default()
                },
                "crd.shortNames",
            ),
        ];
        for (kind, hints, expected) in cases {
            let err = resolve(kind, &hints).unwrap_err().to_string();
            assert!(err.contains(expected), "{kind}: {err}");
        }
        assert!(check_group("example").is_err());
        assert!(check_group("Web.example.com").is_err());
        assert!(check_group("web.tera-operator.io").is_ok());
        assert!(check_version("v1alpha1").is_ok());
        assert!(check_version("1").is_err());
    }
}
