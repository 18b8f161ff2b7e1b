//! Converting small Helm charts and rendering the result with the chart engine.

use std::path::Path;

use serde_json::{Value, json};

use super::{Options, Report, convert};
use crate::chart::Chart;
use crate::render::Renderer;

/// Writes a Helm chart with these templates (and values.yaml) into `dir/src`, converts it, and
/// returns the report and a renderer of the result.
fn converted(dir: &Path, templates: &[(&str, &str)], values: &str) -> (Report, Renderer) {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(
        src.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.16.0\"\n",
    )
    .unwrap();
    std::fs::write(src.join("values.yaml"), values).unwrap();
    for (name, text) in templates {
        let path = src.join("templates").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(src.join("files/app.conf"), "").ok();
    let options = Options {
        source: src,
        output: dir.join("out"),
        kind: "Demo".into(),
        group: "demo.example.com".into(),
        version: "v1".into(),
        mapping: None,
        kube_version: "v1.33.0".into(),
    };
    let (_, report) = convert(&options).unwrap();
    let chart = Chart::load(&dir.join("out")).unwrap();
    let renderer =
        Renderer::with_settings(chart, crate::config::default_allowed_kinds(), json!({})).unwrap();
    (report, renderer)
}

fn cr(spec: Value) -> Value {
    json!({
        "apiVersion": "demo.example.com/v1",
        "kind": "Demo",
        "metadata": {"name": "site", "namespace": "shop", "uid": "u-1", "generation": 1},
        "spec": spec,
    })
}

const HELPERS: &str = r#"{{/* names */}}
{{- define "demo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "demo.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- define "demo.labels" -}}
app.kubernetes.io/name: {{ include "demo.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- define "demo.port" -}}
{{ .port | default 80 }}
{{- end }}
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "demo.fullname" . }}
  labels:
    {{- include "demo.labels" . | nindent 4 }}
data:
  {{- with .Values.extra }}
  extra: {{ . | quote }}
  {{- end }}
  {{- if and .Values.enabled (not .Values.disabled) }}
  both: "yes"
  {{- else if .Values.disabled }}
  both: "disabled"
  {{- else }}
  both: "no"
  {{- end }}
  {{- range $i, $h := .Values.hosts }}
  host{{ $i }}: {{ $h.name | upper | quote }}
  {{- end }}
  {{- range $k, $v := .Values.env }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
  port: {{ include "demo.port" (dict "port" .Values.port) | quote }}
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
  file: {{ .Files.Get "files/app.conf" | quote }}
  {{- $root := . }}
  ns: {{ $root.Release.Namespace }}
  {{- $m := dict "a" "1" }}
  {{- $_ := set $m "b" "2" }}
  m: {{ $m | toJson | quote }}
"#;

const VALUES: &str = "nameOverride: \"\"\nextra: \"\"\nenabled: true\ndisabled: false\nhosts:\n  - name: a\nenv:\n  B: \"2\"\n  A: \"1\"\nport: 0\nimage:\n  repository: nginx\n  tag: \"\"\n";

#[test]
fn a_chart_with_defines_conditions_and_loops_converts_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/files")).unwrap();
    let (report, renderer) = converted(
        dir.path(),
        &[("_helpers.tpl", HELPERS), ("configmap.yaml", CONFIGMAP)],
        VALUES,
    );
    assert!(report.markers.is_empty(), "{report}");
    let out = renderer.render(&cr(json!({})), "shop").unwrap();
    let cm = &out.objects[0];
    assert_eq!(cm["metadata"]["name"], "site-demo");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/version"],
        "1.16.0"
    );
    assert_eq!(
        cm["data"],
        json!({"both": "yes", "host0": "A", "A": "1", "B": "2", "port": "80",
               "image": "nginx:1.16.0", "file": "", "ns": "shop", "m": "{\"a\":\"1\",\"b\":\"2\"}"})
    );
    // Keys in the order Go's range visits a map: sorted.
    let keys: Vec<&String> = cm["data"].as_object().unwrap().keys().collect();
    let (a, b) = (
        keys.iter().position(|k| *k == "A").unwrap(),
        keys.iter().position(|k| *k == "B").unwrap(),
    );
    assert!(a < b, "{keys:?}");

    let out = renderer
        .render(
            &cr(
                json!({"nameOverride": "site", "extra": "x: y\nz", "disabled": true,
                       "hosts": [], "env": {}, "port": 8080, "image": {"tag": "1.27"}}),
            ),
            "shop",
        )
        .unwrap();
    let cm = &out.objects[0];
    assert_eq!(cm["metadata"]["name"], "site");
    assert_eq!(
        cm["data"],
        // `env: {}` merges with the defaults, as in Helm: A and B stay.
        json!({"extra": "x: y\nz", "both": "disabled", "port": "8080", "A": "1", "B": "2",
               "image": "nginx:1.27", "file": "", "ns": "shop", "m": "{\"a\":\"1\",\"b\":\"2\"}"})
    );
}

