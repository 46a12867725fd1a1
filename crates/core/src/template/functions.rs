//! The helper functions, `functions.<name>(…)`.
//!
//! Functions that work on text take `toString` of their argument. Characters are Unicode
//! scalar values (JavaScript counts UTF-16 units; the two agree outside the astral planes).
//! Errors name the function and what is wrong, never the argument's value.

use std::borrow::Cow;

use serde_json::{Number, Value};
use sha2::{Digest as _, Sha256};

use super::eval::{json_len, text_of, too_large};
use super::{EvalError, MAX_RENDERED_OUTPUT, NULL};
use crate::time::Timestamp;

/// A helper function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    ToString,
    ToNumber,
    ToBoolean,
    Mask,
    Sha256,
    Uuid,
    Now,
    EncodeUriComponent,
    Lowercase,
    Uppercase,
    Trim,
    Length,
    Substring,
    ReplaceAll,
    ToArray,
    Random,
}

impl Func {
    const ALL: [Func; 16] = [
        Func::ToString,
        Func::ToNumber,
        Func::ToBoolean,
        Func::Mask,
        Func::Sha256,
        Func::Uuid,
        Func::Now,
        Func::EncodeUriComponent,
        Func::Lowercase,
        Func::Uppercase,
        Func::Trim,
        Func::Length,
        Func::Substring,
        Func::ReplaceAll,
        Func::ToArray,
        Func::Random,
    ];

    pub(super) fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Every function's name, comma separated.
    pub(super) fn known() -> String {
        Func::ALL.map(Func::name).join(", ")
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Func::ToString => "toString",
            Func::ToNumber => "toNumber",
            Func::ToBoolean => "toBoolean",
            Func::Mask => "mask",
            Func::Sha256 => "sha256",
            Func::Uuid => "uuid",
            Func::Now => "now",
            Func::EncodeUriComponent => "encodeURIComponent",
            Func::Lowercase => "lowercase",
            Func::Uppercase => "uppercase",
            Func::Trim => "trim",
            Func::Length => "length",
            Func::Substring => "substring",
            Func::ReplaceAll => "replaceAll",
            Func::ToArray => "toArray",
            Func::Random => "random",
        }
    }

    /// The least and the most arguments the function takes.
    pub(super) fn arity(self) -> (usize, usize) {
        match self {
            Func::Uuid | Func::Now => (0, 0),
            Func::Substring => (2, 3),
            Func::ReplaceAll => (3, 3),
            Func::Random => (2, 2),
            _ => (1, 1),
        }
    }
}

