//! Scrubbing secrets out of everything an execution records: the values of the connections an
//! execution used (and the forms they travel in: URL-encoded, in HTTP Basic), their access
//! tokens, the flow's `vars` and what it masked.
//!
//! Secrets are collected as the run goes and matched all at once (Aho-Corasick, longest match
//! first), so scrubbing costs the size of what is scrubbed, however many secrets there are.
//! What one run may collect is bounded; past the bound, the record keeps no inputs or outputs.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are matched only as whole values (as parts of text they would match
/// ordinary words everywhere).
const MIN_SECRET: usize = 4;

/// The most bytes of secrets one run collects.
const MAX_SECRET_BYTES: usize = 8 * 1024 * 1024;

/// The secrets seen so far in one execution. `Debug` shows counts only.
#[derive(Default)]
pub(crate) struct Redactor {
    /// Matched anywhere in text.
    needles: HashSet<String>,
    /// Matched where a whole string or number equals them.
    exact: HashSet<String>,
    bytes: usize,
    overflow: bool,
    /// Built from `needles` when first needed after a change.
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("needles", &self.needles.len())
            .field("exact", &self.exact.len())
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Remembers a secret, in the forms it may appear in: as is, URL-encoded, JSON-escaped.
    /// A short one is remembered as a whole value only.
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        if secret.len() < MIN_SECRET {
            self.remember_exact(secret);
            return;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let escaped = Value::String(secret.to_owned()).to_string();
        let escaped = escaped[1..escaped.len() - 1].to_owned();
        for form in [secret.to_owned(), encoded, escaped] {
            self.remember(form);
        }
    }

    /// Remembers HTTP Basic credentials in the form they travel in.
    pub(crate) fn add_basic(&mut self, user: &str, password: &str) {
        if !password.is_empty() {
            self.add(&STANDARD.encode(format!("{user}:{password}")));
        }
    }

    /// Remembers every scalar inside `value` (`vars`, masked values): strings and numbers, as
    /// text. Booleans and `null` are not secrets.
    pub(crate) fn add_value(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Array(a) => a.iter().for_each(|v| self.add_value(v)),
            Value::Object(m) => m.values().for_each(|v| self.add_value(v)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Whether the run met more secrets than can be tracked: its record must then keep no
    /// inputs or outputs.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    fn remember(&mut self, needle: String) {
        if self.overflow || self.needles.contains(&needle) {
            return;
        }
        self.bytes += needle.len();
        if self.bytes > MAX_SECRET_BYTES {
            self.overflow = true;
            return;
        }
        self.needles.insert(needle);
        self.matcher = None;
    }

    fn remember_exact(&mut self, value: &str) {
        if self.overflow || self.exact.contains(value) {
            return;
        }
        self.bytes += value.len();
        if self.bytes > MAX_SECRET_BYTES {
            self.overflow = true;
            return;
        }
        self.exact.insert(value.to_owned());
    }

    fn matcher(&mut self) -> Option<&AhoCorasick> {
        if self.needles.is_empty() {
            return None;
        }
        if self.matcher.is_none() {
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(self.needles.iter());
            match built {
                Ok(m) => self.matcher = Some(m),
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the redaction matcher");
                    self.overflow = true;
                    return None;
                }
            }
        }
        self.matcher.as_ref()
    }

    /// `s` with every known secret replaced.
    pub(crate) fn scrub_str(&mut self, s: &str) -> String {
        if self.exact.contains(s) {
            return REDACTED.to_owned();
        }
        match self.matcher() {
            Some(m) if m.is_match(s) => m.replace_all(s, &vec![REDACTED; m.patterns_len()]),
            _ => s.to_owned(),
        }
    }

    /// Scrubs every string, number and object key inside `value`.
    pub(crate) fn scrub(&mut self, value: &mut Value) {
        if self.needles.is_empty() && self.exact.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                let scrubbed = self.scrub_str(s);
                if scrubbed != *s {
                    *s = scrubbed;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if self.scrub_str(&text) != text {
                    *value = Value::String(REDACTED.to_owned());
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.scrub(v)),
            Value::Object(m) => {
                let entries = std::mem::take(m);
                for (k, mut v) in entries {
                    self.scrub(&mut v);
                    let k = self.scrub_str(&k);
                    m.insert(k, v);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_go_in_every_form() {
        let mut r = Redactor::default();
        r.add("s3cr3t+token/x");
        r.add_basic("AC123", "authtok");
        r.add("abc");
        let mut v = json!({
            "echo": "bad key s3cr3t+token/x here",
            "encoded": "key=s3cr3t%2Btoken%2Fx",
            "header": format!("Basic {}", STANDARD.encode("AC123:authtok")),
            "list": ["s3cr3t+token/x"],
            "short": "abc stays",
            "whole": "abc",
            "s3cr3t+token/x": 1,
        });
        r.scrub(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("s3cr3t") && !text.contains(&STANDARD.encode("AC123:authtok")),
            "{text}"
        );
        assert!(text.contains("abc stays"));
        assert_eq!(v["list"][0], REDACTED);
        assert_eq!(v["whole"], REDACTED);
        assert_eq!(v[REDACTED], 1);
        assert!(!format!("{r:?}").contains("s3cr3t"), "{r:?}");
    }

    #[test]
    fn values_are_hidden_however_short_but_short_ones_only_whole() {
        let mut r = Redactor::default();
        r.add_value(
            &json!({"pin": "42", "n": 123_456, "deep": [{"card": "4111111111111111"}], "b": true}),
        );
        let mut v = json!({
            "pin": "42", "n": 42, "text": "42 apples", "long": 123_456, "in": "x123456y",
            "card": {"number": "4111111111111111"}, "flag": true,
        });
        r.scrub(&mut v);
        assert_eq!(
            v,
            json!({"pin": REDACTED, "n": REDACTED, "text": "42 apples", "long": REDACTED,
                   "in": "x[redacted]y", "card": {"number": REDACTED}, "flag": true})
        );
    }

    #[test]
    fn the_longest_secret_wins_and_json_escapes_are_covered() {
        let mut r = Redactor::default();
        r.add("abcd");
        r.add("abcdefgh");
        r.add("quo\"te");
        assert_eq!(r.scrub_str("xabcdefghx abcd"), "x[redacted]x [redacted]");
        assert_eq!(r.scrub_str(r#"{"k":"quo\"te"}"#), r#"{"k":"[redacted]"}"#);
    }

    #[test]
    fn many_secrets_cost_little_and_too_many_are_reported() {
        let mut r = Redactor::default();
        let values: Vec<Value> = (0..150_000).map(|i| json!(format!("value-{i:06}"))).collect();
        r.add_value(&Value::Array(values));
        assert!(!r.overflowed());
        let mut record = json!({"echo": "value-149999 and value-000001 and other text"});
        r.scrub(&mut record);
        assert_eq!(record["echo"], "[redacted] and [redacted] and other text");

        let big = "x".repeat(1024 * 1024);
        for i in 0..10 {
            r.add(&format!("{i}{big}"));
        }
        assert!(r.overflowed());
    }
}
