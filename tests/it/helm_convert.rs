//! `migrate helm-chart`, verified against the real Helm v4 engine: a chart is converted, then
//! Helm (helm-python-sdk) renders the original and tera-operator the conversion on the same
//! values, and the objects are compared one by one after removing what each tool stamps.
//!
//! The chart is `helm create`'s scaffold, made by Helm itself through the SDK.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use tera_operator::chart::Chart;
use tera_operator::config::Mapping;
use tera_operator::migrate::helm_chart::{self, Options};
use tera_operator::render::Renderer;

use crate::support::helm_python;

const SCRIPT: &str = r#"
import json, sys
import helm_python as helm
phase = sys.argv[1]
if phase == "create":
    helm.Chart.create(sys.argv[2], sys.argv[3])
else:
    out = helm.Chart.load(sys.argv[2]).render(json.loads(sys.argv[3]), name="site", namespace="shop")
    print(json.dumps(out))
"#;

fn helm(args: &[&str]) -> String {
    let out = Command::new(helm_python::python())
        .args(["-c", SCRIPT])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kind/name` of an object.
fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Removes what either tool stamps: the namespace, ownerReferences, the managed-by label
/// (`Helm` from `.Release.Service`, `tera-operator` from the operator), the owner label, and the
/// operator's config checksum annotations on pod templates (an emptied map goes too).
fn unstamped(mut object: Value) -> Value {
    for meta in ["/metadata", "/spec/template/metadata"] {
        let Some(Value::Object(meta)) = object.pointer_mut(meta) else {
            continue;
        };
        meta.remove("namespace");
        meta.remove("ownerReferences");
        if let Some(Value::Object(labels)) = meta.get_mut("labels") {
            labels.remove("app.kubernetes.io/managed-by");
            labels.remove("tera-operator.io/owner-uid");
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.retain(|k, _| !k.contains("checksum.tera-operator.io/"));
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    object
}

/// Drops from `ours` the labels the operator stamps only where a template sets none
/// (`app.kubernetes.io/instance`, `app.kubernetes.io/name`), when Helm's object has no such label.
fn without_default_labels(mut ours: Value, theirs: &Value) -> Value {
    for meta in ["/metadata", "/spec/template/metadata"] {
        let helm_labels = theirs.pointer(&format!("{meta}/labels")).cloned();
        let Some(Value::Object(labels)) = ours.pointer_mut(&format!("{meta}/labels")) else {
            continue;
        };
        for key in ["app.kubernetes.io/instance", "app.kubernetes.io/name"] {
            if helm_labels.as_ref().and_then(|l| l.get(key)).is_none() {
                labels.remove(key);
            }
        }
        if labels.is_empty()
            && let Some(Value::Object(m)) = ours.pointer_mut(meta)
        {
            m.remove("labels");
        }
    }
    ours
}

/// Helm's objects for these values, by `kind/name` (tests/ and NOTES.txt left out).
fn helm_objects(chart: &Path, values: &Value) -> BTreeMap<String, Value> {
    let out = helm(&["render", &chart.display().to_string(), &values.to_string()]);
    let files: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
    let mut objects = BTreeMap::new();
    for (name, text) in files {
        if name.contains("/templates/tests/") || name.ends_with("NOTES.txt") {
            continue;
        }
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let object: Value = serde::Deserialize::deserialize(doc).unwrap();
            if !object.is_null() {
                objects.insert(key(&object), unstamped(object));
            }
        }
    }
    objects
}

/// Ours, by `kind/name`.
fn tera_objects(renderer: &Renderer, values: &Value) -> BTreeMap<String, Value> {
    let cr = json!({"apiVersion": "apps.example.com/v1alpha1", "kind": "MyApp",
                    "metadata": {"name": "site", "namespace": "shop", "uid": "u-1", "generation": 1},
                    "spec": values});
    renderer
        .render(&cr, "shop")
        .unwrap_or_else(|e| panic!("values {values}: {e}"))
        .objects
        .into_iter()
        .map(|o| (key(&o), unstamped(o)))
        .collect()
}

/// Converts `chart` into `dir/out` with a mapping `dir/watches.yaml`, and returns the report
/// and a renderer of the conversion.
fn convert(chart: &Path, dir: &Path) -> (helm_chart::Report, Renderer) {
    convert_allowing(chart, dir, &[])
}

/// [`convert`], with `extra_kinds` added to the mapping entry's `allowedKinds`: the kinds a
/// user's values render through the chart's `extraManifests`, which the converter cannot know.
fn convert_allowing(
    chart: &Path,
    dir: &Path,
    extra_kinds: &[String],
) -> (helm_chart::Report, Renderer) {
    let options = Options {
        source: chart.to_path_buf(),
        output: dir.join("out"),
        kind: "MyApp".into(),
        group: "apps.example.com".into(),
        version: "v1alpha1".into(),
        mapping: Some(dir.join("watches.yaml")),
        kube_version: "v1.33.0".into(),
    };
    let (_, report) = helm_chart::convert(&options).unwrap();
    if !extra_kinds.is_empty() {
        let path = dir.join("watches.yaml");
        let mut entries: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let allowed = entries[0]["allowedKinds"].as_array_mut().unwrap();
        for kind in extra_kinds {
            if !allowed.contains(&json!(kind)) {
                allowed.push(json!(kind));
            }
        }
        std::fs::write(&path, serde_yaml::to_string(&entries).unwrap()).unwrap();
    }
    let mapping = Mapping::load(&dir.join("watches.yaml")).unwrap();
    let watch = mapping.find("apps.example.com/v1alpha1", "MyApp").unwrap();
    let renderer = Renderer::new(Chart::load(&watch.chart_dir).unwrap(), watch).unwrap();
    (report, renderer)
}

/// Compares Helm's objects and ours for each value set; the differences, as messages.
fn differences(chart: &Path, renderer: &Renderer, sets: &[(&str, Value)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, values) in sets {
        let theirs = helm_objects(chart, values);
        let ours = tera_objects(renderer, values);
        assert!(!theirs.is_empty(), "{name}: Helm rendered nothing");
        if theirs.keys().ne(ours.keys()) {
            out.push(format!(
                "{name}: Helm renders {:?}, the conversion {:?}",
                theirs.keys().collect::<Vec<_>>(),
                ours.keys().collect::<Vec<_>>()
            ));
        }
        for (key, object) in &theirs {
            if let Some(mine) = ours
                .get(key)
                .map(|m| without_default_labels(m.clone(), object))
                && &mine != object
            {
                out.push(format!(
                    "{name}: {key} differs\nhelm: {}\nours: {}",
                    serde_json::to_string_pretty(object).unwrap(),
                    serde_json::to_string_pretty(&mine).unwrap()
                ));
            }
        }
    }
    out
}

/// The four value sets of the issue, plus the HTTPRoute the scaffold also has.
fn scaffold_value_sets() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", json!({})),
        (
            "ingress on",
            json!({"ingress": {"enabled": true, "className": "nginx",
                "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
                "hosts": [{"host": "shop.example.com", "paths": [
                    {"path": "/", "pathType": "Prefix"},
                    {"path": "/api", "pathType": "ImplementationSpecific"}]}],
                "tls": [{"secretName": "shop-tls", "hosts": ["shop.example.com"]}]}}),
        ),
        (
            "autoscaling on",
            json!({"autoscaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 7,
                "targetCPUUtilizationPercentage": 60, "targetMemoryUtilizationPercentage": 75}}),
        ),
        (
            "serviceAccount off, pod annotations and labels",
            json!({"serviceAccount": {"create": false},
                "podAnnotations": {"prometheus.io/scrape": "true", "note": "a: b"},
                "podLabels": {"team": "shop", "tier": "web"}}),
        ),
        (
            "resources, securityContext and volumes",
            json!({"resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                                 "requests": {"cpu": "100m", "memory": "128Mi"}},
                "podSecurityContext": {"fsGroup": 2000},
                "securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
                                    "readOnlyRootFilesystem": true,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumes": [{"name": "config", "secret": {"secretName": "shop-config", "optional": false}}],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/shop", "readOnly": true}],
                "nodeSelector": {"disktype": "ssd"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
                "imagePullSecrets": [{"name": "regcred"}],
                "image": {"tag": "1.27.3"}, "replicaCount": 3, "fullnameOverride": "storefront"}),
        ),
        (
            "httpRoute on, names overridden",
            json!({"httpRoute": {"enabled": true, "annotations": {"a": "b"},
                "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/x"}}],
                           "filters": [{"type": "RequestHeaderModifier",
                                        "requestHeaderModifier": {"add": [{"name": "X", "value": "1"}]}}]},
                          {"matches": [{"path": {"type": "PathPrefix", "value": "/y"}}]}]},
                "nameOverride": "store", "service": {"type": "NodePort", "port": 8080}}),
        ),
    ]
}

#[test]
fn helm_create_scaffold_converts_without_markers_and_renders_like_helm() {
    let dir = tempfile::tempdir().unwrap();
    helm(&["create", "mychart", &dir.path().display().to_string()]);
    let chart = dir.path().join("mychart");
    let (report, renderer) = convert(&chart, dir.path());
    assert!(report.markers.is_empty(), "{report}");
    assert_eq!(report.clean_templates(), report.templates.len(), "{report}");
    assert_eq!(
        report
            .skipped
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["templates/tests/test-connection.yaml"]
    );
    let diffs = differences(&chart, &renderer, &scaffold_value_sets());
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

/// Where the chart corpus is: `$TERA_OPERATOR_HELM_CORPUS`, else `target/corpus/helm-corpus`
/// (public charts with their licences, fetched by `.ci/fetch-corpus`, never committed; see its
/// README.txt and docs/migrating-from-helm.md).
fn corpus_dir() -> std::path::PathBuf {
    std::env::var_os("TERA_OPERATOR_HELM_CORPUS")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/corpus/helm-corpus"))
}

/// Objects Helm renders and how many of them the conversion renders identically.
#[derive(Default)]
struct Figures {
    templates: usize,
    clean_templates: usize,
    objects: usize,
    identical: usize,
}

/// Values a platform team sets for a corpus chart whose defaults render what a mapping cannot
/// allow: cluster-scoped kinds (a namespaced custom resource cannot own them, so `allowedKinds`
/// refuses them at load). The team creates those objects once outside the chart and turns them
/// off; the corpus figures show the chart both ways.
fn platform_values(chart: &str) -> Option<Value> {
    match chart {
        "kube-state-metrics" => Some(json!({"rbac": {"create": false}})),
        _ => None,
    }
}

/// `overlay` merged into `values` (maps key by key, anything else replaced).
fn merged(mut values: Value, overlay: &Value) -> Value {
    if let (Value::Object(base), Value::Object(top)) = (&mut values, overlay) {
        for (key, item) in top {
            let current = base.remove(key).unwrap_or(Value::Null);
            base.insert(key.clone(), merged(current, item));
        }
        return values;
    }
    overlay.clone()
}

/// Converts one corpus chart and compares it with Helm on its defaults and on each
/// `ci/*-values.yaml` it ships, with `overlay` merged into each; prints what differs.
fn corpus_chart(chart: &Path, work: &Path, overlay: Option<&Value>) -> Figures {
    let mut sets = vec![("defaults".to_string(), json!({}))];
    if let Ok(entries) = std::fs::read_dir(chart.join("ci")) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let values: Value = serde_yaml::from_str(&text).unwrap_or(json!({}));
            let values = if values.is_null() { json!({}) } else { values };
            sets.push((
                file.file_name().unwrap().to_string_lossy().into_owned(),
                values,
            ));
        }
    }
    // The kinds of the objects the value sets put in `extraManifests` (built-in, namespaced
    // ones), which a user lists in allowedKinds to deploy them.
    let mut extra_kinds = Vec::new();
    for (_, values) in &sets {
        for manifest in values["extraManifests"].as_array().into_iter().flatten() {
            if let Some(kind) = manifest["kind"].as_str()
                && manifest["apiVersion"] == "v1"
                && !extra_kinds.iter().any(|k| k == kind)
            {
                extra_kinds.push(kind.to_string());
            }
        }
    }
    let (report, renderer) = convert_allowing(chart, work, &extra_kinds);
    let mut figures = Figures {
        templates: report.templates.len(),
        clean_templates: report.clean_templates(),
        ..Figures::default()
    };
    for (name, values) in &sets {
        let values = &match overlay {
            Some(overlay) => merged(values.clone(), overlay),
            None => values.clone(),
        };
        let theirs = helm_objects(chart, values);
        figures.objects += theirs.len();
        let cr = json!({"apiVersion": "apps.example.com/v1alpha1", "kind": "MyApp",
                        "metadata": {"name": "site", "namespace": "shop", "uid": "u-1", "generation": 1},
                        "spec": values});
        let ours: BTreeMap<String, Value> = match renderer.render(&cr, "shop") {
            Ok(out) => out
                .objects
                .into_iter()
                .map(|o| (key(&o), unstamped(o)))
                .collect(),
            Err(e) => {
                let e = e.to_string();
                eprintln!("  {name}: render failed: {}", &e[..e.len().min(300)]);
                continue;
            }
        };
        for (key, object) in &theirs {
            match ours
                .get(key)
                .map(|m| without_default_labels(m.clone(), object))
            {
                Some(mine) if &mine == object => figures.identical += 1,
                Some(mine) => {
                    eprintln!("  {name}: {key} differs");
                    if std::env::var_os("TERA_OPERATOR_CORPUS_DIFF").is_some() {
                        eprintln!("    helm: {object}\n    ours: {mine}");
                    }
                }
                None => eprintln!("  {name}: {key} missing"),
            }
        }
    }
    figures
}

#[test]
#[ignore = "needs the chart corpus in $TERA_OPERATOR_HELM_CORPUS or target/corpus/helm-corpus (.ci/fetch-corpus); run with --ignored"]
fn public_chart_corpus_figures() {
    let corpus = corpus_dir();
    let mut charts: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").exists())
        .collect();
    charts.sort();
    let mut total = Figures::default();
    let mut platform = Figures::default();
    let mut table = String::from(
        "| chart | templates without markers | objects identical to Helm's |\n|---|---|---|\n",
    );
    for chart in &charts {
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}");
        let work = tempfile::tempdir().unwrap();
        let f = corpus_chart(chart, work.path(), None);
        table.push_str(&format!(
            "| {name} | {}/{} | {}/{} |\n",
            f.clean_templates, f.templates, f.identical, f.objects
        ));
        total.templates += f.templates;
        total.clean_templates += f.clean_templates;
        let (mut objects, mut identical) = (f.objects, f.identical);
        if let Some(overlay) = platform_values(&name) {
            eprintln!("{name} with {overlay}");
            let again = work.path().join("platform");
            std::fs::create_dir_all(&again).unwrap();
            let p = corpus_chart(chart, &again, Some(&overlay));
            table.push_str(&format!(
                "| {name} with {overlay} | | {}/{} |\n",
                p.identical, p.objects
            ));
            (objects, identical) = (p.objects, p.identical);
        }
        total.objects += f.objects;
        total.identical += f.identical;
        platform.objects += objects;
        platform.identical += identical;
    }
    table.push_str(&format!(
        "| all | {}/{} | {}/{} |\n| all, platform values where a chart has them | | {}/{} |\n",
        total.clean_templates,
        total.templates,
        total.identical,
        total.objects,
        platform.identical,
        platform.objects
    ));
    eprintln!("{table}");
    assert!(charts.len() >= 6, "{} charts in the corpus", charts.len());
    assert!(total.objects > 0);
}

/// A chart writing `toYaml` output as text: a config file in a block scalar, and checksums over
/// it and over another template (`include (print $.Template.BasePath …) . | sha256sum`).
fn write_text_chart(dir: &Path) -> std::path::PathBuf {
    let chart = dir.join("textual");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: textual\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("values.yaml"),
        "config:\n  modules:\n    http_2xx:\n      prober: http\n      timeout: 5s\n      http:\n        valid_http_versions: [\"HTTP/1.1\", \"HTTP/2.0\"]\n        preferred_ip_protocol: \"ip4\"\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  config.yml: |\n{{ toYaml .Values.config | indent 4 }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/deployment.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-user\n  annotations:\n    checksum/config: {{ include (print $.Template.BasePath \"/configmap.yaml\") . | sha256sum }}\n    checksum/values: {{ toYaml .Values.config | sha256sum }}\ndata:\n  a: b\n",
    )
    .unwrap();
    chart
}

/// Helm's `toYaml` text, compared with Helm v4 itself: inside a block scalar the text must be
/// the same, and so must checksums over it and over the template that holds it.
#[test]
fn to_yaml_text_and_checksums_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = write_text_chart(dir.path());
    let (report, renderer) = convert(&chart, dir.path());
    assert!(report.markers.is_empty(), "{report}");
    // Folded past column 80 as Go folds it. (A string holding `,`, `[`, `]`, `{` or `}` is
    // single-quoted where Go writes it plain: the text differs there, on purpose, see go_yaml.)
    let long = "a long description that goes on and on past the eightieth column of the line and is folded";
    let sets = [
        ("defaults", json!({})),
        (
            "awkward strings",
            json!({"config": {"modules": {"tcp": {"prober": "tcp", "timeout": "10s",
                "tcp": {"query_response": [{"expect": "^SSH-2.0-"}, {"send": "QUIT\n"}],
                        "tls": true, "ports": [22, 2222]}},
                "dns": {"prober": "dns", "dns": {"query_name": "example.com", "query_type": "A",
                        "valid_rcodes": ["NOERROR"], "on": "yes", "n": "123", "v": "1.2.3"}}},
                "description": long, "script": "#!/bin/sh\necho hi\n", "empty": "", "list10": {"a10": 1, "a2": 2},
                "url": "http://x:80/y", "neg": -1.5, "big": 1234567.5, "colon": "a: b"}}),
        ),
    ];
    let diffs = differences(&chart, &renderer, &sets);
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}

/// A chart giving values to `tpl`: a string, strings inside `toYaml` (keys too), in a `range`
/// with `$`, a value calling the chart's defines, and text with no template in it.
fn write_tpl_chart(dir: &Path) -> std::path::PathBuf {
    let chart = dir.join("tpl");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: tpl\nversion: 0.3.0\nappVersion: \"2.1\"\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("values.yaml"),
        "domain: example.com\nhost: \"{{ include \\\"tpl.fullname\\\" . }}.{{ .Values.domain }}\"\nplain: \"a: b {no template}\"\nannotations:\n  owner: \"{{ .Release.Name }}-{{ .Chart.AppVersion }}\"\n  \"{{ .Release.Namespace }}/zone\": \"{{ .Values.domain | upper }}\"\nroutes:\n  - \"/{{ .Release.Name }}\"\n  - \"{{ if .Values.domain }}/{{ .Values.domain | trunc 7 }}{{ end }}\"\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/_helpers.tpl"),
        "{{- define \"tpl.fullname\" -}}\n{{ printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 }}\n{{- end }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"tpl.fullname\" . }}\n  annotations:\n    {{- tpl (toYaml .Values.annotations) . | nindent 4 }}\ndata:\n  host: {{ tpl .Values.host $ | quote }}\n  plain: {{ tpl .Values.plain . | quote }}\n  {{- range $i, $r := .Values.routes }}\n  route{{ $i }}: {{ tpl $r $ | quote }}\n  {{- end }}\n",
    )
    .unwrap();
    chart
}

/// Runtime `tpl`, compared with Helm v4 itself on the defaults and on values a custom resource
/// sets (templates in its values included).
#[test]
fn tpl_of_values_renders_like_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = write_tpl_chart(dir.path());
    let (report, renderer) = convert(&chart, dir.path());
    assert!(report.markers.is_empty(), "{report}");
    assert!(
        report.notes.iter().any(|n| n.contains("`tpl` of values")),
        "{report}"
    );
    let sets = [
        ("defaults", json!({})),
        (
            "templates from the custom resource",
            json!({"domain": "shop.test",
                "host": "{{ .Values.domain }}{{ with .Values.annotations }}-{{ len . }}{{ end }}",
                "plain": "{{ \"quoted: yes\" }}",
                "annotations": {"extra": "{{ include \"tpl.fullname\" $ | upper }}"},
                "routes": ["{{ range $k, $v := .Values.annotations }}{{ $k }};{{ end }}", "/static"]}),
        ),
    ];
    let diffs = differences(&chart, &renderer, &sets);
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}
