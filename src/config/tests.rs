//! Table tests for the mapping file.

use kube::core::SelectorExt as _;

use super::*;

fn mapping_in_tempdir(text: &str) -> (tempfile::TempDir, Result<Mapping>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web")).unwrap();
    let path = dir.path().join("watches.yaml");
    std::fs::write(&path, text).unwrap();
    let result = Mapping::load(&path);
    (dir, result)
}

#[test]
fn parses_operator_sdk_fields_and_defaults() {
    let (dir, mapping) = mapping_in_tempdir(
        "# comment\n- group: web.example.com\n  version: v1\n  kind: WebServer\n  chart: web\n  reconcilePeriod: 1m30s\n  maxConcurrentReconciles: 4\n  overrideValues:\n    image: nginx:1\n  selector:\n    matchLabels: {tier: gold}\n  watchDependentResources: false\n",
    );
    let mapping = mapping.unwrap();
    let w = &mapping.watches[0];
    assert_eq!(w.api_version(), "web.example.com/v1");
    assert_eq!(w.chart_dir, dir.path().join("web"));
    assert_eq!(w.reconcile_period, Duration::from_secs(90));
    assert_eq!(w.max_concurrent_reconciles, 4);
    assert_eq!(w.override_values["image"], "nginx:1");
    assert!(!w.watch_dependent_resources);
    let allowed: Vec<String> = w.allowed_kinds.iter().map(|k| k.to_string()).collect();
    assert_eq!(allowed, ["ConfigMap", "Deployment", "Service"]);
    assert_eq!(w.allowed_kinds[1].group, "apps");
    assert_eq!(w.line, 2);
    assert!(!w.adopt_helm_releases);
    assert!(mapping.find("web.example.com/v1", "WebServer").is_some());
    assert!(mapping.find("web.example.com/v2", "WebServer").is_none());
}

#[test]
fn adopt_helm_releases_is_a_mapping_opt_in() {
    let (_dir, mapping) = mapping_in_tempdir(
        "- group: web.example.com\n  version: v1\n  kind: WebServer\n  chart: web\n  adoptHelmReleases: true\n",
    );
    assert!(mapping.unwrap().watches[0].adopt_helm_releases);
    let (_dir, mapping) = mapping_in_tempdir(
        "- group: web.example.com\n  version: v1\n  kind: WebServer\n  chart: web\n  adoptHelmReleases: yes please\n",
    );
    assert!(mapping.unwrap_err().to_string().contains("line 5"));
}

#[test]
fn errors_name_the_file_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  colour: red\n",
            "watches.yaml: line 5 column 3: .[0]: unknown field `colour`",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n- group: a.io\n  version: v1\n  kind: A\n  chart: web\n",
            "watches.yaml:7: duplicate kind A in group a.io (first mapped at line 1)",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: missing\n",
            "watches.yaml:4: chart directory",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  reconcilePeriod: soon\n",
            "watches.yaml:5: reconcilePeriod: \"soon\" is",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  maxConcurrentReconciles: 0\n",
            "watches.yaml:5: maxConcurrentReconciles must be at least 1",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: lower\n  chart: web\n",
            "watches.yaml:3: kind \"lower\" must be CamelCase",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchExpressions: [{key: a, operator: Near}]\n",
            "watches.yaml:5: selector: unknown operator \"Near\"",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n",
            "missing field `chart`",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  reconcilePeriod: 9999999999999h\n",
            "watches.yaml:5: reconcilePeriod: \"9999999999999h\" is longer than Go's limit",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  reconcilePeriod: 3000000h\n",
            "watches.yaml:5: reconcilePeriod: \"3000000h\" is longer than Go's limit",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  reconcilePeriod: 5s-3s\n",
            "watches.yaml:5: reconcilePeriod: \"5s-3s\" is not a duration",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  reconcilePeriod: -5s\n",
            "watches.yaml:5: reconcilePeriod: \"-5s\" must be longer than zero",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchLabel: {a: b}\n",
            "watches.yaml:5: selector: unknown field `matchLabel`, expected `matchLabels` or `matchExpressions`",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchExpressions: [{key: a, operator: In, value: [b]}]\n",
            "watches.yaml:5: selector: matchExpressions: unknown field `value`",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchExpressions: [{key: a, operator: In}]\n",
            "watches.yaml:5: selector: In on \"a\" needs at least one value",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchExpressions: [{key: a, operator: Exists, values: [b]}]\n",
            "watches.yaml:5: selector: Exists on \"a\" takes no values",
        ),
        (
            "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  selector:\n    matchLabels: [a]\n",
            "watches.yaml:5: selector: invalid type",
        ),
    ];
    for (text, expected) in cases {
        let (_dir, result) = mapping_in_tempdir(text);
        let message = result.expect_err(text).to_string();
        assert!(
            message.contains(expected),
            "for {text:?}\n expected {expected:?}\n got {message:?}"
        );
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("10d").is_err());
    assert_eq!(parse_duration(" 1.5h "), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
    // Never a panic, however large, negative or odd the text.
    for text in [
        "9999999999999h",
        "99999999999999999999999999999999h",
        "9999999999999999ns",
        "999999999999999h999999999999999h999999999999999h999999999999999h",
        "999999999999h999999999999h999999999999h",
        &"1h".repeat(40),
        "5s-3s",
        "-1s",
        "1h+-2m",
        "1e400h",
        "inf",
        "NaNs",
        ".",
        "h",
        "0",
    ] {
        assert!(parse_duration(text).is_err(), "{text:?}");
    }
    assert_eq!(
        parse_duration("2562047h"),
        Ok(Duration::from_secs(2562047 * 3600))
    );
}

