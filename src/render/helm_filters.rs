//! Helm-familiar helpers with Helm's (Sprig's) semantics: `if_empty` (Helm's `default`), `empty`,
//! `ternary`, `coalesce`, `dig`, `merge`, `has_key`, `semver_compare`, `regex_replace`,
//! `regex_match`, `squote`, `from_yaml`/`from_json`, `trim_prefix`/`trim_suffix`, `append`,
//! `str_join` (Sprig's `join`), `go_yaml` (Helm's `toYaml` text), `go_print` (Go's printing),
//! and the functions `printf(format=, args=[])` and `fail(msg=)`.
//!
//! Like every filter here they only compute values: strings they return are escaped by the
//! engine when written (see [`super::engine`]), and `squote` writes the same safe double-quoted
//! text as `quote`.

use serde_json::{Map, Value as Json};
use tera::{Kwargs, State, StringInput, Tera, TeraResult, Value};

use super::{printf, semver, yaml_text};

/// Registers the Helm-familiar filters and functions on `tera`.
pub(crate) fn register(tera: &mut Tera) {
    tera.register_filter("if_empty", if_empty);
    tera.register_filter("empty", empty);
    tera.register_filter("ternary", ternary);
    tera.register_filter("coalesce", coalesce);
    tera.register_filter("dig", dig);
    tera.register_filter("merge", merge);
    tera.register_filter("merge_overwrite", merge_overwrite);
    tera.register_filter("has_key", has_key);
    tera.register_filter("semver_compare", semver_compare);
    tera.register_filter("regex_replace", regex_replace);
    tera.register_filter("regex_match", regex_match);
    tera.register_filter("squote", squote);
    tera.register_filter("from_yaml", from_yaml);
    tera.register_filter("from_json", from_json);
    tera.register_filter("trim_prefix", trim_prefix);
    tera.register_filter("trim_suffix", trim_suffix);
    tera.register_filter("append", append);
    tera.register_filter("str_join", str_join);
    tera.register_filter("go_yaml", go_yaml);
    tera.register_filter("go_print", go_print);
    tera.register_filter("sort_keys", sort_keys);
    tera.register_filter("range_pairs", range_pairs);
    tera.register_filter("omit", omit);
    tera.register_filter("pick", pick);
    tera.register_filter("concat", concat);
    tera.register_filter("untemplated", untemplated);
    tera.register_filter("tpl", super::tpl::tpl);
    tera.register_filter("htpasswd", super::htpasswd::htpasswd);
    tera.register_filter("resolved", resolved);
    tera.register_function("printf", printf_fn);
    tera.register_function("fail", fail);
}

fn json(value: &Value) -> TeraResult<Json> {
    if value.is_undefined() {
        return Ok(Json::Null);
    }
    serde_json::to_value(value).map_err(|e| tera::Error::message(format!("not serializable: {e}")))
}

fn back(value: &Json) -> Value {
    Value::from_serializable(value)
}

/// Sprig's `empty`: undefined, null, `false`, `0`, `""`, `[]` and `{}` are empty.
fn is_empty(value: &Value) -> bool {
    !value.is_truthy()
}

/// `{{ values.tag | if_empty(value=chart.appVersion) }}`: Helm's `default` — the value unless it
/// is empty (undefined, null, `false`, `0`, `""`, `[]`, `{}`), else `value`. Tera's own
/// `default` only replaces undefined values.
fn if_empty(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let fallback = kwargs.must_get::<Value>("value")?;
    Ok(if is_empty(&value) { fallback } else { value })
}

/// `{{ x | empty }}`: Sprig's `empty`, as a boolean.
fn empty(value: Value, _: Kwargs, _: &State) -> Value {
    Value::from(is_empty(&value))
}

/// `{{ cond | ternary(yes=a, no=b) }}`: Sprig's `ternary a b cond`.
fn ternary(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let key = if value.is_truthy() { "yes" } else { "no" };
    kwargs.must_get::<Value>(key)
}

/// `{{ [a, b, c] | coalesce }}`: the first non-empty item, or null (Sprig's `coalesce a b c`).
fn coalesce(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    let items = value
        .as_array()
        .ok_or_else(|| tera::Error::message("coalesce takes a list: `[a, b] | coalesce`"))?;
    Ok(items
        .iter()
        .find(|v| !is_empty(v))
        .cloned()
        .unwrap_or_else(Value::none))
}

