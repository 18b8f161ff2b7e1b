//! Table tests of the JSON Schema → structural schema conversion.

use serde_json::json;

use super::{conversion_error, convert_property};

#[test]
fn conversion_table() {
    let cases = [
        (
            "plain string",
            json!({"type": "string", "minLength": 1}),
            json!({"type": "string", "minLength": 1}),
        ),
        (
            "nullable type array",
            json!({"type": ["string", "null"]}),
            json!({"type": "string", "nullable": true}),
        ),
        (
            "nullable anyOf",
            json!({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}),
            json!({"type": "integer", "minimum": 0, "nullable": true}),
        ),
        (
            "const",
            json!({"const": "v1"}),
            json!({"type": "string", "enum": ["v1"]}),
        ),
        (
            "const typed",
            json!({"type": "integer", "const": 3}),
            json!({"type": "integer", "enum": [3]}),
        ),
        (
            "enum infers type",
            json!({"enum": ["a", "b", null]}),
            json!({"type": "string", "enum": ["a", "b", null], "nullable": true}),
        ),
        (
            "exclusive numeric bounds",
            json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true}),
        ),
        (
            "inclusive bound stricter than exclusive",
            json!({"type": "integer", "minimum": 5, "exclusiveMinimum": 1}),
            json!({"type": "integer", "minimum": 5}),
        ),
        (
            "draft-4 boolean exclusive",
            json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
            json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
        ),
        (
            "int-or-string by type",
            json!({"type": ["integer", "string"]}),
            int_or_string(),
        ),
        (
            "int-or-string by oneOf",
            json!({"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+%$"}]}),
            int_or_string(),
        ),
        (
            "free-form object",
            json!({"type": "object"}),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "empty schema is anything",
            json!({}),
            json!({"x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "true is anything",
            json!(true),
            json!({"x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "mixed types are anything",
            json!({"type": ["string", "array"], "description": "d"}),
            json!({"x-kubernetes-preserve-unknown-fields": true, "description": "d"}),
        ),
        (
            "additionalProperties true with properties",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "additionalProperties false omitted",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}}),
        ),
        (
            "map of strings",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        ),
        (
            "single patternProperties is a map",
            json!({"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}}),
            json!({"type": "object", "additionalProperties": {"type": "integer"}}),
        ),
        (
            "properties plus a schema for the rest",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "uniqueItems on scalars is a set",
            json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
        ),
        (
            "uniqueItems on objects is dropped",
            json!({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}, "uniqueItems": true}),
            json!({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}),
        ),
        (
            "array without items",
            json!({"type": "array"}),
            json!({"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}}),
        ),
        (
            "tuple",
            json!({"type": "array", "prefixItems": [{"type": "string"}]}),
            json!({"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}}),
        ),
        (
            "unknown format dropped, known kept",
            json!({"type": "object", "properties": {"u": {"type": "string", "format": "uri-reference"}, "d": {"type": "string", "format": "date-time"}}}),
            json!({"type": "object", "properties": {"u": {"type": "string"}, "d": {"type": "string", "format": "date-time"}}}),
        ),
        (
            "patterns RE2 cannot compile dropped",
            json!({"type": "object", "properties": {
                "ok": {"type": "string", "pattern": "^[a-z]+\\s?$"},
                "look": {"type": "string", "pattern": "^(?!nginx\\.conf$).*"},
                "back": {"type": "string", "pattern": "^(a)\\1$"}
            }}),
            json!({"type": "object", "properties": {
                "ok": {"type": "string", "pattern": "^[a-z]+\\s?$"},
                "look": {"type": "string"},
                "back": {"type": "string"}
            }}),
        ),
        (
            "annotations dropped, title as description",
            json!({"type": "string", "title": "T", "$comment": "c", "examples": ["x"], "readOnly": true, "deprecated": true}),
            json!({"type": "string", "description": "T"}),
        ),
        (
            "allOf folded",
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "integer"}}}]}),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}),
        ),
        (
            "required names outside properties dropped",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "zzz"]}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
        ),
        (
            "oneOf of required kept, branch properties hoisted",
            json!({"type": "object", "oneOf": [
                {"properties": {"a": {"type": "string", "minLength": 2}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]}
            ]}),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                   "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                   "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "branches typing a field differently make it anything",
            json!({"type": "object", "properties": {"kind": {"type": "string"}}, "anyOf": [
                {"properties": {"v": {"type": "string"}}}, {"properties": {"v": {"type": "integer"}}}
            ]}),
            json!({"type": "object", "properties": {"kind": {"type": "string"}, "v": {"x-kubernetes-preserve-unknown-fields": true}}}),
        ),
        (
            "hoisted properties next to a map's value schema",
            json!({"type": "object", "additionalProperties": {"type": "string"},
                   "if": {"properties": {"x": {"const": "1"}}}, "then": {"properties": {"a": {"type": "string"}}}}),
            json!({"type": "object", "properties": {"x": {"type": "string"}, "a": {"type": "string"}},
                   "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "if/then dropped, then-properties hoisted",
            json!({"type": "object", "properties": {"type": {"enum": ["ClusterIP", "NodePort"]}},
                   "if": {"properties": {"type": {"const": "NodePort"}}}, "then": {"properties": {"nodePort": {"type": "integer"}}}}),
            json!({"type": "object", "properties": {"type": {"type": "string", "enum": ["ClusterIP", "NodePort"]}, "nodePort": {"type": "integer"}}}),
        ),
        (
            "anyOf with a validation-less branch dropped",
            json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"description": "anything"}]}),
            json!({"type": "string"}),
        ),
        (
            "anyOf of value validations kept",
            json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"pattern": "^[a-z]+$"}]}),
            json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"pattern": "^[a-z]+$"}]}),
        ),
        (
            "default kept and pruned",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "junk": 1}}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x"}}),
        ),
        (
            "author extensions pass through",
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}),
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}),
        ),
    ];
    for (name, input, expected) in cases {
        assert_eq!(convert_property(input), expected, "{name}");
    }
}

