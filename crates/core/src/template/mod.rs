//! The template language of flow action params, as Auth0 Forms "Flows" writes it: any JSON string
//! inside a params value may hold `{{ expression }}` parts that read the form's fields, the
//! flow's variables, the transaction context and earlier actions' outputs, and transform them
//! with `functions.*`.
//!
//! ```text
//! template   = { text | "{{" expr "}}" } ;
//! expr       = operand { "??" operand } ;
//! operand    = literal | reference | call ;
//! literal    = string | number | "true" | "false" | "null" ;
//! reference  = root { "." ident | "[" ( index | string ) "]" } ;
//! root       = "fields" | "vars" | "context" | "actions" ;   (* `actions` needs an id next *)
//! call       = "functions" "." ident "(" [ expr { "," expr } ] ")" ;
//! ident      = [A-Za-z_] [A-Za-z0-9_-]* ;
//! string     = "'" … "'" | '"' … '"' ;     (* escapes: \' \" \\ \n \t \r *)
//! number     = [ "-" ] digits [ "." digits ] ;
//! ```
//!
//! A string that is exactly one `{{ expression }}` renders to the expression's JSON value; any
//! other string renders to text. A missing key reads as `null`; `a ?? b` takes the first operand
//! that is not `null`.
//!
//! The language has no loops, no assignment and no IO, so rendering time is bounded by the size
//! of the template and of the data; the limits below bound both. There is no way to write a
//! literal `{{` in text.
//!
//! # Functions
//!
//! The helpers Auth0 documents, with JavaScript's semantics unless noted. Functions that work
//! on text take `toString` of their argument; characters are Unicode scalar values. A `null`
//! optional argument counts as left out. A function that cannot use an argument fails with an
//! [`EvalError`] that names the function, never the value; every value a function returns is
//! held to [`MAX_RENDERED_OUTPUT`], and the arrays and strings it builds are measured before
//! they are built.
//!
//! | Function | Result |
//! |---|---|
//! | `toString(v)` | text: `null` is empty, numbers and booleans as JSON, arrays and objects as compact JSON |
//! | `toNumber(v)` | a number from a number, a boolean (1/0) or decimal text |
//! | `toBoolean(v)` | from a boolean, `null` (false), a number (non-zero), or `true`/`1`/`false`/`0`/empty text |
//! | `toArray(v)` | an array as it is, `null` as `[]`, anything else wrapped: `[v]` |
//! | `toTimestamp(date?)` | UNIX seconds (rounded down) of an ISO 8601 date (RFC 3339, `YYYY-MM-DD`, or a date and time with no offset, read as UTC); of the execution step's clock without one |
//! | `mask(v)` | `v` unchanged; its text is hidden from the execution record |
//! | `md5(v)`, `sha1(v)`, `sha256(v)`, `sha512(v)` | lowercase hex digest of the text's UTF-8 |
//! | `uuid()` | a random version 4 UUID |
//! | `random(min, max, float?)` | a random integer in `min..=max` (whole bounds), or with `float` true a float in `[min, max]` |
//! | `now()` | the execution step's clock, as `2021-04-30T10:31:28.576Z` |
//! | `encodeURIComponent(v)` | the text percent-encoded as JavaScript's function does |
//! | `lowercase(v)`, `uppercase(v)`, `trim(v)` | the text changed |
//! | `length(v)` | characters of a string, items of an array, keys of an object; `null` is 0 |
//! | `substring(v, start, end?)` | characters `start..end` (swapped if reversed, clamped) |
//! | `slice(v, start, end?)` | part of an array, or of the text, by `start..end`; negative positions count from the end |
//! | `replace(v, search, replacement)` | the text with the first `search` replaced (literally: `$` patterns are not expanded) |
//! | `replaceAll(v, search, replacement)` | the text with every `search` replaced (likewise) |
//! | `split(v, separator, limit?)` | the text's pieces between separators; an empty separator gives characters, `null` the whole text; at most `limit` pieces |
//! | `includes(c, item, from?)` | whether a string contains the item's text, or an array an item equal to it as JSON (numbers by value); `false` for `null` or a `null` item in a string |
//! | `indexOf(c, item, from?)` | the character or item index of that first match, or -1; a negative `from` is 0 for strings and counts from the end for arrays |
//! | `merge(base, v)` | arrays concatenated, objects merged one level deep (`v`'s keys win), a string followed by a string, number or boolean; a `null` `v` leaves `base` as it is; other pairs fail |

mod collections;
mod eval;
mod functions;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{Map, Value};

use crate::time::Timestamp;
use eval::Budget;
use parser::{Expr, Part, Root, Segment};

/// The longest template source accepted, in bytes.
pub const MAX_TEMPLATE_SOURCE: usize = 64 * 1024;
/// How deeply expressions may nest (function calls inside function calls).
pub const MAX_TEMPLATE_DEPTH: usize = 32;
/// The most text one rendering may produce, in bytes: the sum over every templated string of
/// what it renders to (a raw value counts as its compact JSON). Every value a function returns
/// is held to the same limit.
pub const MAX_RENDERED_OUTPUT: usize = 1024 * 1024;
/// The most expression nodes one rendering may evaluate.
pub const MAX_EVALUATED_NODES: usize = 10_000;

