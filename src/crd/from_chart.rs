//! The CRD of one mapping entry from its chart (hints, schema and defaults put together), or of every entry of a mapping file.

use std::path::Path;

use serde_json::json;

use super::{CrdSource, CustomResourceDefinition, Result, file_name, generate, to_yaml};
use crate::chart::{Chart, merge_values};
use crate::config::{Mapping, Watch};

/// Generates the CRD for `watch` from its loaded `chart`. Without a values schema the spec
/// accepts anything (`x-kubernetes-preserve-unknown-fields`).
pub(crate) fn for_chart(watch: &Watch, chart: &Chart) -> Result<CustomResourceDefinition> {
    let free_form = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let values_schema = chart.schema.as_ref().map_or(&free_form, |s| &s.document);
    let base_values = merge_values(&chart.defaults, &json!({}), &watch.override_values);
    let schema_file = chart.file("values.schema.json");
    let status_file = chart.file(crate::chart::STATUS_SCHEMA_FILE);
    let status_fields = chart
        .status_schema
        .as_ref()
        .map(|s| (&s.document, status_file.as_path()));
    generate(&CrdSource {
        group: &watch.group,
        version: &watch.version,
        kind: &watch.kind,
        hints: &chart.meta.crd,
        values_schema,
        description: chart.meta.description.as_deref(),
        schema_file: &schema_file,
        base_values: Some(&base_values),
        status_fields,
    })
}

/// The CRD of every kind the mapping file at `config` maps, as `(file name, YAML)` in mapping
/// order: what `tera-operator crd` prints or writes.
pub fn generate_all(config: &Path) -> Result<Vec<(String, String)>> {
    let mapping = Mapping::load(config)?;
    let mut out = Vec::new();
    for watch in &mapping.watches {
        let chart = Chart::load(&watch.chart_dir)?;
        let definition = for_chart(watch, &chart)?;
        out.push((file_name(&definition), to_yaml(&definition)?));
    }
    Ok(out)
}
