//! Helper filters Helm users reach for: to_yaml, to_json, nindent, quote, b64encode, sha256,
//! required, trunc, dns_label. None of them can read files, the environment or the network.

use base64::Engine as _;
use sha2::Digest as _;
use tera::{Kwargs, State, StringInput, Tera, TeraResult, Value};

use super::yaml_text;

/// Registers the helper filters on `tera` and disables `safe`, which would let values
/// through unescaped.
pub(crate) fn register(tera: &mut Tera) {
    tera.register_filter("to_yaml", to_yaml);
    tera.register_filter("to_json", to_json);
    tera.register_filter("nindent", nindent);
    tera.register_filter("indent", indent);
    tera.register_filter("quote", quote);
    tera.register_filter("b64encode", b64encode);
    tera.register_filter("b64decode", b64decode);
    tera.register_filter("sha256", sha256);
    tera.register_filter("required", required);
    tera.register_filter("trunc", trunc);
    tera.register_filter("dns_label", dns_label);
    tera.register_filter("safe", refuse_safe);
    super::helm_filters::register(tera);
}

fn to_json_value(value: &Value) -> TeraResult<serde_json::Value> {
    if value.is_undefined() {
        return Err(tera::Error::message("the value is undefined"));
    }
    serde_json::to_value(value).map_err(|e| tera::Error::message(format!("not serializable: {e}")))
}

/// `{{ values.labels | to_yaml }}`: the value as block YAML (no trailing newline), every string
/// double-quoted on one line (see [`yaml_text`]), so the output is structure only where the
/// value itself is a map or a list, and only at the place the template puts it.
fn to_yaml(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    let json = to_json_value(&value)?;
    Ok(Value::safe_string(&yaml_text::marked(&yaml_text::block(
        &json,
    ))))
}

/// `{{ values.ports | to_json }}`: compact JSON, which is also valid flow-style YAML.
fn to_json(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let json = to_json_value(&value)?;
    let pretty = kwargs.get::<bool>("pretty")?.unwrap_or(false);
    Ok(Value::safe_string(&yaml_text::marked(&yaml_text::json(
        &json, pretty,
    ))))
}

/// `{{ x | nindent(width=4) }}`: a newline, then every line indented (Helm's nindent).
fn nindent(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let width = kwargs.get::<usize>("width")?.unwrap_or(4).min(256);
    let pad = " ".repeat(width);
    let text = yaml_text::unmarked(value.as_str());
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Ok(value.inherit_safety(out))
}

/// `{{ x | indent(width=4, first=false, blank=false) }}`: every line indented but the first
/// (unless `first`), blank lines only with `blank` (Tera's `indent`, reading `to_yaml` output
/// as the text it stands for).
fn indent(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let width = kwargs.get::<usize>("width")?.unwrap_or(4).min(256);
    let first = kwargs.get::<bool>("first")?.unwrap_or(false);
    let blank = kwargs.get::<bool>("blank")?.unwrap_or(false);
    let pad = " ".repeat(width);
    let text = yaml_text::unmarked(value.as_str());
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if (i > 0 || first) && (blank || !line.trim().is_empty()) {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Ok(value.inherit_safety(out))
}

/// `{{ x | quote }}`: a double-quoted YAML string, whatever `x` holds (see [`yaml_text::quoted`]).
fn quote(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    let text = match value.as_str() {
        Some(s) => yaml_text::unmarked(s).into_owned(),
        None => to_json_value(&value)?.to_string(),
    };
    Ok(Value::safe_string(&yaml_text::quoted(&text)))
}

fn b64encode(value: StringInput, _: Kwargs, _: &State) -> Value {
    let text = yaml_text::unmarked(value.as_str());
    Value::from(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
}

fn b64decode(value: StringInput, _: Kwargs, _: &State) -> TeraResult<Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str())
        .map_err(|e| tera::Error::message(format!("b64decode: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| tera::Error::message("b64decode: the decoded bytes are not UTF-8"))?;
    Ok(Value::from(text))
}

fn sha256(value: StringInput, _: Kwargs, _: &State) -> Value {
    let digest = sha2::Sha256::digest(yaml_text::unmarked(value.as_str()).as_bytes());
    Value::from(hex(&digest))
}

/// `value` as compact JSON, the bytes of its `to_string()`: serialized into a buffer, without
/// the formatting machinery `Display` goes through (which cost most of hashing an object).
pub(crate) fn compact_json(value: &serde_json::Value) -> Vec<u8> {
    // Serializing a JSON value into memory cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// `{{ values.host | required(msg="host is required") }}`: fails the render when the value is
/// undefined, null or an empty string.
fn required(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let missing = value.is_undefined() || value.is_none() || value.as_str() == Some("");
    if missing {
        let msg = kwargs
            .get::<&str>("msg")?
            .unwrap_or("a required value is missing");
        return Err(tera::Error::message(msg));
    }
    Ok(value)
}

/// `{{ x | trunc(length=63) }}`: at most `length` characters. The result is always a value
/// (never YAML text, even when `x` was): cutting `quote` or `to_yaml` output short could leave a
/// quote open.
fn trunc(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let length = kwargs.must_get::<usize>("length")?;
    let text = yaml_text::unmarked(value.as_str());
    Ok(Value::from(text.chars().take(length).collect::<String>()))
}

/// `{{ x | dns_label }}`: lowercase, runs of other characters turned into `-`, trimmed to
/// 63 characters with no leading or trailing `-`: usable as a Kubernetes name.
fn dns_label(value: StringInput, _: Kwargs, _: &State) -> Value {
    let mut out = String::with_capacity(value.as_str().len());
    for c in value.as_str().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(63).collect();
    Value::from(trimmed.trim_end_matches('-'))
}

fn refuse_safe(_: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    Err(tera::Error::message(
        "the `safe` filter is disabled: values are data, never YAML structure; \
         use to_yaml or to_json to emit maps and lists",
    ))
}