/// `{{ values | dig(keys=["a", "b"], default="x") }}` (or `dig(path="a.b")`, for keys without a
/// dot): the value at that path of nested maps (an
/// integer key indexes a list, as Go's `index`), or `default` (null unless given) when any step
/// is missing. Undefined or null input
/// gives `default` too, so `dig` is also the safe way to read an optional field.
fn dig(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let fallback = kwargs.get::<Value>("default")?.unwrap_or_else(Value::none);
    // Walked in place: the value is often the whole root context (`dot`), which a conversion
    // to JSON would copy on every field read.
    let mut current = value;
    if let Some(path) = kwargs.get::<&str>("path")? {
        for key in path.split('.') {
            match dig_step(&current, &Value::from(key)) {
                Some(next) => current = next,
                None => return Ok(fallback),
            }
        }
    }
    for key in kwargs.get::<Vec<Value>>("keys")?.unwrap_or_default() {
        match dig_step(&current, &key) {
            Some(next) => current = next,
            None => return Ok(fallback),
        }
    }
    Ok(if current.is_undefined() {
        Value::none()
    } else {
        current
    })
}

/// `value[key]`: a map's entry by a string key, a list's item by an integer index.
fn dig_step(value: &Value, key: &Value) -> Option<Value> {
    if let (Some(map), Some(k)) = (value.as_map(), key.as_str()) {
        return map.get(&tera::value::Key::from(k.to_string())).cloned();
    }
    let (items, i) = (value.as_array()?, key.as_i64()?);
    usize::try_from(i).ok().and_then(|i| items.get(i)).cloned()
}

/// A JSON object.
type JsonMap = Map<String, Json>;

fn deep_merge(dst: &mut Map<String, Json>, src: &Map<String, Json>, overwrite: bool) {
    for (key, incoming) in src {
        match (dst.get_mut(key), incoming) {
            (Some(Json::Object(d)), Json::Object(s)) => deep_merge(d, s, overwrite),
            (Some(existing), _) if !overwrite && !existing.is_null() => {}
            _ => {
                dst.insert(key.clone(), incoming.clone());
            }
        }
    }
}

fn maps_of(value: &Value, kwargs: &Kwargs, name: &str) -> TeraResult<(JsonMap, Vec<JsonMap>)> {
    let as_map = |v: Json, what: &str| match v {
        Json::Object(m) => Ok(m),
        Json::Null => Ok(Map::new()),
        other => Err(tera::Error::message(format!(
            "{name}: {what} must be a map, not {other}"
        ))),
    };
    let dst = as_map(json(value)?, "the input")?;
    let with = json(&kwargs.must_get::<Value>("with")?)?;
    let sources = match with {
        Json::Array(items) => items
            .into_iter()
            .map(|i| as_map(i, "`with`"))
            .collect::<TeraResult<Vec<_>>>()?,
        other => vec![as_map(other, "`with`")?],
    };
    Ok((dst, sources))
}

/// `{{ dst | merge(with=src) }}` (or `with=[src1, src2]`): Sprig's `merge`, a deep merge in
/// which the input's own values win; a key missing or null in the input comes from the sources.
fn merge(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let (mut dst, sources) = maps_of(&value, &kwargs, "merge")?;
    for src in &sources {
        deep_merge(&mut dst, src, false);
    }
    Ok(back(&Json::Object(dst)))
}

/// `{{ dst | merge_overwrite(with=src) }}`: Sprig's `mergeOverwrite`, a deep merge in which the
/// sources win.
fn merge_overwrite(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let (mut dst, sources) = maps_of(&value, &kwargs, "merge_overwrite")?;
    for src in &sources {
        deep_merge(&mut dst, src, true);
    }
    Ok(back(&Json::Object(dst)))
}

/// `{{ m | has_key(key="a") }}`: whether the map has the key (even with a null value).
fn has_key(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let key = kwargs.must_get::<&str>("key")?;
    Ok(Value::from(
        matches!(json(&value)?, Json::Object(m) if m.contains_key(key)),
    ))
}

/// `{{ version | semver_compare(constraint=">=1.19-0") }}`: Helm's `semverCompare`.
fn semver_compare(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let constraint = kwargs.must_get::<&str>("constraint")?;
    semver::satisfies(constraint, value.as_str())
        .map(Value::from)
        .map_err(|e| tera::Error::message(format!("semver_compare: {e}")))
}

fn regex(pattern: &str) -> TeraResult<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| tera::Error::message(format!("bad regular expression `{pattern}`: {e}")))
}

