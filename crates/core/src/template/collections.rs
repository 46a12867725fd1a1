//! The helpers that take apart or combine strings and arrays: `slice`, `split`, `includes`,
//! `indexOf` and `merge`, with JavaScript's semantics (see each function).
//!
//! Every array they return is measured before it is built, so that no call holds more than
//! about [`MAX_RENDERED_OUTPUT`] bytes of JSON, whatever the size of its input.

use serde_json::{Number, Value};

use super::eval::{json_len, number_text, too_large};
use super::{EvalError, MAX_RENDERED_OUTPUT};

/// `slice` of a string, by characters: JavaScript's `String.prototype.slice`.
pub(super) fn slice_str(s: &str, start: Option<&Number>, end: Option<&Number>) -> String {
    let len = s.chars().count();
    let (from, to) = slice_range(len, start, end);
    s.chars().skip(from).take(to - from).collect()
}

/// `slice` of an array: JavaScript's `Array.prototype.slice`.
pub(super) fn slice_array(
    items: &[Value],
    start: Option<&Number>,
    end: Option<&Number>,
) -> Result<Value, EvalError> {
    let (from, to) = slice_range(items.len(), start, end);
    array_of(&items[from..to], &[])
}

/// The range `slice` keeps: a negative position counts back from the end, a missing start is
/// 0 and a missing end is the length; an end before the start keeps nothing.
fn slice_range(len: usize, start: Option<&Number>, end: Option<&Number>) -> (usize, usize) {
    let from = start.map_or(0, |n| relative_index(n, len));
    let to = end.map_or(len, |n| relative_index(n, len));
    (from, to.max(from))
}

/// JavaScript's `String.prototype.split` with a string separator: an empty separator splits
/// into characters, a missing one returns the whole string, and `limit` keeps that many
/// pieces at most (a negative limit keeps all, as JavaScript reads small negative numbers).
pub(super) fn split(
    s: &str,
    separator: Option<&str>,
    limit: Option<&Number>,
) -> Result<Value, EvalError> {
    let limit = limit.map_or(usize::MAX, |n| match n.as_f64() {
        Some(f) if f >= 0.0 => clamp_index(f, usize::MAX),
        _ => usize::MAX,
    });
    match separator {
        None => strings_of(std::iter::once(s).take(limit)),
        // Into characters: the empty string has none, so it splits into no pieces, as in
        // JavaScript (with any other separator it is one empty piece).
        Some("") => strings_of(s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).take(limit)),
        Some(sep) => strings_of(s.split(sep).take(limit)),
    }
}

/// `includes` and `indexOf` on a string: the character index of the first `find` at or after
/// character `from` (JavaScript's `String.prototype.indexOf`: a negative `from` is 0).
pub(super) fn str_index_of(s: &str, find: &str, from: Option<&Number>) -> Option<usize> {
    let from = from.map_or(0, |n| clamp_index(n.as_f64().unwrap_or(0.0), usize::MAX));
    let (start, chars_before) = match s.char_indices().nth(from) {
        Some((byte, _)) => (byte, from),
        None => (s.len(), s.chars().count()),
    };
    let found = s[start..].find(find)?;
    Some(chars_before + s[start..start + found].chars().count())
}

/// `includes` and `indexOf` on an array: the index of the first item equal to `item` at or
/// after `from` (JavaScript's `Array.prototype.indexOf`: a negative `from` counts back from
/// the end). Values are equal as JSON: numbers by value, arrays and objects item by item.
pub(super) fn array_index_of(
    items: &[Value],
    item: &Value,
    from: Option<&Number>,
) -> Option<usize> {
    let from = from.map_or(0, |n| relative_index(n, items.len()));
    items[from..].iter().position(|v| json_equal(v, item)).map(|i| from + i)
}

