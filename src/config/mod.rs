//! The mapping file (`watches.yaml`): which custom resource kinds are served by which chart.

mod allowed;
mod overrides;
mod resources;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::Selector;
use serde::Deserialize;

pub use allowed::{AllowedKind, default_allowed_kinds, display_kind, group_of};
pub(crate) use overrides::{OverrideSource, parse_set};
pub use resources::{Document, ReadError, read_documents};

/// Kinds a chart may emit when its mapping entry does not say otherwise.
pub const DEFAULT_ALLOWED_KINDS: [&str; 3] = ["ConfigMap", "Deployment", "Service"];

/// The custom resource annotation with which one resource asks to adopt the objects of the
/// Helm release of its name (`"true"`); honoured only where [`Watch::adopt_helm_releases`]
/// allows it.
pub(crate) const ADOPT_ANNOTATION: &str = "tera-operator.io/adopt";

/// How often an unchanged custom resource is reconciled when the entry does not say.
pub(crate) const DEFAULT_RECONCILE_PERIOD: Duration = Duration::from_secs(600);

/// Errors reading or checking a mapping file; every message names the file and, where it can, the line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: cannot read the mapping file: {source}")]
    ReadFailed {
        /// The mapping file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown or mistyped fields.
    #[error("{path}: {message}")]
    ParseFailed {
        /// The mapping file.
        path: PathBuf,
        /// What serde_yaml reported, with line and column.
        message: String,
    },
    /// An entry is well-formed YAML but its content is wrong.
    #[error("{path}:{line}: {message}")]
    InvalidEntry {
        /// The mapping file.
        path: PathBuf,
        /// The 1-based line of the offending field (or the entry).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry as written in the file (operator-sdk field names, plus `allowedKinds`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEntry {
    group: String,
    version: String,
    kind: String,
    chart: PathBuf,
    #[serde(default)]
    reconcile_period: Option<String>,
    #[serde(default)]
    max_concurrent_reconciles: Option<u16>,
    /// Parsed in [`overrides::build`]: Helm `--set` paths, values with `$ENV` expanded.
    #[serde(default)]
    override_values: Option<serde_yaml::Value>,
    /// Parsed in [`parse_selector`], which also refuses unknown fields.
    #[serde(default)]
    selector: Option<serde_json::Value>,
    #[serde(default)]
    watch_dependent_resources: Option<bool>,
    /// Parsed in [`allowed::parse`]: `Kind`, `Kind.group` or `{kind, group, plural}`.
    #[serde(default)]
    allowed_kinds: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    adopt_helm_releases: Option<bool>,
    /// operator-sdk's Helm dry-run method; accepted, with a warning that it has no effect.
    #[serde(default)]
    dry_run_option: Option<String>,
}

/// One mapped kind: the custom resource it watches and the chart that renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// API group of the custom resource, e.g. `web.tera-operator.io`.
    pub(crate) group: String,
    /// API version of the custom resource, e.g. `v1alpha1`.
    pub(crate) version: String,
    /// Kind of the custom resource, e.g. `WebServer`.
    pub kind: String,
    /// Chart directory, resolved against the mapping file's directory.
    pub chart_dir: PathBuf,
    /// How often an unchanged resource is reconciled again.
    pub(crate) reconcile_period: Duration,
    /// Reconciles of this kind that may run at once.
    pub(crate) max_concurrent_reconciles: u16,
    /// Values laid over every resource's spec (they win over the spec).
    pub(crate) override_values: serde_json::Value,
    /// Where each value of [`Watch::override_values`] was set (key and line), for messages.
    pub(crate) override_sources: Vec<OverrideSource>,
    /// Only resources matching this label selector are reconciled.
    pub(crate) selector: Option<Selector>,
    /// Whether rendered children are watched for drift.
    pub(crate) watch_dependent_resources: bool,
    /// Kinds the chart may emit, each with its API group.
    pub(crate) allowed_kinds: Vec<AllowedKind>,
    /// Whether resources of this kind may take over the objects of the Helm release of their
    /// name (those that ask, with the [`ADOPT_ANNOTATION`]); without it none does.
    pub(crate) adopt_helm_releases: bool,
    /// 1-based line of the entry in the mapping file.
    pub(crate) line: usize,
    /// The mapping file the entry was read from.
    pub(crate) mapping_file: PathBuf,
}

