//! Deterministic YAML of a CRD and its file name.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::Result;

/// The CRD as one YAML document (no `---`), keys sorted at every level (whether or
/// not serde_json preserves insertion order), numeric bounds written as integers when
/// they are whole: the same CRD always gives the same bytes, so a checked-in crds/
/// directory can be compared byte for byte.
pub(crate) fn to_yaml(crd: &CustomResourceDefinition) -> Result<String> {
    Ok(serde_yaml::to_string(&sorted(to_json(crd)?))?)
}

/// The CRD as JSON, numeric bounds written as integers when they are whole (`1`, not the
/// `1.0` k8s-openapi writes): what `tera-operator crd` prints and `--install-crds` applies.
pub(crate) fn to_json(crd: &CustomResourceDefinition) -> Result<Value> {
    let mut value = serde_json::to_value(crd)?;
    if let Some(Value::Array(versions)) = value.pointer_mut("/spec/versions") {
        for version in versions {
            if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
                whole_bounds(schema);
            }
        }
    }
    Ok(value)
}

/// `value` with the keys of every object in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The file name of a CRD in a crds/ directory: `<plural>.<group>.yaml`.
pub(crate) fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.{}.yaml", crd.spec.names.plural, crd.spec.group)
}

use k8s_rules::whole_number;

/// JSONSchemaProps holds minimum/maximum/multipleOf as f64: write 65535.0 as 65535.
fn whole_bounds(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    for key in ["minimum", "maximum", "multipleOf"] {
        if let Some(value) = map.get_mut(key) {
            *value = whole_number(value);
        }
    }
    for (key, child) in map.iter_mut() {
        match (key.as_str(), child) {
            ("properties", Value::Object(props)) => props.values_mut().for_each(whole_bounds),
            ("items" | "additionalProperties" | "not", child) => whole_bounds(child),
            ("allOf" | "anyOf" | "oneOf", Value::Array(branches)) => {
                branches.iter_mut().for_each(whole_bounds)
            }
            _ => {}
        }
    }
}
