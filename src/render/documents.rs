//! Parsing rendered YAML into objects and putting interpolated strings back as data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use super::engine::{PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN, RenderedTemplate};

/// Rendered text that is not valid YAML, or not a list of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// Template name.
    pub(crate) file: String,
    /// 1-based line in the rendered output, when known.
    pub(crate) line: Option<usize>,
    /// What is wrong, with the offending rendered line when known.
    pub(crate) message: String,
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: rendered line {}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// An object parsed from a template, with the template it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedObject {
    /// Template name.
    pub(crate) file: String,
    /// The object.
    pub(crate) object: Value,
}

/// Parsed skeletons of rendered text, keyed by that text.
///
/// Interpolated strings are placeholders that carry only an index, so every custom resource
/// whose values take the same path through a template renders the same text: its YAML is
/// parsed once, and each render only puts its own strings back.
#[derive(Debug, Default)]
pub(crate) struct SkeletonCache {
    entries: Mutex<Entries>,
    disabled: bool,
}

/// The cached skeletons and what they are charged against [`SKELETON_CACHE_BYTES`].
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Arc<Vec<Value>>>,
    bytes: usize,
}

/// The largest object a template may render: 1.5 MiB, the most etcd stores in one object by
/// default (the API server refuses larger ones anyway, after a round trip).
pub(crate) const MAX_OBJECT_BYTES: usize = 3 << 19;

/// Skeletons kept per chart before the cache starts over.
const SKELETON_CACHE_CAPACITY: usize = 512;
/// Bytes the skeletons of one chart may take before the cache starts over.
pub(crate) const SKELETON_CACHE_BYTES: usize = 32 << 20;

/// What a skeleton costs the cache: its text (the key) and, about as much again, the parsed
/// values.
fn skeleton_cost(text: &str) -> usize {
    text.len().saturating_mul(2)
}

impl SkeletonCache {
    /// A cache that never keeps anything (every render parses its YAML).
    pub(crate) fn disabled() -> Self {
        Self {
            entries: Mutex::default(),
            disabled: true,
        }
    }

    fn get_or_parse(&self, rendered: &RenderedTemplate) -> Result<Arc<Vec<Value>>, DocumentError> {
        if let Some(hit) = self.lock().map.get(&rendered.text) {
            return Ok(hit.clone());
        }
        let mut documents = Vec::new();
        for document in serde_yaml::Deserializer::from_str(&rendered.text) {
            documents.push(Value::deserialize(document).map_err(|e| yaml_error(rendered, &e))?);
        }
        let documents = Arc::new(documents);
        let cost = skeleton_cost(&rendered.text);
        // A skeleton that would take more than an eighth of the cache is parsed every time.
        if self.disabled || cost > SKELETON_CACHE_BYTES / 8 {
            return Ok(documents);
        }
        let mut entries = self.lock();
        if entries.map.len() >= SKELETON_CACHE_CAPACITY
            || entries.bytes.saturating_add(cost) > SKELETON_CACHE_BYTES
        {
            entries.map.clear();
            entries.bytes = 0;
        }
        if entries
            .map
            .insert(rendered.text.clone(), documents.clone())
            .is_none()
        {
            entries.bytes += cost;
        }
        Ok(documents)
    }