impl Watch {
    /// `group/version`, the custom resource's apiVersion.
    pub(crate) fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// For each value overrideValues sets: its JSON pointer in the values, and where it was set,
    /// as `FILE:LINE: overrideValues "KEY"` (FILE is the entry's chart's mapping file).
    pub(crate) fn describe_overrides(&self) -> Vec<(String, String)> {
        self.override_sources
            .iter()
            .map(|s| {
                (
                    s.pointer.clone(),
                    format!(
                        "{}:{}: overrideValues {:?}",
                        self.mapping_file.display(),
                        s.line,
                        s.key
                    ),
                )
            })
            .collect()
    }

    /// Whether this entry serves objects with the given apiVersion and kind.
    pub(crate) fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.kind == kind && api_version == self.api_version()
    }
}

/// A parsed and checked mapping file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Where the mapping was read from.
    pub path: PathBuf,
    /// The entries, in file order.
    pub(crate) watches: Vec<Watch>,
    /// What was accepted but has no effect (`file:line: …`), logged when the file is loaded.
    pub(crate) warnings: Vec<String>,
}

impl Mapping {
    /// Reads and checks a mapping file; chart paths resolve relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFailed {
            path: path.to_path_buf(),
            source,
        })?;
        let mapping = Self::parse(path, &text)?;
        for warning in &mapping.warnings {
            tracing::warn!("{warning}");
        }
        Ok(mapping)
    }

    /// Parses mapping text as if read from `path` (used for error messages and chart
    /// resolution), expanding `$NAME` in overrideValues from the process environment.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self> {
        Self::parse_with_env(path, text, &|name| std::env::var(name).ok())
    }

    /// [`Mapping::parse`] with `env` looking up environment variables.
    pub(crate) fn parse_with_env(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let raw: Vec<RawEntry> = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_yaml::from_str(text).map_err(|e| Error::ParseFailed {
                path: path.to_path_buf(),
                message: describe_yaml_error(&e),
            })?
        };
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let lines = EntryLines::scan(text);
        let mut watches: Vec<Watch> = Vec::with_capacity(raw.len());
        let mut written_kinds = Vec::with_capacity(raw.len());
        let mut warnings = Vec::new();
        for (index, entry) in raw.into_iter().enumerate() {
            let line = lines.entry_line(index);
            let invalid = |field: &str, message: String| Error::InvalidEntry {
                path: path.to_path_buf(),
                line: lines.field_line(index, field).unwrap_or(line),
                message,
            };
            if let Some(option) = &entry.dry_run_option {
                warnings.push(format!(
                    "{}:{}: dryRunOption {option:?} has no effect: tera-operator renders without Helm and compares each rendered object with the live one (its templates cannot call lookup), so there is no Helm dry run to choose",
                    path.display(),
                    lines.field_line(index, "dryRunOption").unwrap_or(line),
                ));
            }
            let key_line = |key: &str| {
                lines
                    .key_line(text, index, "overrideValues", key)
                    .or_else(|| lines.field_line(index, "overrideValues"))
                    .unwrap_or(line)
            };
            let (watch, written) = build_watch(entry, base, line, &invalid, &key_line, env)
                .map_err(|e| match e {
                    BuildError::Entry(e) => e,
                    BuildError::AtLine(line, message) => Error::InvalidEntry {
                        path: path.to_path_buf(),
                        line,
                        message,
                    },
                })?;
            let mut watch = watch;
            watch.mapping_file = path.to_path_buf();
            written_kinds.push(written);
            if let Some(first) = watches
                .iter()
                .find(|w| w.kind == watch.kind && w.group == watch.group)
            {
                return Err(invalid(
                    "kind",
                    format!(
                        "duplicate kind {} in group {} (first mapped at line {})",
                        watch.kind, watch.group, first.line
                    ),
                ));
            }
            watches.push(watch);
        }
        // Bare kinds may name a kind another entry serves, so they resolve once all are read.
        let mapped: Vec<(String, String)> = watches
            .iter()
            .map(|w| (w.kind.clone(), w.group.clone()))
            .collect();
        let mapped: Vec<(&str, &str)> = mapped
            .iter()
            .map(|(k, g)| (k.as_str(), g.as_str()))
            .collect();
        for (index, (watch, written)) in watches.iter_mut().zip(written_kinds).enumerate() {
            let Some(written) = written else {
                continue;
            };
            let mut resolved: Vec<AllowedKind> = Vec::with_capacity(written.len());
            for item in written {
                let line = lines
                    .item_line(text, index, "allowedKinds", &item.text)
                    .unwrap_or(watch.line);
                let invalid = |message: String| Error::InvalidEntry {
                    path: path.to_path_buf(),
                    line,
                    message,
                };
                let kind = allowed::resolve(item, &mapped).map_err(invalid)?;
                match resolved
                    .iter()
                    .find(|k| k.kind == kind.kind && k.group == kind.group)
                {
                    Some(first) if first.plural != kind.plural => {
                        return Err(invalid(format!(
                            "allowedKinds lists {kind} twice, with different plurals"
                        )));
                    }
                    Some(_) => {}
                    None => resolved.push(kind),
                }
            }
            watch.allowed_kinds = resolved;
        }
        Ok(Self {
            path: path.to_path_buf(),
            watches,
            warnings,
        })
    }

    /// The entry serving `apiVersion` + `kind`, if any.
    pub fn find(&self, api_version: &str, kind: &str) -> Option<&Watch> {
        self.watches.iter().find(|w| w.matches(api_version, kind))
    }
}

