//! Unit tests of the render pipeline on small in-memory charts.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::stamp::{CONFIGMAP_CHECKSUM_PREFIX, INSTANCE_LABEL};
use super::*;
use crate::chart::{ChartMeta, TemplateFile, ValuesSchema};

fn chart(templates: &[(&str, &str)], schema: Option<Value>) -> Chart {
    let meta: ChartMeta = serde_yaml::from_str("name: demo\nversion: 1.0.0\n").unwrap();
    Chart {
        dir: PathBuf::from("charts/demo"),
        meta,
        defaults: json!({"image": "nginx:1.27", "replicas": 1}),
        schema: schema
            .map(|s| ValuesSchema::compile(&PathBuf::from("values.schema.json"), s).unwrap()),
        templates: templates
            .iter()
            .map(|(name, source)| TemplateFile {
                name: format!("templates/{name}"),
                source: source.to_string(),
                partial: name.starts_with('_'),
            })
            .collect(),
        status_schema: None,
    }
}

fn renderer(templates: &[(&str, &str)]) -> Renderer {
    Renderer::with_settings(
        chart(templates, None),
        crate::config::default_allowed_kinds(),
        json!({}),
    )
    .unwrap()
}

fn cr(spec: Value) -> Value {
    json!({
        "apiVersion": "web.example.com/v1",
        "kind": "Demo",
        "metadata": {"name": "site", "namespace": "team-a", "uid": "1234-abcd", "generation": 3},
        "spec": spec,
    })
}

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-conf\ndata:\n  image: {{ values.image }}\n  replicas: \"{{ values.replicas }}\"\n";

#[test]
fn interpolated_strings_stay_strings() {
    let r = renderer(&[("cm.yaml", CONFIGMAP)]);
    let evil = "nginx\n  hostNetwork: true\n---\nkind: ClusterRoleBinding";
    let out = r.render(&cr(json!({"image": evil})), "default").unwrap();
    assert_eq!(out.objects.len(), 1);
    let cm = &out.objects[0];
    assert_eq!(cm["data"]["image"], evil);
    assert_eq!(cm["metadata"]["name"], "site-conf");
    assert!(cm["data"].get("hostNetwork").is_none());
}

#[test]
fn injection_through_quotes_and_block_scalars_is_data() {
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    a: \"{{ values.a }}\"\n    b: '{{ values.b }}'\ndata:\n  conf: |\n    server {{ values.c }};\n  {{ values.key }}: v\n";
    let r = renderer(&[("cm.yaml", template)]);
    let spec = json!({"a": "\"\nevil: 1", "b": "'\nevil: 2", "c": "x;\n  evil: 3\n", "key": "k: {evil: 4}"});
    let out = r.render(&cr(spec.clone()), "default").unwrap();
    let cm = &out.objects[0];
    assert_eq!(cm["metadata"]["annotations"]["a"], spec["a"]);
    assert_eq!(cm["metadata"]["annotations"]["b"], spec["b"]);
    assert_eq!(cm["data"]["conf"], "server x;\n  evil: 3\n;\n");
    assert_eq!(cm["data"]["k: {evil: 4}"], "v");
    assert_eq!(cm["data"].as_object().unwrap().len(), 2);
}

#[test]
fn numbers_and_booleans_keep_their_type() {
    let template = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: {{ values.replicas }}\n  paused: {{ values.paused }}\n";
    let r = renderer(&[("d.yaml", template)]);
    let out = r
        .render(&cr(json!({"replicas": 3, "paused": false})), "default")
        .unwrap();
    assert_eq!(out.objects[0]["spec"]["replicas"], 3);
    assert_eq!(out.objects[0]["spec"]["paused"], false);
}

