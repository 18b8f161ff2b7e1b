//! Tests of `validator_schema`: the CRD schema used as a JSON Schema validator.

use serde_json::{Value, json};

use super::super::validator_schema;

fn is_valid(structural: &Value, instance: Value) -> bool {
    let schema = validator_schema(structural);
    match jsonschema::validator_for(&schema) {
        Ok(validator) => validator.is_valid(&instance),
        Err(err) => panic!("{schema}: {err}"),
    }
}

#[test]
fn openapi_forms_become_json_schema() {
    let structural = json!({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 0, "exclusiveMinimum": true, "nullable": true},
        "p": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "s": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "map": {"type": "object", "additionalProperties": {"type": "string"}}
    }});
    for (instance, valid) in [
        (json!({"n": 1}), true),
        (json!({"n": null}), true),
        (json!({"n": 0}), false),
        (json!({"p": 80}), true),
        (json!({"p": "http"}), true),
        (json!({"p": true}), false),
        (json!({"s": ["a", "b"]}), true),
        (json!({"s": ["a", "a"]}), false),
        (json!({"free": {"anything": [1]}}), true),
        (json!({"map": {"k": "v"}}), true),
        (json!({"map": {"k": 1}}), false),
        (json!({"unknown": 1}), false),
    ] {
        assert_eq!(is_valid(&structural, instance.clone()), valid, "{instance}");
    }
}

#[test]
fn root_metadata_is_left_to_the_api_server() {
    let structural = json!({"type": "object", "properties": {
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 0.0}}}
    }});
    let schema = validator_schema(&structural);
    assert_eq!(
        schema["properties"]["spec"]["properties"]["replicas"]["minimum"],
        json!(0)
    );
    assert!(is_valid(
        &structural,
        json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"replicas": 1}})
    ));
    assert!(!is_valid(
        &structural,
        json!({"metadata": {"name": "a"}, "spec": {"replicas": -1}})
    ));
}
