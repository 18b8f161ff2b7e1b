//! End-to-end tests of `generate`: a realistic web server chart, snapshot and sanity checks.

use std::path::Path;

use serde_json::{Value, json};

use super::super::{
    CrdHints, CrdSource, PrinterColumn, Scope, check_structural, file_name, generate, to_json,
    to_yaml, validator_schema,
};
use super::FILE;

fn webserver_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tera-operator.io/charts/webserver/values.schema.json",
        "title": "WebServer values",
        "type": "object",
        "additionalProperties": false,
        "required": ["image", "replicas", "port"],
        "$defs": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535}
        },
        "properties": {
            "replicas": {"type": "integer", "minimum": 0, "description": "Number of nginx pods."},
            "image": {"type": "string", "minLength": 1, "description": "nginx image."},
            "port": {"$ref": "#/$defs/port", "description": "Port nginx listens on."},
            "service": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "type": {"type": "string", "enum": ["ClusterIP", "NodePort"], "default": "ClusterIP"},
                    "nodePort": {"type": ["integer", "null"], "minimum": 30000, "maximum": 32767}
                }
            },
            "content": {
                "type": "object",
                "description": "Static files served by nginx, by file name.",
                "additionalProperties": {"type": "string"}
            },
            "extraConfig": {"type": "string", "description": "Extra nginx server configuration."}
        }
    })
}

fn hints() -> CrdHints {
    CrdHints {
        short_names: vec!["ws".into()],
        categories: vec!["all".into()],
        printer_columns: vec![PrinterColumn {
            name: "Replicas".into(),
            type_: "integer".into(),
            json_path: ".spec.replicas".into(),
            description: None,
            priority: None,
            format: None,
        }],
        ..CrdHints::default()
    }
}

fn source<'a>(schema: &'a Value, hints: &'a CrdHints, base: Option<&'a Value>) -> CrdSource<'a> {
    CrdSource {
        group: "web.tera-operator.io",
        version: "v1alpha1",
        kind: "WebServer",
        hints,
        values_schema: schema,
        description: Some("An nginx web server."),
        schema_file: Path::new(FILE),
        base_values: base,
        status_fields: None,
    }
}

fn open_api_schema(crd: &super::super::CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema).unwrap()
}

#[test]
fn webserver_crd_snapshot() {
    let (schema, hints) = (webserver_schema(), hints());
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    assert_eq!(file_name(&crd), "webservers.web.tera-operator.io.yaml");
    let yaml = to_yaml(&crd).unwrap();
    assert!(!yaml.starts_with("---"));
    assert_eq!(
        yaml,
        to_yaml(&generate(&source(&schema, &hints, None)).unwrap()).unwrap()
    );
    insta::assert_snapshot!(yaml);
}

#[test]
fn generated_schema_is_structural() {
    let (schema, hints) = (webserver_schema(), hints());
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    assert_eq!(
        check_structural(&open_api_schema(&crd)),
        Vec::<String>::new()
    );
}

#[test]
fn generated_spec_schema_validates_like_the_chart() {
    let (schema, hints) = (webserver_schema(), hints());
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    let spec = validator_schema(&open_api_schema(&crd)["properties"]["spec"]);
    let validator = jsonschema::validator_for(&spec).unwrap();
    let valid = json!({"replicas": 2, "image": "nginx:1.27", "port": 8080,
        "service": {"type": "NodePort", "nodePort": 30080}, "content": {"index.html": "<h1>hi</h1>"}});
    assert!(
        validator.is_valid(&valid),
        "{:?}",
        validator
            .iter_errors(&valid)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    for (pointer, bad) in [
        ("/replicas", json!(-1)),
        ("/port", json!(0)),
        ("/port", json!(65536)),
        ("/service/type", json!("LoadBalancer")),
        ("/content/index.html", json!(1)),
        ("/bogus", json!(true)),
    ] {
        let mut instance = valid.clone();
        match pointer.rsplit_once('/') {
            Some((parent, key)) => {
                let target = if parent.is_empty() {
                    &mut instance
                } else {
                    instance.pointer_mut(parent).unwrap()
                };
                target[key] = bad.clone();
            }
            None => unreachable!(),
        }
        assert!(
            !validator.is_valid(&instance),
            "{pointer} = {bad} should be rejected"
        );
    }
}

#[test]
fn base_values_relax_required() {
    let (schema, hints) = (webserver_schema(), hints());
    let base = json!({"image": "nginx:1.27", "replicas": 1, "port": 80});
    let crd = generate(&source(&schema, &hints, Some(&base))).unwrap();
    assert!(
        open_api_schema(&crd)["properties"]["spec"]
            .get("required")
            .is_none()
    );
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    assert_eq!(
        open_api_schema(&crd)["properties"]["spec"]["required"],
        json!(["image", "replicas", "port"])
    );
}

#[test]
fn crd_shape() {
    let (schema, hints) = (webserver_schema(), hints());
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("webservers.web.tera-operator.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert!(version.served && version.storage);
    assert_eq!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .map(|s| &s.0),
        Some(&json!({}))
    );
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Replicas", "Age"]);
    let root = open_api_schema(&crd);
    assert_eq!(root["description"], "An nginx web server.");
    assert_eq!(
        root["properties"]["status"]["properties"]["conditions"]["x-kubernetes-list-map-keys"],
        json!(["type"])
    );
}

#[test]
fn generation_errors() {
    let schema = webserver_schema();
    let cluster = CrdHints {
        scope: Scope::Cluster,
        ..CrdHints::default()
    };
    let err = generate(&source(&schema, &cluster, None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Cluster is not supported"), "{err}");
    let hints = CrdHints::default();
    let bad_group = CrdSource {
        group: "example",
        ..source(&schema, &hints, None)
    };
    assert!(
        generate(&bad_group)
            .unwrap_err()
            .to_string()
            .contains("crd.group")
    );
    let misuse = json!({"type": "object", "properties": {"a": {"type": "string", "x-kubernetes-list-type": "set"}}});
    let ok = generate(&source(&misuse, &hints, None));
    assert!(
        ok.is_ok(),
        "list-type on a string is odd but not checked: {ok:?}"
    );
    let bad_ext = json!({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "map"}}});
    let err = generate(&source(&bad_ext, &hints, None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("values.schema.json: the API server would refuse the generated CRD schema"),
        "{err}"
    );
    assert!(
        err.contains(
            "/properties/spec/properties/l: x-kubernetes-list-type: map needs object items"
        ),
        "{err}"
    );
}

#[test]
fn json_output_writes_whole_bounds_as_integers() {
    let schema = webserver_schema();
    let hints = hints();
    let crd = generate(&source(&schema, &hints, None)).unwrap();
    let json = to_json(&crd).unwrap();
    let spec = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties";
    let port = json.pointer(&format!("{spec}/port")).unwrap();
    assert_eq!(port["minimum"], json!(1));
    assert!(port["maximum"].is_u64(), "{port}");
    assert_eq!(port["maximum"], json!(65535));
    assert!(
        json.pointer(&format!("{spec}/replicas/minimum"))
            .unwrap()
            .is_u64()
    );
}
