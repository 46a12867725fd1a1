//! The tokens of an expression inside `{{ }}`.

use serde_json::Number;

use super::TemplateError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'s> {
    /// `[A-Za-z_][A-Za-z0-9_-]*`, including `true`, `false`, `null` and the roots.
    Ident(&'s str),
    /// A quoted string, escapes resolved.
    Str(String),
    Num(Number),
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    /// `??`
    Fallback,
    /// `}}`
    Close,
    /// The end of the source.
    Eof,
}

/// Reads tokens from `src`, starting at a byte offset.
#[derive(Debug)]
pub(super) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Lexer<'s> {
    pub(super) fn new(src: &'s str, pos: usize) -> Self {
        Lexer { src, pos }
    }

    /// The offset just after the last token read.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The next token and its byte offset.
    pub(super) fn next_token(&mut self) -> Result<(Tok<'s>, usize), TemplateError> {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        let start = self.pos;
        let rest = &self.src[start..];
        let Some(c) = rest.chars().next() else { return Ok((Tok::Eof, start)) };
        let (tok, len) = match c {
            '.' => (Tok::Dot, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '?' if rest.starts_with("??") => (Tok::Fallback, 2),
            '}' if rest.starts_with("}}") => (Tok::Close, 2),
            '\'' | '"' => return self.string(c, start),
            '-' | '0'..='9' => return self.number(start),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
                (Tok::Ident(&rest[..len]), len)
            }
            '?' => return Err(self.error(start, "unexpected `?`: the fallback operator is `??`")),
            other => {
                let message = format!("unexpected character `{}`", other.escape_debug());
                return Err(TemplateError::at(self.src, start, message));
            }
        };
        self.pos += len;
        Ok((tok, start))
    }

    fn string(&mut self, quote: char, start: usize) -> Result<(Tok<'s>, usize), TemplateError> {
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos = start + 1 + i + 1;
                    return Ok((Tok::Str(out), start));
                }
                '\\' => {
                    let escaped = match chars.next() {
                        Some((_, c @ ('\'' | '"' | '\\'))) => c,
                        Some((_, 'n')) => '\n',
                        Some((_, 't')) => '\t',
                        Some((_, 'r')) => '\r',
                        Some((_, other)) => {
                            let message = format!(
                                "unknown escape `\\{}`: use \\' \\\" \\\\ \\n \\t or \\r",
                                other.escape_debug()
                            );
                            return Err(TemplateError::at(self.src, start + 1 + i, message));
                        }
                        None => break,
                    };
                    out.push(escaped);
                }
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated string"))
    }

    fn number(&mut self, start: usize) -> Result<(Tok<'s>, usize), TemplateError> {
        let bytes = self.src.as_bytes();
        let mut end = start;
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        let digits = |from: usize| {
            bytes[from..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| from + n)
        };
        let int_end = digits(end);
        if int_end == end {
            return Err(self.error(start, "expected a digit after `-`"));
        }
        end = int_end;
        let mut decimal = false;
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            decimal = true;
            end = digits(end + 1);
        }
        let text = &self.src[start..end];
        let number = match text.parse::<i64>() {
            Ok(n) if !decimal => Some(Number::from(n)),
            _ => text.parse::<f64>().ok().and_then(Number::from_f64),
        };
        let Some(number) = number else { return Err(self.error(start, "number out of range")) };
        self.pos = end;
        Ok((Tok::Num(number), start))
    }

    fn error(&self, offset: usize, message: &str) -> TemplateError {
        TemplateError::at(self.src, offset, message.to_owned())
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `s` is an identifier, so that `a.s` reads key `s`.
pub(super) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(is_ident_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Vec<Tok<'_>> {
        tokens(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    fn float(f: f64) -> Number {
        Number::from_f64(f).unwrap_or_else(|| panic!("{f} is not finite"))
    }

    fn tokens(src: &str) -> Result<Vec<Tok<'_>>, TemplateError> {
        let mut lexer = Lexer::new(src, 0);
        let mut out = Vec::new();
        loop {
            match lexer.next_token()? {
                (Tok::Eof, _) => return Ok(out),
                (tok, _) => out.push(tok),
            }
        }
    }

    #[test]
    fn reads_every_kind_of_token() {
        let toks = ok(" a.b_-c [0]['k'] ( ,) ?? }} -1.5 7 \"x\"");
        assert_eq!(
            toks,
            vec![
                Tok::Ident("a"),
                Tok::Dot,
                Tok::Ident("b_-c"),
                Tok::LBracket,
                Tok::Num(Number::from(0)),
                Tok::RBracket,
                Tok::LBracket,
                Tok::Str("k".into()),
                Tok::RBracket,
                Tok::LParen,
                Tok::Comma,
                Tok::RParen,
                Tok::Fallback,
                Tok::Close,
                Tok::Num(float(-1.5)),
                Tok::Num(Number::from(7)),
                Tok::Str("x".into()),
            ]
        );
    }

    #[test]
    fn strings_resolve_escapes_and_may_hold_braces() {
        let toks = ok(r#"'it\'s }} \\ \n' "say \"hi\"""#);
        assert_eq!(toks, vec![Tok::Str("it's }} \\ \n".into()), Tok::Str("say \"hi\"".into())]);
    }

    #[test]
    fn big_integers_become_floats_and_a_number_stops_at_a_lone_dot() {
        let toks = ok("99999999999999999999 1.x");
        assert_eq!(
            toks,
            vec![Tok::Num(float(1e20)), Tok::Num(Number::from(1)), Tok::Dot, Tok::Ident("x"),]
        );
    }

    #[test]
    fn rejects_bad_tokens_with_their_offset() {
        let cases = [
            ("  #", 2, "unexpected character `#`"),
            ("'abc", 0, "unterminated string"),
            ("x 'a\\q'", 4, "unknown escape `\\q`: use \\' \\\" \\\\ \\n \\t or \\r"),
            ("- 1", 0, "expected a digit after `-`"),
            ("a ? b", 2, "unexpected `?`: the fallback operator is `??`"),
            ("} }", 0, "unexpected character `}`"),
        ];
        for (src, offset, message) in cases {
            let err = tokens(src).err();
            assert_eq!(
                err.as_ref().map(|e| (e.offset, e.message.as_str())),
                Some((offset, message))
            );
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_ident("user_id"));
        assert!(is_ident("_x-1"));
        assert!(!is_ident("1x"));
        assert!(!is_ident("a b"));
        assert!(!is_ident(""));
    }
}