/// Why [`build_watch`] refused an entry: an error naming a field's line, or a line and a message.
enum BuildError {
    Entry(Error),
    AtLine(usize, String),
}

/// The entry as a [`Watch`] (with the default allowed kinds) and, when it lists
/// `allowedKinds`, those entries as written, for [`Mapping::parse`] to resolve. `key_line`
/// gives the line of an overrideValues key, `env` the environment its values expand.
fn build_watch(
    entry: RawEntry,
    base: &Path,
    line: usize,
    invalid: &dyn Fn(&str, String) -> Error,
    key_line: &dyn Fn(&str) -> usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Watch, Option<Vec<allowed::Written>>), BuildError> {
    let invalid = |field: &str, message: String| BuildError::Entry(invalid(field, message));
    for (field, value) in [
        ("group", &entry.group),
        ("version", &entry.version),
        ("kind", &entry.kind),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(field, format!("`{field}` must not be empty")));
        }
    }
    if !k8s_rules::names::is_dns_subdomain(&entry.group) {
        return Err(invalid(
            "group",
            format!("group {:?} is not a valid DNS subdomain", entry.group),
        ));
    }
    if !entry.kind.starts_with(|c: char| c.is_ascii_uppercase())
        || !entry.kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(invalid(
            "kind",
            format!("kind {:?} must be CamelCase letters and digits", entry.kind),
        ));
    }
    let chart_dir = base.join(&entry.chart);
    if !chart_dir.is_dir() {
        return Err(invalid(
            "chart",
            format!("chart directory {} does not exist", chart_dir.display()),
        ));
    }
    let reconcile_period = match entry.reconcile_period.as_deref() {
        None => DEFAULT_RECONCILE_PERIOD,
        Some(text) => parse_duration(text)
            .map_err(|reason| invalid("reconcilePeriod", format!("reconcilePeriod: {reason}")))?,
    };
    let max_concurrent_reconciles = match entry.max_concurrent_reconciles {
        Some(0) => {
            return Err(invalid(
                "maxConcurrentReconciles",
                "maxConcurrentReconciles must be at least 1".to_string(),
            ));
        }
        Some(n) => n,
        None => 1,
    };
    let (override_values, override_sources) = match entry.override_values {
        None | Some(serde_yaml::Value::Null) => {
            (serde_json::Value::Object(Default::default()), Vec::new())
        }
        Some(serde_yaml::Value::Mapping(map)) => {
            let mut written = Vec::with_capacity(map.len());
            for (key, value) in &map {
                let Some(key) = key.as_str() else {
                    return Err(invalid(
                        "overrideValues",
                        format!(
                            "overrideValues: key {} is not a string",
                            serde_yaml::to_string(key).unwrap_or_default().trim_end()
                        ),
                    ));
                };
                written.push(overrides::Written {
                    key,
                    value,
                    line: key_line(key),
                });
            }
            overrides::build(&written, env)
                .map_err(|(line, message)| BuildError::AtLine(line, message))?
        }
        Some(_) => {
            return Err(invalid(
                "overrideValues",
                "overrideValues must be a mapping".to_string(),
            ));
        }
    };
    let selector = entry
        .selector
        .map(parse_selector)
        .transpose()
        .map_err(|reason| invalid("selector", format!("selector: {reason}")))?;
    let written = match entry.allowed_kinds {
        Some(kinds) if kinds.is_empty() => {
            return Err(invalid(
                "allowedKinds",
                "allowedKinds must list at least one kind".to_string(),
            ));
        }
        Some(kinds) => Some(
            kinds
                .iter()
                .map(allowed::parse)
                .collect::<Result<Vec<_>, String>>()
                .map_err(|reason| invalid("allowedKinds", format!("allowedKinds: {reason}")))?,
        ),
        None => None,
    };
    let watch = Watch {
        group: entry.group,
        version: entry.version,
        kind: entry.kind,
        chart_dir,
        reconcile_period,
        max_concurrent_reconciles,
        override_values,
        override_sources,
        selector,
        watch_dependent_resources: entry.watch_dependent_resources.unwrap_or(true),
        allowed_kinds: default_allowed_kinds(),
        adopt_helm_releases: entry.adopt_helm_releases.unwrap_or(false),
        line,
        mapping_file: PathBuf::new(),
    };
    Ok((watch, written))
}

