//! Property tests: any schema the converter accepts becomes a structural CRD schema.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::super::{CrdHints, CrdSource, Error, generate, structural_schema, validator_schema};
use super::FILE;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["string", "integer", "number", "boolean"])
            .prop_map(|t| json!({"type": t})),
        prop::sample::select(vec!["string", "integer", "object"])
            .prop_map(|t| json!({"type": [t, "null"]})),
        Just(json!({"type": ["integer", "string"]})),
        Just(json!({})),
        Just(json!(true)),
        Just(json!({"description": "anything"})),
        Just(json!({"const": "fixed"})),
        Just(json!({"enum": [1, 2, null]})),
        Just(json!({"type": "integer", "minimum": 1, "exclusiveMinimum": 3})),
        Just(json!({"type": "number", "exclusiveMaximum": 1.5})),
        Just(json!({"type": "string", "format": "uri-reference", "pattern": "^a"})),
        Just(json!({"type": "string", "format": "date-time", "minLength": 1})),
        Just(json!({"minimum": 1})),
        Just(json!({"$ref": "#/$defs/leaf"})),
        Just(json!({"$ref": "#/$defs/obj", "description": "via ref"})),
        Just(json!({"type": "object", "additionalProperties": {"type": "string"}})),
        Just(json!({"type": "object", "patternProperties": {"^a": {"type": "integer"}}})),
        Just(json!({"type": "string", "enum": ["a", "b"], "default": "a"})),
        Just(
            json!({"type": "object", "properties": {"k": {"type": "integer"}}, "default": {"k": 1, "junk": 2}})
        ),
        Just(json!({"type": ["string", "number", "null"], "default": null})),
        Just(json!({"enum": ["a", 1, 2.5, true]})),
        Just(json!({"type": "integer", "nullable": true, "not": {"const": 3}})),
        Just(
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}})
        ),
        Just(json!({"x-kubernetes-int-or-string": true, "description": "port"})),
        Just(json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]})),
    ]
}

fn object_of(children: Vec<Value>, additional: u8, required: bool) -> Value {
    let mut properties = Map::new();
    for (i, child) in children.into_iter().enumerate() {
        properties.insert(format!("p{i}"), child);
    }
    let mut node = json!({"type": "object", "properties": properties});
    match additional {
        0 => {}
        1 => node["additionalProperties"] = json!(false),
        2 => node["additionalProperties"] = json!(true),
        _ => node["additionalProperties"] = json!({"type": "integer"}),
    }
    if required {
        node["required"] = json!(["p0", "missing"]);
    }
    node
}

fn schema() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..4), 0u8..4, any::<bool>())
                .prop_map(|(children, additional, required)| object_of(children, additional, required)),
            (inner.clone(), any::<bool>()).prop_map(|(items, unique)| json!({"type": "array", "items": items, "uniqueItems": unique})),
            inner.clone().prop_map(|item| json!({"type": "array", "prefixItems": [item]})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|branches| json!({"anyOf": branches})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|branches| json!({"oneOf": branches})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|branches| json!({"allOf": branches})),
            inner.clone().prop_map(|branch| json!({"anyOf": [branch, {"type": "null"}]})),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| json!({"type": "object",
                "if": {"properties": {"x": {"const": 1}}}, "then": {"properties": {"a": a}}, "else": {"properties": {"b": b}}})),
            inner.clone().prop_map(|n| json!({"type": "object", "properties": {"n": n}, "oneOf": [{"required": ["n"]}, {"properties": {"o": {"type": "string"}}}]})),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| json!({"type": "object", "properties": {"a": a},
                "dependentSchemas": {"a": {"properties": {"b": b}}}})),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| json!({"oneOf": [{"properties": {"a": a}}, {"properties": {"a": b}}]})),
            inner.prop_map(|a| json!({"type": "object", "properties": {"a": a}, "not": {"required": ["a"]}})),
        ]
    })
}

fn root(children: Vec<Value>) -> Value {
    let mut root = object_of(children, 1, false);
    root["$defs"] = json!({
        "leaf": {"type": "string", "maxLength": 3},
        "obj": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    });
    root
}

proptest! {
    // Failures are pinned as table tests in structural.rs rather than persisted.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn converted_schemas_are_structural(children in prop::collection::vec(schema(), 1..4)) {
        let root = root(children);
        if structural_schema(&root, Path::new(FILE)).is_ok() {
            let hints = CrdHints::default();
            let src = CrdSource {
                group: "web.tera-operator.io", version: "v1", kind: "Thing", hints: &hints,
                values_schema: &root, description: None, schema_file: Path::new(FILE), base_values: None, status_fields: None,
            };
            let crd = generate(&src);
            // A default the schema itself rejects is the author's error, reported as such.
            if let Err(Error::NotStructural { violations, .. }) = &crd {
                prop_assume!(!violations.iter().all(|v| v.contains("default")));
            }
            prop_assert!(crd.is_ok(), "{root}\n{}", crd.err().map(|e| e.to_string()).unwrap_or_default());
            let schema = crd.ok().and_then(|c| c.spec.versions[0].schema.clone()).and_then(|s| s.open_api_v3_schema);
            let validator = validator_schema(&serde_json::to_value(schema).unwrap_or_default());
            prop_assert!(jsonschema::validator_for(&validator).is_ok(), "{validator}");
        }
    }
}