/// `{{ s | regex_replace(pattern="a(x*)b", rep="${1}W") }}`: Sprig's `regexReplaceAll`, with
/// `$1`/`${name}` expansion as Go's `Regexp.Expand` does it.
fn regex_replace(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let re = regex(kwargs.must_get::<&str>("pattern")?)?;
    let rep = kwargs.must_get::<&str>("rep")?;
    let text = yaml_text::unmarked(value.as_str());
    Ok(Value::from(re.replace_all(&text, rep).into_owned()))
}

/// `{{ s | regex_match(pattern="^[a-z]+$") }}`: Sprig's `regexMatch` (a match anywhere).
fn regex_match(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let re = regex(kwargs.must_get::<&str>("pattern")?)?;
    Ok(Value::from(
        re.is_match(&yaml_text::unmarked(value.as_str())),
    ))
}

/// `{{ x | squote }}`: Helm's `squote`. The value is written as safe double-quoted YAML (the same
/// string once parsed), since single quotes could be closed by the value.
fn squote(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    let text = match value.as_str() {
        Some(s) => yaml_text::unmarked(s).into_owned(),
        None => printf::plain(&json(&value)?),
    };
    Ok(Value::safe_string(&yaml_text::quoted(&text)))
}

/// `{{ s | from_yaml }}`: the YAML document in `s` as a value. Unlike Helm, which returns a map
/// with an `Error` key, bad YAML fails the render with the parser's message. Text with
/// interpolated values (`tpl (toYaml .) $ | fromYaml`) is parsed with their placeholders, which
/// are put back into the parsed strings: a value stays data.
fn from_yaml(value: StringInput, _: Kwargs, _: &State) -> TeraResult<Value> {
    let mut parsed: Json = serde_yaml::from_str(&yaml_text::unmarked(value.as_str()))
        .map_err(|e| tera::Error::message(format!("from_yaml: {e}")))?;
    put_back(&mut parsed).map_err(|e| tera::Error::message(format!("from_yaml: {e}")))?;
    Ok(back(&parsed))
}

/// Puts the interpolated strings back into every string and key holding a placeholder.
fn put_back(value: &mut Json) -> Result<(), String> {
    let resolve = |s: &str| super::engine::resolve_interpolated(s);
    match value {
        Json::String(s) if s.contains(super::engine::PLACEHOLDER_OPEN) => *s = resolve(s)?,
        Json::Array(items) => items.iter_mut().try_for_each(put_back)?,
        Json::Object(map)
            if map
                .keys()
                .any(|k| k.contains(super::engine::PLACEHOLDER_OPEN)) =>
        {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                put_back(&mut v)?;
                map.insert(resolve(&k)?, v);
            }
        }
        Json::Object(map) => map.values_mut().try_for_each(put_back)?,
        _ => {}
    }
    Ok(())
}

/// `{{ s | from_json }}`: the JSON in `s` as a value; bad JSON fails the render.
fn from_json(value: StringInput, _: Kwargs, _: &State) -> TeraResult<Value> {
    let parsed: Json = serde_json::from_str(&yaml_text::unmarked(value.as_str()))
        .map_err(|e| tera::Error::message(format!("from_json: {e}")))?;
    Ok(back(&parsed))
}

/// `{{ s | trim_prefix(prefix="v") }}`: Sprig's `trimPrefix`, at most once.
fn trim_prefix(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let prefix = kwargs.must_get::<&str>("prefix")?;
    let text = value.as_str();
    Ok(Value::from(text.strip_prefix(prefix).unwrap_or(text)))
}

/// `{{ s | trim_suffix(suffix="-") }}`: Sprig's `trimSuffix`, at most once.
fn trim_suffix(value: StringInput, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let suffix = kwargs.must_get::<&str>("suffix")?;
    let text = value.as_str();
    Ok(Value::from(text.strip_suffix(suffix).unwrap_or(text)))
}

/// `{{ values.config | go_yaml }}`: Helm's `toYaml` text (see [`super::go_yaml`]), for
/// converted charts where the text matters (a config file in a block scalar, a checksum).
fn go_yaml(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    if value.is_undefined() {
        return Err(tera::Error::message("the value is undefined"));
    }
    let json = json(&value)?;
    Ok(Value::safe_string(&yaml_text::marked(
        &super::go_yaml::to_text(&json),
    )))
}