#[test]
fn selectors_match_like_kubernetes() {
    let selector = parse_selector(serde_yaml::from_str(
        "matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: In, values: [gold, silver]}\n- {key: legacy, operator: DoesNotExist}\n",
    )
    .unwrap())
    .unwrap();
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert!(selector.matches(&labels(&[("app", "web"), ("tier", "gold")])));
    assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "bronze")])));
    assert!(!selector.matches(&labels(&[
        ("app", "web"),
        ("tier", "gold"),
        ("legacy", "1")
    ])));
    assert_eq!(
        selector.to_string(),
        "app=web,tier in (gold,silver),!legacy"
    );
}

/// A watches.yaml in operator-sdk's documented format (our own text; the samples themselves are
/// not kept in the repository), written with its chart directory into a new directory.
fn sdk_watches(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("helm-charts/app")).unwrap();
    std::fs::write(
        dir.path().join("helm-charts/app/Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .unwrap();
    let path = dir.path().join("watches.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn parse_sdk(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Mapping> {
    Mapping::parse_with_env(path, &std::fs::read_to_string(path).unwrap(), env)
}

/// Every field operator-sdk's Helm operator documents for watches.yaml, `dryRunOption` included.
const SDK_WATCHES: &str = "# Use the 'create api' subcommand to add watches to this file.
- group: app.example.com
  version: v1alpha1
  kind: App
  chart: helm-charts/app
  overrideValues:
    image.repository: quay.io/example/app
  watchDependentResources: false
  selector:
    matchExpressions:
     - {key: tier, operator: Exists, values: []}
  dryRunOption: server
  reconcilePeriod: 2m
";

#[test]
fn operator_sdk_watches_load_as_they_are() {
    let (_dir, path) = sdk_watches(SDK_WATCHES);
    let mapping = parse_sdk(&path, &|_| None).unwrap();
    let w = &mapping.watches[0];
    assert_eq!(
        (w.api_version(), w.kind.as_str()),
        ("app.example.com/v1alpha1".to_string(), "App")
    );
    assert_eq!(w.chart_dir, path.parent().unwrap().join("helm-charts/app"));
    assert_eq!(
        w.override_values,
        serde_json::json!({"image": {"repository": "quay.io/example/app"}})
    );
    assert!(!w.watch_dependent_resources);
    assert_eq!(w.selector.as_ref().unwrap().to_string(), "tier");
    assert_eq!(
        mapping.warnings,
        [format!(
            "{}:12: dryRunOption \"server\" has no effect: tera-operator renders without Helm and compares each rendered object with the live one (its templates cannot call lookup), so there is no Helm dry run to choose",
            path.display()
        )]
    );
    assert_eq!(
        w.describe_overrides(),
        [(
            "/image/repository".to_string(),
            format!("{}:7: overrideValues \"image.repository\"", path.display())
        )]
    );
}

#[test]
fn override_values_expand_the_environment_as_operator_sdk_does() {
    let (_dir, path) = sdk_watches(
        "- group: example.com\n  version: v1alpha1\n  kind: App\n  chart: helm-charts/app\n  overrideValues:\n    image.repository: $IMAGE_REPOSITORY # or ${IMAGE_REPOSITORY}\n",
    );
    let env = |name: &str| (name == "IMAGE_REPOSITORY").then(|| "quay.io/mirror/nginx".to_string());
    let mapping = parse_sdk(&path, &env).unwrap();
    assert_eq!(
        mapping.watches[0].override_values,
        serde_json::json!({"image": {"repository": "quay.io/mirror/nginx"}})
    );
    // Unset, it expands to the empty string (and still overrides), as documented.
    let mapping = parse_sdk(&path, &|_| None).unwrap();
    assert_eq!(
        mapping.watches[0].override_values,
        serde_json::json!({"image": {"repository": ""}})
    );
    // Go templates are refused, naming the file, the line and the key.
    let (_dir, path) = sdk_watches(
        "- group: example.com\n  version: v1alpha1\n  kind: App\n  chart: helm-charts/app\n  overrideValues:\n    image.repository: '{{ (\"$IMAGE\" | split \":\")._0 }}'\n    image.tag: '{{ (\"$IMAGE\" | split \":\")._1 }}'\n",
    );
    let message = parse_sdk(&path, &|_| Some("quay.io/x/y:1".to_string()))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "{}:6: overrideValues: \"image.repository\": \"{{{{ (\\\"quay.io/x/y:1\\\" | split \\\":\\\")._0 }}}}\" is a Go template",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn override_errors_name_the_line_of_the_key() {
    let (_dir, mapping) = mapping_in_tempdir(
        "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  overrideValues:\n    image.tag: v1\n    \"image\": nginx\n",
    );
    let message = mapping.unwrap_err().to_string();
    assert!(
        message.ends_with("watches.yaml:7: overrideValues: \"image\": sets /image, which is already set by key \"image.tag\" (line 6)"),
        "{message}"
    );
    let (_dir, mapping) = mapping_in_tempdir(
        "- group: a.io\n  version: v1\n  kind: A\n  chart: web\n  overrideValues:\n    a: x\n    list[x]: y\n",
    );
    let message = mapping.unwrap_err().to_string();
    assert!(
        message.contains("watches.yaml:7: overrideValues: \"list[x]\": error parsing index"),
        "{message}"
    );
}

#[test]
fn a_bad_override_is_blamed_on_its_key_not_on_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watches.yaml");
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/webserver");
    std::fs::write(
        &path,
        format!(
            "- group: web.tera-operator.io\n  version: v1alpha1\n  kind: WebServer\n  chart: {}\n  overrideValues:\n    service.port: \"8080\"\n",
            chart.display()
        ),
    )
    .unwrap();
    let mapping = Mapping::load(&path).unwrap();
    let watch = &mapping.watches[0];
    let renderer =
        crate::render::Renderer::new(crate::chart::Chart::load(&chart).unwrap(), watch).unwrap();
    let cr = serde_json::json!({"apiVersion": "web.tera-operator.io/v1alpha1", "kind": "WebServer",
        "metadata": {"name": "site", "namespace": "web"}, "spec": {"replicas": -1}});
    let message = renderer.render(&cr, "web").unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "{}:6: overrideValues \"service.port\" (/service/port): \"8080\" is not of type \"integer\"",
            path.display()
        )),
        "{message}"
    );
    // The spec's own mistakes still point into the spec.
    assert!(
        message.contains("/spec/replicas: -1 is less than the minimum of"),
        "{message}"
    );
}
