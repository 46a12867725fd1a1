//! Evaluating parsed templates against a scope, within the limits.

use std::borrow::Cow;
use std::io;

use serde_json::{Number, Value};

use super::parser::{Expr, Part, Segment};
use super::{EvalError, MAX_EVALUATED_NODES, MAX_RENDERED_OUTPUT, NULL, TemplateScope, functions};

/// What one rendering may still spend.
#[derive(Debug)]
pub(super) struct Budget {
    nodes_left: usize,
    output_left: usize,
    /// Every value passed through `functions.mask`.
    pub(super) masked: Vec<Value>,
}

impl Budget {
    pub(super) fn new() -> Self {
        Budget {
            nodes_left: MAX_EVALUATED_NODES,
            output_left: MAX_RENDERED_OUTPUT,
            masked: Vec::new(),
        }
    }

    fn node(&mut self) -> Result<(), EvalError> {
        self.nodes_left = self
            .nodes_left
            .checked_sub(1)
            .ok_or(EvalError::TooManyNodes { limit: MAX_EVALUATED_NODES })?;
        Ok(())
    }

    fn output(&mut self, bytes: usize) -> Result<(), EvalError> {
        self.output_left = self.output_left.checked_sub(bytes).ok_or(too_large())?;
        Ok(())
    }
}

/// Renders parts: the raw value of a lone expression, else the text of every part.
pub(super) fn render(
    parts: &[Part],
    scope: &TemplateScope<'_>,
    budget: &mut Budget,
) -> Result<Value, EvalError> {
    match parts {
        [Part::Expr(e)] => {
            let value = eval(e, scope, budget)?;
            budget.output(json_len(&value, budget.output_left)?)?;
            Ok(value.into_owned())
        }
        parts => {
            let mut out = String::new();
            for part in parts {
                match part {
                    Part::Text(t) => {
                        budget.output(t.len())?;
                        out.push_str(t);
                    }
                    Part::Expr(e) => {
                        let value = eval(e, scope, budget)?;
                        let text = text_of(&value, budget.output_left)?;
                        budget.output(text.len())?;
                        out.push_str(&text);
                    }
                }
            }
            Ok(Value::String(out))
        }
    }
}

/// Evaluates an expression; values read from the scope or the template are borrowed.
fn eval<'a>(
    expr: &'a Expr,
    scope: &TemplateScope<'a>,
    budget: &mut Budget,
) -> Result<Cow<'a, Value>, EvalError> {
    budget.node()?;
    match expr {
        Expr::Literal(v) => Ok(Cow::Borrowed(v)),
        Expr::Ref(root, path) => Ok(Cow::Borrowed(lookup(scope.root(*root), path))),
        Expr::Fallback(operands) => {
            for operand in operands {
                let value = eval(operand, scope, budget)?;
                if !value.is_null() {
                    return Ok(value);
                }
            }
            Ok(Cow::Borrowed(&NULL))
        }
        Expr::Call(func, args) => {
            let args =
                args.iter().map(|a| eval(a, scope, budget)).collect::<Result<Vec<_>, _>>()?;
            if *func == functions::Func::Mask {
                // The value goes on unchanged; it is remembered so that the record of the
                // execution can hide it.
                if let Some(v) = args.first().filter(|v| !v.is_null()) {
                    budget.masked.push(v.clone().into_owned());
                }
            }
            functions::call(*func, &args, scope.now).map(Cow::Owned)
        }
    }
}

/// Follows a path; whatever is missing reads as `null`. An index into an object reads the key
/// of that name, as in JavaScript.
fn lookup<'a>(mut value: &'a Value, path: &[Segment]) -> &'a Value {
    for segment in path {
        let next = match (value, segment) {
            (Value::Object(obj), Segment::Key(k)) => obj.get(k),
            (Value::Object(obj), Segment::Index(i)) => obj.get(&i.to_string()),
            (Value::Array(items), Segment::Index(i)) => items.get(*i),
            _ => None,
        };
        value = next.unwrap_or(&NULL);
    }
    value
}