#[test]
fn stamps_namespace_labels_owner_and_orders() {
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      volumes:\n      - name: c\n        configMap:\n          name: site-conf\n";
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n";
    let r = renderer(&[
        ("a-deploy.yaml", deploy),
        ("b-svc.yaml", svc),
        ("c-cm.yaml", CONFIGMAP),
    ]);
    let out = r.render(&cr(json!({})), "default").unwrap();
    let kinds: Vec<&str> = out
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ConfigMap", "Service", "Deployment"]);
    for o in &out.objects {
        assert_eq!(o["metadata"]["namespace"], "team-a");
        assert_eq!(o["metadata"]["labels"][MANAGED_BY_LABEL], "tera-operator");
        assert_eq!(o["metadata"]["labels"][INSTANCE_LABEL], "site");
        assert_eq!(o["metadata"]["labels"][OWNER_UID_LABEL], "1234-abcd");
        assert_eq!(o["metadata"]["ownerReferences"][0]["uid"], "1234-abcd");
        assert_eq!(o["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(o["metadata"]["ownerReferences"][0]["kind"], "Demo");
    }
    let sum_key = format!("{CONFIGMAP_CHECKSUM_PREFIX}site-conf");
    let sum = out.objects[2]["spec"]["template"]["metadata"]["annotations"][&sum_key].clone();
    assert_eq!(sum.as_str().map(str::len), Some(64));
    // A config change changes the checksum, so the pods roll.
    let changed = r
        .render(&cr(json!({"image": "nginx:2"})), "default")
        .unwrap();
    assert_ne!(
        changed.objects[2]["spec"]["template"]["metadata"]["annotations"][&sum_key],
        sum
    );
}

#[test]
fn same_input_same_bytes() {
    let r = renderer(&[("cm.yaml", CONFIGMAP)]);
    let a = serde_json::to_string(
        &r.render(&cr(json!({"image": "a"})), "default")
            .unwrap()
            .objects,
    )
    .unwrap();
    let b = serde_json::to_string(
        &r.render(&cr(json!({"image": "a"})), "default")
            .unwrap()
            .objects,
    )
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn no_uid_means_no_owner_reference_and_default_namespace() {
    let r = renderer(&[("cm.yaml", CONFIGMAP)]);
    let mut resource = cr(json!({}));
    resource["metadata"] = json!({"name": "site"});
    let out = r.render(&resource, "fallback").unwrap();
    assert_eq!(out.objects[0]["metadata"]["namespace"], "fallback");
    assert!(out.objects[0]["metadata"].get("ownerReferences").is_none());
    assert!(
        out.objects[0]["metadata"]["labels"]
            .get(OWNER_UID_LABEL)
            .is_none()
    );
}

#[test]
fn policy_violations_table() {
    let cases: &[(&str, &str)] = &[
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: x\n",
            "kind ClusterRoleBinding is not allowed",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\n",
            "namespace \"kube-system\" differs",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n",
            "must be a DNS-1123 subdomain",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1svc\n",
            "must be a DNS-1035 label",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
            "rendered more than once",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            "metadata.name is missing",
        ),
        (
            "kind: ConfigMap\nmetadata:\n  name: x\n",
            "apiVersion is missing",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    a: {{ values.image }}\n",
            "label a: value \"nginx:1.27\" is invalid",
        ),
    ];
    for (template, expected) in cases {
        let r = renderer(&[("t.yaml", template)]);
        let err = r.render(&cr(json!({})), "default").unwrap_err();
        assert!(
            matches!(err, Error::PolicyViolated { .. }),
            "{template}: {err}"
        );
        let message = err.to_string();
        assert!(
            message.contains(expected),
            "{template}\n expected {expected:?}\n got {message}"
        );
        assert!(
            message.starts_with("charts/demo/templates/t.yaml: "),
            "{message}"
        );
    }
}

#[test]
fn schema_violations_are_listed_with_spec_pointers() {
    let schema = json!({
        "type": "object",
        "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "image": {"type": "string"}
        },
        "additionalProperties": false
    });
    let r = configmap_renderer(schema);
    let err = r
        .render(
            &cr(json!({"replicas": -1, "image": 5, "colour": "red"})),
            "default",
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSpec { .. }), "{err}");
    let Error::InvalidSpec { violations, .. } = &err else {
        panic!("{err}")
    };
    let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(pointers, ["/spec", "/spec/image", "/spec/replicas"]);
    let message = err.to_string();
    assert!(
        message.starts_with("charts/demo/values.schema.json: "),
        "{message}"
    );
    assert!(
        message.contains("/spec/replicas: -1 is less than the minimum of 0"),
        "{message}"
    );
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn reserved_characters_are_refused() {
    let r = renderer(&[("cm.yaml", CONFIGMAP)]);
    let err = r
        .render(&cr(json!({"image": "a\u{E000}0\u{E001}"})), "default")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSpec { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("/spec/image: contains a character reserved")
    );
}

#[test]
fn template_errors_carry_file_line_and_column() {
    let r = renderer(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nope.deeper }}\n",
    )]);
    let err = r.render(&cr(json!({})), "default").unwrap_err();
    assert!(matches!(err, Error::TemplateFailed(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("charts/demo/templates/cm.yaml:4:"),
        "{message}"
    );

    let broken = Renderer::with_settings(
        chart(&[("bad.yaml", "a: {% if %}\n")], None),
        vec![],
        json!({}),
    );
    let err = broken.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("charts/demo/templates/bad.yaml:1:"),
        "{err}"
    );
}