/// `{{ values.x | go_print }}`: what Go's template prints for the values that read differently
/// as YAML text: nothing for null, undefined and `""` (so `key: {{ … }}` is null, as in Helm),
/// `[]` for an empty list. Anything else is printed (and escaped) as usual. What it writes
/// itself is empty or `[]`, so it can never add structure.
fn go_print(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        return Ok(Value::safe_string(""));
    }
    // Read in place: converting the value to JSON first cost a deep copy of every printed
    // value (the scaffold prints a dozen per render).
    if value.as_array().is_some_and(<[Value]>::is_empty)
        || value.as_bytes().is_some_and(<[u8]>::is_empty)
    {
        return Ok(Value::safe_string("[]"));
    }
    Ok(value)
}

/// `{{ x | str_join(sep=",") }}`: Sprig's `join`: the items of a list as text (null items
/// skipped), joined with `sep`; a single value is one item, null none (Tera's `join` refuses
/// anything but a list).
fn str_join(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let sep = kwargs.must_get::<&str>("sep")?;
    let text = |item: &Json| match item {
        Json::String(s) => yaml_text::unmarked(s).into_owned(),
        other => other.to_string(),
    };
    let joined = match json(&value)? {
        Json::Null => String::new(),
        Json::Array(items) => items
            .iter()
            .filter(|i| !i.is_null())
            .map(text)
            .collect::<Vec<_>>()
            .join(sep),
        other => text(&other),
    };
    Ok(Value::from(joined))
}

/// `{{ list | append(item=x) }}`: a new list with `x` at the end (Sprig's `append`).
fn append(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let item = kwargs.must_get::<Value>("item")?;
    let mut items = match json(&value)? {
        Json::Array(items) => items,
        Json::Null => Vec::new(),
        other => {
            return Err(tera::Error::message(format!(
                "append: {other} is not a list"
            )));
        }
    };
    items.push(json(&item)?);
    Ok(back(&Json::Array(items)))
}

/// `{{ m | sort_keys }}`: the map with its keys in sorted order, the order Go's `range` visits
/// a map in.
fn sort_keys(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    match json(&value)? {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(back(&Json::Object(entries.into_iter().collect())))
        }
        Json::Null => Ok(back(&Json::Object(Map::new()))),
        other => Err(tera::Error::message(format!(
            "sort_keys: {other} is not a map"
        ))),
    }
}

/// `{% for p in x | range_pairs %}`: what Go's `range` walks when the chart's defaults do not say
/// whether `x` is a map or a list: `[key, value]` pairs of a map in key order, `[index, item]`
/// of a list; nothing for null or undefined.
fn range_pairs(value: Value, _: Kwargs, _: &State) -> TeraResult<Value> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    if let Some(items) = value.as_array() {
        return Ok(Value::from(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| Value::from(vec![Value::from(i as i64), v.clone()]))
                .collect::<Vec<_>>(),
        ));
    }
    let Some(map) = value.as_map() else {
        return Err(tera::Error::message(format!(
            "range can't iterate over {}",
            value.name()
        )));
    };
    let mut pairs: Vec<(String, Value)> = map
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Value::from(
        pairs
            .into_iter()
            .map(|(k, v)| Value::from(vec![Value::from(k), v]))
            .collect::<Vec<_>>(),
    ))
}

/// `{{ captured | resolved }}`: text captured from a component (`{% set x %}…{% endset %}`) as
/// the plain string it reads as, interpolated values put back. The result is a value like any
/// other: written again, it is escaped again.
fn resolved(value: StringInput, _: Kwargs, _: &State) -> TeraResult<Value> {
    super::engine::resolve_interpolated(value.as_str())
        .map(Value::from)
        .map_err(|e| tera::Error::message(format!("resolved: {e}")))
}

fn map_and_keys(
    value: &Value,
    kwargs: &Kwargs,
    name: &str,
) -> TeraResult<(Map<String, Json>, Vec<String>)> {
    let keys = kwargs.must_get::<Vec<String>>("keys")?;
    match json(value)? {
        Json::Object(map) => Ok((map, keys)),
        Json::Null => Ok((Map::new(), keys)),
        other => Err(tera::Error::message(format!(
            "{name}: {other} is not a map"
        ))),
    }
}

/// `{{ m | omit(keys=["a"]) }}`: the map without those keys (Sprig's `omit`).
fn omit(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let (mut map, keys) = map_and_keys(&value, &kwargs, "omit")?;
    map.retain(|k, _| !keys.contains(k));
    Ok(back(&Json::Object(map)))
}

/// `{{ m | pick(keys=["a"]) }}`: the map with only those keys (Sprig's `pick`).
fn pick(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let (mut map, keys) = map_and_keys(&value, &kwargs, "pick")?;
    map.retain(|k, _| keys.contains(k));
    Ok(back(&Json::Object(map)))
}