#[test]
fn what_has_no_equivalent_is_a_marker_that_fails_the_render() {
    let dir = tempfile::tempdir().unwrap();
    let template = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {{ randAlphaNum 10 }}\n  old: {{ (lookup \"v1\" \"Secret\" .Release.Namespace \"s\").data }}\n";
    let (report, renderer) = converted(dir.path(), &[("secret.yaml", template)], "");
    let messages: Vec<String> = report
        .markers
        .iter()
        .map(|m| format!("{}:{}: {}", m.file, m.line, m.message))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("templates/secret.yaml:6: `randAlphaNum`"),
        "{messages:?}"
    );
    assert!(messages[1].contains("`lookup`"), "{messages:?}");
    let err = renderer
        .render(&cr(json!({})), "shop")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(super::MARKER_TAG) && err.contains("randAlphaNum"),
        "{err}"
    );
}

#[test]
fn hooks_and_tests_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hook = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    \"helm.sh/hook\": pre-install\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let (report, _) = converted(
        dir.path(),
        &[("job.yaml", hook), ("cm.yaml", cm), ("tests/test.yaml", cm)],
        "",
    );
    assert_eq!(report.markers.len(), 1, "{report}");
    assert!(report.markers[0].message.contains("hook"), "{report}");
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(report.skipped[0].0, "templates/tests/test.yaml");
    assert_eq!(report.clean_templates(), 1);
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(src.join("Chart.yaml"), "name: x\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        src.join("templates/a.yaml"),
        "a: 1\n{{ if .Values.x }}\nb: 2\n",
    )
    .unwrap();
    let err = convert(&Options {
        source: src,
        output: dir.path().join("out"),
        kind: "X".into(),
        group: "x.io".into(),
        version: "v1".into(),
        mapping: None,
        kube_version: "v1.33.0".into(),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("templates/a.yaml:2: if/with without end"),
        "{err}"
    );
}