#[test]
fn invalid_yaml_output_names_template_and_rendered_line() {
    let r = renderer(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: oops\n",
    )]);
    let err = r.render(&cr(json!({})), "default").unwrap_err();
    assert!(matches!(err, Error::OutputInvalid(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("charts/demo/templates/cm.yaml: rendered line 5"),
        "{err}"
    );
}

#[test]
fn helper_filters() {
    let template = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name | dns_label }}
  labels: {{ values.labels | to_yaml | nindent(width=4) }}
data:
  json: {{ values.labels | to_json | quote }}
  quoted: {{ values.image | quote }}
  b64: {{ values.image | b64encode }}
  sha: {{ "abc" | sha256 }}
  short: {{ values.image | trunc(length=5) }}
  dns: {{ "My_Site!!Name" | dns_label }}
  req: {{ values.image | required(msg="image is required") }}
"#;
    let r = renderer(&[("cm.yaml", template)]);
    let out = r
        .render(
            &cr(json!({"labels": {"tier": "gold", "x": "b"}})),
            "default",
        )
        .unwrap();
    let cm = &out.objects[0];
    assert_eq!(cm["metadata"]["labels"]["tier"], "gold");
    assert_eq!(cm["data"]["json"], r#"{"tier":"gold","x":"b"}"#);
    assert_eq!(cm["data"]["quoted"], "nginx:1.27");
    assert_eq!(cm["data"]["b64"], "bmdpbng6MS4yNw==");
    assert_eq!(
        cm["data"]["sha"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(cm["data"]["short"], "nginx");
    assert_eq!(cm["data"]["dns"], "my-site-name");

    let required = renderer(&[(
        "cm.yaml",
        "x: {{ values.missing | required(msg=\"missing is required\") }}\n",
    )]);
    let err = required.render(&cr(json!({})), "default").unwrap_err();
    assert!(err.to_string().contains("missing is required"), "{err}");

    let safe = renderer(&[("cm.yaml", "x: {{ values.image | safe }}\n")]);
    let err = safe.render(&cr(json!({})), "default").unwrap_err();
    assert!(
        err.to_string().contains("`safe` filter is disabled"),
        "{err}"
    );
}

#[test]
fn partials_define_components_and_are_not_rendered() {
    let partial = "{% component labels(name) %}app: {{ name }}{% endcomponent labels %}";
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    {{<labels name={release.name}/>}}\n";
    let r = renderer(&[("_helpers.tera", partial), ("cm.yaml", template)]);
    let out = r.render(&cr(json!({})), "default").unwrap();
    assert_eq!(out.objects.len(), 1);
    assert_eq!(out.objects[0]["metadata"]["labels"]["app"], "site");
}

#[test]
fn a_self_recursive_component_is_a_render_error_not_a_crash() {
    let partial = "{% component rec(n) %}x{{<rec n={n}/>}}{% endcomponent rec %}";
    let template =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"{{<rec n={1}/>}}\"\n";
    let r = renderer(&[("_helpers.tera", partial), ("cm.yaml", template)]);
    let err = r.render(&cr(json!({})), "default").unwrap_err().to_string();
    assert!(
        err.contains("templates/cm.yaml") && err.contains("recursion"),
        "{err}"
    );
}

/// A renderer of the one-ConfigMap chart with `schema` as its values schema.
fn configmap_renderer(schema: Value) -> Renderer {
    Renderer::with_settings(
        chart(&[("cm.yaml", CONFIGMAP)], Some(schema)),
        crate::config::AllowedKind::builtin("ConfigMap")
            .into_iter()
            .collect(),
        json!({}),
    )
    .unwrap()
}

#[test]
fn values_that_passed_are_remembered_and_others_are_checked_every_time() {
    let schema = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}});
    let r = configmap_renderer(schema);
    for _ in 0..2 {
        let out = r.render(&cr(json!({"replicas": 2})), "default").unwrap();
        assert_eq!(out.objects[0]["data"]["replicas"], "2");
        let err = r
            .render(&cr(json!({"replicas": "two"})), "default")
            .unwrap_err();
        assert!(err.to_string().contains("/spec/replicas"), "{err}");
    }
    // A remembered value set renders the values of this resource, not of an earlier one.
    let out = r.render(&cr(json!({"replicas": 3})), "default").unwrap();
    assert_eq!(out.objects[0]["data"]["replicas"], "3");
}
