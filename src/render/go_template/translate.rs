//! Go template nodes turned into Tera template text: actions, `if`/`with`/`range`, variables,
//! and `define`d templates as components.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value as Json;

use super::expr::{Ex, string};
use super::parse::{Node, Operand, Pipe};

/// What `.` is at a point of a template.
#[derive(Debug, Clone)]
pub(crate) enum Dot {
    /// The root context (`.Values`, `.Release`, …).
    Root,
    /// A Tera expression, with the shape its value has in the defaults when known.
    Expr(String, Option<Json>),
}

/// Something the converter could not translate, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The source file, relative to the chart (`templates/x.yaml`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What has no equivalent and what to do.
    pub message: String,
}

/// The text every marker's `fail` message starts with, which lint looks for.
pub const MARKER_TAG: &str = "tera-operator migrate: not converted";

/// A component variant to generate: the define's name and whether `.` is passed as `dot`.
pub(crate) type Variant = (String, bool);

/// The `define`d templates a translation may call.
#[derive(Clone, Copy)]
pub(crate) enum Defines<'a> {
    /// The chart's Go defines, by name (conversion time).
    Source(&'a HashMap<String, (String, Vec<Node>)>),
    /// Whether the engine holds the converted components of a define (render time, `tpl`).
    Components(&'a dyn Fn(&str) -> bool),
}

impl Defines<'_> {
    /// Whether the template `name` can be called.
    fn contains(&self, name: &str) -> bool {
        match self {
            Defines::Source(map) => map.contains_key(name),
            Defines::Components(has) => has(name),
        }
    }
}

/// Translation state for one chart.
pub(crate) struct Translator<'a> {
    /// The chart's name.
    pub(crate) chart_name: String,
    /// The file being translated (relative to the chart).
    pub(crate) file: String,
    /// values.yaml, for what paths the defaults guarantee.
    pub(crate) defaults: Json,
    /// Files of the chart other than templates, for `.Files` (path → text).
    pub(crate) files: &'a BTreeMap<String, String>,
    /// `define`d templates that can be called.
    pub(crate) defines: Defines<'a>,
    /// Whether a `tpl` renders a value at render time (its text may call any define).
    pub(crate) runtime_tpl: bool,
    /// Whether calls of a define with the root context are remembered for the rest of the
    /// template (in a renderable template; a component's variables end with its call).
    pub(crate) memo: bool,
    /// Component variants used so far.
    pub(crate) needed: BTreeSet<Variant>,
    /// What could not be translated.
    pub(crate) markers: Vec<Marker>,
    /// Statements to write before the current tag.
    hoisted: Vec<String>,
    /// Variable scopes, innermost last.
    scopes: Vec<HashMap<String, Dot>>,
    counter: usize,
}

impl<'a> Translator<'a> {
    /// A translator for `chart_name` with these defaults, files and defines.
    pub(crate) fn new(
        chart_name: &str,
        defaults: Json,
        files: &'a BTreeMap<String, String>,
        defines: Defines<'a>,
    ) -> Self {
        Self {
            chart_name: chart_name.to_string(),
            file: String::new(),
            defaults,
            files,
            defines,
            runtime_tpl: false,
            memo: false,
            needed: BTreeSet::new(),
            markers: Vec::new(),
            hoisted: Vec::new(),
            scopes: Vec::new(),
            counter: 0,
        }
    }

    /// Translates a template body whose `.` and `$` are `dot`.
    pub(crate) fn body(&mut self, file: &str, nodes: &[Node], dot: &Dot) -> String {
        self.file = file.to_string();
        self.scopes = vec![HashMap::from([(String::new(), dot.clone())])];
        self.counter = 0;
        let mut out = String::new();
        self.nodes(nodes, dot, &mut out);
        out
    }