/// `merge`: the base's type decides. Arrays are concatenated, objects merged one level deep
/// (the value's keys win), and a string is followed by the value's text; a `null` value
/// leaves the base as it is. `None` when the two cannot be merged.
pub(super) fn merge(base: &Value, value: &Value) -> Option<Result<Value, EvalError>> {
    Some(match (base, value) {
        (Value::Array(_) | Value::Object(_) | Value::String(_), Value::Null) => {
            json_len(base, MAX_RENDERED_OUTPUT).map(|_| base.clone())
        }
        (Value::Array(a), Value::Array(b)) => array_of(a, b),
        (Value::Object(a), Value::Object(b)) => {
            // Each side is measured before it is copied, the result once it is built.
            json_len(base, MAX_RENDERED_OUTPUT)
                .and_then(|_| json_len(value, MAX_RENDERED_OUTPUT))
                .and_then(|_| {
                    let mut out = a.clone();
                    out.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                    let out = Value::Object(out);
                    json_len(&out, MAX_RENDERED_OUTPUT).map(|_| out)
                })
        }
        (Value::String(a), Value::String(b)) => joined(a, b),
        (Value::String(a), Value::Number(n)) => joined(a, &number_text(n)),
        (Value::String(a), Value::Bool(b)) => joined(a, if *b { "true" } else { "false" }),
        _ => return None,
    })
}

fn joined(a: &str, b: &str) -> Result<Value, EvalError> {
    if a.len().saturating_add(b.len()) > MAX_RENDERED_OUTPUT {
        return Err(too_large());
    }
    Ok(Value::String([a, b].concat()))
}

/// An array of the items of `a` then those of `b`, measured before it is built.
fn array_of(a: &[Value], b: &[Value]) -> Result<Value, EvalError> {
    // The brackets, then each item and its comma (one more comma than the array has).
    let mut len = 2;
    for item in a.iter().chain(b) {
        len += json_len(item, MAX_RENDERED_OUTPUT)? + 1;
        if len > MAX_RENDERED_OUTPUT + 1 {
            return Err(too_large());
        }
    }
    Ok(Value::Array(a.iter().chain(b).cloned().collect()))
}

/// An array of strings, failing as soon as its JSON would pass the output limit: no more than
/// that is ever allocated, however many pieces the iterator could yield.
fn strings_of<'s>(pieces: impl Iterator<Item = &'s str>) -> Result<Value, EvalError> {
    let mut len: usize = 2;
    let mut out = Vec::new();
    for piece in pieces {
        // The piece and its comma (one more than the array has).
        len += json_string_len(piece) + 1;
        if len > MAX_RENDERED_OUTPUT + 1 {
            return Err(too_large());
        }
        out.push(Value::String(piece.to_owned()));
    }
    Ok(Value::Array(out))
}

