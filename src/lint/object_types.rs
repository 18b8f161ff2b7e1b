//! The `object-types` lint rule: every rendered built-in object checked against its Kubernetes
//! API type (unknown fields, wrong types, missing required fields), named by template and object.

use std::collections::HashSet;

use serde_json::Value;

use super::{Finding, Lint};

/// Checks the objects each value set rendered (see the `value-sets` rule) against the API types
/// of Kubernetes 1.34. A problem found with several value sets is reported once, with the
/// first. Custom resources are left alone: their CRD is not known to lint.
pub(super) fn object_types(lint: &mut Lint<'_>) {
    let mut seen = HashSet::new();
    let mut findings = Vec::new();
    for (values_file, rendered) in &lint.rendered {
        for (object, source) in rendered.objects.iter().zip(&rendered.sources) {
            let Some(problems) = k8s_rules::check::builtin_object(object) else {
                continue;
            };
            for problem in problems {
                let key = (
                    source.template.clone(),
                    identity(object),
                    problem.to_string(),
                );
                if !seen.insert(key) {
                    continue;
                }
                let values = values_file
                    .strip_prefix(lint.dir)
                    .unwrap_or(values_file)
                    .display();
                findings.push(Finding::error(
                    lint.dir.join(&source.template).display().to_string(),
                    format!(
                        "{}: {problem} (Kubernetes API types, with {values})",
                        identity(object)
                    ),
                ));
            }
        }
    }
    lint.findings.extend(findings);
}

/// `Kind name` of an object, as the messages name it.
fn identity(object: &Value) -> String {
    let field = |path: &[&str]| {
        crate::render::at(object, path)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    format!("{} {}", field(&["kind"]), field(&["metadata", "name"]))
}
