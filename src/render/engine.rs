//! The Tera engine for one chart: compiled templates, helper filters and YAML-safe interpolation.
//!
//! Interpolation is where YAML injection would happen, so every interpolated string that is not
//! a plain number or boolean is written as an opaque placeholder (`U+E000 index U+E001`) that
//! YAML parses as ordinary scalar text wherever it lands. After parsing, [`super::documents`]
//! puts the original strings back as data: a value can never add a key, an item or a document.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::Arc;

use crate::chart::Chart;

use super::filters;

/// Opens a placeholder for an interpolated string.
pub(crate) const PLACEHOLDER_OPEN: char = '\u{E000}';
/// Closes a placeholder for an interpolated string.
pub(crate) const PLACEHOLDER_CLOSE: char = '\u{E001}';

/// The most one template may render: its text plus every string interpolated into it. A loop
/// over a large range, or over a large value, stops here with an error naming the template
/// instead of exhausting memory.
pub(crate) const MAX_RENDERED_BYTES: usize = 4 << 20;

thread_local! {
    /// Strings interpolated by the render running on this thread, indexed by placeholder.
    static INTERPOLATED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// What the template being rendered on this thread may still write (see [`MAX_RENDERED_BYTES`]).
    static BUDGET: Cell<usize> = const { Cell::new(MAX_RENDERED_BYTES) };
    /// Whether the template being rendered on this thread ran out of [`BUDGET`].
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
    /// The engine whose template is rendering on this thread: `tpl` renders with its components.
    static ACTIVE: RefCell<Option<Arc<tera::Tera>>> = const { RefCell::new(None) };
}

/// Renders `source` (Tera text made at render time, by `tpl`) with the components and filters of
/// the engine rendering on this thread, writing interpolations as placeholders of that render
/// and charging its budget.
pub(crate) fn render_nested(source: &str, context: &tera::Context) -> Result<String, String> {
    let Some(tera) = ACTIVE.with(|a| a.borrow().clone()) else {
        return Err("no chart is rendering on this thread".into());
    };
    let mut output = Bounded(Vec::new());
    let result = tera.render_str_to(source, context, true, &mut output);
    if EXCEEDED.with(Cell::get) {
        return Err(format!(
            "the rendered output exceeds the limit of {} MiB per template",
            MAX_RENDERED_BYTES >> 20
        ));
    }
    result.map_err(|e| {
        let mut message = match e.kind() {
            tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => {
                r.message().to_string()
            }
            other => other.to_string(),
        };
        append_sources(&e, &mut message);
        message
    })?;
    String::from_utf8(output.0).map_err(|e| format!("the output is not UTF-8: {e}"))
}

/// Whether the engine rendering on this thread holds the component `name`.
pub(crate) fn has_component(name: &str) -> bool {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|t| t.contains_component(name))
    })
}

/// Takes `bytes` from this thread's render budget; an error once it is spent.
fn charge(bytes: usize) -> std::io::Result<()> {
    let left = BUDGET.with(Cell::get);
    if bytes > left {
        EXCEEDED.with(|e| e.set(true));
        BUDGET.with(|b| b.set(0));
        return Err(std::io::Error::other(format!(
            "the rendered output exceeds {} MiB",
            MAX_RENDERED_BYTES >> 20
        )));
    }
    BUDGET.with(|b| b.set(left - bytes));
    Ok(())
}

/// Collects a template's output, charging every byte to this thread's render budget.
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        charge(buf.len())?;
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A template error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Template name, e.g. `templates/deployment.yaml`.
    pub(crate) file: String,
    /// 1-based line, when known.
    pub(crate) line: Option<usize>,
    /// 1-based column, when known.
    pub(crate) column: Option<usize>,
    /// What went wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.file, l, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The output of one template: text with placeholders, and the strings they stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderedTemplate {
    /// Template name.
    pub(crate) file: String,
    /// Rendered YAML text, placeholders included.
    pub(crate) text: String,
    /// The interpolated strings, by placeholder index.
    pub(crate) interpolated: Vec<String>,
}

