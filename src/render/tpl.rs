//! Helm's `tpl` at render time: a template string from the values, translated from Go's template
//! language into Tera and rendered with the chart's components, its output kept as data.
//!
//! A value (a string from the values) comes out as a value: what its template interpolates is put
//! back into the text, and the result is escaped again wherever it is written, so it can never
//! add structure. Text a filter wrote (`tpl (toYaml .) $`, YAML the engine made safe) comes out
//! as text: its own characters are kept, and everything its template interpolates becomes a
//! placeholder, as in any template (see [`super::engine`]).

use std::collections::BTreeMap;

use serde_json::Value as Json;
use tera::{Kwargs, State, TeraResult, Value};

use super::engine;
use super::go_template::parse;
use super::go_template::translate::{Defines, Dot, Translator, component_name};

/// `{{ text | tpl(values=values, release=release, chart=chart, source="templates/x.yaml:3: tpl
/// .host") }}` (with `dot=` when the context is not the root): Helm's `tpl`. `source` names the
/// place and the value in errors. A map or a list (`tpl (toYaml .) $`, translated as
/// `x | tpl(…) | go_yaml`) has each of its strings and keys rendered as a value.
pub(crate) fn tpl(value: Value, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
    let source = kwargs.get::<&str>("source")?.unwrap_or("tpl").to_string();
    let fail = |why: String| tera::Error::message(format!("{source}: {why}"));
    let call = Call { kwargs: &kwargs };
    if let Some(s) = value.as_str() {
        if value.is_safe() {
            // Text a filter or a component wrote: its characters stay text, what its template
            // interpolates becomes placeholders of this render.
            if !s.contains("{{") {
                return Ok(value);
            }
            return call.render(s).map(|t| Value::safe_string(&t)).map_err(fail);
        }
        return call.value(s).map(Value::from).map_err(fail);
    }
    if value.as_array().is_none() && !value.is_map() {
        return Ok(value);
    }
    let mut data = serde_json::to_value(&value)
        .map_err(|e| fail(format!("the value is not serializable: {e}")))?;
    call.data(&mut data).map_err(fail)?;
    Ok(Value::from_serializable(&data))
}

/// One `tpl` call: its arguments.
struct Call<'a> {
    kwargs: &'a Kwargs,
}

impl Call<'_> {
    /// A value rendered as a value: placeholders it carries (from `from_yaml` of text) are put
    /// back first, and what its template interpolates is put back into the result.
    fn value(&self, s: &str) -> Result<String, String> {
        let text = engine::resolve_interpolated(s)?;
        if !text.contains("{{") {
            return Ok(text);
        }
        engine::resolve_interpolated(&self.render(&text)?)
    }

    /// Every string and key of `data` rendered as a value.
    fn data(&self, data: &mut Json) -> Result<(), String> {
        match data {
            Json::String(s) => *s = self.value(s)?,
            Json::Array(items) => items.iter_mut().try_for_each(|i| self.data(i))?,
            Json::Object(map) => {
                for (k, mut v) in std::mem::take(map) {
                    self.data(&mut v)?;
                    map.insert(self.value(&k)?, v);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `text` translated from Go's template language and rendered: the output, with this
    /// render's placeholders.
    fn render(&self, text: &str) -> Result<String, String> {
        let quoted = || {
            let mut t: String = text.chars().take(120).collect();
            if t.len() < text.len() {
                t.push('…');
            }
            format!("{t:?}")
        };
        let parsed = parse::parse(text).map_err(|e| {
            format!(
                "the value {} is not a valid Go template: line {}: {}",
                quoted(),
                e.line,
                e.message
            )
        })?;
        if let Some((name, _)) = parsed.defines.first() {
            return Err(format!(
                "the value {} defines the template `{name}`: defines in values are not supported; define it in the chart",
                quoted()
            ));
        }
        let get = |key: &str| self.kwargs.get::<Value>(key).map_err(|e| e.to_string());
        let mut context = tera::Context::new();
        for key in ["values", "release", "chart"] {
            context.insert_value(key, get(key)?.unwrap_or(Value::none()));
        }
        let dot = match get("dot")? {
            Some(v) => {
                context.insert_value("dot", v);
                Dot::Expr("dot".into(), None)
            }
            None => Dot::Root,
        };
        let chart_name = get("chart")?
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|c| c["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        let files = BTreeMap::new();
        let has = |name: &str| {
            let ident = component_name(name);
            engine::has_component(&ident) || engine::has_component(&format!("{ident}_with"))
        };
        let mut translator =
            Translator::new(&chart_name, Json::Null, &files, Defines::Components(&has));
        let translated = translator.body("tpl", &parsed.body, &dot);
        if let Some(marker) = translator.markers.first() {
            return Err(format!(
                "the value {}: line {}: {}",
                quoted(),
                marker.line,
                marker.message
            ));
        }
        engine::render_nested(&translated, &context)
            .map_err(|e| format!("rendering the value {}: {e}", quoted()))
    }
}
