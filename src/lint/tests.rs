//! Table tests: each rule alone, on a small chart with one file changed or removed.

use std::path::Path;

use super::*;

const SCHEMA: &str =
    r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 0}}}"#;
const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  replicas: \"{{ values.replicas }}\"\n";

/// A Deployment that passes every rule.
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {{ values.replicas }}\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx\n";

/// [`DEPLOYMENT`] with `replica` for `replicas`.
static DEPLOYMENT_REPLICA: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| DEPLOYMENT.replace("replicas:", "replica:"));

/// [`DEPLOYMENT`] with `replicas` quoted when above 9.
static DEPLOYMENT_QUOTED_REPLICAS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    DEPLOYMENT.replace(
        "replicas: {{ values.replicas }}",
        "replicas: {% if values.replicas > 9 %}\"{{ values.replicas }}\"{% else %}{{ values.replicas }}{% endif %}",
    )
});

/// A chart that passes every rule: `(file, content)`.
const GOOD: &[(&str, &str)] = &[
    ("Chart.yaml", "name: good\nversion: 1.0.0\n"),
    ("values.yaml", "replicas: 1\n"),
    ("values.schema.json", SCHEMA),
    ("templates/configmap.yaml", CONFIG_MAP),
];

/// The good chart with `changes` applied (`None` removes the file), written to a new directory.
fn chart(changes: Changes<'_>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<(&str, Option<&str>)> = GOOD.iter().map(|(f, c)| (*f, Some(*c))).collect();
    for (file, content) in changes {
        match files.iter_mut().find(|(f, _)| f == file) {
            Some(entry) => entry.1 = *content,
            None => files.push((file, *content)),
        }
    }
    for (file, content) in files {
        if let Some(content) = content {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }
    dir
}

/// Files to change in the good chart: `(file, new content)`, `None` removes the file.
type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

/// The findings of the rule `name` alone, after the rules before it read what it needs.
fn findings_of(name: &str, dir: &Path) -> Vec<String> {
    let mut lint = Lint::new(dir, None);
    for rule in RULES {
        let before = lint.findings.len();
        lint.check(rule);
        if rule.name == name {
            return lint.findings[before..]
                .iter()
                .map(|f| f.to_string())
                .collect();
        }
    }
    panic!("no rule {name}");
}

#[test]
fn every_rule_alone() {
    // (rule, changes to the good chart, what each finding says; none for a clean chart)
    let cases: &[(&str, Changes<'_>, &[&str])] = &[
        ("chart-yaml", &[], &[]),
        (
            "chart-yaml",
            &[("Chart.yaml", Some("name: Broken_Chart\nversion: 1.0.0\n"))],
            &[
                "error: ",
                "Chart.yaml: name: \"Broken_Chart\" must be a DNS label",
            ],
        ),
        (
            "chart-yaml",
            &[("Chart.yaml", Some("name: good\nversion: one\n"))],
            &["Chart.yaml: version: \"one\" is not a SemVer version"],
        ),
        (
            "chart-yaml",
            &[(
                "Chart.yaml",
                Some("name: good\nversion: 1.0.0\ncolour: red\n"),
            )],
            &["Chart.yaml: line 3 column 1: unknown field `colour`"],
        ),
        (
            "chart-yaml",
            &[("Chart.yaml", None)],
            &["Chart.yaml: cannot read"],
        ),
        ("values-yaml", &[], &[]),
        ("values-yaml", &[("values.yaml", None)], &[]),
        (
            "values-yaml",
            &[("values.yaml", Some("- a\n- b\n"))],
            &["values.yaml: values must be a mapping at the top level"],
        ),
        (
            "values-yaml",
            &[("values.yaml", Some("a: [\n"))],
            &["values.yaml: line "],
        ),
        ("values-schema", &[], &[]),
        (
            "values-schema",
            &[("values.schema.json", None)],
            &["warning: ", "values.schema.json: no values schema"],
        ),
        (
            "values-schema",
            &[("values.schema.json", Some("{\"type\": \"object\",}"))],
            &["values.schema.json: line 1 column"],
        ),
        (
            "values-schema",
            &[("values.schema.json", Some("{\"type\": 5}"))],
            &[
                "error: ",
                "values.schema.json: /properties/type/anyOf: 5 is not valid",
            ],
        ),
        ("templates", &[], &[]),
        (
            "templates",
            &[
                ("templates/configmap.yaml", None),
                ("templates/_m.tera", Some("")),
            ],
            &["templates: no templates (*.yaml) to render"],
        ),
        (
            "templates",
            &[("templates/configmap.yaml", None)],
            &["templates: cannot read"],
        ),
        ("crd", &[], &[]),
        (
            "crd",
            &[("values.schema.json", Some("{\"type\": \"array\"}"))],
            &[
                "values.schema.json: the top level must be an object schema",
                "(while generating the CRD)",
            ],
        ),
        ("crd", &[("Chart.yaml", None)], &[]),
        (
            "crd",
            &[(
                "values.schema.json",
                Some(
                    r#"{"type": "object", "additionalProperties": false, "properties": {"extra": {"type": "object"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}"#,
                ),
            )],
            &[
                "warning: ",
                "values.schema.json: /extra: accepts fields of any shape",
            ],
        ),
        ("templates-compile", &[], &[]),
        (
            "templates-compile",
            &[(
                "templates/configmap.yaml",
                Some("kind: ConfigMap\nmetadata:\n  name: {% if %}\n"),
            )],
            &["templates/configmap.yaml:3:"],
        ),
        (
            "templates-compile",
            &[(
                "templates/configmap.yaml",
                Some("{% macro l(x) %}{{ x }}{% endmacro %}\nkind: ConfigMap\n"),
            )],
            &[
                "templates/configmap.yaml:1:4: Unknown tag",
                "hint: `{% macro %}`: Tera 2 has no macros: define a component",
            ],
        ),
        ("value-sets", &[], &[]),
        (
            "value-sets",
            &[
                (
                    "templates/_labels.tera",
                    Some(
                        "{% component labels() %}r: \"{{ values.replicas }}\"{% endcomponent labels %}",
                    ),
                ),
                (
                    "templates/configmap.yaml",
                    Some(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  {{<labels/>}}\n",
                    ),
                ),
            ],
            &[
                "templates/_labels.tera:1:",
                "Variable `values` is not defined",
                "hint: a component sees only its parameters: declare `@values`",
            ],
        ),
        (
            "value-sets",
            &[("values.yaml", Some("replicas: -3\n"))],
            &[
                "error: ",
                "values.yaml: /replicas: -3 is less than the minimum of 0 (against values.schema.json)",
            ],
        ),
        (
            "value-sets",
            &[(
                "templates/configmap.yaml",
                Some(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n",
                ),
            )],
            &[
                "values.yaml: rendering these values failed: ",
                "kind ClusterRole is not allowed",
            ],
        ),
        (
            "value-sets",
            &[(
                "templates/configmap.yaml",
                Some("{% if false %}kind: ConfigMap{% endif %}\n"),
            )],
            &["warning: ", "values.yaml: these values render no objects"],
        ),
        (
            "value-sets",
            &[("ci/big-values.yaml", Some("replicas: -1\n"))],
            &["ci/big-values.yaml: /replicas: -1 is less than the minimum of 0"],
        ),
        (
            "value-sets",
            &[("ci/broken-values.yaml", Some("replicas: [\n"))],
            &["ci/broken-values.yaml: line "],
        ),
        (
            "value-sets",
            &[("templates/configmap.yaml", Some("{% if %}\n"))],
            &[],
        ),
        ("object-types", &[], &[]),
        (
            "object-types",
            &[("templates/deployment.yaml", Some(DEPLOYMENT))],
            &[],
        ),
        (
            // Found with both value sets, said once.
            "object-types",
            &[
                (
                    "templates/configmap.yaml",
                    Some(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  flag: true\n",
                    ),
                ),
                ("ci/two-values.yaml", Some("replicas: 2\n")),
            ],
            &[
                "error: ",
                "templates/configmap.yaml: ConfigMap x: data.flag: expected a string, got true (Kubernetes API types, with values.yaml)",
            ],
        ),
        (
            "object-types",
            &[(
                "templates/deployment.yaml",
                Some(DEPLOYMENT_REPLICA.as_str()),
            )],
            &[
                "templates/deployment.yaml: Deployment web: spec.replica: unknown field of DeploymentSpec (did you mean \"replicas\"?)",
            ],
        ),
        (
            "object-types",
            &[(
                "templates/deployment.yaml",
                Some(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {{ values.replicas }}\n  selector:\n    matchLabels: {app: web}\n",
                ),
            )],
            &[
                "templates/deployment.yaml: Deployment web: spec.template: required field is missing",
            ],
        ),
        (
            // Only a ci/ value set renders the wrong type.
            "object-types",
            &[
                (
                    "templates/deployment.yaml",
                    Some(DEPLOYMENT_QUOTED_REPLICAS.as_str()),
                ),
                ("ci/many-values.yaml", Some("replicas: 12\n")),
            ],
            &[
                "templates/deployment.yaml: Deployment web: spec.replicas: expected a 32-bit integer, got \"12\" (Kubernetes API types, with ci/many-values.yaml)",
            ],
        ),
    ];
    for (rule, changes, expected) in cases {
        let dir = chart(changes);
        let found = findings_of(rule, dir.path());
        let text = found.join("\n");
        if expected.is_empty() {
            assert!(
                found.is_empty(),
                "{rule} {changes:?}: expected nothing, got\n{text}"
            );
            continue;
        }
        assert_eq!(
            found.len(),
            1,
            "{rule} {changes:?}: expected one finding, got\n{text}"
        );
        for part in *expected {
            assert!(
                text.contains(part),
                "{rule} {changes:?}: expected {part:?} in\n{text}"
            );
        }
    }
}

#[test]
fn required_values_left_to_each_resource_warn_unless_ci_sets_supply_them() {
    let schema = r#"{"type": "object", "required": ["image"], "properties": {"image": {"type": "string"}, "replicas": {"type": "integer"}}}"#;
    let dir = chart(&[("values.schema.json", Some(schema))]);
    let found = findings_of("value-sets", dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("warning: "), "{found:?}");
    assert!(
        found[0].contains("\"image\" is a required property"),
        "{found:?}"
    );

    let dir = chart(&[
        ("values.schema.json", Some(schema)),
        ("ci/full-values.yaml", Some("image: nginx\n")),
    ]);
    assert_eq!(findings_of("value-sets", dir.path()), Vec::<String>::new());
}

#[test]
fn a_whole_chart_reports_every_broken_file_then_stops() {
    let dir = chart(&[
        ("Chart.yaml", Some("name: Bad_Name\nversion: 1.0.0\n")),
        ("values.yaml", Some("- a\n")),
        ("values.schema.json", None),
    ]);
    let found: Vec<String> = lint_chart(dir.path(), None)
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("Chart.yaml: name:"), "{found:#?}");
    assert!(
        found[1].contains("values.yaml: values must be a mapping"),
        "{found:#?}"
    );
    assert!(found[2].contains("warning: "), "{found:#?}");
}

#[test]
fn targets_pair_charts_with_their_mapping_entries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping = || Mapping::load(&root.join("charts/watches.yaml")).ok();
    let all = targets(&[], mapping());
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|(_, w)| w.is_some()));

    let one = targets(
        &[root.join("charts/./balancer"), root.join("nowhere")],
        mapping(),
    );
    assert_eq!(one[0].1.as_ref().map(|w| w.kind.as_str()), Some("Balancer"));
    assert!(one[1].1.is_none());
    assert!(
        targets(&[root.join("charts/balancer")], None)[0]
            .1
            .is_none()
    );
}

