//! Table tests of `check_structural`.

use serde_json::json;

use super::super::check_structural;

#[test]
fn structural_violations_table() {
    let object = |props: serde_json::Value| json!({"type": "object", "properties": props});
    let cases = [
        (
            object(json!({"a": {"minimum": 1}})),
            vec!["/properties/a: `type` must not be empty"],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}),
            vec!["/: additionalProperties must not be false"],
        ),
        (
            object(
                json!({"m": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}),
            ),
            vec!["/properties/m: additionalProperties and properties are mutually exclusive"],
        ),
        (
            object(
                json!({"l": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}),
            ),
            vec!["/properties/l: uniqueItems cannot be true"],
        ),
        (
            object(json!({"l": {"type": "array"}})),
            vec!["/properties/l: items must be specified for an array"],
        ),
        (
            object(
                json!({"a": {"type": "string", "anyOf": [{"type": "string", "description": "d"}]}}),
            ),
            vec![
                "/properties/a/anyOf/0: type must not be set inside",
                "/properties/a/anyOf/0: description must not be set inside",
            ],
        ),
        (
            object(
                json!({"o": {"type": "object", "properties": {}, "oneOf": [{"properties": {"x": {"minimum": 1}}}]}}),
            ),
            vec![
                "/properties/o/oneOf/0/properties/x: a field in a junctor must also be specified outside of it",
            ],
        ),
        (
            object(json!({"a": {"type": "string", "$ref": "#/x"}})),
            vec!["/properties/a: $ref is not allowed in a CRD schema"],
        ),
        (
            object(json!({"a": {"type": ["string", "null"]}})),
            vec!["/properties/a: type [\"string\",\"null\"] must be one of"],
        ),
        (
            object(json!({"a": {"type": "string", "x-kubernetes-int-or-string": true}})),
            vec!["/properties/a: `type` must be empty with x-kubernetes-int-or-string"],
        ),
        (
            object(
                json!({"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}),
            ),
            vec![
                "/properties/metadata/properties/labels: only metadata.name and metadata.generateName",
            ],
        ),
        (
            object(
                json!({"c": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                               "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}),
            ),
            vec!["/properties/c: list map key \"k\" must be a required or defaulted property"],
        ),
        (
            json!({"properties": {}}),
            vec!["/: type must be object at the root"],
        ),
        (
            object(json!({"t": {"type": "string", "enum": ["A", "B"], "default": "C"}})),
            vec!["/properties/t: default \"C\" is invalid"],
        ),
    ];
    for (schema, expected) in cases {
        let violations = check_structural(&schema);
        assert_eq!(
            violations.len(),
            expected.len(),
            "{schema}: {violations:#?}"
        );
        for (violation, expected) in violations.iter().zip(expected) {
            assert!(
                violation.starts_with(expected),
                "{violation:?} does not start with {expected:?}"
            );
        }
    }
}

#[test]
fn int_or_string_and_preserve_are_structural() {
    let schema = json!({"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "any": {"x-kubernetes-preserve-unknown-fields": true},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "s": {"type": "string", "anyOf": [{"pattern": "^a"}, {"enum": ["b"]}]}
    }});
    assert_eq!(check_structural(&schema), Vec::<String>::new());
}
