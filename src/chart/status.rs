//! A chart's computed status: `templates/_status.tera` and the `status.schema.json` it must match.

use std::path::Path;

use serde_json::Value;

use super::{Error, Result, TemplateFile, ValuesSchema};

/// The template that computes a resource's status fields from its values and live children.
pub const STATUS_TEMPLATE: &str = "templates/_status.tera";
/// The JSON Schema of the computed status fields; it also becomes the CRD's `status` schema.
pub const STATUS_SCHEMA_FILE: &str = "status.schema.json";
/// Status fields tera-operator writes itself; a chart's status cannot declare or compute them.
pub const RESERVED_STATUS_FIELDS: [&str; 3] = ["observedGeneration", "conditions", "children"];

/// Loads `status.schema.json` of the chart in `dir` (`None` when the chart computes no status),
/// checking that the status template and the schema come together and that the schema
/// describes an object of fields tera-operator does not write itself.
pub(crate) fn load_status_schema(
    dir: &Path,
    templates: &[TemplateFile],
) -> Result<Option<ValuesSchema>> {
    let path = dir.join(STATUS_SCHEMA_FILE);
    let has_template = templates.iter().any(|t| t.name == STATUS_TEMPLATE);
    if !path.exists() {
        if has_template {
            return Err(Error::StatusInvalid {
                path: dir.join(STATUS_TEMPLATE),
                message: format!(
                    "computes status fields, but the chart has no {STATUS_SCHEMA_FILE} declaring them (without it the API server would drop them)"
                ),
            });
        }
        return Ok(None);
    }
    if !has_template {
        return Err(Error::StatusInvalid {
            path,
            message: format!(
                "declares status fields, but the chart has no {STATUS_TEMPLATE} computing them"
            ),
        });
    }
    let schema = ValuesSchema::load(&path)?;
    check_shape(&schema.document).map_err(|message| Error::StatusInvalid {
        path: path.clone(),
        message,
    })?;
    Ok(Some(schema))
}

/// A status schema must be an object schema with `properties`, none of them reserved.
fn check_shape(document: &Value) -> std::result::Result<(), String> {
    if document.get("type").and_then(Value::as_str) != Some("object") {
        return Err("the root must be `\"type\": \"object\"` (the status is a mapping)".into());
    }
    let Some(properties) = document.get("properties").and_then(Value::as_object) else {
        return Err("the root must declare the status fields under `properties`".into());
    };
    if let Some(reserved) = RESERVED_STATUS_FIELDS
        .iter()
        .find(|f| properties.contains_key(**f))
    {
        return Err(format!(
            "/properties/{reserved}: `{reserved}` is written by tera-operator itself; choose another name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(name: &str) -> TemplateFile {
        TemplateFile {
            name: name.into(),
            source: String::new(),
            partial: true,
        }
    }

    fn chart_dir(schema: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = schema {
            std::fs::write(dir.path().join(STATUS_SCHEMA_FILE), text).unwrap();
        }
        dir
    }

    #[test]
    fn no_status_template_and_no_schema_is_no_status() {
        let dir = chart_dir(None);
        assert!(
            load_status_schema(dir.path(), &[template("templates/_helpers.tera")])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn template_and_schema_come_together() {
        let dir = chart_dir(None);
        let err = load_status_schema(dir.path(), &[template(STATUS_TEMPLATE)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("templates/_status.tera"), "{err}");
        assert!(err.contains("no status.schema.json"), "{err}");

        let dir = chart_dir(Some(r#"{"type": "object", "properties": {}}"#));
        let err = load_status_schema(dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("status.schema.json"), "{err}");
        assert!(err.contains("no templates/_status.tera"), "{err}");
    }

    #[test]
    fn schema_shape_is_checked() {
        for (schema, expected) in [
            (json!({"type": "string"}), "\"type\": \"object\""),
            (json!({"type": "object"}), "under `properties`"),
            (
                json!({"type": "object", "properties": {"conditions": {"type": "array"}}}),
                "/properties/conditions",
            ),
        ] {
            let dir = chart_dir(Some(&schema.to_string()));
            let err = load_status_schema(dir.path(), &[template(STATUS_TEMPLATE)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("status.schema.json: "), "{err}");
            assert!(err.contains(expected), "{err}");
        }
        let dir = chart_dir(Some("{ not json"));
        let err = load_status_schema(dir.path(), &[template(STATUS_TEMPLATE)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_good_schema_loads() {
        let dir = chart_dir(Some(
            r#"{"type": "object", "properties": {"activeBackendsNum": {"type": "integer"}}}"#,
        ));
        let schema = load_status_schema(dir.path(), &[template(STATUS_TEMPLATE)])
            .unwrap()
            .unwrap();
        assert!(
            schema
                .violations(&json!({"activeBackendsNum": 2}))
                .is_empty()
        );
        assert!(
            !schema
                .violations(&json!({"activeBackendsNum": "two"}))
                .is_empty()
        );
    }
}