/// `{{ l | concat(with=[l2, l3]) }}`: the lists joined (Sprig's `concat`).
fn concat(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let mut items = Vec::new();
    let others = json(&kwargs.must_get::<Value>("with")?)?;
    let lists = std::iter::once(json(&value)?).chain(match others {
        Json::Array(lists) => lists,
        other => vec![other],
    });
    for list in lists {
        match list {
            Json::Array(more) => items.extend(more),
            Json::Null => {}
            other => {
                return Err(tera::Error::message(format!(
                    "concat: {other} is not a list"
                )));
            }
        }
    }
    Ok(back(&Json::Array(items)))
}

/// `{{ text | untemplated }}`: what charts converted before runtime `tpl` (see [`super::tpl`])
/// call for Helm's `tpl`: the text itself; text holding `{{` fails the render. Kept so those
/// converted charts still render as they did.
fn untemplated(value: StringInput, _: Kwargs, _: &State) -> TeraResult<Value> {
    let text = super::engine::resolve_interpolated(value.as_str()).unwrap_or_default();
    if text.contains("{{") {
        return Err(tera::Error::message(
            "a value holds a Helm template (`{{ … }}`), which Helm's `tpl` would render: values are data here; put the text itself in the value, or move the template into the chart",
        ));
    }
    Ok(value.inherit_safety(value.as_str().to_string()))
}

/// `{{ printf(format="%s-%s", args=[a, b]) }}`: Go's `fmt.Sprintf` (Helm's `printf`).
fn printf_fn(kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let format = kwargs.must_get::<&str>("format")?;
    let args = match kwargs.get::<Value>("args")? {
        Some(args) => match json(&args)? {
            Json::Array(items) => items,
            other => vec![other],
        },
        None => Vec::new(),
    };
    Ok(Value::from(printf::sprintf(format, &args)))
}