/// The longest duration Go's `time.ParseDuration` (and so operator-sdk) accepts: an `int64` of
/// nanoseconds, about 292 years.
const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parses a Go duration as operator-sdk writes them (`90s`, `10m`, `1h30m`, `500ms`;
/// [`kube::core::Duration`] reads them); it must be positive and at most Go's limit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let not_a_duration =
        |why: &str| format!("{text:?} is not a duration like 30s, 10m or 1h30m{why}");
    // kube's parser multiplies each number by its unit and panics where that overflows or a
    // number is negative: let through only digits, points and unit letters after one leading
    // sign, at most 64 characters, and numbers of at most 15 digits before the point (so even
    // four of them in hours stay far from the overflow).
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if text.len() > 64
        || !unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c.is_alphabetic())
    {
        return Err(not_a_duration(""));
    }
    if unsigned
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .any(|number| {
            number
                .split('.')
                .next()
                .is_some_and(|whole| whole.len() > 15)
        })
    {
        return Err(format!("{text:?} has a number of more than 15 digits"));
    }
    let parsed: kube::core::Duration = text
        .parse()
        .map_err(|e: kube::core::duration::ParseError| not_a_duration(&format!(" ({e})")))?;
    if parsed.is_negative() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    let duration = Duration::from(parsed);
    if duration.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    if duration > MAX_DURATION {
        return Err(format!(
            "{text:?} is longer than Go's limit of 2562047h47m16.854775807s"
        ));
    }
    Ok(duration)
}

/// Parses a label selector (`matchLabels`, `matchExpressions`) with k8s-openapi's
/// [`LabelSelector`], refusing unknown fields, operators Kubernetes does not know and value
/// lists that do not fit their operator, into a [`Selector`] that matches labels and prints
/// the API's query-string form.
fn parse_selector(value: serde_json::Value) -> Result<Selector, String> {
    let unknown = |object: &serde_json::Value, known: &[&str]| {
        object.as_object().and_then(|fields| {
            fields
                .keys()
                .find(|k| !known.contains(&k.as_str()))
                .map(|k| {
                    let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                    format!("unknown field `{k}`, expected {}", expected.join(" or "))
                })
        })
    };
    if let Some(message) = unknown(&value, &["matchLabels", "matchExpressions"]) {
        return Err(message);
    }
    let expressions = value.get("matchExpressions").and_then(|e| e.as_array());
    for requirement in expressions.into_iter().flatten() {
        if let Some(message) = unknown(requirement, &["key", "operator", "values"]) {
            return Err(format!("matchExpressions: {message}"));
        }
    }
    let selector: LabelSelector = serde_json::from_value(value).map_err(|e| e.to_string())?;
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "{} on {:?} needs at least one value",
                    req.operator, req.key
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!("{} on {:?} takes no values", req.operator, req.key));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(format!(
                    "unknown operator {other:?} (expected In, NotIn, Exists or DoesNotExist)"
                ));
            }
        }
    }
    Selector::try_from(selector).map_err(|e| e.to_string())
}

