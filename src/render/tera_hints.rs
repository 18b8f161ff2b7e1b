//! Hints for the template mistakes people bring from Helm, Jinja and Tera 1.

use super::engine::TemplateError;

/// Tags of other template languages that Tera 2 does not have, with what to write instead.
const FOREIGN_TAGS: &[(&str, &str)] = &[
    (
        "macro",
        "Tera 2 has no macros: define a component in a `templates/_*.tera` partial, `{% component name(arg) %}…{% endcomponent name %}`, and call it as `{{<name arg={x}/>}}`",
    ),
    (
        "import",
        "components defined in `templates/_*.tera` partials are visible to every template: nothing to import",
    ),
    (
        "define",
        "Helm's `define` is a component in Tera 2: `{% component name(@values) %}…{% endcomponent name %}` in a `templates/_*.tera` partial (`tera-operator migrate helm-chart` converts a Helm chart)",
    ),
    (
        "call",
        "call a component as `{{<name arg={x}/>}}`, or with a body as `{{<name>}}…{{</name>}}`",
    ),
];

/// The variables a chart template is given, which a component sees only as parameters.
const CONTEXT_VARIABLES: &[&str] = &["values", "release", "chart", "resource"];

/// Adds a hint to `error` when it is a mistake with a known fix; `source` is the text of the
/// template the error is in, when known.
pub(crate) fn annotate(error: &mut TemplateError, source: Option<&str>) {
    if let Some(hint) = hint(error, source) {
        error.message.push_str("\n  hint: ");
        error.message.push_str(&hint);
    }
}

fn hint(error: &TemplateError, source: Option<&str>) -> Option<String> {
    let message = error.message.as_str();
    if message.starts_with("Unknown tag") {
        let tag = word_at(source?, error.line?, error.column?)?;
        return FOREIGN_TAGS
            .iter()
            .find(|(name, _)| *name == tag)
            .map(|(_, hint)| format!("`{{% {tag} %}}`: {hint}"));
    }
    if message.contains("Unknown component") {
        return Some(
            "components are defined in `templates/_*.tera` partials (`{% component name(arg) %}…{% endcomponent name %}`); Helm's `_helpers.tpl` is not read (`tera-operator migrate helm-chart` converts its defines)".to_string(),
        );
    }
    let partial = error
        .file
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with('_'));
    let variable = CONTEXT_VARIABLES
        .iter()
        .find(|v| message.contains(&format!("Variable `{v}` is not defined")))?;
    partial.then(|| {
        format!(
            "a component sees only its parameters: declare `@{variable}` in its signature (`{{% component name(@{variable}) %}}`), and the caller's `{variable}` is passed to it"
        )
    })
}

/// The identifier starting at the 1-based `line` and `column` of `source`.
fn word_at(source: &str, line: usize, column: usize) -> Option<&str> {
    let text = source.lines().nth(line.checked_sub(1)?)?;
    let start = text
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(file: &str, line: usize, column: usize, message: &str) -> TemplateError {
        TemplateError {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    #[test]
    fn foreign_tags_get_their_tera_equivalent() {
        let source = "a: 1\n{% macro label(x) %}{{ x }}{% endmacro %}\n";
        let mut e = error("templates/cm.yaml", 2, 4, "Unknown tag");
        annotate(&mut e, Some(source));
        assert!(
            e.message
                .starts_with("Unknown tag\n  hint: `{% macro %}`: Tera 2 has no macros"),
            "{}",
            e.message
        );
        // A tag nobody knows elsewhere either: no hint.
        let mut e = error("templates/cm.yaml", 1, 4, "Unknown tag");
        annotate(&mut e, Some("{% frobnicate %}"));
        assert_eq!(e.message, "Unknown tag");
        // No source, no guess.
        let mut e = error("templates/cm.yaml", 2, 4, "Unknown tag");
        annotate(&mut e, None);
        assert_eq!(e.message, "Unknown tag");
    }

    #[test]
    fn context_variables_in_components_need_parameters() {
        let mut e = error(
            "templates/_c.tera",
            1,
            29,
            "Variable `values` is not defined.",
        );
        annotate(&mut e, None);
        assert!(e.message.contains("declare `@values`"), "{}", e.message);
        // The same error in a template proper is a different mistake: no hint.
        let mut e = error(
            "templates/cm.yaml",
            1,
            29,
            "Variable `values` is not defined.",
        );
        annotate(&mut e, None);
        assert!(!e.message.contains("hint"), "{}", e.message);
        // Another variable: no hint.
        let mut e = error(
            "templates/_c.tera",
            1,
            29,
            "Variable `port` is not defined.",
        );
        annotate(&mut e, None);
        assert!(!e.message.contains("hint"), "{}", e.message);
    }

    #[test]
    fn unknown_components_point_at_partials() {
        let mut e = error(
            "templates/cm.yaml",
            6,
            5,
            "error: Unknown component `nothere`",
        );
        annotate(&mut e, None);
        assert!(
            e.message.contains("`templates/_*.tera` partials"),
            "{}",
            e.message
        );
    }

    #[test]
    fn words_are_read_at_their_column() {
        assert_eq!(word_at("{% macro x() %}", 1, 4), Some("macro"));
        assert_eq!(word_at("é {% import %}", 1, 6), Some("import"));
        assert_eq!(word_at("x", 3, 1), None);
        assert_eq!(word_at("{% %}", 1, 3), None);
    }
}
