//! Printer columns: `Ready`, then the chart's own columns, then `Age`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;

use super::{Error, PrinterColumn, Result};

const COLUMN_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];

/// The printer columns of a CRD: always `Ready` first and `Age` last, the chart's
/// columns (checked) in between.
pub(crate) fn printer_columns(
    chart: &[PrinterColumn],
) -> Result<Vec<CustomResourceColumnDefinition>> {
    let mut columns = vec![column(
        "Ready",
        "string",
        r#".status.conditions[?(@.type=="Ready")].status"#,
        "Whether every object rendered for this resource is ready.",
    )];
    let mut seen: Vec<String> = vec!["ready".into(), "age".into()];
    for hint in chart {
        check(hint)?;
        let lower = hint.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(invalid(hint, "a column with this name already exists"));
        }
        seen.push(lower);
        columns.push(CustomResourceColumnDefinition {
            name: hint.name.clone(),
            type_: hint.type_.clone(),
            json_path: hint.json_path.clone(),
            description: hint.description.clone(),
            priority: hint.priority,
            format: hint.format.clone(),
        });
    }
    columns.push(column(
        "Age",
        "date",
        ".metadata.creationTimestamp",
        "Time since the resource was created.",
    ));
    Ok(columns)
}

fn column(
    name: &str,
    type_: &str,
    json_path: &str,
    description: &str,
) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.to_string(),
        type_: type_.to_string(),
        json_path: json_path.to_string(),
        description: Some(description.to_string()),
        priority: None,
        format: None,
    }
}

fn check(hint: &PrinterColumn) -> Result<()> {
    if hint.name.trim().is_empty() {
        return Err(invalid(hint, "name must not be empty"));
    }
    if !COLUMN_TYPES.contains(&hint.type_.as_str()) {
        return Err(invalid(
            hint,
            &format!(
                "type {:?} must be one of {}",
                hint.type_,
                COLUMN_TYPES.join(", ")
            ),
        ));
    }
    if !hint.json_path.starts_with('.') {
        return Err(invalid(
            hint,
            &format!(
                "jsonPath {:?} must start with '.', e.g. .spec.replicas",
                hint.json_path
            ),
        ));
    }
    if hint.priority.is_some_and(|p| p < 0) {
        return Err(invalid(hint, "priority must not be negative"));
    }
    Ok(())
}

fn invalid(hint: &PrinterColumn, reason: &str) -> Error {
    Error::InvalidPrinterColumn {
        name: hint.name.clone(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            json_path: json_path.into(),
            description: None,
            priority: None,
            format: None,
        }
    }

    #[test]
    fn ready_first_chart_columns_then_age() {
        let cols = printer_columns(&[hint("Replicas", "integer", ".spec.replicas")]).unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Ready", "Replicas", "Age"]);
        assert_eq!(
            cols[0].json_path,
            r#".status.conditions[?(@.type=="Ready")].status"#
        );
        assert_eq!(cols[2].type_, "date");
    }

    #[test]
    fn bad_columns_are_refused() {
        for (col, expected) in [
            (hint("X", "int", ".spec.x"), "type \"int\" must be one of"),
            (hint("X", "integer", "spec.x"), "must start with '.'"),
            (
                hint("age", "date", ".metadata.creationTimestamp"),
                "already exists",
            ),
            (hint("", "string", ".spec.x"), "name must not be empty"),
        ] {
            let err = printer_columns(&[col]).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let dup = [hint("X", "string", ".a"), hint("X", "string", ".b")];
        assert!(
            printer_columns(&dup)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
    }
}
