//! The CRD of one mapping entry, from its chart: hints, schema and defaults put together.

use serde_json::json;

use super::{CrdSource, CustomResourceDefinition, Result, generate};
use crate::chart::Chart;
use crate::config::Watch;
use crate::render::merge_values;

/// Generates the CRD for `watch` from its loaded `chart`. Without a values schema the spec
/// accepts anything (`x-kubernetes-preserve-unknown-fields`).
pub fn for_chart(watch: &Watch, chart: &Chart) -> Result<CustomResourceDefinition> {
    let free_form = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let values_schema = chart.schema.as_ref().map_or(&free_form, |s| &s.document);
    let base_values = merge_values(&chart.defaults, &json!({}), &watch.override_values);
    let schema_file = chart.file("values.schema.json");
    generate(&CrdSource {
        group: &watch.group,
        version: &watch.version,
        kind: &watch.kind,
        hints: &chart.meta.crd,
        values_schema,
        description: chart.meta.description.as_deref(),
        schema_file: &schema_file,
        base_values: Some(&base_values),
    })
}
