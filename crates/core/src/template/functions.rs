//! The helper functions, `functions.<name>(…)`.
//!
//! Functions that work on text take `toString` of their argument. Characters are Unicode
//! scalar values (JavaScript counts UTF-16 units; the two agree outside the astral planes).
//! A `null` optional argument counts as left out. Errors name the function and what is wrong,
//! never the argument's value.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use md5::Md5;
use serde_json::{Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::collections;
use super::eval::{json_len, text_of, too_large};
use super::{EvalError, MAX_RENDERED_OUTPUT, NULL};
use crate::time::Timestamp;

/// A helper function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    ToString,
    ToNumber,
    ToBoolean,
    ToArray,
    ToTimestamp,
    Mask,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Uuid,
    Random,
    Now,
    EncodeUriComponent,
    Lowercase,
    Uppercase,
    Trim,
    Length,
    Substring,
    Slice,
    Replace,
    ReplaceAll,
    Split,
    Includes,
    IndexOf,
    Merge,
}

impl Func {
    /// Every function, in the order error messages list them.
    const ALL: [Func; 26] = [
        Func::ToString,
        Func::ToNumber,
        Func::ToBoolean,
        Func::ToArray,
        Func::ToTimestamp,
        Func::Mask,
        Func::Md5,
        Func::Sha1,
        Func::Sha256,
        Func::Sha512,
        Func::Uuid,
        Func::Random,
        Func::Now,
        Func::EncodeUriComponent,
        Func::Lowercase,
        Func::Uppercase,
        Func::Trim,
        Func::Length,
        Func::Substring,
        Func::Slice,
        Func::Replace,
        Func::ReplaceAll,
        Func::Split,
        Func::Includes,
        Func::IndexOf,
        Func::Merge,
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
            Func::ToArray => "toArray",
            Func::ToTimestamp => "toTimestamp",
            Func::Mask => "mask",
            Func::Md5 => "md5",
            Func::Sha1 => "sha1",
            Func::Sha256 => "sha256",
            Func::Sha512 => "sha512",
            Func::Uuid => "uuid",
            Func::Random => "random",
            Func::Now => "now",
            Func::EncodeUriComponent => "encodeURIComponent",
            Func::Lowercase => "lowercase",
            Func::Uppercase => "uppercase",
            Func::Trim => "trim",
            Func::Length => "length",
            Func::Substring => "substring",
            Func::Slice => "slice",
            Func::Replace => "replace",
            Func::ReplaceAll => "replaceAll",
            Func::Split => "split",
            Func::Includes => "includes",
            Func::IndexOf => "indexOf",
            Func::Merge => "merge",
        }
    }

    /// The least and the most arguments the function takes.
    pub(super) fn arity(self) -> (usize, usize) {
        match self {
            Func::Uuid | Func::Now => (0, 0),
            Func::ToTimestamp => (0, 1),
            Func::Merge => (2, 2),
            Func::Substring
            | Func::Slice
            | Func::Split
            | Func::Includes
            | Func::IndexOf
            | Func::Random => (2, 3),
            Func::Replace | Func::ReplaceAll => (3, 3),
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
        Func::ToTimestamp => {
            let seconds = match arg(0) {
                Value::Null => now.as_datetime().timestamp(),
                _ => unix_seconds(&text(0)?).ok_or(bad(NOT_DATE))?,
            };
            Ok(Value::Number(seconds.into()))
        }
        // The value itself: what `mask` changes is the execution record (see `eval`).
        Func::Mask => Ok(arg(0).clone()),
        Func::Md5 => Ok(hash::<Md5>(&text(0)?)),
        Func::Sha1 => Ok(hash::<Sha1>(&text(0)?)),
        Func::Sha256 => Ok(hash::<Sha256>(&text(0)?)),
        Func::Sha512 => Ok(hash::<Sha512>(&text(0)?)),
        Func::Uuid => uuid_v4().map(Value::String),
        Func::Random => random(func, arg(0), arg(1), arg(2)),
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
        Func::Slice => {
            let (start, end) = (position(func, arg(1))?, position(func, arg(2))?);
            match arg(0) {
                Value::Array(items) => {
                    collections::slice_array(items, start.as_ref(), end.as_ref())
                }
                Value::Object(_) => Err(bad(NOT_STRING_OR_ARRAY)),
                _ => {
                    let s = collections::slice_str(&text(0)?, start.as_ref(), end.as_ref());
                    Ok(Value::String(s))
                }
            }
        }
        Func::Replace => limited(text(0)?.replacen(text(1)?.as_ref(), &text(2)?, 1)),
        Func::ReplaceAll => replace_all(&text(0)?, &text(1)?, &text(2)?).map(Value::String),
        Func::Split => {
            let separator = match arg(1) {
                Value::Null => None,
                _ => Some(text(1)?),
            };
            collections::split(&text(0)?, separator.as_deref(), position(func, arg(2))?.as_ref())
        }
        Func::Includes | Func::IndexOf => {
            let from = position(func, arg(2))?;
            let found = match (arg(0), arg(1)) {
                // A missing item is not the empty string, which every string contains.
                (Value::Null, _) | (Value::String(_), Value::Null) => None,
                (Value::String(s), _) => collections::str_index_of(s, &text(1)?, from.as_ref()),
                (Value::Array(items), item) => {
                    collections::array_index_of(items, item, from.as_ref())
                }
                _ => return Err(bad(NOT_STRING_OR_ARRAY)),
            };
            Ok(match func {
                Func::Includes => Value::Bool(found.is_some()),
                _ => found.map_or(Value::from(-1), Value::from),
            })
        }
        Func::Merge => collections::merge(arg(0), arg(1)).unwrap_or(Err(bad(CANNOT_MERGE))),
    }
}

