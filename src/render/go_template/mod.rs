//! Go templates (Helm's text/template with Sprig) translated into Tera: the parser, the
//! translator of actions, pipelines and functions, shared by `migrate helm-chart` (whole charts,
//! at conversion time) and the engine's `tpl` filter (template strings in values, at render time).

mod expr;
mod functions;
pub(crate) mod parse;
pub(crate) mod translate;

pub use translate::{MARKER_TAG, Marker};

/// The converted file of a renderable template: `templates/a/b.tpl` → `templates/a-b.yaml`.
pub(crate) fn output_name(name: &str) -> String {
    format!(
        "templates/{}",
        name.trim_start_matches("templates/")
            .replace('/', "-")
            .trim_end_matches(".tpl")
            .trim_end_matches(".yml")
            .trim_end_matches(".yaml")
    ) + ".yaml"
}
