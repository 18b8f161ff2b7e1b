//! operator-sdk's `overrideValues`: Helm `--set` paths whose string values expand `$ENV`, laid over every spec.
//!
//! operator-sdk's helm-operator reads each `key: value` of `overrideValues` as a string, expands
//! environment variables in the value with Go's `os.ExpandEnv` (`$NAME`, `${NAME}`; an unset
//! variable becomes the empty string), runs the result through Go's `text/template`, and sets
//! it with Helm's `strvals.ParseIntoString("key=value")`: the key is a `--set` path (`a.b`,
//! escaped dots `a\.b`, list indexes `a[0]`) and the value stays a string (`{x,y}` is a list of
//! strings; `,` separates assignments unless escaped as `\,`). The same here, with three
//! differences, each an error where operator-sdk would do something else silently or fail
//! obscurely: a Go template (`{{ … }}`) in a value is refused (tera-operator has no Go template
//! engine); two keys that set the same value, or one inside the other, are refused (operator-sdk
//! applies them in Go's random map order); and a value that is not a string (a number, a
//! boolean, a list or a mapping, which operator-sdk cannot load) is set at its path as it is.

use serde_json::{Map, Value};

/// Where an override came from: the key as written and its line in the mapping file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OverrideSource {
    /// JSON pointer (into the values) of what the key sets, e.g. `/image/repository`.
    pub(crate) pointer: String,
    /// The key as written, e.g. `image.repository`.
    pub(crate) key: String,
    /// 1-based line of the key in the mapping file.
    pub(crate) line: usize,
}

/// One `overrideValues` key as written: its text, its value and its line.
pub(crate) struct Written<'a> {
    /// The key.
    pub(crate) key: &'a str,
    /// The value as YAML.
    pub(crate) value: &'a serde_yaml::Value,
    /// 1-based line of the key.
    pub(crate) line: usize,
}

/// Builds the override values from the keys of one entry, in file order, with `env` looking up
/// environment variables. Returns the values and where each leaf came from; an error names the
/// key (and is given the key's line by the caller).
pub(crate) fn build(
    written: &[Written<'_>],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, Vec<OverrideSource>), (usize, String)> {
    let mut values = Map::new();
    let mut sources: Vec<OverrideSource> = Vec::new();
    for item in written {
        let fail = |reason: String| {
            (
                item.line,
                format!("overrideValues: {:?}: {reason}", item.key),
            )
        };
        let mut one = Map::new();
        match item.value {
            serde_yaml::Value::String(_) | serde_yaml::Value::Null => {
                // A YAML null is read by operator-sdk into map[string]string as "".
                let text = item.value.as_str().unwrap_or_default();
                let expanded = expand_env(text, env);
                if expanded.contains("{{") {
                    return Err(fail(format!(
                        "{expanded:?} is a Go template; tera-operator does not run Go templates in overrideValues (operator-sdk does, with sprig): write the value itself, or `$NAME` of an environment variable holding it"
                    )));
                }
                parse_set(&format!("{}={expanded}", item.key), &mut one).map_err(|reason| {
                    fail(format!(
                        "{reason} (a key is a Helm --set path such as image.repository, tags[0] or a\\.b; in a value, `,` separates assignments: write `\\,` for a comma)"
                    ))
                })?;
            }
            serde_yaml::Value::Tagged(_) => {
                return Err(fail("a YAML tag is not a value".to_string()));
            }
            other => {
                let value = serde_json::to_value(other)
                    .map_err(|e| fail(format!("not a JSON value: {e}")))?;
                // The path as for a string, then the value itself in place of the placeholder.
                parse_set(&format!("{}=", item.key), &mut one)
                    .map_err(|reason| fail(reason.to_string()))?;
                let mut leaves = Vec::new();
                leaf_pointers(&Value::Object(one.clone()), &mut String::new(), &mut leaves);
                if leaves.len() != 1 {
                    return Err(fail(format!(
                        "a key with a {} value must name one path",
                        kind_of(&value)
                    )));
                }
                replace_leaf(&mut one, value);
            }
        }
        let mut leaves = Vec::new();
        leaf_pointers(&Value::Object(one.clone()), &mut String::new(), &mut leaves);
        if leaves.is_empty() {
            return Err(fail("sets nothing".to_string()));
        }
        if let Some(at) = clash(&values, &one, "") {
            let first = sources
                .iter()
                .find(|s| overlaps(&s.pointer, &at))
                .map(|s| format!(" by key {:?} (line {})", s.key, s.line))
                .unwrap_or_default();
            return Err(fail(format!("sets {at}, which is already set{first}")));
        }
        merge_into(&mut values, one);
        sources.extend(leaves.into_iter().map(|pointer| OverrideSource {
            pointer,
            key: item.key.to_string(),
            line: item.line,
        }));
    }
    Ok((Value::Object(values), sources))
}

/// Where `from` would set something `into` already has (both set it, or one sets a mapping or
/// list where the other sets something else), as a JSON pointer.
fn clash(into: &Map<String, Value>, from: &Map<String, Value>, pointer: &str) -> Option<String> {
    for (key, new) in from {
        let Some(old) = into.get(key) else {
            continue;
        };
        let here = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        if let Some(at) = clash_value(old, new, &here) {
            return Some(at);
        }
    }
    None
}

fn clash_value(old: &Value, new: &Value, pointer: &str) -> Option<String> {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) if !old.is_empty() && !new.is_empty() => {
            clash(old, new, pointer)
        }
        (Value::Array(old), Value::Array(new)) => old
            .iter()
            .zip(new)
            .enumerate()
            .filter(|(_, (o, n))| !o.is_null() && !n.is_null())
            .find_map(|(i, (o, n))| clash_value(o, n, &format!("{pointer}/{i}"))),
        _ => Some(pointer.to_string()),
    }
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