const NOT_NUMBER: &str = "the argument is not a number";
const NOT_BOOLEAN: &str = "the argument is not a boolean (true, false, 1, 0 or empty)";
const NO_LENGTH: &str = "the argument is not a string, array or object";
const NOT_INTEGER: &str = "the bounds must be whole numbers";
const NOT_DATE: &str = "the argument is not an ISO 8601 date";
const NOT_STRING_OR_ARRAY: &str = "the first argument is not a string or array";
const CANNOT_MERGE: &str = "the base is not an array, object or string, or the value is not \
                            of a type that merges into it";

/// An optional position (`slice`, `split`, `includes`, `indexOf`): `null` is left out.
fn position(func: Func, value: &Value) -> Result<Option<Number>, EvalError> {
    match value {
        Value::Null => Ok(None),
        v => to_number(func, v).map(Some),
    }
}

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

/// `toTimestamp`: an ISO 8601 date in whole seconds since the Unix epoch, rounded down as
/// `Math.floor(Date.parse(date) / 1000)` rounds. Takes RFC 3339 (`2021-04-30T10:02:50.876Z`,
/// `…+02:00`), a date alone (`2021-04-30`, midnight UTC, as JavaScript reads it) and a date
/// and time with no offset (`2021-04-30T10:02`, `…T10:02:50.876`), read as UTC.
fn unix_seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN).and_utc().timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
        .map(|t| t.and_utc().timestamp())
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

/// The lowercase hex digest of a text's UTF-8 bytes.
fn hash<D: Digest>(text: &str) -> Value {
    Value::String(hex(&D::digest(text.as_bytes())))
}

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

/// `random(min, max, float?)`: an integer in `min..=max` (the bounds must be whole), or with
/// `float` true, a float in `[min, max]`.
fn random(func: Func, min: &Value, max: &Value, float: &Value) -> Result<Value, EvalError> {
    let bad = |reason| EvalError::BadArgument { function: func.name(), reason };
    let float = to_boolean(float).ok_or(bad(NOT_BOOLEAN))?;
    let (min, max) = (to_number(func, min)?, to_number(func, max)?);
    let reversed = bad("the lower bound is greater than the upper bound");
    if float {
        let (min, max) =
            (min.as_f64().ok_or(bad(NOT_NUMBER))?, max.as_f64().ok_or(bad(NOT_NUMBER))?);
        if min > max {
            return Err(reversed);
        }
        let n = random_float(min, max)?;
        return normalize(n).map(Value::Number).ok_or(bad(NOT_NUMBER));
    }
    let (min, max) =
        (integer(&min).ok_or(bad(NOT_INTEGER))?, integer(&max).ok_or(bad(NOT_INTEGER))?);
    if min > max {
        return Err(reversed);
    }
    random_between(min, max).map(|n| Value::Number(n.into()))
}

/// A uniformly random float in `[min, max]` (`min <= max`, both finite), both ends reachable.
fn random_float(min: f64, max: f64) -> Result<f64, EvalError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|_| EvalError::RandomFailed { function: "random" })?;
    // 53 random bits over 2^53 - 1: a fraction in [0, 1], exact in an f64.
    #[allow(clippy::cast_precision_loss, reason = "both are below 2^53, so exact")]
    let u = (u64::from_le_bytes(b) >> 11) as f64 / ((1u64 << 53) - 1) as f64;
    // Interpolated, not `min + u * (max - min)`, which overflows for bounds near ±f64::MAX;
    // clamped because rounding may step just outside.
    Ok((min * (1.0 - u) + max * u).clamp(min, max))
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
        assert_eq!(Func::from_name("sha384"), None);
        assert_eq!(Func::from_name("Md5"), None);
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
    fn random_floats_stay_in_bounds() {
        for _ in 0..200 {
            let f = random_float(-0.5, 0.5).unwrap_or(f64::NAN);
            assert!((-0.5..=0.5).contains(&f), "{f}");
        }
        assert_eq!(random_float(2.5, 2.5), Ok(2.5));
        let wide = random_float(-f64::MAX, f64::MAX).unwrap_or(f64::NAN);
        assert!(wide.is_finite(), "{wide}");
        let high = random_float(f64::MAX, f64::MAX);
        assert_eq!(high, Ok(f64::MAX));
    }

    #[test]
    fn unix_seconds_reads_iso_8601() {
        let cases = [
            ("2021-04-30T10:02:50.876Z", Some(1_619_776_970)),
            ("2021-04-30T12:02:50.876+02:00", Some(1_619_776_970)),
            (" 2021-04-30T10:02:50Z ", Some(1_619_776_970)),
            ("2021-04-30T10:02:50.876", Some(1_619_776_970)),
            ("2021-04-30T10:02", Some(1_619_776_920)),
            ("2021-04-30", Some(1_619_740_800)),
            ("1970-01-01T00:00:00Z", Some(0)),
            // Rounded down, as `Math.floor` rounds: half a second before the epoch is -1.
            ("1969-12-31T23:59:59.500Z", Some(-1)),
            ("", None),
            ("yesterday", None),
            ("2021-02-30", None),
            ("1619776970", None),
            ("2021-04-30T25:00:00Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(unix_seconds(text), want, "{text:?}");
        }
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
