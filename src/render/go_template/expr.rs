//! Go template pipelines and Sprig/Helm function calls turned into Tera expressions.

use serde_json::Value as Json;

use super::parse::{Operand, Pipe};
use super::translate::{Dot, Translator};

/// A translated expression: plain Tera, or text captured from a component (YAML with the
/// engine's placeholders), which only `nindent`, `indent` and printing keep as text.
#[derive(Debug, Clone)]
pub(crate) enum Ex {
    /// A Tera expression.
    Plain(String),
    /// Captured component output: a variable, maybe indented (`_included1 | nindent(width=4)`).
    Text(String),
}

impl Ex {
    /// The expression as a value: captured text has its placeholders resolved.
    pub(crate) fn value(&self) -> String {
        match self {
            Ex::Plain(e) => e.clone(),
            Ex::Text(v) => format!("({v} | resolved)"),
        }
    }
}

/// A Tera string literal.
pub(crate) fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

impl Translator<'_> {
    /// Translates a pipeline; the value of each command is the last argument of the next.
    pub(crate) fn pipe(&mut self, pipe: &Pipe, dot: &Dot, line: usize) -> Ex {
        let mut previous: Option<Ex> = None;
        for cmd in &pipe.cmds {
            previous = Some(self.command(cmd, previous, dot, line));
        }
        previous.unwrap_or_else(|| Ex::Plain("none".into()))
    }

    fn command(&mut self, cmd: &[Operand], piped: Option<Ex>, dot: &Dot, line: usize) -> Ex {
        match cmd.first() {
            Some(Operand::Ident(name)) => {
                let mut args: Vec<&Operand> = cmd[1..].iter().collect();
                let name = name.clone();
                // `include`/`template` name their template with a literal: keep it apart.
                if name == "include" {
                    return self.include(&args, piped, dot, line);
                }
                let mut values: Vec<Ex> = Vec::new();
                for a in args.drain(..) {
                    values.push(self.operand(a, dot, line));
                }
                if let Some(p) = piped {
                    values.push(p);
                }
                self.call(&name, values, cmd, dot, line)
            }
            Some(first) if cmd.len() == 1 => {
                let value = self.operand(first, dot, line);
                if piped.is_some() {
                    return self.marker(line, "a pipeline into a value that is not a function");
                }
                value
            }
            Some(Operand::Field(path)) if path.len() >= 2 && path[0] == "Files" => {
                self.files_call(path, &cmd[1..], dot, line)
            }
            Some(Operand::Field(path))
                if path.len() >= 2 && path[0] == "Capabilities" && path[1] == "APIVersions" =>
            {
                let arg = cmd.get(1).map(|a| self.operand(a, dot, line).value());
                match arg {
                    Some(a) => Ex::Plain(format!("({a} in values.capabilities.apiVersions)")),
                    None => self.marker(line, "`.Capabilities.APIVersions` without `Has`"),
                }
            }
            _ => self.marker(line, "a method call with arguments"),
        }
    }

    fn include(&mut self, args: &[&Operand], piped: Option<Ex>, dot: &Dot, line: usize) -> Ex {
        let name = match args.first() {
            Some(Operand::Str(name)) => name.clone(),
            Some(Operand::Paren(pipe, rest)) if rest.is_empty() => {
                return match self.template_file(pipe) {
                    Some(file) => self.include_file(&file, args.get(1), dot, line),
                    None => self.marker(line, "`include` of a computed template name"),
                };
            }
            _ => return self.marker(line, "`include` of a computed template name"),
        };
        let arg = match (args.get(1), piped) {
            (Some(a), _) => Some(self.argument(a, dot, line)),
            (None, Some(p)) => Some(Some(p.value())),
            (None, None) => None,
        };
        let call = self.component_call(&name, arg, line);
        let var = self.fresh("included");
        self.hoist(format!("{{% set {var} %}}{call}{{% endset %}}"));
        Ex::Text(var)
    }

    /// `(print $.Template.BasePath "/configmap.yaml")`: the chart's template file it names
    /// (`templates/configmap.yaml`), when every part is constant.
    fn template_file(&self, pipe: &Pipe) -> Option<String> {
        let [cmd] = pipe.cmds.as_slice() else {
            return None;
        };
        let (Some(Operand::Ident(f)), parts) = (cmd.first(), &cmd[1..]) else {
            return None;
        };
        if f != "print" {
            return None;
        }
        let base_path = |p: &[String]| p == ["Template", "BasePath"];
        let mut name = String::new();
        for part in parts {
            match part {
                Operand::Str(s) => name.push_str(s),
                Operand::Field(p) | Operand::Var(_, p) if base_path(p) => {
                    name.push_str(&format!("{}/templates", self.chart_name));
                }
                _ => return None,
            }
        }
        let rel = name.strip_prefix(&format!("{}/", self.chart_name))?;
        let file = rel.rsplit('/').next()?;
        let renderable = rel.starts_with("templates/")
            && !file.starts_with('_')
            && (file.ends_with(".yaml") || file.ends_with(".yml") || file.ends_with(".tpl"));
        renderable.then(|| rel.to_string())
    }

    /// `include` of a template file (Helm renders the file with the context given): the
    /// converted file rendered at this point, captured as text (a checksum over it, say).
    fn include_file(&mut self, file: &str, arg: Option<&&Operand>, dot: &Dot, line: usize) -> Ex {
        let root = match arg {
            Some(a) => self.argument(a, dot, line).is_none(),
            None => false,
        };
        if !root {
            return self.marker(
                line,
                &format!(
                    "`include` of the template file {file} with another context than the root"
                ),
            );
        }
        let var = self.fresh("included");
        self.hoist(format!(
            "{{% set {var} %}}{{% include {} %}}{{% endset %}}",
            string(&super::output_name(file))
        ));
        Ex::Text(var)
    }

    /// Whether the operand is the root context (`.` at the root, `$`, a variable holding it).
    pub(crate) fn is_root(&self, a: &Operand, dot: &Dot) -> bool {
        match a {
            Operand::Field(p) if p.is_empty() => matches!(dot, Dot::Root),
            Operand::Var(n, p) if p.is_empty() => {
                matches!(self.var(n), Some(Dot::Root))
            }
            _ => false,
        }
    }

    /// A template argument: `None` inside when it is the root context, else its expression.
    pub(crate) fn argument(&mut self, a: &Operand, dot: &Dot, line: usize) -> Option<String> {
        if self.is_root(a, dot) {
            None
        } else {
            Some(self.operand(a, dot, line).value())
        }
    }

    /// Translates one operand.
    pub(crate) fn operand(&mut self, a: &Operand, dot: &Dot, line: usize) -> Ex {
        match a {
            Operand::Field(path) => self.field(dot, path, line),
            Operand::Var(name, path) => match self.var(name) {
                Some(base) => self.field(&base, path, line),
                None => self.marker(line, &format!("the variable `${name}` is not declared")),
            },
            Operand::Str(s) => Ex::Plain(string(s)),
            Operand::Num(n) => Ex::Plain(number(n)),
            Operand::Bool(b) => Ex::Plain(b.to_string()),
            Operand::Nil => Ex::Plain("none".into()),
            Operand::Ident(name) => self.call(name, Vec::new(), &[], dot, line),
            Operand::Paren(pipe, path) => {
                // `(.Files.Glob "x/*").AsConfig`: one `.Files` call with the method after it.
                if let [cmd] = pipe.cmds.as_slice()
                    && let Some(Operand::Field(files)) = cmd.first()
                    && files.len() == 2
                    && files[0] == "Files"
                    && !path.is_empty()
                {
                    let mut combined = files.clone();
                    combined.extend(path.iter().cloned());
                    return self.files_call(&combined, &cmd[1..], dot, line);
                }
                let inner = self.pipe(pipe, dot, line);
                if path.is_empty() {
                    inner
                } else {
                    let base = Dot::Expr(format!("({})", inner.value()), None);
                    self.field(&base, path, line)
                }
            }
        }
    }

    /// A field chain on a dot: `.Values.a` at the root is `values.a`; fields the defaults
    /// guarantee are read directly, others with `dig` so a missing key is null as in Go.
    pub(crate) fn field(&mut self, dot: &Dot, path: &[String], line: usize) -> Ex {
        match dot {
            Dot::Root => self.root_field(path, line),
            Dot::Expr(base, shape) => Ex::Plain(access(base, shape.as_ref(), path)),
        }
    }

    fn root_field(&mut self, path: &[String], line: usize) -> Ex {
        let Some((head, rest)) = path.split_first() else {
            return Ex::Plain(ROOT_MAP.to_string());
        };
        let rest_str = |rest: &[String]| rest.join(".");
        match head.as_str() {
            "Values" => {
                let shape = self.defaults.clone();
                Ex::Plain(access("values", Some(&shape), rest))
            }
            "Release" => Ex::Plain(match rest_str(rest).as_str() {
                "" => "{ \"Name\": release.name, \"Namespace\": release.namespace, \"Service\": \"tera-operator\" }".into(),
                "Name" => "release.name".into(),
                "Namespace" => "release.namespace".into(),
                "Service" => "\"tera-operator\"".into(),
                "Revision" => "release.generation".into(),
                "IsInstall" => "false".into(),
                "IsUpgrade" => "true".into(),
                other => return self.marker(line, &format!("`.Release.{other}`")),
            }),
            "Chart" => Ex::Plain(match rest_str(rest).as_str() {
                "" => "chart".into(),
                "Name" => "chart.name".into(),
                "Version" => "chart.version".into(),
                "AppVersion" => "chart.appVersion".into(),
                other => access("chart_meta", None, &[other.to_string()]),
            }),
            "Capabilities" => match rest_str(rest).as_str() {
                "KubeVersion.Version" | "KubeVersion.GitVersion" | "KubeVersion" => {
                    Ex::Plain("values.capabilities.kubeVersion".into())
                }
                "KubeVersion.Major" => {
                    Ex::Plain("(values.capabilities.kubeVersion | trim_prefix(prefix=\"v\") | split(pat=\".\") | first)".into())
                }
                "KubeVersion.Minor" => {
                    Ex::Plain("(values.capabilities.kubeVersion | trim_prefix(prefix=\"v\") | split(pat=\".\") | nth(n=1))".into())
                }
                other => self.marker(line, &format!("`.Capabilities.{other}`")),
            },
            "Template" => match rest_str(rest).as_str() {
                "Name" => Ex::Plain(string(&format!("{}/{}", self.chart_name, self.file))),
                "BasePath" => Ex::Plain(string(&format!("{}/templates", self.chart_name))),
                other => self.marker(line, &format!("`.Template.{other}`")),
            },
            "Files" => self.marker(line, "`.Files` used other than `.Files.Get`/`.Glob`/`.AsConfig`/`.AsSecrets` with a constant"),
            other => self.marker(line, &format!("`.{other}` on the root context")),
        }
    }
}