#[test]
fn an_else_if_condition_is_evaluated_only_when_reached() {
    // Go never evaluates the second condition when the first holds: the `required` inside the
    // include must not fail the render then.
    let dir = tempfile::tempdir().unwrap();
    let helpers = "{{- define \"demo.strict\" -}}\n{{ required \"strict needs .Values.mode\" .Values.mode }}\n{{- end }}\n";
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  {{- if .Values.plain }}\n  branch: plain\n  {{- else if eq (include \"demo.strict\" .) \"fast\" }}\n  branch: fast\n  {{- else if (include \"demo.strict\" .) }}\n  branch: other\n  {{- else }}\n  branch: none\n  {{- end }}\n";
    let (report, renderer) = converted(
        dir.path(),
        &[("_helpers.tpl", helpers), ("cm.yaml", template)],
        "plain: true\n",
    );
    assert!(report.markers.is_empty(), "{report}");
    let branch = |spec: Value| -> Result<Value, String> {
        renderer
            .render(&cr(spec), "shop")
            .map(|out| out.objects[0]["data"]["branch"].clone())
            .map_err(|e| e.to_string())
    };
    assert_eq!(branch(json!({})).unwrap(), "plain");
    assert_eq!(
        branch(json!({"plain": false, "mode": "fast"})).unwrap(),
        "fast"
    );
    assert_eq!(
        branch(json!({"plain": false, "mode": "slow"})).unwrap(),
        "other"
    );
    let err = branch(json!({"plain": false})).unwrap_err();
    assert!(err.contains("strict needs .Values.mode"), "{err}");
}

#[test]
fn a_checksum_over_another_template_renders_that_template() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let configmap =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {{ .Values.a }}\n";
    let deployment = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  annotations:\n    checksum/config: {{ include (print $.Template.BasePath \"/configmap.yaml\") . | sha256sum }}\n";
    let (report, renderer) = converted(
        dir.path(),
        &[
            ("configmap.yaml", configmap),
            ("deployment.yaml", deployment),
        ],
        "a: x\n",
    );
    assert!(report.markers.is_empty(), "{report}");
    let checksum = |a: &str| {
        let out = renderer.render(&cr(json!({"a": a})), "shop").unwrap();
        let d = out
            .objects
            .iter()
            .find(|o| o["metadata"]["name"] == "d")
            .unwrap()
            .clone();
        d["metadata"]["annotations"]["checksum/config"].clone()
    };
    // What Helm hashes: the configmap template's rendered text.
    let expected = |a: &str| {
        let text =
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {a}\n");
        let digest = sha2::Sha256::digest(text.as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(checksum("x"), expected("x"));
    assert_eq!(checksum("y"), expected("y"));
}

const TPL_TEMPLATE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "demo.fullname" . }}
  annotations:
    {{- tpl (toYaml .Values.annotations) $ | nindent 4 }}
data:
  host: {{ tpl .Values.host $ | quote }}
  plain: {{ tpl .Values.plain . | quote }}
  {{- range .Values.items }}
  {{ .k }}: {{ tpl .v $ | quote }}
  {{- end }}
"#;

const TPL_VALUES: &str = "nameOverride: \"\"\ndomain: example.com\nhost: \"{{ include \\\"demo.fullname\\\" . }}.{{ .Values.domain }}\"\nplain: \"a: b, {not a template}\"\nannotations:\n  team: \"{{ .Values.domain }}\"\n  \"{{ .Release.Name }}\": \"1\"\nitems:\n  - k: rel\n    v: \"{{ .Release.Name }}/{{ .Release.Namespace }}/{{ .Chart.Name }}-{{ .Chart.Version }}\"\n";

/// Renders the `tpl` chart with `spec`, returning the ConfigMap or the error.
fn tpl_render(spec: Value) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let (report, r) = converted(
        dir.path(),
        &[("_helpers.tpl", HELPERS), ("cm.yaml", TPL_TEMPLATE)],
        TPL_VALUES,
    );
    assert!(report.markers.is_empty(), "{report}");
    r.render(&cr(spec), "shop")
        .map(|out| out.objects[0].clone())
        .map_err(|e| e.to_string())
}

#[test]
fn tpl_renders_a_value_with_the_charts_defines_at_render_time() {
    let cm = tpl_render(json!({})).unwrap();
    assert_eq!(cm["data"]["host"], "site-demo.example.com");
    assert_eq!(cm["data"]["plain"], "a: b, {not a template}");
    assert_eq!(cm["data"]["rel"], "site/shop/demo-0.1.0");
    assert_eq!(cm["metadata"]["annotations"]["team"], "example.com");
    assert_eq!(cm["metadata"]["annotations"]["site"], "1");
    // The values come from the custom resource, at render time.
    let cm = tpl_render(json!({"domain": "shop.test", "items": [
        {"k": "x", "v": "{{ if eq .Values.domain \"shop.test\" }}{{ .Values.domain | upper }}{{ else }}no{{ end }}"}
    ]}))
    .unwrap();
    assert_eq!(cm["data"]["host"], "site-demo.shop.test");
    assert_eq!(cm["data"]["x"], "SHOP.TEST");
}

#[test]
fn what_tpl_renders_stays_data() {
    let evil = "x\"\n  evil: 1\n---\nkind: Secret";
    let cm = tpl_render(json!({"domain": evil, "items": [
        {"k": "raw", "v": "{{ \"\" }}{% endraw %}{% set x = 1 %}{{ \"a\\nb: c\" }}"}
    ]}))
    .unwrap();
    assert_eq!(cm["data"]["host"], format!("site-demo.{evil}"));
    assert_eq!(cm["metadata"]["annotations"]["team"], evil);
    assert_eq!(cm["metadata"]["annotations"].as_object().unwrap().len(), 2);
    assert_eq!(cm["data"]["raw"], "{% endraw %}{% set x = 1 %}a\nb: c");
    assert!(cm.get("evil").is_none() && cm["data"].get("evil").is_none());
}

#[test]
fn a_bad_template_in_a_value_names_the_place_the_value_and_the_reason() {
    for (host, reason) in [
        ("{{ .Values.domain | nope }}", "`nope`"),
        ("{{ if .Values.domain }}", "not a valid Go template"),
        (
            "{{ include \"demo.missing\" . }}",
            "`demo.missing` is not defined",
        ),
        (
            "{{ lookup \"v1\" \"Secret\" \"ns\" \"x\" }}",
            "reads the live cluster",
        ),
        ("{{ required \"give a host\" .Values.none }}", "give a host"),
    ] {
        let err = tpl_render(json!({"host": host})).unwrap_err();
        assert!(
            err.contains("templates/cm.yaml:8: tpl .Values.host") && err.contains(reason),
            "{host}: {err}"
        );
        assert!(
            err.contains(&format!("{host:?}")) || reason == "give a host",
            "{host}: {err}"
        );
    }
}

#[test]
fn range_over_a_value_the_defaults_do_not_show_walks_a_map_by_key_and_a_list_by_index() {
    let dir = tempfile::tempdir().unwrap();
    let template = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  {{- range $k, $v := .Values.cfg.users }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
  {{- range $i, $v := .Values.cfg.list }}
  item{{ $i }}: {{ $v | quote }}
  {{- end }}
  {{- range .Values.cfg.none }}
  never: "x"
  {{- end }}
"#;
    let (report, r) = converted(dir.path(), &[("cm.yaml", template)], "cfg: {}\n");
    assert!(report.markers.is_empty(), "{report}");
    let spec = json!({"cfg": {"users": {"b": "2", "a": "1"}, "list": ["p", "q"]}});
    let out = r.render(&cr(spec), "shop").unwrap();
    assert_eq!(
        out.objects[0]["data"],
        json!({"a": "1", "b": "2", "item0": "p", "item1": "q"})
    );
}