/// A parsed template string.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses one template string.
    ///
    /// # Errors
    /// [`TemplateError`] with the place of the first fault.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.len() > MAX_TEMPLATE_SOURCE {
            return Err(TemplateError::at(
                source,
                0,
                format!("a template may be at most {MAX_TEMPLATE_SOURCE} bytes long"),
            ));
        }
        parser::parse(source).map(|parts| Template { parts })
    }

    /// Renders the template: the raw value of its one expression if it is exactly
    /// `{{ expression }}`, else the text of its parts.
    ///
    /// # Errors
    /// [`EvalError`] if a function cannot use its argument or a limit is exceeded.
    pub fn render(&self, scope: &TemplateScope<'_>) -> Result<Value, EvalError> {
        eval::render(&self.parts, scope, &mut Budget::new())
    }

    /// The id of every action the template refers to (`actions.<id>…`), each once, in order of
    /// first appearance.
    #[must_use]
    pub fn action_refs(&self) -> Vec<String> {
        let mut ids = Vec::new();
        self.collect_action_refs(&mut ids);
        ids
    }

    /// Whether the template has no `{{ }}` part at all: it renders to its source.
    #[must_use]
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    fn collect_action_refs(&self, ids: &mut Vec<String>) {
        for part in &self.parts {
            if let Part::Expr(e) = part {
                collect_refs(e, ids);
            }
        }
    }
}

fn collect_refs(expr: &Expr, ids: &mut Vec<String>) {
    match expr {
        Expr::Literal(_) => {}
        Expr::Ref(Root::Actions, path) => {
            if let Some(Segment::Key(id)) = path.first()
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
        }
        Expr::Ref(..) => {}
        Expr::Call(_, args) | Expr::Fallback(args) => {
            for a in args {
                collect_refs(a, ids);
            }
        }
    }
}

/// Where a template failed to parse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct TemplateError {
    /// The byte offset into the source.
    pub offset: usize,
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong, e.g. ``unclosed `{{` ``.
    pub message: String,
}

impl TemplateError {
    /// An error at `offset` (a character boundary of `source`).
    fn at(source: &str, offset: usize, message: String) -> Self {
        let before = source.get(..offset).unwrap_or(source);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        TemplateError {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message,
        }
    }
}

/// Why rendering failed. Messages name a function or a limit, never a value being rendered:
/// values may come from an action's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A function was given an argument it cannot use.
    #[error("functions.{function}: {reason}")]
    BadArgument {
        /// The function's name, e.g. `toNumber`.
        function: &'static str,
        /// What is wrong with the argument, without quoting it.
        reason: &'static str,
    },
    /// The rendering, or a value a function returns, would exceed [`MAX_RENDERED_OUTPUT`].
    #[error("the rendered output would exceed the limit of {limit} bytes")]
    OutputTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The rendering would evaluate more than [`MAX_EVALUATED_NODES`] expression nodes.
    #[error("rendering would evaluate more than {limit} expression nodes")]
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
    /// The operating system's random generator failed.
    #[error("functions.{function}: the random generator failed")]
    RandomFailed {
        /// The function that needed randomness.
        function: &'static str,
    },
    /// [`render_value`] met a string that does not parse (params saved without
    /// [`check_value`]); the path is relative to the rendered value, `$` for the value itself.
    #[error(transparent)]
    Invalid(#[from] TemplateCheckError),
}

/// What templates can see. The engine never puts secrets here: connection credentials are not
/// part of any of these values.
#[derive(Clone, Copy)]
pub struct TemplateScope<'a> {
    /// The form's fields (`fields.*`).
    pub fields: &'a Value,
    /// The flow's shared variables (`vars.*`).
    pub vars: &'a Value,
    /// The transaction's context (`context.*`).
    pub context: &'a Value,
    /// Earlier actions' outputs, an object from action id to output (`actions.*`).
    pub actions: &'a Value,
    /// What `functions.now()` returns: the engine's clock, read once per execution step.
    pub now: Timestamp,
}

static NULL: Value = Value::Null;

impl TemplateScope<'static> {
    /// A scope where every root is `null`.
    #[must_use]
    pub fn empty(now: Timestamp) -> Self {
        TemplateScope { fields: &NULL, vars: &NULL, context: &NULL, actions: &NULL, now }
    }
}

impl<'a> TemplateScope<'a> {
    fn root(&self, root: Root) -> &'a Value {
        match root {
            Root::Fields => self.fields,
            Root::Vars => self.vars,
            Root::Context => self.context,
            Root::Actions => self.actions,
        }
    }
}

impl fmt::Debug for TemplateScope<'_> {
    // The values are user data; a scope in a log line shows only its clock.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateScope").field("now", &self.now).finish_non_exhaustive()
    }
}

