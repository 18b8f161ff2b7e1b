//! With `--install-crds`, the CRD follows the chart: a changed values.schema.json re-applies it,
//! and a change that would break live resources is refused (unless forced) and said.

use crate::support as common;

use common::*;
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};
use tera_operator::controller::{Operator, Options};

fn crds() -> kube::api::ApiResource {
    builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    )
}

/// The live WebServer CRD's schema of `spec`.
async fn spec_schema(h: &Harness) -> Value {
    let crd = Api::<DynamicObject>::all_with(h.client.clone(), &crds())
        .get("webservers.web.tera-operator.io")
        .await
        .expect("the WebServer CRD");
    serde_json::to_value(crd).expect("json")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        ["properties"]["spec"]
        .clone()
}

/// Rewrites the WebServer chart's values.schema.json with `edit`.
fn edit_schema(h: &Harness, edit: impl FnOnce(&mut Value)) {
    let path = h.chart_dir("webserver").join("values.schema.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema")).expect("json");
    edit(&mut schema);
    std::fs::write(&path, serde_json::to_string_pretty(&schema).expect("json")).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crd_follows_the_schema_and_a_breaking_change_is_refused_unless_forced() {
    let mut h = Harness::start_full(None, Vec::new(), true).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;

    // A new optional field: the CRD is re-applied, so the API server keeps it in a spec.
    edit_schema(&h, |s| {
        s["properties"]["banner"] = json!({"type": "string", "description": "A banner."});
    });
    eventually("the CRD to carry the new field", || async {
        (spec_schema(&h).await["properties"]["banner"]["type"] == "string").then_some(())
    })
    .await;
    let patched = h
        .merge_patch(
            &webservers(),
            "default",
            "hello",
            json!({"spec": {"banner": "hi"}}),
        )
        .await;
    assert_eq!(
        patched.data["spec"]["banner"], "hi",
        "the API server kept the new field"
    );

    // Removing the field while hello sets it: refused, said on the resource, CRD unchanged.
    edit_schema(&h, |s| {
        s["properties"].as_object_mut().map(|p| p.remove("banner"));
    });
    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "the refusal in the condition",
            |o| {
                condition(o, "Ready")["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("breaking changes"))
            },
        )
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        message.contains("/spec/banner: removed, but default/hello sets it"),
        "{message}"
    );
    assert!(message.contains("--force-crd-changes"), "{message}");
    assert!(message.contains("last good one is serving"), "{message}");
    assert_eq!(
        spec_schema(&h).await["properties"]["banner"]["type"],
        "string"
    );
    assert_eq!(
        h.metric("tera_operator_chart_stale{kind=\"web.tera-operator.io/WebServer\"}"),
        1.0
    );

    // Forced: the operator started with force_crd_changes applies it.
    h.operator.take().expect("operator").shutdown().await;
    let operator = Operator::start(
        h.client.clone(),
        Options {
            config: h.mapping_path(),
            install_crds: true,
            force_crd_changes: true,
            hot_reload: true,
            ..Options::default()
        },
    )
    .await
    .expect("operator starts");
    eventually("the forced CRD change", || async {
        spec_schema(&h).await["properties"]["banner"]
            .is_null()
            .then_some(())
    })
    .await;
    h.operator = Some(operator);
    h.wait_for(&webservers(), "default", "hello", "Ready again", |o| {
        condition(o, "Ready")["status"] == "True"
            && !condition(o, "Ready")["message"]
                .as_str()
                .unwrap_or("")
                .contains("breaking")
    })
    .await;
}

/// A new required field without a default is refused: every resource written today lacks it.
/// (Narrowed types and enums are covered by the unit tests of `crd::compat`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_required_field_without_a_default_is_refused() {
    let h = Harness::start_full(None, Vec::new(), true).await;
    h.create(&webservers(), "default", &example("webserver"))
        .await;
    h.wait_condition(&webservers(), "default", "hello", "True", "Ready")
        .await;
    edit_schema(&h, |s| {
        s["properties"]["tls"] = json!({"type": "boolean"});
        s["required"]
            .as_array_mut()
            .expect("required")
            .push(json!("tls"));
    });
    let cr = h
        .wait_for(
            &webservers(),
            "default",
            "hello",
            "the refusal in the condition",
            |o| {
                condition(o, "Ready")["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("breaking changes"))
            },
        )
        .await;
    let message = condition(&cr, "Ready")["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        message.contains("/spec/tls: newly required without a default"),
        "{message}"
    );
    assert!(spec_schema(&h).await["properties"]["tls"].is_null());
}