/// `{{ fail(msg="…") }}`: fails the render with `msg` (Helm's `fail`).
fn fail(kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let msg = kwargs.must_get::<&str>("msg")?;
    Err(tera::Error::message(msg.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Renders `{{ expr }}` with `values` in the context, through the chart engine's filters.
    fn eval(expr: &str) -> Result<String, String> {
        let mut tera = tera::Tera::new();
        super::super::filters::register(&mut tera);
        tera.add_raw_template("t", &format!("{{{{ {expr} }}}}"))
            .map_err(|e| format!("{e:?}"))?;
        let mut context = tera::Context::new();
        context.insert(
            "values",
            &json!({
                "empty_s": "", "s": "nginx", "zero": 0, "one": 1, "no": false, "yes": true,
                "empty_l": [], "l": ["a"], "empty_m": {}, "none": null,
                "m": {"a": {"b": "deep"}, "k": "v", "n": null}
            }),
        );
        tera.render("t", &context).map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            msg
        })
    }

    /// Each row: the expression, and what Helm/Sprig gives for the same call (from Sprig's
    /// documentation: default, empty, ternary, coalesce, dig, merge, hasKey, regexReplaceAll,
    /// regexMatch, trimPrefix/trimSuffix, append, printf).
    #[test]
    fn helpers_follow_sprig() {
        let cases = [
            // Helm's `default`: every empty value is replaced, not only undefined ones.
            ("values.empty_s | if_empty(value=\"x\")", "x"),
            ("values.zero | if_empty(value=5)", "5"),
            ("values.no | if_empty(value=\"x\")", "x"),
            ("values.empty_l | if_empty(value=\"x\")", "x"),
            ("values.empty_m | if_empty(value=\"x\")", "x"),
            ("values.none | if_empty(value=\"x\")", "x"),
            ("values.missing | if_empty(value=\"x\")", "x"),
            ("values.s | if_empty(value=\"x\")", "nginx"),
            ("values.yes | if_empty(value=false)", "true"),
            // `or` is the same thing written as Tera.
            ("values.empty_s or \"x\"", "x"),
            ("values.zero | empty", "true"),
            // What Go prints: nothing for nil and "", `[]` for an empty list.
            ("values.none | go_print", ""),
            ("values.missing | go_print", ""),
            ("values.empty_s | go_print", ""),
            ("values.empty_l | go_print", "[]"),
            ("values.s | go_print", "nginx"),
            ("values.zero | go_print", "0"),
            // Sprig's `join`: a string is one item, null none, null items are skipped.
            ("[\"a\", values.none, 2] | str_join(sep=\",\")", "a,2"),
            ("values.s | str_join(sep=\",\")", "nginx"),
            ("values.none | str_join(sep=\",\")", ""),
            ("values.l | empty", "false"),
            ("values.yes | ternary(yes=\"on\", no=\"off\")", "on"),
            ("values.no | ternary(yes=\"on\", no=\"off\")", "off"),
            (
                "[values.empty_s, values.zero, values.s, \"z\"] | coalesce",
                "nginx",
            ),
            ("[values.empty_s, values.none] | coalesce | to_json", "null"),
            ("values.m | dig(keys=[\"a\", \"b\"], default=\"d\")", "deep"),
            ("values.m | dig(keys=[\"a\", \"x\"], default=\"d\")", "d"),
            ("values.m | dig(keys=[\"k\", \"x\"], default=\"d\")", "d"),
            ("values.missing | dig(keys=[\"a\"], default=\"d\")", "d"),
            ("values | dig(path=\"m.a.b\", default=\"d\")", "deep"),
            ("values | dig(path=\"m.a.x\", default=\"d\")", "d"),
            ("values | dig(path=\"m.a.b.c\") | to_json", "null"),
            ("values.m | has_key(key=\"n\")", "true"),
            ("values.m | has_key(key=\"zz\")", "false"),
            (
                "{\"a\": 1, \"n\": {\"x\": 1} } | merge(with={\"a\": 2, \"b\": 3, \"n\": {\"y\": 2} }) | to_json",
                "{\"a\":1,\"b\":3,\"n\":{\"x\":1,\"y\":2}}",
            ),
            (
                "{\"a\": 1} | merge_overwrite(with=[{\"a\": 2}, {\"c\": 3}]) | to_json",
                "{\"a\":2,\"c\":3}",
            ),
            (
                "\"v1.30.2-gke.1\" | semver_compare(constraint=\">=1.19-0\")",
                "true",
            ),
            (
                "\"1.18.0\" | semver_compare(constraint=\">=1.19-0\")",
                "false",
            ),
            (
                "\"-ab-axxb-\" | regex_replace(pattern=\"a(x*)b\", rep=\"${1}W\")",
                "-W-xxW-",
            ),
            (
                "\"-ab-axxb-\" | regex_replace(pattern=\"a(x*)b\", rep=\"$1W\")",
                "---",
            ),
            (
                "\"abc123\" | regex_match(pattern=\"^[a-z]+[0-9]+$\")",
                "true",
            ),
            ("\"ABC\" | regex_match(pattern=\"[a-z]\")", "false"),
            ("\"site-\" | trim_suffix(suffix=\"-\")", "site"),
            ("\"site--\" | trim_suffix(suffix=\"-\")", "site-"),
            ("\"v1.2\" | trim_prefix(prefix=\"v\")", "1.2"),
            ("values.l | append(item=\"b\") | to_json", "[\"a\",\"b\"]"),
            (
                "printf(format=\"%s-%s\", args=[\"site\", values.s])",
                "site-nginx",
            ),
            (
                "printf(format=\"%d/%v\", args=[values.one, values.yes])",
                "1/true",
            ),
            (
                "\"a: 1\\nb: [x]\" | from_yaml | to_json",
                "{\"a\":1,\"b\":[\"x\"]}",
            ),
            ("\"{\\\"a\\\": [1]}\" | from_json | to_json", "{\"a\":[1]}"),
            ("values.s | squote", "\"nginx\""),
            (
                "{\"b\": 1, \"a\": 2} | sort_keys | to_json",
                "{\"a\":2,\"b\":1}",
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(eval(expr).as_deref(), Ok(expected), "{expr}");
        }
    }

    #[test]
    fn failures_say_why() {
        for (expr, needle) in [
            ("fail(msg=\"no way\")", "no way"),
            (
                "\"x\" | regex_match(pattern=\"(\")",
                "bad regular expression",
            ),
            ("\"latest\" | semver_compare(constraint=\">=1\")", "latest"),
            ("\"a: [\" | from_yaml", "from_yaml"),
            ("values.s | merge(with={})", "must be a map"),
            ("values.s | coalesce", "coalesce takes a list"),
            (
                "\"a {{ .Values.x }}\" | untemplated",
                "holds a Helm template",
            ),
        ] {
            let err = eval(expr).unwrap_err();
            assert!(err.contains(needle), "{expr}: {err}");
        }
    }
}