/// A string of a params value that does not parse, with its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {error}")]
pub struct TemplateCheckError {
    /// The JSON path of the string, e.g. `params.payload.to` or `params.items[2]`.
    pub path: String,
    /// Why it does not parse.
    pub error: TemplateError,
}

/// A templated string of a params value and its JSON path.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateAt {
    /// The JSON path of the string, e.g. `params.payload.to`.
    pub path: String,
    /// The parsed template (never static).
    pub template: Template,
}

/// Renders every string inside a params value (object keys are not templates). The limits
/// hold for the call as a whole.
///
/// # Errors
/// [`EvalError`] from the first string that fails.
pub fn render_value(value: &Value, scope: &TemplateScope<'_>) -> Result<Value, EvalError> {
    render_params(value, scope).map(|r| r.value)
}

/// A rendered params value, and every value that went through `functions.mask` (which reaches
/// the action unchanged, and must not reach the execution record). `Debug` shows no values.
#[derive(Clone, PartialEq)]
pub struct Rendered {
    /// The params, rendered.
    pub value: Value,
    /// Values to hide from the record.
    pub masked: Vec<Value>,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered").field("masked", &self.masked.len()).finish_non_exhaustive()
    }
}

/// [`render_value`], also returning the masked values.
///
/// # Errors
/// [`EvalError`] from the first string that fails.
pub fn render_params(value: &Value, scope: &TemplateScope<'_>) -> Result<Rendered, EvalError> {
    let mut budget = Budget::new();
    let value = render_in(value, scope, &mut budget, &mut String::new())?;
    Ok(Rendered { value, masked: budget.masked })
}

/// [`render_params`] of an object, without copying it into a [`Value`] first.
///
/// # Errors
/// [`EvalError`] from the first string that fails.
pub fn render_object(
    params: &Map<String, Value>,
    scope: &TemplateScope<'_>,
) -> Result<Rendered, EvalError> {
    let mut budget = Budget::new();
    let value = render_map(params, scope, &mut budget, &mut String::new())?;
    Ok(Rendered { value, masked: budget.masked })
}

fn render_in(
    value: &Value,
    scope: &TemplateScope<'_>,
    budget: &mut Budget,
    path: &mut String,
) -> Result<Value, EvalError> {
    Ok(match value {
        Value::String(s) => match Template::parse(s) {
            Ok(t) => eval::render(&t.parts, scope, budget)?,
            Err(error) => {
                let path = if path.is_empty() { "$".to_owned() } else { path.clone() };
                return Err(TemplateCheckError { path, error }.into());
            }
        },
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = push_index(path, i);
                out.push(render_in(item, scope, budget, path)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        Value::Object(obj) => render_map(obj, scope, budget, path)?,
        other => other.clone(),
    })
}

fn render_map(
    obj: &Map<String, Value>,
    scope: &TemplateScope<'_>,
    budget: &mut Budget,
    path: &mut String,
) -> Result<Value, EvalError> {
    let mut out = Map::new();
    for (k, v) in obj {
        let len = push_key(path, k);
        out.insert(k.clone(), render_in(v, scope, budget, path)?);
        path.truncate(len);
    }
    Ok(Value::Object(out))
}

/// Parses every string inside a params value, for checks when a flow is saved. Returns the
/// strings that hold templates, with their paths under `path` (e.g. `params`).
///
/// # Errors
/// The first string that does not parse, with its path.
pub fn check_value(value: &Value, path: &str) -> Result<Vec<TemplateAt>, TemplateCheckError> {
    let mut found = Vec::new();
    check_in(value, &mut path.to_owned(), &mut found)?;
    Ok(found)
}

fn check_in(
    value: &Value,
    path: &mut String,
    found: &mut Vec<TemplateAt>,
) -> Result<(), TemplateCheckError> {
    match value {
        Value::String(s) => match Template::parse(s) {
            Ok(t) if t.is_static() => {}
            Ok(template) => found.push(TemplateAt { path: path.clone(), template }),
            Err(error) => return Err(TemplateCheckError { path: path.clone(), error }),
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = push_index(path, i);
                check_in(item, path, found)?;
                path.truncate(len);
            }
        }
        Value::Object(obj) => {
            for (k, v) in obj {
                let len = push_key(path, k);
                check_in(v, path, found)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every action id the strings of a params value refer to, each once, in order of first
/// appearance. Strings that do not parse are skipped ([`check_value`] reports them).
#[must_use]
pub fn action_refs_in(value: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Ok(t) = Template::parse(s) {
                    t.collect_action_refs(&mut ids);
                }
            }
            // Reversed so that the stack visits items in document order.
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(obj) => stack.extend(obj.values().rev()),
            _ => {}
        }
    }
    ids
}

/// Appends `[i]` to a JSON path; returns the length to truncate back to.
fn push_index(path: &mut String, i: usize) -> usize {
    let len = path.len();
    path.push_str(&format!("[{i}]"));
    len
}

/// Appends `.key` (or `["key"]` when the key is not an identifier) to a JSON path; returns the
/// length to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if lexer::is_ident(key) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
    len
}
