//! Parsing rendered YAML into objects and putting interpolated strings back as data.

use serde::Deserialize;
use serde_json::Value;

use super::engine::{PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN, RenderedTemplate};

/// Rendered text that is not valid YAML, or not a list of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// Template name.
    pub file: String,
    /// 1-based line in the rendered output, when known.
    pub line: Option<usize>,
    /// What is wrong, with the offending rendered line when known.
    pub message: String,
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
pub struct ParsedObject {
    /// Template name.
    pub file: String,
    /// The object.
    pub object: Value,
}

/// Parses every document of a rendered template; empty documents are skipped.
pub fn parse_documents(rendered: &RenderedTemplate) -> Result<Vec<ParsedObject>, DocumentError> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(&rendered.text).enumerate() {
        let value = Value::deserialize(document).map_err(|e| yaml_error(rendered, &e))?;
        let value = restore(value, &rendered.interpolated).map_err(|message| DocumentError {
            file: rendered.file.clone(),
            line: None,
            message: format!("document {}: {message}", index + 1),
        })?;
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

/// Replaces every placeholder in every string and key of `value` by its original string.
fn restore(value: Value, interpolated: &[String]) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.contains(PLACEHOLDER_OPEN) || s.contains(PLACEHOLDER_CLOSE) => {
            Value::String(substitute(&s, interpolated)?)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| restore(v, interpolated))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, item) in map {
                let key = if key.contains(PLACEHOLDER_OPEN) || key.contains(PLACEHOLDER_CLOSE) {
                    substitute(&key, interpolated)?
                } else {
                    key
                };
                out.insert(key, restore(item, interpolated)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

/// One pass over `text`: placeholders become their strings; anything else malformed is refused.
fn substitute(text: &str, interpolated: &[String]) -> Result<String, String> {
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