/// A compiled chart: every template parsed once, ready to render many times.
pub(crate) struct Engine {
    tera: Arc<tera::Tera>,
    renderable: Vec<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("renderable", &self.renderable)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles every template of `chart`; reports every template that fails to parse.
    pub(crate) fn compile(chart: &Chart) -> Result<Self, Vec<TemplateError>> {
        let mut tera = tera::Tera::new();
        tera.autoescape_on([".yaml", ".yml", ".tera"]);
        tera.set_escape_fn(escape_for_yaml);
        filters::register(&mut tera);
        let templates = chart
            .templates
            .iter()
            .map(|t| (t.name.as_str(), t.source.as_str()));
        if let Err(first) = tera.add_raw_templates(templates) {
            // Report each broken template on its own so the author sees them all.
            let mut errors = Vec::new();
            for t in &chart.templates {
                let mut single = tera::Tera::new();
                filters::register(&mut single);
                let partials = chart
                    .templates
                    .iter()
                    .filter(|p| p.partial && p.name != t.name)
                    .map(|p| (p.name.as_str(), p.source.as_str()));
                if single.add_raw_templates(partials).is_err() {
                    continue;
                }
                if let Err(e) = single.add_raw_template(&t.name, &t.source) {
                    let mut error = template_error(&t.name, &e);
                    let source = chart
                        .templates
                        .iter()
                        .find(|s| s.name == error.file)
                        .map(|s| s.source.as_str());
                    super::tera_hints::annotate(&mut error, source);
                    errors.push(error);
                }
            }
            if errors.is_empty() {
                errors.push(template_error("templates/", &first));
            }
            return Err(errors);
        }
        let renderable = chart
            .templates
            .iter()
            .filter(|t| !t.partial)
            .map(|t| t.name.clone())
            .collect();
        Ok(Self {
            tera: Arc::new(tera),
            renderable,
        })
    }

    /// Renders every renderable template with `context`.
    pub(crate) fn render(
        &self,
        context: &tera::Context,
    ) -> Result<Vec<RenderedTemplate>, TemplateError> {
        self.renderable
            .iter()
            .map(|name| self.render_one(name, context))
            .collect()
    }

    /// Renders the one template `name` (renderable or not, e.g. the status template) with
    /// `context`.
    pub(crate) fn render_one(
        &self,
        name: &str,
        context: &tera::Context,
    ) -> Result<RenderedTemplate, TemplateError> {
        let name = &name.to_string();
        INTERPOLATED.with(|table| table.borrow_mut().clear());
        BUDGET.with(|b| b.set(MAX_RENDERED_BYTES));
        EXCEEDED.with(|e| e.set(false));
        let mut output = Bounded(Vec::new());
        ACTIVE.with(|a| *a.borrow_mut() = Some(self.tera.clone()));
        let result = self.tera.render_to(name, context, &mut output);
        ACTIVE.with(|a| *a.borrow_mut() = None);
        let interpolated = INTERPOLATED.with(|table| std::mem::take(&mut *table.borrow_mut()));
        if EXCEEDED.with(Cell::get) {
            return Err(TemplateError {
                file: name.clone(),
                line: None,
                column: None,
                message: format!(
                    "the rendered output (text and interpolated values) exceeds the limit of {} MiB per template; is a loop running over a large range or value?",
                    MAX_RENDERED_BYTES >> 20
                ),
            });
        }
        result.map_err(|e| {
            let mut error = template_error(name, &e);
            super::tera_hints::annotate(&mut error, None);
            error
        })?;
        let text = String::from_utf8(output.0).map_err(|e| TemplateError {
            file: name.clone(),
            line: None,
            column: None,
            message: format!("the rendered output is not UTF-8: {e}"),
        })?;
        // Aligning multi-line filter output indents each of its lines: check what that
        // makes before making it.
        if aligned_len(&text) > MAX_RENDERED_BYTES {
            return Err(TemplateError {
                file: name.clone(),
                line: None,
                column: None,
                message: format!(
                    "the rendered output, with multi-line filter output indented under the column where it starts, exceeds the limit of {} MiB per template",
                    MAX_RENDERED_BYTES >> 20
                ),
            });
        }
        let text = super::yaml_text::align(text);
        Ok(RenderedTemplate {
            file: name.clone(),
            text,
            interpolated,
        })
    }
}

