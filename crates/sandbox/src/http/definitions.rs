//! The upstream OpenAPI definitions of the built-in types (data/openapi-definitions.json.gz), loaded once.

use std::io::Read;
use std::sync::OnceLock;

use serde_json::{Map, Value};

static DATA: &[u8] = include_bytes!("../../data/openapi-definitions.json.gz");

/// Every built-in definition by name (`io.k8s.api.apps.v1.Deployment`), in OpenAPI v2 form.
pub(crate) fn all() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| match load() {
        Ok(defs) => defs,
        Err(e) => {
            tracing::error!(error = %e, "the embedded OpenAPI definitions cannot be read");
            Map::new()
        }
    })
}

fn load() -> Result<Map<String, Value>, String> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(DATA)
        .read_to_end(&mut text)
        .map_err(|e| format!("data/openapi-definitions.json.gz: {e}"))?;
    let mut doc: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("data/openapi-definitions.json.gz: {e}"))?;
    match doc.get_mut("definitions").map(Value::take) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err("data/openapi-definitions.json.gz: no `definitions` object".into()),
    }
}

/// The name of the definition of `group/version` `kind` (its `x-kubernetes-group-version-kind`).
pub(crate) fn name_of(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    all().iter().find_map(|(name, d)| {
        d["x-kubernetes-group-version-kind"]
            .as_array()?
            .iter()
            .any(|g| g["group"] == group && g["version"] == version && g["kind"] == kind)
            .then_some(name.as_str())
    })
}

/// Adds to `names` every built-in definition `schema` refers to (`#/definitions/…`), transitively.
pub(crate) fn closure(schema: &Value, names: &mut std::collections::BTreeSet<String>) {
    match schema {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix("#/definitions/")
                && names.insert(name.to_string())
                && let Some(d) = all().get(name)
            {
                closure(d, names);
            }
            m.values().for_each(|v| closure(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| closure(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_load_and_name_deployments() {
        assert!(all().len() > 500, "{}", all().len());
        assert_eq!(
            name_of("apps", "v1", "Deployment"),
            Some("io.k8s.api.apps.v1.Deployment")
        );
        let replicas = &all()["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"];
        assert_eq!(replicas["type"], "integer");
        let mut names = Default::default();
        closure(&all()["io.k8s.api.apps.v1.Deployment"], &mut names);
        assert!(names.contains("io.k8s.api.core.v1.PodSpec"));
    }
}