/// The length of a string written as JSON, quotes and escapes included (as `serde_json`
/// escapes: `"`, `\` and control characters).
fn json_string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Equality as JSON values: numbers by value (`1` equals `1.0`), arrays item by item, objects
/// key by key, anything else as it is. Iterative, so deep values cannot exhaust the stack.
fn json_equal(a: &Value, b: &Value) -> bool {
    let mut pending = vec![(a, b)];
    while let Some(pair) = pending.pop() {
        match pair {
            (Value::Number(x), Value::Number(y)) => {
                if !numbers_equal(x, y) {
                    return false;
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                pending.extend(x.iter().zip(y));
            }
            (Value::Object(x), Value::Object(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                for (k, v) in x {
                    match y.get(k) {
                        Some(w) => pending.push((v, w)),
                        None => return false,
                    }
                }
            }
            (x, y) => {
                if x != y {
                    return false;
                }
            }
        }
    }
    true
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    x.as_f64() == y.as_f64()
}

/// A position as `slice` and `Array.prototype.indexOf` read it: truncated toward zero; a
/// negative one counts back from the end; clamped to `0..=len`.
fn relative_index(n: &Number, len: usize) -> usize {
    // Truncated first: -0.5 is 0, not a position from the end.
    let f = n.as_f64().unwrap_or(0.0).trunc();
    if f < 0.0 { len - clamp_index(-f, len) } else { clamp_index(f, len) }
}

/// A non-negative float truncated and clamped to `0..=max`.
fn clamp_index(f: f64, max: usize) -> usize {
    #[allow(clippy::cast_precision_loss, reason = "only compared, never used as a count")]
    let bound = max as f64;
    if f >= bound {
        max
    } else if f > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "in 0..max")]
        let i = f as usize;
        i
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn n(i: i64) -> Number {
        Number::from(i)
    }

    #[test]
    fn slice_matches_javascript() {
        let s = |a: Option<i64>, b: Option<i64>| {
            slice_str("example", a.map(n).as_ref(), b.map(n).as_ref())
        };
        assert_eq!(s(Some(3), Some(5)), "mp");
        assert_eq!(s(Some(3), None), "mple");
        assert_eq!(s(Some(-3), None), "ple");
        assert_eq!(s(Some(-3), Some(-1)), "pl");
        assert_eq!(s(Some(5), Some(3)), "");
        assert_eq!(s(Some(-99), Some(2)), "ex");
        assert_eq!(s(Some(99), None), "");
        assert_eq!(s(None, Some(i64::MAX)), "example");
        assert_eq!(slice_str("héllo", Some(&n(1)), Some(&n(2))), "é");
        let f = |f: f64| Number::from_f64(f).unwrap_or_else(|| unreachable!());
        assert_eq!(slice_str("abc", Some(&f(1.9)), None), "bc");
        assert_eq!(slice_str("abc", Some(&f(-0.5)), None), "abc");
        assert_eq!(slice_str("abc", Some(&f(-1.5)), None), "c");
    }

    #[test]
    fn split_matches_javascript() {
        let split = |s: &str, sep: Option<&str>, limit: Option<i64>| {
            split(s, sep, limit.map(n).as_ref()).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(split("2021-04-30", Some("-"), None), json!(["2021", "04", "30"]));
        assert_eq!(split("2021-04-30", Some("-"), Some(2)), json!(["2021", "04"]));
        assert_eq!(split("2021-04-30", Some("-"), Some(0)), json!([]));
        assert_eq!(split("2021-04-30", Some("-"), Some(-1)), json!(["2021", "04", "30"]));
        assert_eq!(split("-a--", Some("-"), None), json!(["", "a", "", ""]));
        assert_eq!(split("héé", Some(""), None), json!(["h", "é", "é"]));
        assert_eq!(split("", Some(""), None), json!([]));
        assert_eq!(split("", Some("-"), None), json!([""]));
        assert_eq!(split("a-b", None, None), json!(["a-b"]));
        assert_eq!(split("a-b", None, Some(0)), json!([]));
    }

    #[test]
    fn split_stops_at_the_output_limit() {
        // `["a","a",…]`: 4 bytes an item, plus 1 for the brackets less the missing last comma.
        let fits = (MAX_RENDERED_OUTPUT - 1) / 4;
        let s = "a".repeat(fits);
        let v = split(&s, Some(""), None).map(|v| v.to_string().len());
        assert_eq!(v, Ok(4 * fits + 1));
        let s = "a".repeat(fits + 1);
        assert_eq!(split(&s, Some(""), None), Err(too_large()));
        assert_eq!(
            split(&s, Some(""), Some(&n(10))).map(|v| v.to_string()),
            Ok(json!(["a", "a", "a", "a", "a", "a", "a", "a", "a", "a"]).to_string())
        );
        // Escapes count: a quote is written `"\""`.
        let quotes = "\"".repeat(fits);
        assert_eq!(split(&quotes, Some(""), None), Err(too_large()));
    }

    #[test]
    fn index_of_counts_characters_and_matches_javascript() {
        let i = |s: &str, f: &str, from: Option<i64>| str_index_of(s, f, from.map(n).as_ref());
        assert_eq!(i("héllo", "l", None), Some(2));
        assert_eq!(i("héllo", "l", Some(3)), Some(3));
        assert_eq!(i("héllo", "l", Some(4)), None);
        assert_eq!(i("héllo", "l", Some(-9)), Some(2));
        assert_eq!(i("héllo", "", Some(2)), Some(2));
        assert_eq!(i("héllo", "", Some(99)), Some(5));
        assert_eq!(i("héllo", "x", None), None);
        assert_eq!(i("", "", None), Some(0));

        let items = [json!("a"), json!(1), json!({"k": [1.0]}), json!("a")];
        let a =
            |item: Value, from: Option<i64>| array_index_of(&items, &item, from.map(n).as_ref());
        assert_eq!(a(json!("a"), None), Some(0));
        assert_eq!(a(json!("a"), Some(1)), Some(3));
        assert_eq!(a(json!("a"), Some(-1)), Some(3));
        assert_eq!(a(json!("a"), Some(-99)), Some(0));
        assert_eq!(a(json!("a"), Some(99)), None);
        assert_eq!(a(json!(1.0), None), Some(1));
        assert_eq!(a(json!("1"), None), None);
        assert_eq!(a(json!({"k": [1]}), None), Some(2));
        assert_eq!(a(json!({"k": [1, 2]}), None), None);
    }

    #[test]
    fn json_equality() {
        assert!(json_equal(&json!({"a": [1, {"b": null}]}), &json!({"a": [1.0, {"b": null}]})));
        assert!(!json_equal(&json!({"a": 1}), &json!({"b": 1})));
        assert!(!json_equal(&json!([1]), &json!(1)));
        assert!(!json_equal(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert!(!json_equal(&json!(-1), &json!(u64::MAX)));
        assert!(json_equal(&json!(0.5), &json!(0.5)));
    }

    #[test]
    fn merge_by_the_type_of_the_base() {
        let m = |a: Value, b: Value| merge(&a, &b).map(|r| r.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(m(json!(["a"]), json!(["b", 1])), Some(json!(["a", "b", 1])));
        assert_eq!(m(json!({"a": 1, "b": 2}), json!({"b": 3})), Some(json!({"a": 1, "b": 3})));
        assert_eq!(m(json!("ab"), json!("cd")), Some(json!("abcd")));
        assert_eq!(m(json!("n="), json!(1.5)), Some(json!("n=1.5")));
        assert_eq!(m(json!("b="), json!(true)), Some(json!("b=true")));
        assert_eq!(m(json!([1]), Value::Null), Some(json!([1])));
        assert_eq!(m(json!("x"), Value::Null), Some(json!("x")));
        for (a, b) in [
            (json!([1]), json!(2)),
            (json!({"a": 1}), json!([1])),
            (json!("a"), json!(["b"])),
            (json!(1), json!(2)),
            (Value::Null, json!([1])),
        ] {
            assert_eq!(merge(&a, &b), None, "{a} {b}");
        }
    }

    #[test]
    fn merge_and_slice_stop_at_the_output_limit() {
        let half = Value::String("a".repeat(MAX_RENDERED_OUTPUT / 2));
        let list = [half.clone()];
        let len = |r: Option<Result<Value, EvalError>>| r.map(|r| r.map(|v| v.to_string().len()));
        assert_eq!(len(merge(&json!(list), &json!([]))), Some(Ok(MAX_RENDERED_OUTPUT / 2 + 4)));
        assert_eq!(len(merge(&json!(list), &json!(list))), Some(Err(too_large())));
        let a = json!({"a": half.clone()});
        let b = json!({"b": half.clone()});
        assert_eq!(len(merge(&a, &b)), Some(Err(too_large())));
        assert_eq!(len(merge(&a, &a)), Some(Ok(MAX_RENDERED_OUTPUT / 2 + 8)));
        let s = "a".repeat(MAX_RENDERED_OUTPUT / 2);
        assert_eq!(merge(&json!(s), &json!(s)).map(|r| r.is_ok()), Some(true));
        let more = format!("{s}a");
        assert_eq!(len(merge(&json!(s), &json!(more))), Some(Err(too_large())));

        let many = vec![half.clone(), half];
        assert_eq!(slice_array(&many, None, None), Err(too_large()));
        assert_eq!(
            slice_array(&many, Some(&n(-1)), None).map(|v| v.to_string().len()),
            Ok(MAX_RENDERED_OUTPUT / 2 + 4)
        );
    }

    proptest! {
        #[test]
        fn json_string_len_matches_serde_json(s in any::<String>()) {
            prop_assert_eq!(json_string_len(&s), Value::String(s.clone()).to_string().len());
        }

        #[test]
        fn split_pieces_join_back(s in "[ab,é]{0,30}", sep in "[ab,é]{1,2}") {
            let Ok(Value::Array(pieces)) = split(&s, Some(&sep), None) else {
                return Err(TestCaseError::fail("split did not return an array"));
            };
            let pieces: Vec<&str> = pieces.iter().filter_map(Value::as_str).collect();
            prop_assert_eq!(pieces.join(&sep), s);
        }

        #[test]
        fn slice_matches_a_reference(s in "[aé]{0,20}", start in -25i64..25, end in -25i64..25) {
            // JavaScript's steps, in plain integers.
            let len = i64::try_from(s.chars().count()).unwrap_or_default();
            let at = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
            let (from, to) = (at(start), at(end).max(at(start)));
            let want: String = s
                .chars()
                .skip(usize::try_from(from).unwrap_or_default())
                .take(usize::try_from(to - from).unwrap_or_default())
                .collect();
            prop_assert_eq!(slice_str(&s, Some(&n(start)), Some(&n(end))), want);
        }
    }
}
