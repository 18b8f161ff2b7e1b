//! Assembling the CustomResourceDefinition: metadata, names, version, schema, columns.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionSpec, CustomResourceDefinitionVersion,
    CustomResourceSubresourceStatus, CustomResourceSubresources, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::columns::printer_columns;
use super::names::{check_group, check_version, resolve};
use super::relax::relax_required;
use super::status::status_schema;
use super::{CrdHints, Error, Result, Scope, check_structural, structural_schema};

/// Everything needed to generate one CRD.
pub(crate) struct CrdSource<'a> {
    /// API group, e.g. `web.tera-operator.io`.
    pub(crate) group: &'a str,
    /// API version, e.g. `v1alpha1`.
    pub(crate) version: &'a str,
    /// Kind, e.g. `WebServer`.
    pub(crate) kind: &'a str,
    /// The chart's `crd:` hints (names, printer columns, scope).
    pub(crate) hints: &'a CrdHints,
    /// The chart's values.schema.json.
    pub(crate) values_schema: &'a serde_json::Value,
    /// The chart's description; becomes the description of the resource.
    pub(crate) description: Option<&'a str>,
    /// Path of values.schema.json, for error messages.
    pub(crate) schema_file: &'a Path,
    /// Values the CR spec is merged with before validation: the chart's values.yaml
    /// defaults deep-merged with the mapping's overrideValues. A field these supply is
    /// not `required` in the CRD (a CR may leave it out). `None`: keep every `required`.
    pub(crate) base_values: Option<&'a serde_json::Value>,
    /// The chart's status.schema.json and its path, when the chart computes status fields:
    /// they join the fields tera-operator writes in the CRD's `status` schema.
    pub(crate) status_fields: Option<(&'a serde_json::Value, &'a Path)>,
}

/// Generates the CRD of one kind: `<plural>.<group>`, namespaced, one served and
/// stored version with the status subresource, the printer columns, and a structural
/// schema whose `spec` is the chart's values schema and whose `status` is what the
/// controller writes.
pub(crate) fn generate(src: &CrdSource) -> Result<CustomResourceDefinition> {
    if src.hints.scope != Scope::Namespaced {
        return Err(Error::ScopeUnsupported(
            src.hints.scope.as_str().to_string(),
        ));
    }
    check_group(src.group)?;
    check_version(src.version)?;
    let names = resolve(src.kind, src.hints)?;
    let mut spec = structural_schema(src.values_schema, src.schema_file)?;
    if let Some(base) = src.base_values {
        relax_required(&mut spec, base);
    }
    let mut status = status_schema();
    if let Some((fields, file)) = src.status_fields {
        add_status_fields(&mut status, fields, file)?;
    }
    let schema = root_schema(spec, status, src.kind, src.description);
    let violations = check_structural(&schema);
    if !violations.is_empty() {
        return Err(Error::NotStructural {
            file: src.schema_file.to_path_buf(),
            violations,
        });
    }
    let schema: JSONSchemaProps = serde_json::from_value(schema)?;
    Ok(CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", names.plural, src.group)),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: src.group.to_string(),
            names,
            scope: Scope::Namespaced.as_str().to_string(),
            versions: vec![CustomResourceDefinitionVersion {
                name: src.version.to_string(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(json!({}))),
                    scale: None,
                }),
                additional_printer_columns: Some(printer_columns(&src.hints.printer_columns)?),
                ..CustomResourceDefinitionVersion::default()
            }],
            conversion: None,
            preserve_unknown_fields: None,
        },
        status: None,
    })
}

/// Adds the chart's computed status fields (its status.schema.json, converted like the values
/// schema) to the `status` schema. They are not `required` there: a status written before they
/// could first be computed (a failed render) must still be accepted.
fn add_status_fields(status: &mut Value, fields: &Value, file: &Path) -> Result<()> {
    let converted = structural_schema(fields, file)?;
    let violations = check_structural(&converted);
    if !violations.is_empty() {
        return Err(Error::NotStructural {
            file: file.to_path_buf(),
            violations,
        });
    }
    if let (Some(Value::Object(added)), Some(Value::Object(properties))) =
        (converted.get("properties"), status.get_mut("properties"))
    {
        for (name, schema) in added {
            properties
                .entry(name.clone())
                .or_insert_with(|| schema.clone());
        }
    }
    Ok(())
}

/// The whole object's schema around the converted `spec` and the `status`.
fn root_schema(mut spec: Value, status: Value, kind: &str, description: Option<&str>) -> Value {
    if let Some(map) = spec.as_object_mut() {
        map.entry("description")
            .or_insert_with(|| format!("Desired state of the {kind}: the chart's values.").into());
    }
    let mut root = json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        }
    });
    if let (Some(description), Some(map)) = (description, root.as_object_mut()) {
        map.insert("description".into(), description.into());
    }
    root
}
