//! Go's `fmt.Sprintf` for the verbs charts use (Helm's `printf`): `%s %v %d %q %f %x %X %t %%`,
//! with flags `-`, `0`, `+`, a width and a precision.

use serde_json::Value;

/// Formats `args` by `format` as Go's `fmt.Sprintf` does; an argument that is missing or of the
/// wrong kind is written the way Go writes it (`%!d(string=x)`, `%!s(MISSING)`), never an error.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let text = match verb_text(verb, arg, &spec) {
            Some(text) => text,
            None => format!("%!{verb}({}={})", go_type(arg), plain(arg)),
        };
        out.push_str(&pad(&text, &spec));
    }
    let extra: Vec<String> = args
        .map(|a| format!("{}={}", go_type(a), plain(a)))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(
            n.unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d as usize)
                .min(1024),
        );
        chars.next();
    }
    n
}

fn verb_text(verb: char, arg: &Value, spec: &Spec) -> Option<String> {
    Some(match (verb, arg) {
        ('s' | 'v', Value::String(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('s' | 'v', other) => plain(other),
        ('q', Value::String(s)) => Value::String(s.clone()).to_string(),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Number(n)) => {
            let i = n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))?;
            signed(i.to_string(), i >= 0, spec)
        }
        ('f' | 'F', Value::Number(n)) => {
            let f = n.as_f64()?;
            signed(
                format!("{:.*}", spec.precision.unwrap_or(6), f),
                f >= 0.0,
                spec,
            )
        }
        ('x', Value::Number(n)) => format!("{:x}", n.as_i64()?),
        ('X', Value::Number(n)) => format!("{:X}", n.as_i64()?),
        ('x', Value::String(s)) => crate::render::hex(s.as_bytes()),
        ('X', Value::String(s)) => crate::render::hex(s.as_bytes()).to_uppercase(),
        _ => return None,
    })
}

fn signed(text: String, non_negative: bool, spec: &Spec) -> String {
    if spec.plus && non_negative {
        format!("+{text}")
    } else {
        text
    }
}

fn pad(text: &str, spec: &Spec) -> String {
    let len = text.chars().count();
    let Some(width) = spec.width.filter(|w| *w > len) else {
        return text.to_string();
    };
    let fill = width - len;
    if spec.left {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.zero {
        match text.strip_prefix(['-', '+']) {
            Some(rest) => format!("{}{}{rest}", &text[..1], "0".repeat(fill)),
            None => format!("{}{text}", "0".repeat(fill)),
        }
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

/// A value as Go's `%v` writes it: `<nil>`, `[a b]`, `map[k:v]` (keys sorted).
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", plain(&map[k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::sprintf;
    use serde_json::json;

    /// Expected strings are what Go's fmt.Sprintf prints for the same verbs and arguments.
    #[test]
    fn formats_like_go() {
        let cases = [
            ("%s-%s", json!(["site", "web"]), "site-web"),
            ("%s:%v", json!(["nginx", 1.27]), "nginx:1.27"),
            ("%d replicas", json!([3]), "3 replicas"),
            ("%05d|%-4d|%4d", json!([42, 7, 7]), "00042|7   |   7"),
            ("%+d", json!([5]), "+5"),
            ("%.2f", json!([1.5]), "1.50"),
            ("%q", json!(["a\"b"]), "\"a\\\"b\""),
            ("%x %X", json!([255, 255]), "ff FF"),
            ("%t", json!([true]), "true"),
            ("100%%", json!([]), "100%"),
            ("%.3s", json!(["abcdef"]), "abc"),
            ("%v", json!([["a", 1]]), "[a 1]"),
            ("%v", json!([{"b": 2, "a": 1}]), "map[a:1 b:2]"),
            ("%v", json!([null]), "<nil>"),
            ("%d", json!(["x"]), "%!d(string=x)"),
            ("%s %s", json!(["a"]), "a %!s(MISSING)"),
            ("%s", json!(["a", "b"]), "a%!(EXTRA string=b)"),
            ("%d", json!([80.0]), "80"),
        ];
        for (format, args, expected) in cases {
            let args = args.as_array().unwrap().clone();
            assert_eq!(sprintf(format, &args), expected, "{format} {args:?}");
        }
    }
}