    /// A fresh Tera variable name.
    pub(crate) fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("_{stem}{}", self.counter)
    }

    /// Queues a statement to write before the current tag.
    pub(crate) fn hoist(&mut self, statement: String) {
        self.hoisted.push(statement);
    }

    /// Records something untranslatable and returns an expression that fails the render with it.
    pub(crate) fn marker(&mut self, line: usize, what: &str) -> Ex {
        let message = format!("{MARKER_TAG}: {}:{line}: {what}", self.file);
        self.markers.push(Marker {
            file: self.file.clone(),
            line,
            message: what.to_string(),
        });
        Ex::Plain(format!("fail(msg={})", string(&message)))
    }

    /// What the variable `$name` holds (`$` is `""`).
    pub(crate) fn var(&self, name: &str) -> Option<Dot> {
        self.scopes.iter().rev().find_map(|s| s.get(name)).cloned()
    }

    /// A component call for `include`/`template`: the root variant when the argument is the
    /// root context (`arg` is `Some(None)`), else the `dot` variant.
    pub(crate) fn component_call(
        &mut self,
        name: &str,
        arg: Option<Option<String>>,
        line: usize,
    ) -> String {
        if !self.defines.contains(name) {
            return format!(
                "{{{{ {} }}}}",
                self.marker(
                    line,
                    &format!("the template `{name}` is not defined in the chart")
                )
                .value()
            );
        }
        let ident = component_name(name);
        match arg {
            Some(None) => {
                self.needed.insert((name.to_string(), false));
                if !self.memo {
                    return format!("{{{{<{ident}/>}}}}");
                }
                // Its output depends on values, release and chart only, which a render does
                // not change: made where first used (as Go would first run it), then reused.
                let var = format!("_memo_{}", sanitize(&ident.replace('.', "_")));
                format!(
                    "{{% if {var} is undefined %}}{{% set {var} %}}{{{{<{ident}/>}}}}{{% endset %}}{{% endif %}}{{{{ {var} }}}}"
                )
            }
            Some(Some(expr)) => {
                self.needed.insert((name.to_string(), true));
                format!("{{{{<{ident}_with dot={{ {expr} }}/>}}}}")
            }
            None => {
                self.needed.insert((name.to_string(), true));
                format!("{{{{<{ident}_with dot={{ none }}/>}}}}")
            }
        }
    }

    /// Translates `{{ … }}` expressions inside a constant string given to `tpl`.
    pub(crate) fn inline_tpl(&mut self, text: &str, dot: &Dot, line: usize) -> Ex {
        match super::parse::parse(text) {
            Ok(parsed) if parsed.defines.is_empty() => {
                let var = self.fresh("tpl");
                let mut inner = String::new();
                let saved = std::mem::take(&mut self.hoisted);
                self.nodes(&parsed.body, dot, &mut inner);
                self.hoisted = saved;
                self.hoist(format!("{{% set {var} %}}{inner}{{% endset %}}"));
                Ex::Text(var)
            }
            _ => self.marker(line, "`tpl` of a constant that is not a simple template"),
        }
    }

    /// Files of the chart matching a glob (`*` within a path segment, `**` across).
    pub(crate) fn glob(&self, pattern: &str) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(name, _)| glob_match(pattern, name))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect()
    }

    fn flush(&mut self, out: &mut String) {
        for s in self.hoisted.drain(..) {
            out.push_str(&s);
        }
    }

    fn declare(&mut self, name: &str, dot: Dot) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), dot);
        }
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Dot, out: &mut String) {
        for node in nodes {
            self.node(node, dot, out);
        }
    }

    fn node(&mut self, node: &Node, dot: &Dot, out: &mut String) {
        match node {
            Node::Text(text) => out.push_str(&raw_text(text)),
            Node::Action(pipe, line) => self.action(pipe, dot, *line, out),
            Node::Cond {
                branches,
                otherwise,
                line,
            } => self.cond(branches, otherwise.as_deref(), dot, *line, out),
            Node::Range {
                pipe,
                body,
                otherwise,
                line,
            } => self.range(pipe, body, otherwise.as_deref(), dot, *line, out),
            Node::Template(name, arg, line) => {
                let arg = arg.as_ref().map(|p| self.template_arg(p, dot, *line));
                let call = self.component_call(name, arg, *line);
                self.flush(out);
                out.push_str(&call);
            }
            Node::Loop(word) => out.push_str(&format!("{{% {word} %}}")),
        }
    }

    fn template_arg(&mut self, pipe: &Pipe, dot: &Dot, line: usize) -> Option<String> {
        if let [cmd] = pipe.cmds.as_slice()
            && let [single] = cmd.as_slice()
        {
            return self.argument(single, dot, line);
        }
        Some(self.pipe(pipe, dot, line).value())
    }

    fn action(&mut self, pipe: &Pipe, dot: &Dot, line: usize, out: &mut String) {
        // `{{ include "x" . }}` alone is the component call itself.
        if let ([cmd], true) = (pipe.cmds.as_slice(), pipe.vars.is_empty())
            && let [Operand::Ident(f), Operand::Str(name), arg] = cmd.as_slice()
            && f == "include"
        {
            let arg = self.argument(arg, dot, line);
            let call = self.component_call(name, Some(arg), line);
            self.flush(out);
            out.push_str(&call);
            return;
        }
        // `$_ := set $m "k" v` changes the map held by `$m`: the variable is set anew.
        if let [cmd] = pipe.cmds.as_slice()
            && let [Operand::Ident(f), Operand::Var(var, path), key, value] = cmd.as_slice()
            && f == "set"
            && path.is_empty()
            && let Some(Dot::Expr(name, shape)) = self.var(var)
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            let key = self.operand(key, dot, line).value();
            let value = self.operand(value, dot, line).value();
            self.flush(out);
            out.push_str(&format!(
                "{{% set {name} = {name} | omit(keys=[{key}]) | merge(with={{ {key}: {value} }}) %}}"
            ));
            self.declare(var, Dot::Expr(name, shape));
            return;
        }
        let value = self.pipe(pipe, dot, line);
        if pipe.vars.is_empty() {
            self.flush(out);
            match value {
                Ex::Text(var) => out.push_str(&format!("{{{{ {var} }}}}")),
                // Printed as Go prints it: nothing for nil and "", `[]` for an empty list.
                Ex::Plain(e)
                    if e.starts_with(['"', '-']) || e.starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    out.push_str(&format!("{{{{ {} }}}}", strip_parens(&e)))
                }
                Ex::Plain(e) => {
                    out.push_str(&format!("{{{{ ({}) | go_print }}}}", strip_parens(&e)))
                }
            }
            return;
        }
        let name = pipe.vars.last().cloned().unwrap_or_default();
        let tera_name = format!("{}_", sanitize(&name));
        let expr = value.value();
        self.flush(out);
        let keyword = if pipe.declare { "set" } else { "set_global" };
        out.push_str(&format!(
            "{{% {keyword} {tera_name} = {} %}}",
            strip_parens(&expr)
        ));
        let shape = self.shape_of(pipe, dot);
        if pipe.declare {
            self.declare(&name, Dot::Expr(tera_name, shape));
        }
    }

    /// The defaults' shape of what a one-field pipeline reads (`.Values.x` → values.yaml's x).
    fn shape_of(&self, pipe: &Pipe, dot: &Dot) -> Option<Json> {
        let [cmd] = pipe.cmds.as_slice() else {
            return None;
        };
        let [operand] = cmd.as_slice() else {
            return None;
        };
        let (base, path) = match operand {
            Operand::Field(p) => (dot.clone(), p.clone()),
            Operand::Var(n, p) => (self.var(n)?, p.clone()),
            _ => return None,
        };
        let (mut shape, path) = match base {
            Dot::Root if path.first().map(String::as_str) == Some("Values") => {
                (self.defaults.clone(), path[1..].to_vec())
            }
            Dot::Expr(_, Some(s)) => (s, path),
            _ => return None,
        };
        for key in &path {
            shape = shape.get(key.as_str())?.clone();
        }
        Some(shape)
    }

    fn cond(
        &mut self,
        branches: &[(bool, Pipe, Vec<Node>)],
        otherwise: Option<&[Node]>,
        dot: &Dot,
        line: usize,
        out: &mut String,
    ) {
        // Go evaluates an `else if` condition only when the branches before it were not taken.
        // A condition whose translation needs statements first (a captured include, a `with`
        // binding) is therefore nested in the `else` of the previous branch, so those statements
        // run only where Go would evaluate it; other conditions stay `elif`s.
        let mut open = 0;
        for (i, (with, pipe, body)) in branches.iter().enumerate() {
            let value = self.pipe(pipe, dot, line).value();
            let (head, inner_dot) = if *with {
                let shape = self.shape_of(pipe, dot);
                let simple = value
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '_');
                let bound = if simple {
                    value.clone()
                } else {
                    let var = self.fresh("with");
                    self.hoist(format!("{{% set {var} = {} %}}", strip_parens(&value)));
                    var
                };
                (bound.clone(), Some(Dot::Expr(bound, shape)))
            } else {
                (strip_parens(&value).to_string(), None)
            };
            if i == 0 || !self.hoisted.is_empty() {
                if i > 0 {
                    out.push_str("{% else %}");
                }
                self.flush(out);
                out.push_str(&format!("{{% if {head} %}}"));
                open += 1;
            } else {
                out.push_str(&format!("{{% elif {head} %}}"));
            }
            self.scopes.push(HashMap::new());
            if let (Some(var), Some(Dot::Expr(e, s))) = (pipe.vars.last(), &inner_dot) {
                self.declare(var, Dot::Expr(e.clone(), s.clone()));
            }
            let inner_dot = inner_dot.unwrap_or_else(|| dot.clone());
            let mut inner = String::new();
            self.nodes(body, &inner_dot, &mut inner);
            self.scopes.pop();
            out.push_str(&inner);
        }
        if let Some(body) = otherwise {
            out.push_str("{% else %}");
            self.scopes.push(HashMap::new());
            self.nodes(body, dot, out);
            self.scopes.pop();
        }
        for _ in 0..open {
            out.push_str("{% endif %}");
        }
    }

    fn range(
        &mut self,
        pipe: &Pipe,
        body: &[Node],
        otherwise: Option<&[Node]>,
        dot: &Dot,
        line: usize,
        out: &mut String,
    ) {
        let value = self.pipe(pipe, dot, line).value();
        let shape = self.shape_of(pipe, dot);
        let is_map = matches!(shape, Some(Json::Object(_)));
        let element_shape = match &shape {
            Some(Json::Array(items)) => items.first().cloned(),
            Some(Json::Object(map)) => map.values().next().cloned(),
            _ => None,
        };
        self.flush(out);
        let item = self.fresh("item");
        let (index_var, value_var) = match pipe.vars.as_slice() {
            [v] => (None, Some(v.clone())),
            [i, v] => (Some(i.clone()), Some(v.clone())),
            _ => (None, None),
        };
        let key = self.fresh("key");
        // Neither a map nor a list in the defaults: which it is is known when the chart renders.
        let unknown = !matches!(shape, Some(Json::Object(_) | Json::Array(_)));
        let (item, index) = if unknown {
            out.push_str(&format!(
                "{{% for {item} in {} | range_pairs %}}",
                strip_parens(&value)
            ));
            (format!("{item}[1]"), format!("{item}[0]"))
        } else if is_map {
            out.push_str(&format!(
                "{{% for {key}, {item} in {} | sort_keys %}}",
                strip_parens(&value)
            ));
            (item, key)
        } else {
            out.push_str(&format!("{{% for {item} in {} %}}", strip_parens(&value)));
            (item, "loop.index0".to_string())
        };
        self.scopes.push(HashMap::new());
        if let Some(v) = value_var {
            self.declare(&v, Dot::Expr(item.clone(), element_shape.clone()));
        }
        if let Some(i) = index_var {
            self.declare(&i, Dot::Expr(index, None));
        }
        let inner_dot = Dot::Expr(item, element_shape);
        self.nodes(body, &inner_dot, out);
        self.scopes.pop();
        if let Some(body) = otherwise {
            out.push_str("{% else %}");
            self.nodes(body, dot, out);
        }
        out.push_str("{% endfor %}");
    }
}