/// `toString` semantics: strings unchanged, `null` as empty text, numbers and booleans as
/// JSON text, arrays and objects as compact JSON of at most `limit` bytes.
pub(super) fn text_of(value: &Value, limit: usize) -> Result<Cow<'_, str>, EvalError> {
    let text = match value {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Null => Cow::Borrowed(""),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(number_text(n)),
        Value::Array(_) | Value::Object(_) => {
            let mut out = Limited { buf: Vec::new(), left: limit };
            serde_json::to_writer(&mut out, value).map_err(|_| too_large())?;
            // serde_json writes UTF-8 only; the fallback cannot be taken.
            Cow::Owned(String::from_utf8(out.buf).unwrap_or_default())
        }
    };
    if text.len() > limit {
        return Err(too_large());
    }
    Ok(text)
}

/// A number as text; a float with no fraction is written as an integer (`3`, not `3.0`), as
/// JavaScript writes it, while it is exact.
pub(super) fn number_text(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            // In range and integral: the cast is exact.
            #[allow(clippy::cast_possible_truncation, reason = "checked integral and in range")]
            let i = f as i64;
            i.to_string()
        }
        _ => n.to_string(),
    }
}

/// The length of a value's output: a string's bytes, else its compact JSON's, failing once
/// it passes `limit`.
pub(super) fn json_len(value: &Value, limit: usize) -> Result<usize, EvalError> {
    match value {
        Value::String(s) if s.len() <= limit => Ok(s.len()),
        Value::String(_) => Err(too_large()),
        _ => {
            let mut counter = Counter { len: 0, limit };
            serde_json::to_writer(&mut counter, value).map_err(|_| too_large())?;
            Ok(counter.len)
        }
    }
}

pub(super) fn too_large() -> EvalError {
    EvalError::OutputTooLarge { limit: MAX_RENDERED_OUTPUT }
}

/// A buffer that refuses to grow past `left` bytes.
struct Limited {
    buf: Vec<u8>,
    left: usize,
}

impl io::Write for Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.left = self.left.checked_sub(data.len()).ok_or(io::ErrorKind::OutOfMemory)?;
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts bytes written, refusing past `limit`.
struct Counter {
    len: usize,
    limit: usize,
}

impl io::Write for Counter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.len += data.len();
        if self.len > self.limit {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lookup_follows_keys_and_indexes_and_reads_missing_as_null() {
        let v = json!({"a": {"b": [10, {"c": "x"}], "0": "zero"}});
        let key = |k: &str| Segment::Key(k.to_owned());
        assert_eq!(lookup(&v, &[key("a"), key("b"), Segment::Index(1), key("c")]), &json!("x"));
        assert_eq!(lookup(&v, &[key("a"), Segment::Index(0)]), &json!("zero"));
        assert_eq!(lookup(&v, &[key("a"), key("b"), Segment::Index(9)]), &Value::Null);
        assert_eq!(lookup(&v, &[key("a"), key("b"), key("c")]), &Value::Null);
        assert_eq!(lookup(&v, &[key("nope"), key("deeper")]), &Value::Null);
    }

    #[test]
    fn text_of_follows_to_string_rules() {
        let cases = [
            (json!("s"), "s"),
            (Value::Null, ""),
            (json!(true), "true"),
            (json!(42), "42"),
            (json!(3.0), "3"),
            (json!(1.5), "1.5"),
            (json!(-0.25), "-0.25"),
            (json!({"a": [1, "x"]}), r#"{"a":[1,"x"]}"#),
        ];
        for (value, text) in cases {
            assert_eq!(text_of(&value, 100).ok().as_deref(), Some(text), "{value}");
        }
        assert_eq!(text_of(&json!(["abcdef"]), 5), Err(too_large()));
        assert_eq!(text_of(&json!("abcdef"), 5), Err(too_large()));
    }

    #[test]
    fn json_len_counts_compact_json_up_to_the_limit() {
        assert_eq!(json_len(&json!({"a": 1}), 100), Ok(7));
        assert_eq!(json_len(&json!("abc"), 3), Ok(3));
        assert_eq!(json_len(&json!([1, 2, 3]), 6), Err(too_large()));
    }

    #[test]
    fn budget_runs_out() {
        let mut budget = Budget::new();
        for _ in 0..MAX_EVALUATED_NODES {
            assert_eq!(budget.node(), Ok(()));
        }
        assert_eq!(budget.node(), Err(EvalError::TooManyNodes { limit: MAX_EVALUATED_NODES }));
        assert_eq!(budget.output(MAX_RENDERED_OUTPUT), Ok(()));
        assert_eq!(budget.output(1), Err(too_large()));
    }
}
