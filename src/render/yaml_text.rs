//! YAML and JSON text that filters write into templates, safe wherever a template puts it.
//!
//! Filters such as `to_yaml`, `to_json` and `quote` write text, not placeholders, so what they
//! write must not be able to change the structure around it, whatever the value holds:
//!
//! - every string (and map key) is one double-quoted line, valid in YAML and JSON alike. Line
//!   breaks, the line breaks only YAML knows (NEL, LS, PS), control characters, `'` and the
//!   engine's reserved characters are `\u` escapes, so a string can never end a line, close a
//!   single-quoted scalar around it, or be read as a placeholder. A first character that YAML
//!   reads as punctuation (`:`, `,`, `#`, …) is escaped too: should the text land inside a
//!   double-quoted scalar, whose quote it closes, the parser then fails at once instead of
//!   reading the string as flow structure;
//! - block YAML of maps and lists spans several lines. Its continuation lines start with
//!   [`CONTINUE`] and the whole text with [`ANCHOR`]: `nindent` indents such lines as usual,
//!   and text written inline (`- {{ x | to_yaml }}`) is aligned under the column where it
//!   started by [`align`], so a map's second key can never land at the document's top level.

use serde_json::Value;

/// Marks the column where a multi-line filter output starts.
pub const ANCHOR: char = '\u{E002}';
/// Starts each continuation line of a multi-line filter output.
pub const CONTINUE: char = '\u{E003}';

/// Whether `c` is reserved by the engine (placeholders and alignment marks) and so is never
/// written raw by a filter.
fn is_reserved(c: char) -> bool {
    ('\u{E000}'..='\u{EFFF}').contains(&c)
}

/// Characters YAML reads as structure at the start of a plain scalar or right after a quoted one.
fn is_indicator(c: char) -> bool {
    matches!(
        c,
        ' ' | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '%'
            | '@'
            | '`'
            | '?'
            | '-'
    )
}

/// `s` as one double-quoted line, valid YAML and JSON, safe in every position (see the module).
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) || (i == 0 && is_indicator(c)) => {
                push_unicode_escape(&mut out, c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters that are never written raw inside a quoted string.
fn needs_escape(c: char) -> bool {
    c < ' '
        || c == '\''
        || ('\u{7f}'..='\u{9f}').contains(&c)
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
        || is_reserved(c)
}

fn push_unicode_escape(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{unit:04x}"));
    }
}

/// `value` as compact JSON (one line), or indented JSON when `pretty`, strings written by [`quoted`].
pub fn json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_json(value, pretty, 0, &mut out);
    out
}