/// Calls `func`; the parser has checked the number of arguments.
pub(super) fn call(
    func: Func,
    args: &[Cow<'_, Value>],
    now: Timestamp,
) -> Result<Value, EvalError> {
    let arg = |i: usize| args.get(i).map_or(&NULL, |a| a.as_ref());
    let text = |i: usize| text_of(arg(i), MAX_RENDERED_OUTPUT);
    let bad = |reason| EvalError::BadArgument { function: func.name(), reason };
    match func {
        Func::ToString => Ok(Value::String(text(0)?.into_owned())),
        Func::ToNumber => to_number(func, arg(0)).map(Value::Number),
        Func::ToBoolean => to_boolean(arg(0)).map(Value::Bool).ok_or(bad(NOT_BOOLEAN)),
        Func::Mask => Ok(Value::String(mask(&text(0)?))),
        Func::Sha256 => Ok(Value::String(hex(&Sha256::digest(text(0)?.as_bytes())))),
        Func::Uuid => uuid_v4().map(Value::String),
        Func::Now => Ok(Value::String(now.to_string())),
        Func::EncodeUriComponent => encode_uri_component(&text(0)?).map(Value::String),
        Func::Lowercase => limited(text(0)?.to_lowercase()),
        Func::Uppercase => limited(text(0)?.to_uppercase()),
        Func::Trim => Ok(Value::String(text(0)?.trim().to_owned())),
        Func::Length => length(arg(0)).map(|n| Value::Number(n.into())).ok_or(bad(NO_LENGTH)),
        Func::Substring => {
            let s = text(0)?;
            let len = s.chars().count();
            let start = char_index(&to_number(func, arg(1))?, len);
            let end = match arg(2) {
                Value::Null => len,
                end => char_index(&to_number(func, end)?, len),
            };
            let (from, to) = (start.min(end), start.max(end));
            Ok(Value::String(s.chars().skip(from).take(to - from).collect()))
        }
        Func::ReplaceAll => replace_all(&text(0)?, &text(1)?, &text(2)?).map(Value::String),
        Func::ToArray => match arg(0) {
            Value::Null => Ok(Value::Array(Vec::new())),
            v => {
                // The value may be a large part of the scope: refuse before copying it.
                json_len(v, MAX_RENDERED_OUTPUT)?;
                Ok(match v {
                    Value::Array(_) => v.clone(),
                    _ => Value::Array(vec![v.clone()]),
                })
            }
        },
        Func::Random => {
            let bound = |v| to_number(func, v).and_then(|n| integer(&n).ok_or(bad(NOT_INTEGER)));
            let (min, max) = (bound(arg(0))?, bound(arg(1))?);
            if min > max {
                return Err(bad("the lower bound is greater than the upper bound"));
            }
            random_between(min, max).map(|n| Value::Number(n.into()))
        }
    }
}

const NOT_NUMBER: &str = "the argument is not a number";
const NOT_BOOLEAN: &str = "the argument is not a boolean (true, false, 1, 0 or empty)";
const NO_LENGTH: &str = "the argument is not a string, array or object";
const NOT_INTEGER: &str = "the bounds must be whole numbers";

/// `toNumber`: numbers as they are, booleans as 1 or 0, strings holding a decimal number
/// (surrounding whitespace allowed) as that number. Whole numbers come out as integers.
fn to_number(func: Func, value: &Value) -> Result<Number, EvalError> {
    let bad = |reason| EvalError::BadArgument { function: func.name(), reason };
    match value {
        Value::Number(n) if n.is_f64() => n.as_f64().and_then(normalize).ok_or(bad(NOT_NUMBER)),
        Value::Number(n) => Ok(n.clone()),
        Value::Bool(b) => Ok(Number::from(u8::from(*b))),
        Value::String(s) => parse_number(s.trim()).ok_or(bad(NOT_NUMBER)),
        _ => Err(bad("the argument is not a string, number or boolean")),
    }
}

fn parse_number(s: &str) -> Option<Number> {
    // Only digits, signs, points and exponents: Rust also reads `inf` and `NaN`.
    let numeric = s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if !numeric || !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    match s.parse::<i64>() {
        Ok(i) => Some(i.into()),
        Err(_) => s.parse::<f64>().ok().and_then(normalize),
    }
}

/// A finite float as a number: an integer while it is whole and exact.
fn normalize(f: f64) -> Option<Number> {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation, reason = "checked whole and in range")]
        return Some(Number::from(f as i64));
    }
    Number::from_f64(f)
}

/// A whole number as an `i64`.
fn integer(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        #[allow(clippy::cast_possible_truncation, reason = "checked whole and in range")]
        (f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0).then_some(f as i64)
    })
}

/// `toBoolean`: booleans as they are; `null` false; numbers true unless zero; the strings
/// `true`/`1` and `false`/`0`/empty (any case, surrounding whitespace allowed).
fn to_boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Keeps the last 4 characters; text of fewer than 5 characters is masked whole.
fn mask(s: &str) -> String {
    let len = s.chars().count();
    if len < 5 {
        return "*".repeat(len);
    }
    let kept = s.char_indices().nth(len - 4).map_or(0, |(i, _)| i);
    let mut out = "*".repeat(len - 4);
    out.push_str(&s[kept..]);
    out
}

/// `length`: a string's characters, an array's items, an object's keys; `null` is 0.
fn length(value: &Value) -> Option<usize> {
    match value {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(items) => Some(items.len()),
        Value::Object(obj) => Some(obj.len()),
        Value::Null => Some(0),
        Value::Bool(_) | Value::Number(_) => None,
    }
}

/// A `substring` position as JavaScript reads it: truncated, and clamped to `0..=len`.
fn char_index(n: &Number, len: usize) -> usize {
    match n.as_f64() {
        Some(f) if f > 0.0 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped")]
            let i = f.min(usize::MAX as f64) as usize;
            i.min(len)
        }
        _ => 0,
    }
}

/// JavaScript's `replaceAll` with a string pattern; an empty pattern matches between every
/// two characters and at both ends. The output's size is checked before it is built.
fn replace_all(s: &str, find: &str, replacement: &str) -> Result<String, EvalError> {
    let count = if find.is_empty() { s.chars().count() + 1 } else { s.matches(find).count() };
    let len =
        (s.len() - count * find.len()).saturating_add(count.saturating_mul(replacement.len()));
    if len > MAX_RENDERED_OUTPUT {
        return Err(too_large());
    }
    Ok(s.replace(find, replacement))
}

