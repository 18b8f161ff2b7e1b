//! Helm's `toYaml` text (sigs.k8s.io/yaml over go-yaml v2), for charts converted from Helm where
//! the text itself matters: a block scalar holding a config file, a checksum over it.
//!
//! Same layout as Go's: keys in go-yaml's order (natural: `a2` before `a10`), sequences in a
//! mapping not indented, plain scalars where go-yaml writes them plain, folded past column 80,
//! multi-line strings as literal blocks (`|`, `|-`, `|+`, `|2`), numbers as Go formats them.
//! Never less safe than [`super::yaml_text`]: a string holding a quote, a backslash, a flow
//! indicator (`,[]{}`) or a character [`super::yaml_text::quoted`] escapes is written in that safe
//! double-quoted form instead, so the text can never close a quoted scalar around it or add
//! structure in a flow collection (there it differs from Go's text, not in value).

use std::cmp::Ordering;

use serde_json::Value;

use super::yaml_text;

/// go-yaml's best width: plain and single-quoted scalars fold at a space past this column.
const WIDTH: usize = 80;

/// `value` as Helm's `toYaml` writes it (without the final newline, which Helm trims).
pub(crate) fn to_text(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping_rest(value, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence_rest(items, 0, &mut out),
        // A root scalar: folded and block lines are indented as a mapping value's would be.
        scalar => write_scalar(scalar, 2, &mut out),
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// The column `out` is at (characters since the last newline).
fn column(out: &str) -> usize {
    out.rsplit('\n').next().map_or(0, |l| l.chars().count())
}

fn node_after_key(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            mapping_rest(value, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            pad(out, indent);
            sequence_rest(items, indent, out);
        }
        scalar => {
            out.push(' ');
            write_scalar(scalar, indent + 2, out);
        }
    }
}

/// A mapping whose first key goes where `out` is (already indented).
fn mapping_rest(value: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = value else {
        return;
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| natural(a, b));
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
            pad(out, indent);
        }
        write_key(key, out);
        out.push(':');
        node_after_key(&map[key], indent, out);
    }
}

/// A sequence whose first `- ` goes where `out` is (already indented).
fn sequence_rest(items: &[Value], indent: usize, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => mapping_rest(item, indent + 2, out),
            Value::Array(inner) if !inner.is_empty() => sequence_rest(inner, indent + 2, out),
            scalar => write_scalar(scalar, indent + 2, out),
        }
    }
}

fn write_key(key: &str, out: &mut String) {
    match style(key, false) {
        Style::Plain => out.push_str(key),
        Style::Single => single(key, usize::MAX, out),
        _ => out.push_str(&go_double(key)),
    }
}

/// A scalar at the current position; `cont` is the indentation of folded or block lines.
fn write_scalar(value: &Value, cont: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => match style(s, true) {
            Style::Plain => fold(s, cont, out),
            Style::Single => single(s, cont, out),
            Style::Literal => literal(s, cont, out),
            Style::Double => out.push_str(&go_double(s)),
        },
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// A number as Go prints it after the JSON round trip: integers as they are, other floats in
/// `strconv.FormatFloat(f, 'g', -1, 64)` form (integral ones became integers in JSON).
fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or_default();
    if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() < 9.2e18 {
        return format!("{}", f as i64);
    }
    go_float(f)
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: shortest digits; exponent form (two digits at least)
/// when the exponent is below -4 or at least 6 (Go's %g decides with precision 6 when shortest).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}"); // e.g. 1.2345675e6, -1.2e-5
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Characters after which this module writes the safe double-quoted form, whatever Go does.
fn unsafe_char(c: char) -> bool {
    matches!(c, '"' | '\'' | '\\' | ',' | '[' | ']' | '{' | '}')
        || ('\u{E000}'..='\u{EFFF}').contains(&c)
}

/// libyaml's printable test (what may appear unescaped); the line breaks only YAML knows (NEL,
/// LS, PS) are not, so a string holding one is double-quoted with it escaped.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        && !matches!(c, '\u{FEFF}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The style go-yaml gives `s` (as a value when `value`, else as a key), made safe: where Go
/// would write a quote, a backslash or (unquoted) a flow indicator, the double-quoted form.
fn style(s: &str, value: bool) -> Style {
    if !resolves_to_string(s) || s.chars().any(|c| !printable(c) || c == '\t') {
        return Style::Double;
    }
    if s.contains('\n') {
        // A leading line break would need more than an indentation indicator: double-quoted.
        let literal_ok = value
            && !s.starts_with('\n')
            && !s.contains(" \n")
            && !s.ends_with(' ')
            && !s
                .chars()
                .any(|c| unsafe_char(c) || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'));
        return if literal_ok {
            Style::Literal
        } else {
            Style::Double
        };
    }
    if s.chars()
        .any(|c| matches!(c, '"' | '\'' | '\\') || ('\u{E000}'..='\u{EFFF}').contains(&c))
    {
        return Style::Double;
    }
    if s.chars().any(unsafe_char) {
        // Go single-quotes these; inside a single-quoted or flow position of a template, that
        // text could close the quotes around it, so the double-quoted form is written instead
        // (the same string once parsed).
        Style::Double
    } else if plain_allowed(s) {
        Style::Plain
    } else {
        Style::Single
    }
}

/// libyaml's analysis for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let Some(&first) = chars.first() else {
        return false;
    };
    if first == ' ' || chars.last() == Some(&' ') {
        return false;
    }
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    if matches!(
        first,
        '#' | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
    ) {
        return false;
    }
    // `?` and `:` are written quoted whatever follows: in a flow collection a template puts the
    // text in, a parser may read them as indicators.
    if matches!(first, '?' | ':') || (first == '-' && followed_by_space(0)) {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    for (i, c) in chars.iter().enumerate().skip(1) {
        if *c == ':' && followed_by_space(i) {
            return false;
        }
        if *c == '#' && chars[i - 1] == ' ' {
            return false;
        }
    }
    true
}

/// Whether go-yaml v2 reads `s`, written plain, as a string (else Go quotes it): not a bool,
/// null, number, base-60 float or timestamp of YAML 1.1 as go-yaml resolves them.
fn resolves_to_string(s: &str) -> bool {
    const OTHER: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if OTHER.contains(&s) {
        return false;
    }
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return true;
    }
    let plain = s.replace('_', "");
    if go_parse_int(&plain) || go_parse_float(&plain) {
        return false;
    }
    if base60(s) || timestamp(s) {
        return false;
    }
    true
}