fn write_json(value: &Value, pretty: bool, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match value {
        Value::String(s) => out.push_str(&quoted(s)),
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                out.push_str(&quoted(key));
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(item, pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `value` as block YAML (no trailing newline): maps and lists as indented blocks, scalars and
/// empty collections on one line, strings written by [`quoted`].
pub fn block(value: &Value) -> String {
    let mut lines = Vec::new();
    write_block(value, 0, &mut lines);
    lines.join("\n")
}

fn write_block(value: &Value, indent: usize, lines: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let key = quoted(key);
                if is_nested(item) {
                    lines.push(format!("{pad}{key}:"));
                    write_block(item, indent + 2, lines);
                } else {
                    lines.push(format!("{pad}{key}: {}", json(item, false)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_nested(item) {
                    let start = lines.len();
                    write_block(item, indent + 2, lines);
                    // The item's first line carries the dash in place of two spaces of indent.
                    lines[start].replace_range(indent..indent + 2, "- ");
                } else {
                    lines.push(format!("{pad}- {}", json(item, false)));
                }
            }
        }
        other => lines.push(format!("{pad}{}", json(other, false))),
    }
}

/// A non-empty map or list: written as a block of its own.
fn is_nested(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// Multi-line `text` with alignment marks: [`ANCHOR`] first, [`CONTINUE`] after each newline.
/// One-line text is returned as it is.
pub fn marked(text: &str) -> String {
    if !text.contains('\n') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    out.push(ANCHOR);
    out.push_str(&text.replace('\n', &format!("\n{CONTINUE}")));
    out
}

/// `text` without alignment marks: continuation lines at their own indentation, as a filter
/// that reads the text (hashing, encoding, indenting) must see it.
pub fn unmarked(text: &str) -> std::borrow::Cow<'_, str> {
    if has_marks(text) {
        std::borrow::Cow::Owned(text.replace([ANCHOR, CONTINUE], ""))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Resolves the alignment marks left in a rendered template: each [`CONTINUE`] becomes as many
/// spaces as the column of the latest [`ANCHOR`] on the lines before it.
pub fn align(text: String) -> String {
    if !has_marks(&text) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut column = 0usize;
    let mut anchor = 0usize;
    for piece in pieces(&text) {
        match piece {
            Piece::Run(run) => {
                out.push_str(run);
                column += run.chars().count();
            }
            Piece::Char(ANCHOR) => anchor = column,
            Piece::Char(CONTINUE) => {
                out.extend(std::iter::repeat_n(' ', anchor));
                column += anchor;
            }
            Piece::Char('\n') => {
                out.push('\n');
                column = 0;
            }
            Piece::Char(c) => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// The first UTF-8 byte of the marks (and of every character from U+E000 to U+EFFF).
const MARK_LEAD_BYTE: u8 = 0xEE;

/// Whether `text` holds an alignment mark: one byte scan rules most text out before the
/// character search.
pub(crate) fn has_marks(text: &str) -> bool {
    text.as_bytes().contains(&MARK_LEAD_BYTE) && text.contains([ANCHOR, CONTINUE])
}

/// A piece of text as [`align`] reads it: a run holding no newline and no character from
/// U+E000 to U+EFFF, or one such character.
pub(crate) enum Piece<'a> {
    /// Ordinary text, copied as it is.
    Run(&'a str),
    /// A newline or a character from U+E000 to U+EFFF (a mark, a placeholder, …).
    Char(char),
}

/// `text` cut into [`Piece`]s, scanning bytes rather than decoding every character.
pub(crate) fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = text;
    let mut pending: Option<char> = None;
    std::iter::from_fn(move || {
        if let Some(c) = pending.take() {
            return Some(Piece::Char(c));
        }
        if rest.is_empty() {
            return None;
        }
        let at = rest
            .bytes()
            .position(|b| b == b'\n' || b == MARK_LEAD_BYTE)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(at);
        // The byte found starts a character (neither can continue one), so `at` is a boundary.
        let next = tail.chars().next();
        rest = next.map_or("", |c| &tail[c.len_utf8()..]);
        match (run.is_empty(), next) {
            (true, Some(c)) => Some(Piece::Char(c)),
            (_, c) => {
                pending = c;
                Some(Piece::Run(run))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// [`align`] as a character-by-character loop: what the byte-scanning version must equal.
    fn align_by_chars(text: &str) -> String {
        let (mut out, mut column, mut anchor) = (String::new(), 0usize, 0usize);
        for c in text.chars() {
            match c {
                ANCHOR => anchor = column,
                CONTINUE => {
                    out.extend(std::iter::repeat_n(' ', anchor));
                    column += anchor;
                }
                '\n' => {
                    out.push('\n');
                    column = 0;
                }
                c => {
                    out.push(c);
                    column += 1;
                }
            }
        }
        out
    }

    #[test]
    fn align_equals_the_character_loop() {
        for text in [
            String::new(),
            "plain: text\n".to_string(),
            format!("{ANCHOR}"),
            format!("{CONTINUE}{CONTINUE}\n\n"),
            format!("key: {ANCHOR}a: 1\n{CONTINUE}b: 2\n"),
            format!("é ü: {ANCHOR}\u{E000}0\u{E001}\n{CONTINUE}ß\u{EFFF}: {ANCHOR}x\n{CONTINUE}y"),
            format!("- {ANCHOR}a\n{CONTINUE}b\n  - {ANCHOR}c\n{CONTINUE}d\n{CONTINUE}"),
        ] {
            assert_eq!(align(text.clone()), align_by_chars(&text), "{text:?}");
        }
    }

    fn parse(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn quoted_strings_read_back_unchanged_in_yaml_and_json() {
        for s in [
            "",
            "plain",
            "  lead\u{85}next",
            "a\u{2028}b\u{2029}c",
            "x\n---\nkind: Secret",
            "it's \"quoted\"",
            ": colon first",
            "-dash",
            "#hash",
            "tab\there",
            "\u{7f}\u{9f}\u{feff}",
            "\u{e000}0\u{e001}",
            "emoji 🦀",
            "back\\slash",
        ] {
            let text = quoted(s);
            assert!(!text[1..text.len() - 1].contains(['\n', '\'']), "{text}");
            assert_eq!(parse(&text), json!(s), "yaml {s:?}");
            let from_json: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(from_json, json!(s), "json {s:?}");
        }
    }

    #[test]
    fn blocks_and_json_read_back_unchanged() {
        let value = json!({
            "labels": {"app": "web", "it's": "a\u{85}b"},
            "ports": [{"name": "http", "port": 80}, {"name": "x\ny", "port": 81}],
            "nested": [[1, 2], [], {}],
            "empty": {},
            "none": null,
            "flag": true
        });
        let text = block(&value);
        assert_eq!(parse(&text), value, "{text}");
        assert_eq!(parse(&json(&value, false)), value);
        assert_eq!(parse(&json(&value, true)), value);
        assert_eq!(
            serde_json::from_str::<Value>(&json(&value, true)).unwrap(),
            value
        );
        assert_eq!(block(&json!("s")), "\"s\"");
        assert_eq!(block(&json!([])), "[]");
    }

    #[test]
    fn inline_blocks_are_aligned_under_their_start() {
        let value = json!({"a": 1, "kind": "ClusterRole"});
        let text = align(format!("items:\n- {}\n", marked(&block(&value))));
        assert_eq!(parse(&text), json!({"items": [value]}), "{text}");
        assert_eq!(unmarked(&marked("a\nb")), "a\nb");
        assert_eq!(marked("one line"), "one line");
    }
}
