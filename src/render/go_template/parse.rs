//! A parser for Go's text/template as Helm uses it: text, actions with trim markers, comments,
//! pipelines, variables, `if`/`else if`/`with`/`range`/`define`/`template`/`block`.

/// An operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// `.a.b` (empty path: `.` itself).
    Field(Vec<String>),
    /// `$x.a.b` (`$` alone is the name `""`).
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// A string literal (already unescaped).
    Str(String),
    /// A number literal, as written.
    Num(String),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `(pipeline).a.b`.
    Paren(Box<Pipe>, Vec<String>),
}

/// One command: a function with arguments, or a single operand.
pub(crate) type Cmd = Vec<Operand>;

/// A pipeline, maybe declaring (`:=`) or assigning (`=`) variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipe {
    /// Variables declared or assigned.
    pub(crate) vars: Vec<String>,
    /// Whether `vars` are declared (`:=`) rather than assigned.
    pub(crate) declare: bool,
    /// The commands, joined by `|`.
    pub(crate) cmds: Vec<Cmd>,
}

/// Whitespace trimming requested by an action's markers (applied to the text around it when
/// lexing, so the nodes carry none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Trim {
    /// `{{-`.
    left: bool,
    /// `-}}`.
    right: bool,
}

/// A node of a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`, with its 1-based line.
    Action(Pipe, usize),
    /// `if`/`with` with `else if`/`else with` branches (`true` for `with`) and an `else`.
    Cond {
        /// `with` (else `if`), condition, body; per branch.
        branches: Vec<(bool, Pipe, Vec<Node>)>,
        /// The `else` body.
        otherwise: Option<Vec<Node>>,
        /// 1-based line of the `if`.
        line: usize,
    },
    /// `range`.
    Range {
        /// The pipeline (with `$i, $v :=`).
        pipe: Pipe,
        /// Loop body.
        body: Vec<Node>,
        /// The `else` body.
        otherwise: Option<Vec<Node>>,
        /// 1-based line.
        line: usize,
    },
    /// `template "name" pipeline` (also the call of a `block`), with its line.
    Template(String, Option<Pipe>, usize),
    /// `break`/`continue`.
    Loop(&'static str),
}

/// A parsed template file: its body and the templates it defines.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Top-level nodes.
    pub(crate) body: Vec<Node>,
    /// `define`d (and `block`) templates, by name.
    pub(crate) defines: Vec<(String, Vec<Node>)>,
}

/// A parse error with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    /// 1-based line.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    Open,
    Close(Vec<String>),
    Declare,
    Assign,
    Comma,
}

/// A raw piece of the source: text, or an action's tokens with its markers and line.
enum Piece {
    Text(String),
    Action(Trim, Vec<Tok>, usize),
    Comment(Trim),
}