/// The root context as a map, for templates that pass `$` around (`dict "context" $`).
/// Map literals are written with spaces inside their braces: `}}` would end a Tera tag.
pub(crate) const ROOT_MAP: &str = "{ \"Values\": values, \"Release\": { \"Name\": release.name, \"Namespace\": release.namespace, \"Service\": \"tera-operator\", \"Revision\": release.generation }, \"Chart\": { \"Name\": chart.name, \"Version\": chart.version, \"AppVersion\": chart.appVersion } }";

/// `base.a.b`, reading directly what `shape` (the defaults) guarantees, then with `dig`.
pub(crate) fn access(base: &str, shape: Option<&Json>, path: &[String]) -> String {
    let mut out = base.to_string();
    let mut shape = shape;
    let mut i = 0;
    while i < path.len() {
        let key = &path[i];
        let next = shape.and_then(|s| s.get(key.as_str()));
        match next {
            Some(v) if !v.is_null() && is_ident(key) => {
                out.push('.');
                out.push_str(key);
                shape = Some(v);
                i += 1;
            }
            _ => {
                // A dotted path, not a list: a list literal would add a dimension to the
                // arrays around it (`printf(args=[…])`), and Tera allows two.
                if path[i..].iter().all(|k| !k.contains('.') && !k.is_empty()) {
                    return format!("({out} | dig(path={}))", string(&path[i..].join(".")));
                }
                let keys: Vec<String> = path[i..].iter().map(|k| string(k)).collect();
                return format!("({out} | dig(keys=[{}]))", keys.join(", "));
            }
        }
    }
    out
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "and" | "or" | "not" | "in" | "is" | "true" | "false" | "none"
        )
}

fn number(n: &str) -> String {
    if let Some(hex) = n.strip_prefix("0x")
        && let Ok(v) = i64::from_str_radix(hex, 16)
    {
        return v.to_string();
    }
    n.replace('_', "")
}
