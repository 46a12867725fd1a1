//! From source text to parts: text, and expressions parsed from inside `{{ }}`.

use serde_json::Value;

use super::functions::Func;
use super::lexer::{Lexer, Tok};
use super::{MAX_TEMPLATE_DEPTH, TemplateError};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    /// Text outside `{{ }}`, never empty.
    Text(String),
    Expr(Expr),
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Literal(Value),
    /// A root and a path under it; for `actions` the first segment is the action id.
    Ref(Root, Vec<Segment>),
    Call(Func, Vec<Expr>),
    /// `a ?? b ?? …`, at least two operands.
    Fallback(Vec<Expr>),
}

/// The data a reference starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    Fields,
    Vars,
    Context,
    Actions,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// `.name` or `["name"]`
    Key(String),
    /// `[n]`
    Index(usize),
}

/// Splits `source` into parts. The caller has checked its length.
pub(super) fn parse(source: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(i) = source[pos..].find("{{") {
        let open = pos + i;
        push_text(&mut parts, &source[pos..open]);
        let mut parser = Parser { lexer: Lexer::new(source, open + 2), peeked: None, source, open };
        let expr = parser.expr(0)?;
        match parser.next()? {
            (Tok::Close, _) => {}
            (tok, at) => return Err(parser.unexpected(&tok, at, "expected `}}` or `??`")),
        }
        parts.push(Part::Expr(expr));
        pos = parser.lexer.pos();
    }
    push_text(&mut parts, &source[pos..]);
    Ok(parts)
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if !text.is_empty() {
        parts.push(Part::Text(text.to_owned()));
    }
}

/// Parses one expression, from just after its `{{`.
struct Parser<'s> {
    lexer: Lexer<'s>,
    peeked: Option<(Tok<'s>, usize)>,
    source: &'s str,
    /// The offset of the `{{` this expression follows.
    open: usize,
}