fn lex(src: &str) -> Result<Vec<Piece>, ParseError> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        line += rest[..start].matches('\n').count();
        let mut inner = &rest[start + 2..];
        let mut trim = Trim::default();
        if inner.starts_with("- ") || inner.starts_with("-\n") || inner.starts_with("-\t") {
            trim.left = true;
            inner = &inner[1..];
        }
        let trimmed = inner.trim_start();
        if trimmed.starts_with("/*") {
            let end = trimmed
                .find("*/")
                .ok_or_else(|| err(line, "unclosed comment"))?;
            let after = trimmed[end + 2..].trim_start();
            let (right, after) = match after.strip_prefix("-}}") {
                Some(a) => (true, a),
                None => (
                    false,
                    after
                        .strip_prefix("}}")
                        .ok_or_else(|| err(line, "comment ends before }}"))?,
                ),
            };
            trim.right = right;
            line += rest[start..rest.len() - after.len()].matches('\n').count();
            pieces.push(Piece::Comment(trim));
            rest = after;
            continue;
        }
        let (tokens, consumed, right) = lex_action(inner, line)?;
        trim.right = right;
        let after = &inner[consumed..];
        line += rest[start..rest.len() - after.len()].matches('\n').count();
        pieces.push(Piece::Action(trim, tokens, line));
        rest = after;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn fields(s: &str) -> Vec<String> {
    s.split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Tokens of one action, the bytes consumed through `}}`, and whether it ended `-}}`.
fn lex_action(src: &str, line: usize) -> Result<(Vec<Tok>, usize, bool), ParseError> {
    let mut tokens = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let end_of = |i: usize| chars.get(i).map(|c| c.0).unwrap_or(src.len());
    while i < chars.len() {
        let c = chars[i].1;
        let pos = chars[i].0;
        if c.is_whitespace() {
            if src[pos..].trim_start().starts_with("-}}") {
                let dash = pos + (src[pos..].len() - src[pos..].trim_start().len());
                return Ok((tokens, dash + 3, true));
            }
            i += 1;
            continue;
        }
        if src[pos..].starts_with("}}") {
            return Ok((tokens, pos + 2, false));
        }
        match c {
            '|' => {
                tokens.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                tokens.push(Tok::Open);
                i += 1;
            }
            ')' => {
                i += 1;
                let start = i;
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
                tokens.push(Tok::Close(fields(&src[end_of(start)..end_of(i)])));
            }
            ',' => {
                tokens.push(Tok::Comma);
                i += 1;
            }
            ':' if at(i + 1) == Some('=') => {
                tokens.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                tokens.push(Tok::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match at(i) {
                        None | Some('\n') => return Err(err(line, "unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match at(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some(other) => s.push(other),
                                None => return Err(err(line, "unterminated string")),
                            }
                        }
                        Some(other) => s.push(other),
                    }
                    i += 1;
                }
                i += 1;
                tokens.push(Tok::Str(s));
            }
            '`' => {
                let start = end_of(i + 1);
                let len = src[start..]
                    .find('`')
                    .ok_or_else(|| err(line, "unterminated raw string"))?;
                tokens.push(Tok::Str(src[start..start + len].to_string()));
                while end_of(i) <= start + len {
                    i += 1;
                }
            }
            '\'' => {
                let ch = at(i + 1).ok_or_else(|| err(line, "unterminated character"))?;
                tokens.push(Tok::Num((ch as u32).to_string()));
                i += 3;
            }
            '$' => {
                let start = i;
                i += 1;
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
                let word = &src[end_of(start) + 1..end_of(i)];
                let (name, path) = match word.split_once('.') {
                    Some((n, p)) => (n.to_string(), fields(p)),
                    None => (word.to_string(), Vec::new()),
                };
                tokens.push(Tok::Var(name, path));
            }
            '.' => {
                let start = i;
                i += 1;
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
                tokens.push(Tok::Field(fields(&src[end_of(start)..end_of(i)])));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                    i += 1;
                }
                tokens.push(Tok::Num(src[end_of(start)..end_of(i)].to_string()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let word = &src[end_of(start)..end_of(i)];
                // `fn.field` is not Go; a dotted word after an identifier is a field chain.
                tokens.push(Tok::Ident(word.to_string()));
            }
            other => {
                return Err(err(
                    line,
                    format!("unexpected character `{other}` in action"),
                ));
            }
        }
    }
    Err(err(line, "unclosed action: no `}}`"))
}

/// Parses a whole template file.
pub(crate) fn parse(src: &str) -> Result<Parsed, ParseError> {
    let mut pieces = lex(src)?;
    apply_trims(&mut pieces);
    let mut parser = Parser {
        pieces: pieces.into_iter().peekable(),
        defines: Vec::new(),
    };
    let (body, stop) = parser.nodes()?;
    if let Some((word, _, line)) = stop {
        return Err(err(line, format!("unexpected `{word}`")));
    }
    Ok(Parsed {
        body,
        defines: parser.defines,
    })
}

/// Applies `{{-` and `-}}`: the text before loses its trailing whitespace, the text after its
/// leading whitespace (spaces, tabs, carriage returns and newlines, as Go does).
fn apply_trims(pieces: &mut [Piece]) {
    let trim_of = |p: &Piece| match p {
        Piece::Action(t, _, _) | Piece::Comment(t) => Some(*t),
        Piece::Text(_) => None,
    };
    for i in 0..pieces.len() {
        let before = i.checked_sub(1).and_then(|j| trim_of(&pieces[j]));
        let after = pieces.get(i + 1).and_then(trim_of);
        if let Piece::Text(text) = &mut pieces[i] {
            let ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
            if after.is_some_and(|t| t.left) {
                let kept = text.trim_end_matches(ws).len();
                text.truncate(kept);
            }
            if before.is_some_and(|t| t.right) {
                let cut = text.len() - text.trim_start_matches(ws).len();
                text.drain(..cut);
            }
        }
    }
}

type Stop = Option<(String, Vec<Tok>, usize)>;

struct Parser {
    pieces: std::iter::Peekable<std::vec::IntoIter<Piece>>,
    defines: Vec<(String, Vec<Node>)>,
}

impl Parser {
    /// Nodes up to an `end`/`else` (returned with its remaining tokens), or the end of input.
    fn nodes(&mut self) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut out = Vec::new();
        while let Some(piece) = self.pieces.next() {
            match piece {
                Piece::Text(t) => {
                    if !t.is_empty() {
                        out.push(Node::Text(t));
                    }
                }
                Piece::Comment(_) => {}
                Piece::Action(_, tokens, line) => {
                    let keyword = match tokens.first() {
                        Some(Tok::Ident(w)) => w.clone(),
                        _ => String::new(),
                    };
                    let rest: Vec<Tok> = tokens.iter().skip(1).cloned().collect();
                    match keyword.as_str() {
                        "end" | "else" => return Ok((out, Some((keyword, rest, line)))),
                        "if" | "with" => out.push(self.cond(keyword == "with", &rest, line)?),
                        "range" => {
                            let pipe = pipeline(&rest, line)?;
                            let (body, stop) = self.nodes()?;
                            let otherwise = self.finish(stop, line, "range")?;
                            out.push(Node::Range {
                                pipe,
                                body,
                                otherwise,
                                line,
                            });
                        }
                        "define" | "block" => {
                            let (name, arg) = match rest.split_first() {
                                Some((Tok::Str(name), arg)) => (name.clone(), arg.to_vec()),
                                _ => return Err(err(line, format!("{keyword} needs a name"))),
                            };
                            let (body, stop) = self.nodes()?;
                            if !matches!(&stop, Some((w, _, _)) if w == "end") {
                                return Err(err(line, format!("{keyword} without end")));
                            }
                            self.defines.push((name.clone(), body));
                            if keyword == "block" {
                                let arg = (!arg.is_empty())
                                    .then(|| pipeline(&arg, line))
                                    .transpose()?;
                                out.push(Node::Template(name, arg, line));
                            }
                        }
                        "template" => {
                            let (name, arg) = match rest.split_first() {
                                Some((Tok::Str(name), arg)) => (name.clone(), arg.to_vec()),
                                _ => return Err(err(line, "template needs a name")),
                            };
                            let arg = (!arg.is_empty())
                                .then(|| pipeline(&arg, line))
                                .transpose()?;
                            out.push(Node::Template(name, arg, line));
                        }
                        "break" => out.push(Node::Loop("break")),
                        "continue" => out.push(Node::Loop("continue")),
                        _ => out.push(Node::Action(pipeline(&tokens, line)?, line)),
                    }
                }
            }
        }
        Ok((out, None))
    }

    fn cond(&mut self, with: bool, rest: &[Tok], line: usize) -> Result<Node, ParseError> {
        let mut branches = Vec::new();
        let mut current = (with, pipeline(rest, line)?);
        loop {
            let (body, stop) = self.nodes()?;
            branches.push((current.0, current.1.clone(), body));
            match stop {
                Some((w, toks, l)) if w == "else" => match toks.first() {
                    Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                        current = (k == "with", pipeline(&toks[1..], l)?);
                    }
                    None => {
                        let (body, stop) = self.nodes()?;
                        return match stop {
                            Some((w, _, _)) if w == "end" => Ok(Node::Cond {
                                branches,
                                otherwise: Some(body),
                                line,
                            }),
                            _ => Err(err(line, "if/with without end")),
                        };
                    }
                    _ => return Err(err(l, "else must be followed by `if`, `with` or nothing")),
                },
                Some((w, _, _)) if w == "end" => {
                    return Ok(Node::Cond {
                        branches,
                        otherwise: None,
                        line,
                    });
                }
                _ => return Err(err(line, "if/with without end")),
            }
        }
    }

    fn finish(
        &mut self,
        stop: Stop,
        line: usize,
        what: &str,
    ) -> Result<Option<Vec<Node>>, ParseError> {
        match stop {
            Some((w, _, _)) if w == "end" => Ok(None),
            Some((w, toks, _)) if w == "else" && toks.is_empty() => {
                let (body, stop) = self.nodes()?;
                match stop {
                    Some((w, _, _)) if w == "end" => Ok(Some(body)),
                    _ => Err(err(line, format!("{what} without end"))),
                }
            }
            _ => Err(err(line, format!("{what} without end"))),
        }
    }
}

