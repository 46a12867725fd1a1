//! Scrubbing secrets out of everything an execution records: the values of the connections an
//! execution used (and the forms they travel in: URL-encoded, in HTTP Basic), their access
//! tokens, and the flow's `vars`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Secrets are shorter than this are not scrubbed (they would match ordinary text everywhere).
const MIN_SECRET: usize = 4;

/// The secrets seen so far in one execution.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    needles: Vec<String>,
    /// Short values hidden only where a whole string or number equals them (`functions.mask`
    /// of a 3-digit code must not blank every "3" in the record).
    exact: Vec<String>,
}

impl Redactor {
    /// Remembers a secret (and its URL-encoded form).
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SECRET {
            return;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for s in [secret.to_owned(), encoded, secret.replace('"', "\\\"")] {
            if !self.needles.contains(&s) {
                self.needles.push(s);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        self.needles.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Remembers a value the flow masked (`functions.mask`): hidden however short.
    pub(crate) fn add_masked(&mut self, text: &str) {
        if text.len() >= MIN_SECRET {
            self.add(text);
        } else if !text.is_empty() && !self.exact.iter().any(|e| e == text) {
            self.exact.push(text.to_owned());
        }
    }

    /// Remembers HTTP Basic credentials in the form they travel in.
    pub(crate) fn add_basic(&mut self, user: &str, password: &str) {
        if !password.is_empty() {
            self.add(&STANDARD.encode(format!("{user}:{password}")));
        }
    }

    /// Remembers every string inside `value` (for `vars`).
    pub(crate) fn add_strings(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.add(s),
            Value::Array(a) => a.iter().for_each(|v| self.add_strings(v)),
            Value::Object(m) => m.values().for_each(|v| self.add_strings(v)),
            _ => {}
        }
    }

    /// `s` with every known secret replaced.
    pub(crate) fn scrub_str(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out
    }

    /// Scrubs every string (and object key) inside `value`.
    pub(crate) fn scrub(&self, value: &mut Value) {
        if self.needles.is_empty() && self.exact.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if self.exact.iter().any(|e| e == s) {
                    *s = REDACTED.to_owned();
                } else if self.needles.iter().any(|n| s.contains(n.as_str())) {
                    *s = self.scrub_str(s);
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if self.exact.contains(&text)
                    || self.needles.iter().any(|s| text.contains(s.as_str()))
                {
                    *value = Value::String(REDACTED.to_owned());
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.scrub(v)),
            Value::Object(m) => {
                let keys: Vec<String> = m
                    .keys()
                    .filter(|k| self.needles.iter().any(|n| k.contains(n.as_str())))
                    .cloned()
                    .collect();
                for k in keys {
                    if let Some(v) = m.remove(&k) {
                        m.insert(self.scrub_str(&k), v);
                    }
                }
                m.values_mut().for_each(|v| self.scrub(v));
            }
            _ => {}
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
    }

    #[test]
    fn masked_values_are_hidden_however_short_but_only_whole() {
        let mut r = Redactor::default();
        r.add_masked("42");
        r.add_masked("123456");
        let mut v =
            json!({"pin": "42", "n": 42, "text": "42 apples", "long": 123_456, "in": "x123456y"});
        r.scrub(&mut v);
        assert_eq!(
            v,
            json!({"pin": REDACTED, "n": REDACTED, "text": "42 apples", "long": REDACTED, "in": "x[redacted]y"})
        );
    }
}
