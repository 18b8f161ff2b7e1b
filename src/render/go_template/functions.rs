//! Sprig and Helm functions as Tera expressions: built-in filters and operators, or the engine's
//! Helm-familiar helpers (see `render::helm_filters`); what has no equivalent becomes a marker.

use super::expr::{Ex, string};
use super::parse::Operand;
use super::translate::{Dot, Translator};

/// How `toYaml` is translated: the text its value is written as.
const GO_YAML: &str = " | go_yaml)";

/// Functions with no deterministic or cluster-free equivalent, and what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "lookup",
        "reads the live cluster; give the value in the custom resource's spec instead",
    ),
    (
        "randAlphaNum",
        "is random; the output must be deterministic: take the value from the spec or a Secret",
    ),
    (
        "randAlpha",
        "is random; take the value from the spec or a Secret",
    ),
    (
        "randNumeric",
        "is random; take the value from the spec or a Secret",
    ),
    (
        "randAscii",
        "is random; take the value from the spec or a Secret",
    ),
    ("randInt", "is random; take the value from the spec"),
    ("uuidv4", "is random; take the value from the spec"),
    (
        "now",
        "changes on every render; take the value from the spec",
    ),
    ("date", "formats the time; take the value from the spec"),
    (
        "genCA",
        "generates keys on every render; use cert-manager or a Secret",
    ),
    (
        "genSelfSignedCert",
        "generates keys on every render; use cert-manager or a Secret",
    ),
    (
        "genSignedCert",
        "generates keys on every render; use cert-manager or a Secret",
    ),
    (
        "genPrivateKey",
        "generates keys on every render; use a Secret",
    ),
    (
        "derivePassword",
        "derives secrets in templates; use a Secret",
    ),
    ("env", "reads the environment; templates cannot"),
    ("expandenv", "reads the environment; templates cannot"),
    ("getHostByName", "reads DNS; templates cannot"),
];