/// `strconv.ParseInt(s, 0, 64)` (or ParseUint) succeeds: decimal, 0x, 0o, 0b, leading-0 octal.
fn go_parse_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (b, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// `strconv.ParseFloat(s, 64)` succeeds (decimal and hex floats, inf/nan words, underscores
/// already removed).
fn go_parse_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return true;
    }
    if lower.starts_with("0x") {
        return lower.contains('p');
    }
    let valid = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    valid && body.chars().any(|c| c.is_ascii_digit()) && body.parse::<f64>().is_ok()
}

/// go-yaml's base-60 float: `[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?`.
fn base60(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && rest.iter().all(|p| {
            (1..=2).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
        && frac.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// go-yaml's timestamp forms: `2006-01-02`, with `T`/`t`/space and a time, and a zone.
fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if !(b.len() >= 8 && digits(0..4) && b[4] == b'-') {
        return false;
    }
    // Year-month-day with one or two digit month and day.
    let rest = &s[5..];
    let mut it = rest.splitn(2, '-');
    let month = it.next().unwrap_or_default();
    let Some(after) = it.next() else {
        return false;
    };
    let day_len = after.chars().take_while(char::is_ascii_digit).count();
    if !(1..=2).contains(&month.len())
        || !month.chars().all(|c| c.is_ascii_digit())
        || !(1..=2).contains(&day_len)
    {
        return false;
    }
    let tail = &after[day_len..];
    tail.is_empty() || tail.starts_with(['T', 't', ' '])
}

/// A plain scalar folded as libyaml folds it: at a single space once past [`WIDTH`].
fn fold(s: &str, cont: usize, out: &mut String) {
    let chars: Vec<char> = s.chars().collect();
    let mut col = column(out);
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if !spaces && col > WIDTH && chars.get(i + 1) != Some(&' ') {
                out.push('\n');
                pad(out, cont);
                col = cont;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
}

/// A single-quoted scalar (no `'` inside, see [`style`]), folded like libyaml's.
fn single(s: &str, cont: usize, out: &mut String) {
    out.push('\'');
    let chars: Vec<char> = s.chars().collect();
    let mut col = column(out);
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if cont != usize::MAX
                && !spaces
                && col > WIDTH
                && i != 0
                && i != chars.len() - 1
                && chars.get(i + 1) != Some(&' ')
            {
                out.push('\n');
                pad(out, cont);
                col = cont;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
    out.push('\'');
}

/// A literal block scalar: header with indentation and chomping indicators, then the lines
/// (the final line break is the one that ends the scalar; `|+` keeps the others as empty lines).
fn literal(s: &str, cont: usize, out: &mut String) {
    out.push('|');
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(out, cont);
            out.push_str(line);
        }
    }
}

/// A double-quoted scalar: Go's text for strings with nothing to escape but tabs, else the safe
/// form of [`yaml_text::quoted`] (same value).
fn go_double(s: &str) -> String {
    if s.chars()
        .all(|c| c == '\t' || (printable(c) && c != '\n' && !unsafe_char(c)))
    {
        format!("\"{}\"", s.replace('\t', "\\t"))
    } else {
        yaml_text::quoted(s)
    }
}

/// go-yaml v2's key order (`keyList.Less`): letters compare as characters, a letter sorts after
/// anything else, and runs of digits compare as numbers.
fn natural(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn): (u128, u128) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(ar[ai] as u128 - '0' as u128);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(br[bi] as u128 - '0' as u128);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests;