fn int_or_string() -> serde_json::Value {
    json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]})
}

#[test]
fn refs_are_inlined() {
    let schema = json!({
        "$id": "https://example.com/values.schema.json",
        "type": "object",
        "$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "definitions": {"name": {"type": "string"}},
        "properties": {
            "port": {"$ref": "#/$defs/port"},
            "ports": {"type": "array", "items": {"$ref": "#/$defs/port", "description": "a port"}},
            "name": {"$ref": "#/definitions/name"},
            "again": {"$ref": "#/%24defs/port"},
            "twice": {"allOf": [{"$ref": "#/$defs/port"}, {"$ref": "#/$defs/port"}]},
            "by_id": {"$ref": "https://example.com/values.schema.json#/$defs/port"},
            "by_file": {"$ref": "values.schema.json#/$defs/port"}
        }
    });
    let out = super::super::structural_schema(&schema, std::path::Path::new(super::FILE)).unwrap();
    let port = json!({"type": "integer", "minimum": 1, "maximum": 65535});
    assert_eq!(out["properties"]["port"], port);
    assert_eq!(out["properties"]["again"], port);
    assert_eq!(out["properties"]["twice"], port);
    assert_eq!(out["properties"]["by_id"], port);
    assert_eq!(out["properties"]["by_file"], port);
    assert_eq!(out["properties"]["ports"]["items"]["description"], "a port");
    assert_eq!(out["properties"]["name"], json!({"type": "string"}));
    assert!(out.get("$defs").is_none() && out.get("definitions").is_none());
}

#[test]
fn errors_name_file_and_pointer() {
    let cases = [
        (
            json!({"type": "object", "properties": {"ports": {"type": "array", "items": {"minimum": 1}}}}),
            "charts/webserver/values.schema.json: /properties/ports/items: `type` is required for a structural schema",
        ),
        (
            json!({"type": "object", "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
                   "properties": {"tree": {"$ref": "#/$defs/node"}}}),
            "charts/webserver/values.schema.json: /properties/tree/properties/children/items: $ref \"#/$defs/node\" is recursive",
        ),
        (
            json!({"type": "object", "properties": {"self": {"$ref": "#"}}}),
            "/properties/self: $ref \"#\" is recursive",
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "other.json#/x"}}}),
            "/properties/a: cannot resolve $ref \"other.json#/x\": only local references",
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}),
            "/properties/a: cannot resolve $ref \"#/$defs/missing\": no such location",
        ),
        (
            json!({"type": "object", "properties": {"a": false}}),
            "/properties/a: the schema `false` accepts nothing",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "null"}}}),
            "/properties/a: a value that can only be null",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "int"}}}),
            "/properties/a: unknown type \"int\"",
        ),
        (
            json!({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"type": "integer"}]}}}),
            "/properties/a: allOf/$ref combine type \"string\" with type \"integer\"",
        ),
        (
            json!({"type": "array", "items": {"type": "string"}}),
            "values.schema.json: the top level must be an object schema",
        ),
        (json!({}), "the top level must be an object schema"),
        (exponential_refs(false), "nodes once $refs are inlined"),
        (exponential_refs(true), "$refs once inlined"),
    ];
    for (schema, expected) in cases {
        let err = conversion_error(schema);
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    }
}

/// Each definition uses the previous one twice: 2^40 nodes once inlined (through
/// properties, or through `allOf` when `all_of`).
fn exponential_refs(all_of: bool) -> serde_json::Value {
    let mut defs = serde_json::Map::new();
    defs.insert("d0".into(), json!({"type": "object"}));
    for i in 1..40 {
        let prev = format!("#/$defs/d{}", i - 1);
        let def = if all_of {
            json!({"type": "object", "allOf": [{"$ref": prev}, {"$ref": prev}]})
        } else {
            json!({"type": "object", "properties": {"a": {"$ref": prev}, "b": {"$ref": prev}}})
        };
        defs.insert(format!("d{i}"), def);
    }
    json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d39"}}})
}