/// JavaScript's `encodeURIComponent`: UTF-8 percent-encoding of everything but
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
fn encode_uri_component(s: &str) -> Result<String, EvalError> {
    let kept = |b: u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
    let len: usize = s.bytes().map(|b| if kept(b) { 1 } else { 3 }).sum();
    if len > MAX_RENDERED_OUTPUT {
        return Err(too_large());
    }
    let mut out = String::with_capacity(len);
    for b in s.bytes() {
        if kept(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0xf)]));
        }
    }
    Ok(out)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX_LOWER[usize::from(b >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(b & 0xf)]));
    }
    out
}

fn limited(s: String) -> Result<Value, EvalError> {
    if s.len() > MAX_RENDERED_OUTPUT { Err(too_large()) } else { Ok(Value::String(s)) }
}

/// A random (version 4) UUID in its usual text form.
fn uuid_v4() -> Result<String, EvalError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| EvalError::RandomFailed { function: "uuid" })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// A uniformly random integer in `min..=max` (`min <= max`).
fn random_between(min: i64, max: i64) -> Result<i64, EvalError> {
    let span = max.abs_diff(min);
    // 2^64 mod (span + 1): the draws at the top that would favour small offsets.
    let skew = match span.checked_add(1) {
        Some(range) => (u64::MAX % range + 1) % range,
        None => 0,
    };
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|_| EvalError::RandomFailed { function: "random" })?;
        let draw = u64::from_le_bytes(b);
        if draw <= u64::MAX - skew {
            let offset = match span.checked_add(1) {
                Some(range) => draw % range,
                None => draw,
            };
            // offset <= span = max - min, so the sum lies in min..=max.
            return Ok(min.wrapping_add_unsigned(offset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_a_distinct_name() {
        for f in Func::ALL {
            assert_eq!(Func::from_name(f.name()), Some(f));
        }
        assert_eq!(Func::from_name("md5"), None);
        assert!(Func::known().starts_with("toString, toNumber, "));
    }

    #[test]
    fn numbers_from_text() {
        let n = |s: &str| parse_number(s).map(|n| n.to_string());
        assert_eq!(n("42").as_deref(), Some("42"));
        assert_eq!(n("-3.0").as_deref(), Some("-3"));
        assert_eq!(n("1.25").as_deref(), Some("1.25"));
        assert_eq!(n("1e3").as_deref(), Some("1000"));
        for bad in ["", "abc", "inf", "NaN", "1e999", "12px", "-", "."] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn mask_keeps_the_last_four_characters() {
        assert_eq!(mask("4111111111111111"), "************1111");
        assert_eq!(mask("12345"), "*2345");
        assert_eq!(mask("1234"), "****");
        assert_eq!(mask(""), "");
        assert_eq!(mask("ééééé"), "*éééé");
    }

    #[test]
    fn replace_all_matches_javascript() {
        assert_eq!(replace_all("a-b-c", "-", "+").ok().as_deref(), Some("a+b+c"));
        assert_eq!(replace_all("abc", "", "-").ok().as_deref(), Some("-a-b-c-"));
        assert_eq!(replace_all("abc", "x", "y").ok().as_deref(), Some("abc"));
        let big = "a".repeat(1024);
        assert_eq!(replace_all(&big, "a", &big).map(|s| s.len()), Ok(MAX_RENDERED_OUTPUT));
        let bigger = "a".repeat(1025);
        assert_eq!(replace_all(&bigger, "a", &bigger).map(|s| s.len()), Err(too_large()));
    }

    #[test]
    fn char_index_truncates_and_clamps() {
        assert_eq!(char_index(&Number::from(-3), 5), 0);
        assert_eq!(char_index(&Number::from(9), 5), 5);
        assert_eq!(char_index(&Number::from_f64(2.7).unwrap_or_else(|| unreachable!()), 5), 2);
    }

    #[test]
    fn random_stays_in_bounds_and_covers_them() {
        let mut seen = [false; 3];
        for _ in 0..200 {
            match random_between(-1, 1) {
                Ok(n @ -1..=1) => seen[usize::try_from(n + 1).unwrap_or_default()] = true,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(random_between(7, 7), Ok(7));
        assert!(random_between(i64::MIN, i64::MAX).is_ok());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4().unwrap_or_default();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(uuid_v4().unwrap_or_default(), u);
    }
}
