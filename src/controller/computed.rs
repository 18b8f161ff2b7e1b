//! A resource's computed status fields: its chart's status template over its live children.

use k8s_openapi::api::core::v1::ObjectReference;
use serde_json::Value;

use std::sync::Arc;

use kube::discovery::ApiResource;

use super::child_store::CachedChild;
use super::context::KindContext;
use super::reason::Reason;
use super::status::Computed;
use crate::render::Renderer;

/// Computes the status fields of `resource` (as JSON) from the merged `values` and its cached
/// live children (see [`super::children::Children::owned_by`]), as the chart's status template says. Children
/// are as the child watches last saw them: a change they see later wakes the resource, which
/// computes again.
pub(crate) fn compute(
    renderer: &Renderer,
    resource: &Value,
    namespace: &str,
    values: &Value,
    live: &[(ApiResource, Arc<CachedChild>)],
) -> Computed {
    if !renderer.computes_status() {
        return Computed::NotDeclared;
    }
    let children: Vec<Value> = live
        .iter()
        .map(|(resource, child)| {
            let mut object = child.to_value();
            // Objects of a list carry no apiVersion and kind: their resource says them.
            if let Value::Object(map) = &mut object {
                map.entry("apiVersion")
                    .or_insert_with(|| resource.api_version.clone().into());
                map.entry("kind")
                    .or_insert_with(|| resource.kind.clone().into());
            }
            object
        })
        .collect();
    match renderer.render_status(resource, namespace, values, children) {
        Ok(Some(fields)) => Computed::Fields(fields),
        Ok(None) => Computed::NotDeclared,
        Err(e) => Computed::Failed(e.to_string()),
    }
}

/// Says a failed computation where it is seen: the log, the failure metric and a Warning event
/// (de-duplicated, so a resync with the same failure costs no write).
pub(crate) async fn report(
    ctx: &KindContext,
    reference: &ObjectReference,
    object_key: &str,
    computed: &Computed,
) {
    let Computed::Failed(why) = computed else {
        return;
    };
    ctx.shared.metrics.failed(&ctx.key, Reason::StatusFailed);
    tracing::info!(kind = %ctx.key, object = %object_key, reason = Reason::StatusFailed.as_str(), error = %why, "status fields not computed");
    if ctx
        .shared
        .events
        .publish(
            reference,
            true,
            Reason::StatusFailed,
            "Status",
            format!("status fields not computed: {why}"),
        )
        .await
    {
        ctx.shared.metrics.wrote(&ctx.key, "event");
    }
}