/// Whether one pointer is the other or inside it.
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner == outer
            || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
    };
    inside(a, b) || inside(b, a)
}

/// The JSON pointers of the values set: every scalar and empty container; mappings and lists
/// are walked (`null` holes of `[i]` indexes are skipped).
fn leaf_pointers(value: &Value, pointer: &mut String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !pointer.is_empty() && map.is_empty() => out.push(pointer.clone()),
        Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                leaf_pointers(item, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if item.is_null() {
                    continue;
                }
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                leaf_pointers(item, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => out.push(pointer.clone()),
    }
}

/// Replaces the single leaf `parse_set("key=")` made (an empty string) with `value`.
fn replace_leaf(map: &mut Map<String, Value>, value: Value) {
    fn walk(node: &mut Value, value: &mut Option<Value>) {
        match node {
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, value)),
            Value::Array(items) => items
                .iter_mut()
                .filter(|v| !v.is_null())
                .for_each(|v| walk(v, value)),
            leaf => {
                if let Some(v) = value.take() {
                    *leaf = v;
                }
            }
        }
    }
    let mut value = Some(value);
    map.values_mut().for_each(|v| walk(v, &mut value));
}

/// Deep-merges `from` into `into`: mappings key by key, lists index by index (a `null` hole
/// keeps what is there), anything else replaced. Keys never overlap here ([`build`] checks).
fn merge_into(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => merge_into(old, new),
            (Some(Value::Array(old)), Value::Array(new)) => {
                for (i, item) in new.into_iter().enumerate() {
                    match old.get_mut(i) {
                        Some(slot) if item.is_null() => {
                            let _ = slot;
                        }
                        Some(Value::Object(slot)) if item.is_object() => {
                            if let Value::Object(item) = item {
                                merge_into(slot, item);
                            }
                        }
                        Some(slot) => *slot = item,
                        None => old.push(item),
                    }
                }
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Go's `os.Expand` with `env` as the mapping (`os.ExpandEnv` when `env` reads the process
/// environment): `$NAME` (letters, digits, `_`), `${NAME}`, and the one-character shell names
/// (`$1`, `$*`, `${#}`…) expand to the variable's value, or nothing when unset; a `$` followed
/// by nothing nameable stays; a bad `${` or `${}` is dropped.
pub(crate) fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&text[start..j]);
            let (name, width) = shell_name(&text[j + 1..]);
            match name {
                Some(name) => out.push_str(&env(name).unwrap_or_default()),
                None if width > 0 => {}
                None => out.push('$'),
            }
            j += width;
            start = j + 1;
        }
        j += 1;
    }
    out.push_str(&text[start.min(text.len())..]);
    out
}

fn is_shell_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `getShellName`: the name at the start of `s` and how many bytes it takes.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let bytes = s.as_bytes();
    if bytes[0] == b'{' {
        if bytes.len() > 2 && is_shell_special(bytes[1]) && bytes[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match bytes.iter().skip(1).position(|&b| b == b'}') {
            Some(0) => (None, 2),
            Some(i) => (Some(&s[1..=i]), i + 2),
            None => (None, 1),
        };
    }
    if is_shell_special(bytes[0]) {
        return (Some(&s[0..1]), 1);
    }
    let len = bytes
        .iter()
        .take_while(|&&b| b == b'_' || b.is_ascii_alphanumeric())
        .count();
    ((len > 0).then(|| &s[..len]), len)
}

/// The most levels a key may nest, as in Helm (`MaxNestedNameLevel`).
const MAX_NESTED_NAME_LEVEL: usize = 30;
/// The largest list index, as in Helm (`MaxIndex`).
const MAX_INDEX: usize = 65536;

/// Helm's `strvals.ParseIntoString`: parses `line` (`name=value[,name=value…]`) into `data`,
/// every value a string (or a list of strings for `{a,b}`).
pub(crate) fn parse_set(line: &str, data: &mut Map<String, Value>) -> Result<(), String> {
    let mut parser = SetParser {
        chars: line.chars().collect(),
        at: 0,
    };
    loop {
        match parser.key(data, 0) {
            Ok(()) => {}
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Error(message)) => return Err(message),
        }
    }
}

