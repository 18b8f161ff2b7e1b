//! The test file format (`tests/*_test.yaml`), helm-unittest's names where they fit: a suite
//! of tests, each a values set or a custom resource plus assertions on what it renders.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::path::{self, Step};

/// A test file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SuiteFile {
    suite: Option<String>,
    #[serde(default)]
    templates: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    set: Map<String, Value>,
    release: Option<Release>,
    tests: Vec<TestFile>,
}

/// The release (the custom resource) a test renders: its name and namespace.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Release {
    /// `metadata.name` of the custom resource.
    pub(crate) name: Option<String>,
    /// `metadata.namespace` of the custom resource.
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestFile {
    it: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    set: Map<String, Value>,
    resource: Option<ResourceFile>,
    release: Option<Release>,
    template: Option<String>,
    #[serde(default)]
    templates: Vec<String>,
    document_index: Option<usize>,
    document_selector: Option<SelectorFile>,
    asserts: Vec<AssertFile>,
}

/// A custom resource: inline, or a file relative to the test file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ResourceFile {
    File(String),
    Inline(Map<String, Value>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SelectorFile {
    path: Option<String>,
    value: Option<Value>,
    kind: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathValue {
    path: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathOnly {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainsFile {
    path: String,
    content: Value,
    count: Option<usize>,
    #[serde(default)]
    any: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Of {
    of: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HasDocumentsFile {
    count: usize,
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContainsDocumentFile {
    kind: String,
    api_version: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexFile {
    path: String,
    pattern: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LengthFile {
    path: String,
    count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubsetFile {
    path: String,
    content: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FailedFile {
    error_message: Option<String>,
    error_pattern: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AssertFile {
    #[serde(default)]
    not: bool,
    template: Option<String>,
    document_index: Option<usize>,
    document_selector: Option<SelectorFile>,
    equal: Option<PathValue>,
    not_equal: Option<PathValue>,
    contains: Option<ContainsFile>,
    not_contains: Option<ContainsFile>,
    exists: Option<PathOnly>,
    not_exists: Option<PathOnly>,
    is_null_or_empty: Option<PathOnly>,
    is_not_null_or_empty: Option<PathOnly>,
    is_kind: Option<Of>,
    #[serde(rename = "isAPIVersion")]
    is_api_version: Option<Of>,
    has_documents: Option<HasDocumentsFile>,
    contains_document: Option<ContainsDocumentFile>,
    match_regex: Option<RegexFile>,
    not_match_regex: Option<RegexFile>,
    length_equal: Option<LengthFile>,
    is_subset: Option<SubsetFile>,
    match_snapshot: Option<SnapshotFile>,
    failed_template: Option<FailedFile>,
    not_failed_template: Option<Nothing>,
}

/// A test suite, read and checked.
#[derive(Debug)]
pub(crate) struct Suite {
    /// Its name (`suite:`, else the file name).
    pub(crate) name: String,
    /// The tests, in file order.
    pub(crate) tests: Vec<Test>,
}

/// One test: what to render, and what must hold.
#[derive(Debug)]
pub(crate) struct Test {
    /// `it:`.
    pub(crate) name: String,
    /// The custom resource's spec: suite values and sets, then the resource's spec, then the
    /// test's values and sets, each layer over the one before.
    pub(crate) spec: Value,
    /// The custom resource given, if any (its spec is in `spec`).
    pub(crate) resource: Option<Map<String, Value>>,
    /// The release (custom resource) name and namespace.
    pub(crate) release: Release,
    /// The assertions, in file order.
    pub(crate) asserts: Vec<Assert>,
}

/// Which rendered objects an assertion looks at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// Template names (`templates/x.yaml`); empty for all.
    pub(crate) templates: Vec<String>,
    /// The object's index among its template's objects.
    pub(crate) document_index: Option<usize>,
    /// A value the object must have.
    pub(crate) selector: Option<Selector>,
}

/// `documentSelector`: a value at a path, and/or a kind and name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    /// A path and the value it must hold.
    pub(crate) path: Option<(Vec<Step>, String, Value)>,
    /// The kind.
    pub(crate) kind: Option<String>,
    /// `metadata.name`.
    pub(crate) name: Option<String>,
}

/// One assertion, with its scope.
#[derive(Debug)]
pub(crate) struct Assert {
    /// Its type as written (`equal`, `hasDocuments`), for messages.
    pub(crate) label: &'static str,
    /// `not: true` (or an antonym) inverts it.
    pub(crate) not: bool,
    /// The objects it looks at.
    pub(crate) scope: Scope,
    /// What it checks.
    pub(crate) check: Check,
}

/// A path as written and parsed.
#[derive(Debug, Clone)]
pub(crate) struct PathSpec {
    /// As written (`spec.replicas`).
    pub(crate) text: String,
    /// Parsed.
    pub(crate) steps: Vec<Step>,
}

/// What an assertion checks.
#[derive(Debug)]
pub(crate) enum Check {
    /// The value at a path equals this.
    Equal(PathSpec, Value),
    /// The list at a path holds an item equal to (or, with `any`, containing) `content`,
    /// `count` times if given.
    Contains {
        /// The list.
        path: PathSpec,
        /// The item.
        content: Value,
        /// How many times.
        count: Option<usize>,
        /// Items need only contain `content`.
        any: bool,
    },
    /// The path exists.
    Exists(PathSpec),
    /// The value at the path is null, absent, `""`, `0`, `false`, `[]` or `{}`.
    NullOrEmpty(PathSpec),
    /// The kind is this.
    Kind(String),
    /// The apiVersion is this.
    ApiVersion(String),
    /// This many objects (of this kind) are in scope.
    HasDocuments(usize, Option<String>),
    /// An object of this kind (apiVersion, name) is in scope.
    ContainsDocument(String, Option<String>, Option<String>),
    /// The string at the path matches.
    MatchRegex(PathSpec, regex::Regex),
    /// The list (or map) at the path has this many items.
    LengthEqual(PathSpec, usize),
    /// The object at the path contains `content`.
    Subset(PathSpec, Value),
    /// The objects (or the value at the path) match the stored snapshot.
    Snapshot(Option<PathSpec>),
    /// Rendering fails (values schema, template, output or policy), with this message.
    Failed {
        /// A part of the message.
        message: Option<String>,
        /// A pattern the message matches.
        pattern: Option<regex::Regex>,
    },
}

/// Reads and checks the test file `file`; an error names the file and, where known, the line.
pub(crate) fn load(file: &Path) -> Result<Suite, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let raw: SuiteFile = serde_yaml::from_str(&text).map_err(|e| {
        crate::config::describe_yaml_error(&e).replace("unknown field", "unknown key")
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let suite_values = layers(base, &raw.values, &raw.set)?;
    let mut tests = Vec::new();
    for (i, t) in raw.tests.into_iter().enumerate() {
        let at = |e: String| format!("tests[{i}] ({:?}): {e}", t.it);
        let mut spec = Value::Object(Map::new());
        let mut resource = None;
        match &t.resource {
            None => {}
            Some(ResourceFile::Inline(r)) => resource = Some(r.clone()),
            Some(ResourceFile::File(f)) => {
                let path = base.join(f);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| at(format!("resource {}: cannot read: {e}", path.display())))?;
                let r: Map<String, Value> = serde_yaml::from_str(&text).map_err(|e| {
                    at(format!(
                        "resource {}: {}",
                        path.display(),
                        crate::config::describe_yaml_error(&e)
                    ))
                })?;
                resource = Some(r);
            }
        }
        for layer in &suite_values {
            spec = crate::chart::merge_values(&spec, layer, &Value::Object(Map::new()));
        }
        if let Some(s) = resource.as_mut().and_then(|r| r.remove("spec")) {
            spec = crate::chart::merge_values(&spec, &s, &Value::Object(Map::new()));
        }
        for layer in layers(base, &t.values, &t.set).map_err(at)? {
            spec = crate::chart::merge_values(&spec, &layer, &Value::Object(Map::new()));
        }
        let mut release = raw.release.clone().unwrap_or_default();
        if let Some(r) = &t.release {
            release.name = r.name.clone().or(release.name);
            release.namespace = r.namespace.clone().or(release.namespace);
        }
        let mut test_templates = t.templates.clone();
        test_templates.extend(t.template.clone());
        let scope = Scope {
            templates: if test_templates.is_empty() {
                raw.templates.iter().map(|n| template_name(n)).collect()
            } else {
                test_templates.iter().map(|n| template_name(n)).collect()
            },
            document_index: t.document_index,
            selector: t
                .document_selector
                .clone()
                .map(selector)
                .transpose()
                .map_err(at)?,
        };
        let mut asserts = Vec::new();
        for (j, a) in t.asserts.into_iter().enumerate() {
            asserts.push(assertion(a, &scope).map_err(|e| at(format!("asserts[{j}]: {e}")))?);
        }
        if asserts.is_empty() {
            return Err(at("no asserts".to_string()));
        }
        tests.push(Test {
            name: t.it,
            spec,
            resource,
            release,
            asserts,
        });
    }
    let name = raw.suite.unwrap_or_else(|| {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(Suite { name, tests })
}

/// Values files (relative to the test file) in order, then the `set` keys as one layer.
fn layers(base: &Path, files: &[String], set: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for f in files {
        let path = base.join(f);
        out.push(crate::chart::load_values(&path).map_err(|e| e.to_string())?);
    }
    let mut layer = Value::Object(Map::new());
    for (key, value) in set {
        let one = path::set_value(key, value.clone()).map_err(|e| format!("set {key:?}: {e}"))?;
        layer = crate::chart::merge_values(&layer, &one, &Value::Object(Map::new()));
    }
    out.push(layer);
    Ok(out)
}

/// `deployment.yaml` and `templates/deployment.yaml` both name `templates/deployment.yaml`.
fn template_name(name: &str) -> String {
    let name = name.trim_start_matches("./");
    if name.starts_with("templates/") {
        name.to_string()
    } else {
        format!("templates/{name}")
    }
}

fn parse_path(text: &str) -> Result<PathSpec, String> {
    Ok(PathSpec {
        text: text.to_string(),
        steps: path::parse(text).map_err(|e| format!("path {text:?}: {e}"))?,
    })
}

fn selector(s: SelectorFile) -> Result<Selector, String> {
    let path = match (s.path, s.value) {
        (Some(p), Some(v)) => Some((parse_path(&p)?.steps, p, v)),
        (None, None) => None,
        _ => return Err("documentSelector: `path` and `value` go together".to_string()),
    };
    if path.is_none() && s.kind.is_none() && s.name.is_none() {
        return Err(
            "documentSelector: give `path` and `value`, or `kind` and/or `name`".to_string(),
        );
    }
    Ok(Selector {
        path,
        kind: s.kind,
        name: s.name,
    })
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))
}

fn assertion(a: AssertFile, test_scope: &Scope) -> Result<Assert, String> {
    let mut found: Vec<(&'static str, bool, Check)> = Vec::new();
    let contains = |c: ContainsFile| -> Result<Check, String> {
        Ok(Check::Contains {
            path: parse_path(&c.path)?,
            content: c.content,
            count: c.count,
            any: c.any,
        })
    };
    if let Some(x) = a.equal {
        found.push(("equal", false, Check::Equal(parse_path(&x.path)?, x.value)));
    }
    if let Some(x) = a.not_equal {
        found.push((
            "notEqual",
            true,
            Check::Equal(parse_path(&x.path)?, x.value),
        ));
    }
    if let Some(x) = a.contains {
        found.push(("contains", false, contains(x)?));
    }
    if let Some(x) = a.not_contains {
        found.push(("notContains", true, contains(x)?));
    }
    if let Some(x) = a.exists {
        found.push(("exists", false, Check::Exists(parse_path(&x.path)?)));
    }
    if let Some(x) = a.not_exists {
        found.push(("notExists", true, Check::Exists(parse_path(&x.path)?)));
    }
    if let Some(x) = a.is_null_or_empty {
        found.push((
            "isNullOrEmpty",
            false,
            Check::NullOrEmpty(parse_path(&x.path)?),
        ));
    }
    if let Some(x) = a.is_not_null_or_empty {
        found.push((
            "isNotNullOrEmpty",
            true,
            Check::NullOrEmpty(parse_path(&x.path)?),
        ));
    }
    if let Some(x) = a.is_kind {
        found.push(("isKind", false, Check::Kind(x.of)));
    }
    if let Some(x) = a.is_api_version {
        found.push(("isAPIVersion", false, Check::ApiVersion(x.of)));
    }
    if let Some(x) = a.has_documents {
        found.push(("hasDocuments", false, Check::HasDocuments(x.count, x.kind)));
    }
    if let Some(x) = a.contains_document {
        found.push((
            "containsDocument",
            false,
            Check::ContainsDocument(x.kind, x.api_version, x.name),
        ));
    }
    if let Some(x) = a.match_regex {
        found.push((
            "matchRegex",
            false,
            Check::MatchRegex(parse_path(&x.path)?, regex(&x.pattern)?),
        ));
    }
    if let Some(x) = a.not_match_regex {
        found.push((
            "notMatchRegex",
            true,
            Check::MatchRegex(parse_path(&x.path)?, regex(&x.pattern)?),
        ));
    }
    if let Some(x) = a.length_equal {
        found.push((
            "lengthEqual",
            false,
            Check::LengthEqual(parse_path(&x.path)?, x.count),
        ));
    }
    if let Some(x) = a.is_subset {
        found.push((
            "isSubset",
            false,
            Check::Subset(parse_path(&x.path)?, x.content),
        ));
    }
    if let Some(x) = a.match_snapshot {
        found.push((
            "matchSnapshot",
            false,
            Check::Snapshot(x.path.as_deref().map(parse_path).transpose()?),
        ));
    }
    if let Some(x) = a.failed_template {
        found.push((
            "failedTemplate",
            false,
            Check::Failed {
                message: x.error_message,
                pattern: x.error_pattern.as_deref().map(regex).transpose()?,
            },
        ));
    }
    if a.not_failed_template.is_some() {
        found.push((
            "notFailedTemplate",
            true,
            Check::Failed {
                message: None,
                pattern: None,
            },
        ));
    }
    if found.len() != 1 {
        let names: Vec<&str> = found.iter().map(|f| f.0).collect();
        return Err(if names.is_empty() {
            "no assertion type (equal, contains, hasDocuments, matchSnapshot, failedTemplate, …)"
                .to_string()
        } else {
            format!("one assertion type per item, found {}", names.join(", "))
        });
    }
    let (label, antonym, check) = found.remove(0);
    let mut scope = test_scope.clone();
    if let Some(t) = a.template {
        scope.templates = vec![template_name(&t)];
    }
    if a.document_index.is_some() {
        scope.document_index = a.document_index;
    }
    if let Some(s) = a.document_selector {
        scope.selector = Some(selector(s)?);
    }
    Ok(Assert {
        label,
        not: a.not != antonym,
        scope,
        check,
    })
}