    /// How many skeletons are cached and what they cost, for tests.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.map.len(), entries.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map inconsistent; keep using it.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Parses every document of a rendered template; empty documents are skipped.
pub(crate) fn parse_documents(
    rendered: &RenderedTemplate,
    cache: &SkeletonCache,
) -> Result<Vec<ParsedObject>, DocumentError> {
    let skeletons = cache.get_or_parse(rendered)?;
    // Only a template that rendered more than one object may hold can hold one too large.
    let rendered_bytes =
        rendered.text.len() + rendered.interpolated.iter().map(String::len).sum::<usize>();
    let may_be_too_large = rendered_bytes > MAX_OBJECT_BYTES;
    let mut objects = Vec::with_capacity(skeletons.len());
    for (index, skeleton) in skeletons.iter().enumerate() {
        let value = restore(skeleton, &rendered.interpolated).map_err(|message| DocumentError {
            file: rendered.file.clone(),
            line: None,
            message: format!("document {}: {message}", index + 1),
        })?;
        if may_be_too_large {
            let size = serde_json::to_vec(&value).map_or(0, |json| json.len());
            if size > MAX_OBJECT_BYTES {
                return Err(DocumentError {
                    file: rendered.file.clone(),
                    line: None,
                    message: format!(
                        "document {} is {} KiB as JSON, more than the {} KiB Kubernetes stores in one object",
                        index + 1,
                        size >> 10,
                        MAX_OBJECT_BYTES >> 10
                    ),
                });
            }
        }
        match value {
            Value::Null => {}
            Value::Object(_) => objects.push(ParsedObject {
                file: rendered.file.clone(),
                object: value,
            }),
            other => {
                return Err(DocumentError {
                    file: rendered.file.clone(),
                    line: None,
                    message: format!(
                        "document {} is a {}, not a Kubernetes object",
                        index + 1,
                        kind_of(&other)
                    ),
                });
            }
        }
    }
    Ok(objects)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn yaml_error(rendered: &RenderedTemplate, err: &serde_yaml::Error) -> DocumentError {
    let line = err.location().map(|l| l.line());
    let reason = err.to_string();
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(&reason)
        .to_string();
    let message = match line.and_then(|l| rendered.text.lines().nth(l.saturating_sub(1))) {
        Some(text) => format!("{reason}: `{}`", display_line(text, &rendered.interpolated)),
        None => reason,
    };
    DocumentError {
        file: rendered.file.clone(),
        line,
        message,
    }
}

/// The rendered line as the author would read it, placeholders replaced by their values.
fn display_line(text: &str, interpolated: &[String]) -> String {
    substitute(text, interpolated)
        .unwrap_or_else(|_| text.to_string())
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// A copy of `value` with every placeholder in its strings and keys replaced by the original string.
fn restore(value: &Value, interpolated: &[String]) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if has_placeholder(s) => Value::String(substitute(s, interpolated)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| restore(v, interpolated))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, item) in map {
                let key = if has_placeholder(key) {
                    substitute(key, interpolated)?
                } else {
                    key.clone()
                };
                out.insert(key, restore(item, interpolated)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Whether `s` may hold a placeholder: both placeholder characters start with byte 0xEE in
/// UTF-8, so one byte scan rules most strings out.
pub(crate) fn has_placeholder(s: &str) -> bool {
    s.as_bytes().contains(&PLACEHOLDER_LEAD_BYTE)
        && s.contains([PLACEHOLDER_OPEN, PLACEHOLDER_CLOSE])
}

/// The first UTF-8 byte of both placeholder characters.
const PLACEHOLDER_LEAD_BYTE: u8 = 0xEE;

/// One pass over `text`: placeholders become their strings; anything else malformed is refused.
pub(super) fn substitute(text: &str, interpolated: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PLACEHOLDER_OPEN.len_utf8()..];
        let end = after
            .find(PLACEHOLDER_CLOSE)
            .ok_or_else(|| "an interpolated value was cut apart by a filter".to_string())?;
        let index: usize = after[..end]
            .parse()
            .map_err(|_| "an interpolated value was altered by a filter".to_string())?;
        let original = interpolated
            .get(index)
            .ok_or_else(|| "an interpolated value was altered by a filter".to_string())?;
        out.push_str(original);
        rest = &after[end + PLACEHOLDER_CLOSE.len_utf8()..];
    }
    if rest.contains(PLACEHOLDER_CLOSE) {
        return Err("an interpolated value was cut apart by a filter".to_string());
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: String) -> RenderedTemplate {
        RenderedTemplate {
            file: "templates/cm.yaml".to_string(),
            text,
            interpolated: Vec::new(),
        }
    }

    #[test]
    fn the_skeleton_cache_is_bounded_by_bytes_as_well_as_count() {
        let cache = SkeletonCache::default();
        // 64 distinct texts of 1 MiB: well under the count, 128 MiB of cost.
        for i in 0..64 {
            let text = format!("a: {i}\nb: \"{}\"\n", "x".repeat(1 << 20));
            parse_documents(&template(text), &cache).unwrap();
            let (_, bytes) = cache.usage();
            assert!(bytes <= SKELETON_CACHE_BYTES, "{bytes} bytes after {i}");
        }
        let (count, _) = cache.usage();
        assert!(count < 64, "{count} skeletons kept");
        // Too large to be worth a place: parsed, never kept.
        let document = format!("---\na: \"{}\"\n", "x".repeat(1 << 10));
        let copies = SKELETON_CACHE_BYTES / 16 / document.len() + 1;
        let huge = template(document.repeat(copies));
        let before = cache.usage();
        assert_eq!(parse_documents(&huge, &cache).unwrap().len(), copies);
        assert_eq!(cache.usage(), before);
    }
}