/// Parses a pipeline from tokens.
fn pipeline(tokens: &[Tok], line: usize) -> Result<Pipe, ParseError> {
    let mut vars = Vec::new();
    let mut declare = false;
    let mut body = tokens;
    if let Some(pos) = tokens
        .iter()
        .position(|t| matches!(t, Tok::Declare | Tok::Assign))
    {
        let head = &tokens[..pos];
        if head
            .iter()
            .all(|t| matches!(t, Tok::Var(_, p) if p.is_empty()) || *t == Tok::Comma)
        {
            vars = head
                .iter()
                .filter_map(|t| match t {
                    Tok::Var(n, _) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            declare = tokens[pos] == Tok::Declare;
            body = &tokens[pos + 1..];
        }
    }
    let mut pos = 0;
    let cmds = commands(body, &mut pos, line)?;
    if pos != body.len() {
        return Err(err(line, "unexpected `)`"));
    }
    if cmds.is_empty() {
        return Err(err(line, "missing value in action"));
    }
    Ok(Pipe {
        vars,
        declare,
        cmds,
    })
}

fn commands(tokens: &[Tok], pos: &mut usize, line: usize) -> Result<Vec<Cmd>, ParseError> {
    let mut cmds = Vec::new();
    let mut current = Vec::new();
    while *pos < tokens.len() {
        let tok = &tokens[*pos];
        *pos += 1;
        match tok {
            Tok::Pipe => {
                if current.is_empty() {
                    return Err(err(line, "missing command before `|`"));
                }
                cmds.push(std::mem::take(&mut current));
            }
            Tok::Close(_) => {
                *pos -= 1;
                break;
            }
            Tok::Open => {
                let inner = commands(tokens, pos, line)?;
                let path = match tokens.get(*pos) {
                    Some(Tok::Close(path)) => path.clone(),
                    _ => return Err(err(line, "unclosed `(`")),
                };
                *pos += 1;
                current.push(Operand::Paren(
                    Box::new(Pipe {
                        vars: Vec::new(),
                        declare: false,
                        cmds: inner,
                    }),
                    path,
                ));
            }
            Tok::Field(p) => current.push(Operand::Field(p.clone())),
            Tok::Var(n, p) => current.push(Operand::Var(n.clone(), p.clone())),
            Tok::Str(s) => current.push(Operand::Str(s.clone())),
            Tok::Num(n) => current.push(Operand::Num(n.clone())),
            Tok::Ident(w) => current.push(match w.as_str() {
                "true" => Operand::Bool(true),
                "false" => Operand::Bool(false),
                "nil" => Operand::Nil,
                _ => Operand::Ident(w.clone()),
            }),
            Tok::Comma | Tok::Declare | Tok::Assign => {
                return Err(err(line, "unexpected `,`, `:=` or `=`"));
            }
        }
    }
    if !current.is_empty() {
        cmds.push(current);
    }
    Ok(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_helm_create_constructs() {
        let src = "{{- define \"x.name\" -}}\n{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix \"-\" }}\n{{- end }}\nname: {{ include \"x.name\" . }}\n{{- range $i, $h := .Values.hosts }}\n- {{ $h.host | quote }}\n{{- else }}\nnone\n{{- end }}\n{{/* a comment */}}\n{{- if not .Values.a }}a{{ else if .Values.b }}b{{ else }}c{{ end }}";
        let parsed = parse(src).unwrap();
        assert_eq!(parsed.defines.len(), 1);
        assert_eq!(parsed.defines[0].0, "x.name");
        let kinds: Vec<&str> = parsed
            .body
            .iter()
            .map(|n| match n {
                Node::Text(_) => "text",
                Node::Action(..) => "action",
                Node::Cond { .. } => "cond",
                Node::Range { .. } => "range",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["text", "action", "range", "text", "cond"]);
        let Node::Range {
            pipe, otherwise, ..
        } = &parsed.body[2]
        else {
            panic!()
        };
        assert_eq!(pipe.vars, ["i", "h"]);
        assert!(otherwise.is_some());
        let Node::Cond {
            branches,
            otherwise,
            ..
        } = &parsed.body[4]
        else {
            panic!()
        };
        assert_eq!(branches.len(), 2);
        assert!(otherwise.is_some());
    }

    #[test]
    fn pipelines_parens_and_literals() {
        let parsed =
            parse("a \n{{- printf \"%s-%s\" (include \"a\" $) `raw` 3 | quote -}}\n b").unwrap();
        assert_eq!(parsed.body[0], Node::Text("a".into()));
        assert_eq!(parsed.body[2], Node::Text("b".into()));
        let Node::Action(pipe, _) = &parsed.body[1] else {
            panic!()
        };
        assert_eq!(pipe.cmds.len(), 2);
        assert_eq!(pipe.cmds[0][0], Operand::Ident("printf".into()));
        assert!(matches!(pipe.cmds[0][2], Operand::Paren(..)));
        assert_eq!(pipe.cmds[0][3], Operand::Str("raw".into()));
        assert_eq!(pipe.cmds[0][4], Operand::Num("3".into()));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("a\nb\n{{ if .x }}never closed").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        let e = parse("a\n{{ .x ").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(e.message.contains("}}"), "{e:?}");
    }
}