/// Renders a serde_yaml error as "line L column C: reason".
pub fn describe_yaml_error(err: &serde_yaml::Error) -> String {
    let text = err.to_string();
    match err.location() {
        Some(loc) => {
            // serde_yaml appends " at line L column C"; move the location to the front.
            let reason = text.split(" at line ").next().unwrap_or(&text).to_string();
            format!("line {} column {}: {}", loc.line(), loc.column(), reason)
        }
        None => text,
    }
}

/// Where each top-level list entry, and each of its fields, starts in the file text.
struct EntryLines {
    /// For each entry: its first line and `(field, line)` pairs.
    entries: Vec<(usize, Vec<(String, usize)>)>,
}

impl EntryLines {
    fn scan(text: &str) -> Self {
        let mut entries: Vec<(usize, Vec<(String, usize)>)> = Vec::new();
        let mut item_indent: Option<usize> = None;
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let is_item = trimmed.starts_with("- ") || trimmed == "-";
            if is_item && item_indent.is_none_or(|top| indent <= top) {
                item_indent = Some(indent);
                entries.push((number, Vec::new()));
                let rest = trimmed.trim_start_matches('-').trim_start();
                if let Some(field) = field_name(rest)
                    && let Some(entry) = entries.last_mut()
                {
                    entry.1.push((field, number));
                }
                continue;
            }
            if let (Some(top), Some(entry)) = (item_indent, entries.last_mut())
                && indent == top + 2
                && let Some(field) = field_name(trimmed)
            {
                entry.1.push((field, number));
            }
        }
        Self { entries }
    }

    fn entry_line(&self, index: usize) -> usize {
        self.entries.get(index).map_or(1, |e| e.0)
    }

    /// The line of the first item of list `field` of entry `index` that mentions `needle` (the
    /// field's own line for a flow list `[A, B]`).
    fn item_line(&self, text: &str, index: usize, field: &str, needle: &str) -> Option<usize> {
        let start = self.field_line(index, field)?;
        let end = self
            .entries
            .get(index + 1)
            .map_or(usize::MAX, |next| next.0);
        text.lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line))
            .skip(start - 1)
            .take_while(|(number, _)| *number < end)
            .find(|(_, line)| {
                let line = line.split(" #").next().unwrap_or(line);
                line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                    .any(|word| word == needle)
            })
            .map(|(number, _)| number)
    }

    /// The line of key `key` in the mapping `field` of entry `index` (block style: a line that
    /// starts with the key, plain or quoted, and a colon).
    fn key_line(&self, text: &str, index: usize, field: &str, key: &str) -> Option<usize> {
        let start = self.field_line(index, field)?;
        let end = self
            .entries
            .get(index + 1)
            .map_or(usize::MAX, |next| next.0);
        let forms = [
            format!("{key}:"),
            format!("\"{}\":", key.replace('\\', "\\\\").replace('"', "\\\"")),
            format!("'{}':", key.replace('\'', "''")),
        ];
        text.lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line))
            .skip(start)
            .take_while(|(number, _)| *number < end)
            .find(|(_, line)| {
                let line = line.trim_start();
                forms.iter().any(|form| line.starts_with(form.as_str()))
            })
            .map(|(number, _)| number)
    }

    fn field_line(&self, index: usize, field: &str) -> Option<usize> {
        self.entries
            .get(index)?
            .1
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, line)| *line)
    }
}

fn field_name(text: &str) -> Option<String> {
    let (name, _) = text.split_once(':')?;
    let name = name.trim().trim_matches(|c| c == '"' || c == '\'');
    (!name.is_empty() && !name.contains(' ')).then(|| name.to_string())
}

#[cfg(test)]
mod tests;