impl Translator<'_> {
    /// A function call with its arguments already translated (the piped value last).
    pub(crate) fn call(
        &mut self,
        name: &str,
        args: Vec<Ex>,
        cmd: &[Operand],
        dot: &Dot,
        line: usize,
    ) -> Ex {
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            return self.marker(line, &format!("`{name}` {why}"));
        }
        if name == "tpl" {
            // A constant template is translated in place; other text is translated and rendered
            // when the chart renders, by the engine's `tpl` filter.
            if let Some(Operand::Str(text)) = cmd.get(1) {
                return self.inline_tpl(text, dot, line);
            }
            let (Some(text), Some(context)) = (args.first(), cmd.get(2)) else {
                return self.marker(line, "`tpl` takes a template and a context");
            };
            self.runtime_tpl = true;
            let source = string(&format!(
                "{}:{line}: tpl {}",
                self.file,
                cmd.get(1).map(describe).unwrap_or_default()
            ));
            let dot_arg = if self.is_root(context, dot) {
                String::new()
            } else {
                let value = args.get(1).map(Ex::value).unwrap_or_else(|| "none".into());
                format!(", dot={value}")
            };
            let kwargs =
                format!("values=values, release=release, chart=chart{dot_arg}, source={source}");
            return match text {
                Ex::Text(t) => Ex::Text(format!("{t} | tpl({kwargs})")),
                // `tpl (toYaml x) $`: each string of `x` is rendered as a value, then written
                // as YAML; the template can never write YAML structure.
                Ex::Plain(e) if e.matches(GO_YAML).count() == 1 => {
                    Ex::Plain(e.replacen(GO_YAML, &format!(" | tpl({kwargs}){GO_YAML}"), 1))
                }
                Ex::Plain(e) => Ex::Plain(format!("({e} | tpl({kwargs}))")),
            };
        }
        let v: Vec<String> = args.iter().map(Ex::value).collect();
        let n = v.len();
        let arg = |i: usize| v.get(i).cloned().unwrap_or_else(|| "none".into());
        let last = || v.last().cloned().unwrap_or_else(|| "none".into());
        let need = |k: usize| n >= k;
        let plain = |s: String| Ex::Plain(s);

        match (name, n) {
            ("default", 2) => plain(format!("({} | if_empty(value={}))", arg(1), arg(0))),
            ("default", 1) => plain(format!("({} | if_empty(value=none))", arg(0))),
            ("empty", 1) => plain(format!("({} | empty)", arg(0))),
            ("required", 2) => plain(format!("({} | required(msg={}))", arg(1), arg(0))),
            ("fail", 1) => plain(format!("fail(msg={})", arg(0))),
            ("ternary", 3) => plain(format!(
                "({} | ternary(yes={}, no={}))",
                arg(2),
                arg(0),
                arg(1)
            )),
            ("coalesce", _) if need(1) => plain(format!("([{}] | coalesce)", v.join(", "))),
            ("quote", 1) => plain(format!("({} | quote)", arg(0))),
            ("squote", 1) => plain(format!("({} | squote)", arg(0))),
            ("htpasswd", 2) => plain(format!(
                "({} | htpasswd(password={}, seed=release.uid))",
                arg(0),
                arg(1)
            )),
            ("toYaml" | "mustToYaml", 1) => plain(format!("({}{GO_YAML}", arg(0))),
            ("toJson" | "mustToJson" | "toRawJson", 1) => plain(format!("({} | to_json)", arg(0))),
            ("toPrettyJson", 1) => plain(format!("({} | to_json(pretty=true))", arg(0))),
            ("fromYaml", 1) => plain(format!("({} | from_yaml)", arg(0))),
            ("fromJson" | "mustFromJson", 1) => plain(format!("({} | from_json)", arg(0))),
            ("nindent" | "indent", 2) => {
                let f = if name == "nindent" {
                    "nindent"
                } else {
                    "indent"
                };
                let first = if name == "indent" { ", first=true" } else { "" };
                match &args[1] {
                    Ex::Text(text) => Ex::Text(format!("{text} | {f}(width={}{first})", arg(0))),
                    Ex::Plain(e) => plain(format!("({e} | {f}(width={}{first}))", arg(0))),
                }
            }
            ("trunc", 2) => plain(format!("({} | trunc(length={}))", arg(1), arg(0))),
            ("trimSuffix", 2) => plain(format!("({} | trim_suffix(suffix={}))", arg(1), arg(0))),
            ("trimPrefix", 2) => plain(format!("({} | trim_prefix(prefix={}))", arg(1), arg(0))),
            ("trim", 1) => plain(format!("({} | trim)", arg(0))),
            ("upper", 1) => plain(format!("({} | upper)", arg(0))),
            ("lower", 1) => plain(format!("({} | lower)", arg(0))),
            ("title", 1) => plain(format!("({} | title)", arg(0))),
            ("replace", 3) => plain(format!(
                "({} | replace(from={}, to={}))",
                arg(2),
                arg(0),
                arg(1)
            )),
            ("printf", _) if need(1) => plain(format!(
                "printf(format={}, args=[{}])",
                arg(0),
                v[1..].join(", ")
            )),
            ("print", _) => plain(format!(
                "printf(format={}, args=[{}])",
                string(&"%v".repeat(n)),
                v.join(", ")
            )),
            ("contains", 2) => plain(format!("({} in {})", arg(0), arg(1))),
            ("hasPrefix", 2) => plain(format!("({} is starting_with({}))", arg(1), arg(0))),
            ("hasSuffix", 2) => plain(format!("({} is ending_with({}))", arg(1), arg(0))),
            ("eq", _) if need(2) => plain(format!(
                "({})",
                v[1..]
                    .iter()
                    .map(|b| format!("{} == {b}", arg(0)))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            ("ne", 2) => plain(format!("({} != {})", arg(0), arg(1))),
            ("lt", 2) => plain(format!("({} < {})", arg(0), arg(1))),
            ("le", 2) => plain(format!("({} <= {})", arg(0), arg(1))),
            ("gt", 2) => plain(format!("({} > {})", arg(0), arg(1))),
            ("ge", 2) => plain(format!("({} >= {})", arg(0), arg(1))),
            ("and", _) if need(2) => plain(format!("({})", v.join(" and "))),
            ("or", _) if need(2) => plain(format!("({})", v.join(" or "))),
            ("not", 1) => plain(format!("(not {})", arg(0))),
            ("dict", _) if n.is_multiple_of(2) => plain(format!(
                "{{ {} }}",
                v.chunks(2)
                    .map(|kv| format!("{}: {}", kv[0], kv[1]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ("list" | "tuple", _) => plain(format!("[{}]", v.join(", "))),
            ("append" | "mustAppend", 2) => {
                plain(format!("({} | append(item={}))", arg(0), arg(1)))
            }
            ("merge" | "mustMerge", _) if need(2) => plain(format!(
                "({} | merge(with=[{}]))",
                arg(0),
                v[1..].join(", ")
            )),
            ("mergeOverwrite" | "mustMergeOverwrite", _) if need(2) => plain(format!(
                "({} | merge_overwrite(with=[{}]))",
                arg(0),
                v[1..].join(", ")
            )),
            ("hasKey", 2) => plain(format!("({} | has_key(key={}))", arg(0), arg(1))),
            ("get", 2) => plain(format!(
                "({} | dig(keys=[{}], default=\"\"))",
                arg(0),
                arg(1)
            )),
            ("dig", _) if need(3) => plain(format!(
                "({} | dig(keys=[{}], default={}))",
                last(),
                v[..n - 2].join(", "),
                v[n - 2]
            )),
            ("index", _) if need(2) => {
                plain(format!("({} | dig(keys=[{}]))", arg(0), v[1..].join(", ")))
            }
            ("omit", _) if need(2) => {
                plain(format!("({} | omit(keys=[{}]))", arg(0), v[1..].join(", ")))
            }
            ("pick", _) if need(2) => {
                plain(format!("({} | pick(keys=[{}]))", arg(0), v[1..].join(", ")))
            }
            ("concat", _) if need(2) => plain(format!(
                "({} | concat(with=[{}]))",
                arg(0),
                v[1..].join(", ")
            )),
            ("has" | "mustHas", 2) => plain(format!("({} in {})", arg(0), arg(1))),
            ("uniq" | "mustUniq", 1) => plain(format!("({} | unique)", arg(0))),
            ("fromYamlArray" | "fromJsonArray", 1) => plain(format!("({} | from_yaml)", arg(0))),
            ("and" | "or", 1) => plain(arg(0)),
            ("keys", 1) => plain(format!("({} | keys)", arg(0))),
            ("values", 1) => plain(format!("({} | values)", arg(0))),
            ("semverCompare", 2) => plain(format!(
                "({} | semver_compare(constraint={}))",
                arg(1),
                arg(0)
            )),
            ("regexReplaceAll", 3) => plain(format!(
                "({} | regex_replace(pattern={}, rep={}))",
                arg(1),
                arg(0),
                arg(2)
            )),
            ("regexMatch", 2) => plain(format!("({} | regex_match(pattern={}))", arg(1), arg(0))),
            ("b64enc", 1) => plain(format!("({} | b64encode)", arg(0))),
            ("b64dec", 1) => plain(format!("({} | b64decode)", arg(0))),
            ("sha256sum", 1) => plain(format!("({} | sha256)", arg(0))),
            ("toString", 1) => plain(format!("({} | str)", arg(0))),
            ("int" | "int64" | "atoi", 1) => plain(format!("({} | int)", arg(0))),
            ("float64", 1) => plain(format!("({} | float)", arg(0))),
            ("join", 2) => plain(format!("({} | str_join(sep={}))", arg(1), arg(0))),
            // Sprig's `split` gives a map `_0`, `_1`, …: ranged over, the same items in order.
            ("splitList" | "split", 2) => plain(format!("({} | split(pat={}))", arg(1), arg(0))),
            ("len", 1) => plain(format!("({} | length)", arg(0))),
            ("first", 1) => plain(format!("({} | first)", arg(0))),
            ("last", 1) => plain(format!("({} | last)", arg(0))),
            ("until", 1) => plain(format!("range(end={})", arg(0))),
            ("add", _) if need(2) => plain(format!("({})", v.join(" + "))),
            ("sub", 2) => plain(format!("({} - {})", arg(0), arg(1))),
            ("mul", _) if need(2) => plain(format!("({})", v.join(" * "))),
            ("div", 2) => plain(format!("({} // {})", arg(0), arg(1))),
            ("mod", 2) => plain(format!("({} % {})", arg(0), arg(1))),
            ("kindIs", 2) => plain(kind_test(&arg(1), cmd.get(1))),
            ("typeIs", 2) => plain(kind_test(&arg(1), cmd.get(1))),
            _ => self.marker(
                line,
                &format!("the function `{name}` with {n} argument(s) has no translation yet"),
            ),
        }
    }

    /// `.Files.Get "x"`, `(.Files.Glob "x/*").AsConfig` and the like, inlined from the chart.
    pub(crate) fn files_call(
        &mut self,
        path: &[String],
        args: &[Operand],
        _dot: &Dot,
        line: usize,
    ) -> Ex {
        let pattern = match args.first() {
            Some(Operand::Str(s)) => s.clone(),
            _ => return self.marker(line, "`.Files` with a computed file name"),
        };
        match path[1].as_str() {
            "Get" => match self.files.get(&pattern) {
                Some(text) => Ex::Plain(string(text)),
                None => Ex::Plain("\"\"".into()),
            },
            "Glob" => {
                let matched = self.glob(&pattern);
                let rest: Vec<&str> = path[2..].iter().map(String::as_str).collect();
                match rest.as_slice() {
                    // The files themselves (a map, empty when nothing matches: false in an `if`).
                    [] => {
                        let map = matched
                            .iter()
                            .map(|(name, text)| format!("{}: {}", string(name), string(text)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        Ex::Plain(format!("{{ {map} }}"))
                    }
                    ["AsConfig"] => {
                        let map = matched
                            .iter()
                            .map(|(name, text)| {
                                let base = name.rsplit('/').next().unwrap_or(name);
                                format!("{}: {}", string(base), string(text))
                            })
                            .collect::<Vec<_>>()
                            .join(", ");
                        Ex::Plain(format!("({{ {map} }} | go_yaml)"))
                    }
                    ["AsSecrets"] => {
                        let map = matched
                            .iter()
                            .map(|(name, text)| {
                                let base = name.rsplit('/').next().unwrap_or(name);
                                format!("{}: ({} | b64encode)", string(base), string(text))
                            })
                            .collect::<Vec<_>>()
                            .join(", ");
                        Ex::Plain(format!("({{ {map} }} | go_yaml)"))
                    }
                    _ => self.marker(
                        line,
                        "`.Files.Glob` used other than with `.AsConfig`/`.AsSecrets`",
                    ),
                }
            }
            other => self.marker(line, &format!("`.Files.{other}`")),
        }
    }
}

fn kind_test(value: &str, kind: Option<&Operand>) -> String {
    let test = match kind {
        Some(Operand::Str(k)) => match k.as_str() {
            "map" => "map",
            "slice" | "array" => "array",
            "string" => "string",
            "bool" => "bool",
            "int" | "int64" | "float64" => "number",
            _ => "none",
        },
        _ => "none",
    };
    format!("({value} is {test})")
}

/// An operand as the chart wrote it, for messages: `.host`, `$.Values.x`, `(…)`.
fn describe(a: &Operand) -> String {
    let path = |p: &[String]| p.iter().map(|f| format!(".{f}")).collect::<String>();
    match a {
        Operand::Field(p) if p.is_empty() => ".".into(),
        Operand::Field(p) => path(p),
        Operand::Var(n, p) => format!("${n}{}", path(p)),
        Operand::Ident(n) => n.clone(),
        Operand::Str(s) => string(s),
        Operand::Num(n) => n.clone(),
        Operand::Bool(b) => b.to_string(),
        Operand::Nil => "nil".into(),
        Operand::Paren(pipe, p) => {
            let inner = pipe
                .cmds
                .iter()
                .map(|c| c.iter().map(describe).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(" | ");
            format!("({inner}){}", path(p))
        }
    }
}