/// A Tera component name for a define (`mychart.fullname` → `mychart.fullname`,
/// `my-chart.x` → `my_chart.x`).
pub(crate) fn component_name(define: &str) -> String {
    define
        .split('.')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join(".")
}

/// An identifier from any text: other characters become `_`, a leading digit gets `_`.
pub(crate) fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Literal text, with Tera's delimiters kept literal.
fn raw_text(text: &str) -> String {
    if text.contains("{{") || text.contains("{%") || text.contains("{#") {
        // A raw block ends at the first `endraw` tag: the word is split across two blocks, so
        // text (a value given to `tpl`) can never end the block and be read as Tera.
        let text = text.replace("endraw", "end{% endraw %}{% raw %}raw");
        format!("{{% raw %}}{text}{{% endraw %}}")
    } else {
        text.to_string()
    }
}

/// `(x)` → `x` when the parentheses wrap the whole expression.
fn strip_parens(e: &str) -> &str {
    if e.starts_with('(') && e.ends_with(')') {
        let inner = &e[1..e.len() - 1];
        let mut depth = 0i32;
        let mut in_string = false;
        let mut escaped = false;
        for c in inner.chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        return e;
                    }
                }
                _ => {}
            }
        }
        if depth == 0 {
            return inner;
        }
    }
    e
}

fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                (0..=n.len()).any(|i| go(&p[2..], &n[i..]))
            }
            (Some(b'*'), _) => (0..=n.len())
                .take_while(|i| *i == 0 || n[i - 1] != b'/')
                .any(|i| go(&p[1..], &n[i..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}