enum Stop {
    Eof,
    Error(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Error(message)
    }
}

struct SetParser {
    chars: Vec<char>,
    at: usize,
}

impl SetParser {
    /// Helm's `runesUntil`: the text up to one of `stop` (consumed, returned), `\` escaping the
    /// next character; `None` as the stop at the end of the input.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut text = String::new();
        while let Some(&c) = self.chars.get(self.at) {
            self.at += 1;
            if stop.contains(&c) {
                return (text, Some(c));
            }
            if c == '\\' {
                match self.chars.get(self.at) {
                    Some(&next) => {
                        self.at += 1;
                        text.push(next);
                    }
                    None => return (text, None),
                }
            } else {
                text.push(c);
            }
        }
        (text, None)
    }

    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), Stop> {
        let (key, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if key.is_empty() => Err(Stop::Eof),
            None => Err(format!("key {key:?} has no value").into()),
            Some('[') => {
                let index = self.index()?;
                let mut list = match data.get(&key) {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items.clone(),
                    Some(_) => {
                        return Err(format!("{key:?} is set both as a list and not as one").into());
                    }
                };
                let result = self.list_item(&mut list, index, level);
                set(data, &key, Value::Array(list));
                result
            }
            Some('=') => {
                if self.at >= self.chars.len() {
                    set(data, &key, Value::String(String::new()));
                    return Err(Stop::Eof);
                }
                let value = match self.value_list()? {
                    Some(items) => Value::Array(items),
                    None => Value::String(self.until(&[',']).0),
                };
                set(data, &key, value);
                Ok(())
            }
            Some(',') => Err(format!("key {key:?} has no value (cannot end with ,)").into()),
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )
                    .into());
                }
                let mut inner = match data.get(&key) {
                    None => Map::new(),
                    Some(Value::Object(map)) => map.clone(),
                    Some(_) => {
                        return Err(
                            format!("{key:?} is set both as a mapping and not as one").into()
                        );
                    }
                };
                let result = self.key(&mut inner, level);
                if result.is_ok() && inner.is_empty() {
                    return Err(format!("key map {key:?} has no value").into());
                }
                if !inner.is_empty() {
                    set(data, &key, Value::Object(inner));
                }
                result
            }
        }
    }

    fn index(&mut self) -> Result<usize, Stop> {
        let (text, last) = self.until(&[']']);
        if last.is_none() {
            return Err(format!("error parsing index: {text:?} has no closing ]").into());
        }
        let index: i64 = text
            .parse()
            .map_err(|_| format!("error parsing index: {text:?} is not a number"))?;
        if index < 0 {
            return Err(format!("negative {index} index not allowed").into());
        }
        let index = index as usize;
        if index > MAX_INDEX {
            return Err(format!(
                "index of {index} is greater than maximum supported index of {MAX_INDEX}"
            )
            .into());
        }
        Ok(index)
    }

    fn list_item(&mut self, list: &mut Vec<Value>, index: usize, level: usize) -> Result<(), Stop> {
        let (text, last) = self.until(&['[', '.', '=']);
        if !text.is_empty() {
            return Err(format!("unexpected data at end of array index: {text:?}").into());
        }
        if last.is_none() {
            return Err(Stop::Eof);
        }
        if list.len() <= index {
            list.resize(index + 1, Value::Null);
        }
        match last {
            None => Err(Stop::Eof),
            Some('=') => {
                list[index] = match self.value_list()? {
                    Some(items) => Value::Array(items),
                    None => Value::String(self.until(&[',']).0),
                };
                Ok(())
            }
            Some('[') => {
                let next = self.index()?;
                let mut inner = match &list[index] {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items.clone(),
                    _ => {
                        return Err("a list item is set both as a list and not as one"
                            .to_string()
                            .into());
                    }
                };
                self.list_item(&mut inner, next, level)?;
                list[index] = Value::Array(inner);
                Ok(())
            }
            Some(_) => {
                let mut inner = match &list[index] {
                    Value::Object(map) => map.clone(),
                    _ => Map::new(),
                };
                self.key(&mut inner, level)?;
                list[index] = Value::Object(inner);
                Ok(())
            }
        }
    }

    /// Helm's `valList`: a `{a,b}` list of strings, or `None` when the value is not one.
    fn value_list(&mut self) -> Result<Option<Vec<Value>>, Stop> {
        match self.chars.get(self.at) {
            None => Ok(None),
            Some('{') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    let (text, last) = self.until(&[',', '}']);
                    match last {
                        None => return Err("list must terminate with '}'".to_string().into()),
                        Some('}') => {
                            if self.chars.get(self.at) == Some(&',') {
                                self.at += 1;
                            }
                            items.push(Value::String(text));
                            return Ok(Some(items));
                        }
                        Some(_) => items.push(Value::String(text)),
                    }
                }
            }
            Some(_) => Ok(None),
        }
    }
}

/// Helm's `set`: an empty key sets nothing.
fn set(data: &mut Map<String, Value>, key: &str, value: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests;