/// How long [`super::yaml_text::align`] makes `text`: each continuation mark becomes as many
/// spaces as the column of the latest anchor, the marks themselves go.
fn aligned_len(text: &str) -> usize {
    use super::yaml_text::{ANCHOR, CONTINUE, Piece, has_marks, pieces};
    if !has_marks(text) {
        return text.len();
    }
    let (mut len, mut column, mut anchor) = (0usize, 0usize, 0usize);
    for piece in pieces(text) {
        match piece {
            Piece::Run(run) => {
                len = len.saturating_add(run.len());
                column = column.saturating_add(run.chars().count());
            }
            Piece::Char(ANCHOR) => anchor = column,
            Piece::Char(CONTINUE) => {
                len = len.saturating_add(anchor);
                column = column.saturating_add(anchor);
            }
            Piece::Char('\n') => {
                len += 1;
                column = 0;
            }
            Piece::Char(c) => {
                len = len.saturating_add(c.len_utf8());
                column += 1;
            }
        }
    }
    len
}

/// `text` with the placeholders of the render running on this thread replaced by the strings
/// they stand for, and without alignment marks: what a captured block says, as a plain string.
pub(crate) fn resolve_interpolated(text: &str) -> Result<String, String> {
    let text = super::yaml_text::unmarked(text);
    INTERPOLATED.with(|table| super::documents::substitute(&text, &table.borrow()))
}

/// Escape function: plain numbers and booleans pass through; every other string becomes a
/// placeholder that the YAML parser cannot mistake for structure.
fn escape_for_yaml(input: &str, output: &mut dyn Write) -> std::io::Result<()> {
    if is_plain_number_or_bool(input) {
        return output.write_all(input.as_bytes());
    }
    // The placeholder is small, the string it stands for may not be: charge the string.
    charge(input.len())?;
    let index = INTERPOLATED.with(|table| {
        let mut table = table.borrow_mut();
        table.push(input.to_string());
        table.len() - 1
    });
    write!(output, "{PLACEHOLDER_OPEN}{index}{PLACEHOLDER_CLOSE}")
}

/// `true`, `false`, and decimal numbers without leading zeros: the only interpolations that
/// keep their YAML type instead of becoming strings.
pub(crate) fn is_plain_number_or_bool(s: &str) -> bool {
    if s == "true" || s == "false" {
        return true;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = int == "0"
        || (!int.is_empty() && !int.starts_with('0') && int.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

/// Turns a Tera error into a located [`TemplateError`].
fn template_error(fallback_file: &str, err: &tera::Error) -> TemplateError {
    let mut message = match err.kind() {
        tera::ErrorKind::SyntaxError(report) | tera::ErrorKind::RenderingError(report) => {
            let file = if report.filename().is_empty() {
                fallback_file
            } else {
                report.filename()
            };
            let span = report.span();
            let mut message = report.message().to_string();
            append_sources(err, &mut message);
            return TemplateError {
                file: file.to_string(),
                line: Some(span.start_line),
                column: Some(span.start_col + 1),
                message,
            };
        }
        other => other.to_string(),
    };
    append_sources(err, &mut message);
    TemplateError {
        file: fallback_file.to_string(),
        line: None,
        column: None,
        message,
    }
}

fn append_sources(err: &tera::Error, message: &mut String) {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_length_is_what_align_makes() {
        use super::super::yaml_text::{ANCHOR, CONTINUE, align};
        for text in [
            String::from("a: 1\n"),
            format!("key: {ANCHOR}x: 1\n{CONTINUE}y: 2\n{CONTINUE}z: é\n"),
            format!("- {ANCHOR}a\n{CONTINUE}b\n  - {ANCHOR}c\n{CONTINUE}d\n"),
            // Placeholders and other characters sharing the marks' first byte, multi-byte
            // text before an anchor, marks at the very start and end.
            format!(
                "{ANCHOR}k: \u{E000}0\u{E001}\n{CONTINUE}é: ü{ANCHOR}x\n{CONTINUE}\u{EFFF}y\n{CONTINUE}"
            ),
        ] {
            assert_eq!(aligned_len(&text), align(text.clone()).len(), "{text:?}");
        }
    }

    #[test]
    fn only_plain_numbers_and_booleans_pass_through() {
        for s in ["0", "3", "-1", "80", "1.5", "true", "false"] {
            assert!(is_plain_number_or_bool(s), "{s}");
        }
        for s in [
            "", "007", "1.", ".5", "1e3", "0x1f", "True", "null", "~", "nginx", "- a", "1 2", "-",
            "3\n", "inf",
        ] {
            assert!(!is_plain_number_or_bool(s), "{s:?}");
        }
    }
}