impl<'s> Parser<'s> {
    fn next(&mut self) -> Result<(Tok<'s>, usize), TemplateError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> Result<&Tok<'s>, TemplateError> {
        let next = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(&self.peeked.insert(next).0)
    }

    /// `operand { "??" operand }`, inside `depth` function calls.
    fn expr(&mut self, depth: usize) -> Result<Expr, TemplateError> {
        let mut operands = vec![self.operand(depth)?];
        while *self.peek()? == Tok::Fallback {
            self.next()?;
            operands.push(self.operand(depth)?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { Expr::Fallback(operands) })
    }

    fn operand(&mut self, depth: usize) -> Result<Expr, TemplateError> {
        let (tok, at) = self.next()?;
        if depth > MAX_TEMPLATE_DEPTH {
            let message = format!("expressions may nest at most {MAX_TEMPLATE_DEPTH} levels deep");
            return Err(self.error(at, message));
        }
        Ok(match tok {
            Tok::Str(s) => Expr::Literal(Value::String(s)),
            Tok::Num(n) => Expr::Literal(Value::Number(n)),
            Tok::Ident("true") => Expr::Literal(Value::Bool(true)),
            Tok::Ident("false") => Expr::Literal(Value::Bool(false)),
            Tok::Ident("null") => Expr::Literal(Value::Null),
            Tok::Ident("functions") => self.call(depth)?,
            Tok::Ident(name) => {
                let root = match name {
                    "fields" => Root::Fields,
                    "vars" => Root::Vars,
                    "context" => Root::Context,
                    "actions" => Root::Actions,
                    _ => {
                        let message = format!(
                            "unknown root `{name}`: expected fields, vars, context, actions or \
                             functions"
                        );
                        return Err(self.error(at, message));
                    }
                };
                let path = self.path()?;
                if root == Root::Actions && !matches!(path.first(), Some(Segment::Key(_))) {
                    let message =
                        "expected an action id after `actions`, as in `actions.my_action`";
                    return Err(self.error(at, message.to_owned()));
                }
                Expr::Ref(root, path)
            }
            tok => return Err(self.unexpected(&tok, at, "expected an expression")),
        })
    }

    /// `{ "." ident | "[" ( index | string ) "]" }`
    fn path(&mut self) -> Result<Vec<Segment>, TemplateError> {
        let mut path = Vec::new();
        loop {
            match self.peek()? {
                Tok::Dot => {
                    self.next()?;
                    match self.next()? {
                        (Tok::Ident(name), _) => path.push(Segment::Key(name.to_owned())),
                        (tok, at) => {
                            return Err(self.unexpected(&tok, at, "expected a name after `.`"));
                        }
                    }
                }
                Tok::LBracket => {
                    self.next()?;
                    let (tok, at) = self.next()?;
                    let segment = match tok {
                        Tok::Str(key) => Segment::Key(key),
                        Tok::Num(n) => match n.as_u64().and_then(|n| usize::try_from(n).ok()) {
                            Some(i) => Segment::Index(i),
                            None => {
                                let message = "an array index is a whole number from 0";
                                return Err(self.error(at, message.to_owned()));
                            }
                        },
                        tok => {
                            let message = "expected an array index or a quoted key";
                            return Err(self.unexpected(&tok, at, message));
                        }
                    };
                    match self.next()? {
                        (Tok::RBracket, _) => path.push(segment),
                        (tok, at) => return Err(self.unexpected(&tok, at, "expected `]`")),
                    }
                }
                _ => return Ok(path),
            }
        }
    }

    /// `"." ident "(" [ expr { "," expr } ] ")"`, after `functions`.
    fn call(&mut self, depth: usize) -> Result<Expr, TemplateError> {
        const AFTER: &str = "expected `.` and a function name after `functions`";
        match self.next()? {
            (Tok::Dot, _) => {}
            (tok, at) => return Err(self.unexpected(&tok, at, AFTER)),
        }
        let (name, name_at) = match self.next()? {
            (Tok::Ident(name), at) => (name, at),
            (tok, at) => return Err(self.unexpected(&tok, at, AFTER)),
        };
        let Some(func) = Func::from_name(name) else {
            let message = format!("unknown function `{name}` (known: {})", Func::known());
            return Err(self.error(name_at, message));
        };
        match self.next()? {
            (Tok::LParen, _) => {}
            (tok, at) => {
                let message = format!("expected `(` after `functions.{name}`");
                return Err(self.unexpected(&tok, at, &message));
            }
        }
        let mut args = Vec::new();
        if *self.peek()? == Tok::RParen {
            self.next()?;
        } else {
            loop {
                args.push(self.expr(depth + 1)?);
                match self.next()? {
                    (Tok::Comma, _) => {}
                    (Tok::RParen, _) => break,
                    (tok, at) => return Err(self.unexpected(&tok, at, "expected `,` or `)`")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let takes = match (min, max) {
                (1, 1) => "1 argument".to_owned(),
                (n, m) if n == m => format!("{n} arguments"),
                (n, m) => format!("{n} or {m} arguments"),
            };
            let message = format!("`{name}` takes {takes}, got {}", args.len());
            return Err(self.error(name_at, message));
        }
        Ok(Expr::Call(func, args))
    }

    /// An error for meeting `tok` where `expected` was wanted: running out of source is
    /// reported at the `{{` left open.
    fn unexpected(&self, tok: &Tok<'_>, at: usize, expected: &str) -> TemplateError {
        if *tok == Tok::Eof {
            self.error(self.open, "unclosed `{{`".to_owned())
        } else {
            self.error(at, expected.to_owned())
        }
    }

    fn error(&self, at: usize, message: String) -> TemplateError {
        TemplateError::at(self.source, at, message)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parts(src: &str) -> Vec<Part> {
        parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            parts("Hi {{ fields.name }}!}}"),
            vec![
                Part::Text("Hi ".into()),
                Part::Expr(Expr::Ref(Root::Fields, vec![key("name")])),
                Part::Text("!}}".into()),
            ]
        );
        assert_eq!(parts(""), vec![]);
    }

    #[test]
    fn builds_paths_calls_and_fallbacks() {
        let src = "{{ functions.toString(actions.lookup.body.items[0]['a b'] ?? vars.x ?? 'd') }}";
        assert_eq!(
            parts(src),
            vec![Part::Expr(Expr::Call(
                Func::ToString,
                vec![Expr::Fallback(vec![
                    Expr::Ref(
                        Root::Actions,
                        vec![
                            key("lookup"),
                            key("body"),
                            key("items"),
                            Segment::Index(0),
                            key("a b")
                        ]
                    ),
                    Expr::Ref(Root::Vars, vec![key("x")]),
                    Expr::Literal(json!("d")),
                ])]
            ))]
        );
    }

    #[test]
    fn keywords_are_literals_and_keys_after_a_dot() {
        assert_eq!(
            parts("{{true}}{{ null }}{{fields.true}}"),
            vec![
                Part::Expr(Expr::Literal(json!(true))),
                Part::Expr(Expr::Literal(Value::Null)),
                Part::Expr(Expr::Ref(Root::Fields, vec![key("true")])),
            ]
        );
    }

    #[test]
    fn a_string_literal_may_hold_braces() {
        assert_eq!(parts("{{ '{{x}}' }}"), vec![Part::Expr(Expr::Literal(json!("{{x}}")))]);
    }
}