#[test]
fn ignored_files_are_said_with_their_tera_equivalent() {
    assert!(findings_of("ignored-files", chart(&[]).path()).is_empty());
    let dir = chart(&[
        (
            "templates/_helpers.tpl",
            Some("{{- define \"x\" }}{{ end }}"),
        ),
        ("templates/NOTES.txt", Some("Thanks")),
        ("templates/tests/test.yaml", Some("kind: Pod")),
        ("templates/_partial.yaml", Some("a: 1")),
    ]);
    let findings = findings_of("ignored-files", dir.path());
    assert_eq!(findings.len(), 4, "{findings:?}");
    assert!(
        findings[0].starts_with("warning: templates/NOTES.txt: ignored: Helm prints"),
        "{findings:?}"
    );
    assert!(
        findings[1].contains("templates/_helpers.tpl: ignored: a Helm partial")
            && findings[1].contains("component"),
        "{findings:?}"
    );
    assert!(
        findings[2].contains("templates/_partial.yaml: ignored: a partial must end in .tera"),
        "{findings:?}"
    );
    assert!(
        findings[3].contains("templates/tests: ignored: Helm's test hooks")
            && findings[3].contains("tests/*_test.yaml, run by `tera-operator test`"),
        "{findings:?}"
    );
    // The chart's own tests and their snapshots are not templates: nothing to say.
    let dir = chart(&[
        ("tests/configmap_test.yaml", Some("tests: []\n")),
        ("tests/__snapshot__/configmap_test.yaml.snap", Some("{}\n")),
    ]);
    assert!(findings_of("ignored-files", dir.path()).is_empty());
    assert!(
        lint_chart(dir.path(), None).is_empty(),
        "{:?}",
        lint_chart(dir.path(), None)
    );
}

#[test]
fn migrate_markers_are_errors() {
    let marked = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: {{ fail(msg=\"tera-operator migrate: not converted: templates/s.yaml:6: `randAlphaNum` is random\") }}\n";
    let dir = chart(&[("templates/secret.yaml", Some(marked))]);
    assert_eq!(
        findings_of("migrate-markers", dir.path()),
        [
            "error: templates/secret.yaml:6: not converted from Helm: templates/s.yaml:6: `randAlphaNum` is random"
        ]
    );
    assert!(findings_of("migrate-markers", chart(&[]).path()).is_empty());
}
