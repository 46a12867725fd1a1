//! Scrubbing secrets out of what gets recorded or shown: the one redaction policy of flowvault.
//!
//! A [`Redactor`] is told the secrets of a piece of work — the credentials of the connections an
//! execution used, their access tokens, a flow's `vars` and masked values, the client secret
//! and refresh token of a token request — and replaces each of them wherever it appears, in any
//! of the forms a secret travels or gets echoed in:
//!
//! - as is, in any letter case (an upstream that answers `BEARER AT-OK` echoes `Bearer at-ok`);
//! - percent-encoded: as a form does (`+` for a space), as RFC 3986 does (everything but
//!   `A-Z a-z 0-9 - . _ ~`), as JavaScript's `encodeURIComponent` does, or everything but
//!   letters and digits, with upper- or lower-case hex;
//! - JSON-escaped, with or without `\/` for `/`;
//! - base64, standard or URL-safe, padded or not, at any position inside a longer encoded text
//!   (HTTP Basic's `user:secret`, a JWT claim, an echoed header): for each of the three byte
//!   alignments a secret can have inside base64, the characters that depend only on the secret
//!   are matched.
//!
//! Matching is one pass of Aho-Corasick (leftmost-longest, ASCII case-insensitive) over all
//! the forms of all the secrets, so scrubbing costs the size of the text, however many secrets
//! there are. Secrets shorter than [`MIN_SECRET`] bytes are matched only where a whole string
//! or number equals them: as parts of text they would match ordinary words everywhere. What one
//! redactor collects is bounded; past the bound it reports [`Redactor::overflowed`] and the
//! caller must keep nothing that needed scrubbing.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::Value;

use crate::setup::Setup;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are matched only as whole values.
pub const MIN_SECRET: usize = 4;

/// Secrets at least this long are also matched in base64 at any alignment (shorter ones leave
/// too few characters that depend on them alone).
const MIN_BASE64_SECRET: usize = 8;

/// The most bytes of secrets one redactor collects.
const MAX_SECRET_BYTES: usize = 8 * 1024 * 1024;

/// Setup fields that are the user half of HTTP Basic credentials.
const BASIC_USERS: &[&str] = &["account_id", "username", "api_key", "client_id"];

/// The secrets seen so far: those added to this redactor, and sets of them prepared once and
/// shared ([`KnownSecrets`]: a connection's credentials, used by every run until they change).
/// `Debug` shows counts only.
#[derive(Default)]
pub struct Redactor {
    own: Secrets,
    shared: Vec<Arc<KnownSecrets>>,
}

/// Secrets in every form, and the automaton that finds them.
#[derive(Default)]
struct Secrets {
    /// Matched anywhere in text (lower-case: matching ignores ASCII case).
    needles: HashSet<String>,
    /// Matched where a whole string or number equals them (lower-case).
    exact: HashSet<String>,
    bytes: usize,
    overflow: bool,
    /// Built from `needles` when first needed after a change.
    matcher: Option<AhoCorasick>,
}

/// The secrets of one connection's credentials, in every form, with their automaton built:
/// made once for a version of the credentials and shared by every run that uses it
/// ([`Redactor::add_known`]). Building the automaton is most of what redaction costs.
pub struct KnownSecrets(Secrets);

impl std::fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownSecrets")
            .field("needles", &self.0.needles.len())
            .field("exact", &self.0.exact.len())
            .finish_non_exhaustive()
    }
}

impl KnownSecrets {
    /// The secrets of `setup` and its access token, as [`Redactor::add_credentials`] knows
    /// them, ready to match.
    #[must_use]
    pub fn of_credentials(setup: &Setup, access_token: Option<&str>) -> Arc<Self> {
        let mut r = Redactor::default();
        r.add_credentials(setup, access_token);
        let mut secrets = r.own;
        secrets.build();
        Arc::new(Self(secrets))
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |f: fn(&Secrets) -> usize| {
            f(&self.own) + self.shared.iter().map(|k| f(&k.0)).sum::<usize>()
        };
        f.debug_struct("Redactor")
            .field("needles", &count(|s| s.needles.len()))
            .field("exact", &count(|s| s.exact.len()))
            .field("overflow", &self.overflowed())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor that knows `secrets`.
    #[must_use]
    pub fn with<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut r = Self::default();
        for s in secrets {
            r.add(s);
        }
        r
    }

    /// Remembers a secret in every form it may appear in (see the module's documentation). A
    /// short one is remembered as a whole value only.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        if secret.len() < MIN_SECRET {
            self.remember_exact(secret);
            return;
        }
        self.remember(secret.to_owned());
        self.remember(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        self.remember(percent_encode(secret, b"-._~"));
        self.remember(percent_encode(secret, b"-._~!*'()"));
        self.remember(percent_encode(secret, b""));
        // Encoded twice (a URL inside a URL's query).
        self.remember(percent_encode(&percent_encode(secret, b"-._~"), b"-._~"));
        let escaped = Value::String(secret.to_owned()).to_string();
        let escaped = &escaped[1..escaped.len() - 1];
        if escaped.contains('/') {
            self.remember(escaped.replace('/', "\\/"));
        }
        self.remember(escaped.to_owned());
        // JSON as encoders that escape every non-alphanumeric character write it (`\u0026`).
        self.remember(unicode_escape(secret));
        self.remember(html_escape(secret));
        self.remember(hex(secret.as_bytes()));
        // A secret URL (a webhook) is secret for its path and query: an upstream that echoes
        // "the path you called" shows them without the host.
        if let Ok(url) = url::Url::parse(secret)
            && matches!(url.scheme(), "http" | "https")
        {
            for part in [Some(url.path()), url.query()].into_iter().flatten() {
                if part.len() >= MIN_BASE64_SECRET {
                    self.add(part);
                }
            }
        }
        if secret.len() >= MIN_BASE64_SECRET {
            for aligned in base64_cores(secret.as_bytes()) {
                self.remember(aligned.replace('+', "-").replace('/', "_"));
                self.remember(aligned);
            }
        }
    }

    /// Remembers HTTP Basic credentials in the form they travel in (`base64(user:password)`), and
    /// that in every form [`Redactor::add`] knows: also for a password too short to be matched
    /// inside base64 on its own.
    pub fn add_basic(&mut self, user: &str, password: &str) {
        if !password.is_empty() {
            // A secret in its own right, in every form: an upstream that echoes the header
            // base64-encodes the already encoded credential.
            self.add(&STANDARD_NO_PAD.encode(format!("{user}:{password}")));
        }
    }

    /// Remembers the secrets of a connection's credentials (the fields the catalog marks
    /// secret), with the HTTP Basic forms they may be sent in (`user:secret`, where the user is
    /// another field of the setup, such as a Twilio Account SID, or a fixed name), and its access
    /// token, if any.
    pub fn add_credentials(&mut self, setup: &Setup, access_token: Option<&str>) {
        let secrets: Vec<&str> = setup.secret_values().collect();
        let mut users: Vec<&str> = secrets.clone();
        users.extend(BASIC_USERS.iter().filter_map(|f| setup.expose(f)));
        users.extend(["flowvault", ""]);
        for secret in &secrets {
            self.add(secret);
            for user in &users {
                self.add_basic(user, secret);
            }
        }
        if let Some(token) = access_token {
            self.add(token);
        }
    }

    /// Remembers every scalar inside `value` (`vars`, masked values): strings and numbers, as
    /// text. Booleans and `null` are not secrets.
    pub fn add_value(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Array(a) => a.iter().for_each(|v| self.add_value(v)),
            Value::Object(m) => m.values().for_each(|v| self.add_value(v)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Whether nothing is known yet (scrubbing changes nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && self.shared.iter().all(|k| k.0.is_empty())
    }

    /// Whether more secrets were met than can be tracked: whoever records must then keep
    /// nothing that needed scrubbing.
    #[must_use]
    pub fn overflowed(&self) -> bool {
        let bytes = self.shared.iter().fold(self.own.bytes, |sum, k| sum.saturating_add(k.0.bytes));
        self.own.overflow || self.shared.iter().any(|k| k.0.overflow) || bytes > MAX_SECRET_BYTES
    }

    /// Adds a prepared set of secrets (shared, not copied).
    pub fn add_known(&mut self, known: Arc<KnownSecrets>) {
        if !self.shared.iter().any(|k| Arc::ptr_eq(k, &known)) {
            self.shared.push(known);
        }
    }

    fn remember(&mut self, needle: String) {
        self.own.remember(needle);
    }

    fn remember_exact(&mut self, value: &str) {
        self.own.remember_exact(value);
    }
}

impl Secrets {
    fn remember(&mut self, needle: String) {
        if needle.len() < MIN_SECRET {
            return;
        }
        let needle = needle.to_ascii_lowercase();
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
        let value = value.to_ascii_lowercase();
        if self.overflow || self.exact.contains(&value) {
            return;
        }
        self.bytes += value.len();
        if self.bytes > MAX_SECRET_BYTES {
            self.overflow = true;
            return;
        }
        self.exact.insert(value);
    }

    fn is_empty(&self) -> bool {
        self.needles.is_empty() && self.exact.is_empty()
    }

    /// Builds the automaton, if there are needles and it is not built yet.
    fn build(&mut self) {
        if !self.needles.is_empty() && self.matcher.is_none() {
            let built = AhoCorasick::builder()
                // A contiguous NFA, not the DFA the builder picks for few needles: a redactor
                // lives for one run and scans a few kilobytes, and building the DFA (with case
                // folding) took 40% of a one-action flow's CPU in the profile (docs/benchmarks.md).
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                // Standard semantics, so that overlapping matches can all be found: a needle
                // that starts earlier and runs into a secret must not hide the secret's rest.
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .build(self.needles.iter());
            match built {
                Ok(m) => self.matcher = Some(m),
                // Only an automaton too large to build fails: treat it as too many secrets.
                Err(_) => self.overflow = true,
            }
        }
    }

    /// Whether `lower` (a short text, lower-cased) is one of the whole-value secrets.
    fn is_exact(&self, lower: &str) -> bool {
        self.exact.contains(lower)
    }

    /// Adds the byte ranges of `s` where a secret is (overlapping matches included) to
    /// `ranges`. The automaton must have been built.
    fn find(&self, s: &str, ranges: &mut Vec<(usize, usize)>) {
        let Some(m) = &self.matcher else { return };
        if !m.is_match(s) {
            return;
        }
        ranges.extend(m.find_overlapping_iter(s).map(|found| (found.start(), found.end())));
    }
}

impl Redactor {
    /// `s` with every known secret replaced (borrowed exactly when nothing was).
    pub fn scrub_str<'s>(&mut self, s: &'s str) -> Cow<'s, str> {
        self.own.build();
        let sets = std::iter::once(&self.own).chain(self.shared.iter().map(|k| &k.0));
        if s.len() < MIN_SECRET {
            let lower = s.to_ascii_lowercase();
            if sets.clone().any(|set| set.is_exact(&lower)) {
                return Cow::Owned(REDACTED.to_owned());
            }
        }
        // Every match of every set, overlapping ones included, merged into ranges: each range
        // is replaced whole.
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        sets.for_each(|set| set.find(s, &mut ranges));
        if ranges.is_empty() {
            return Cow::Borrowed(s);
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (start, end) in merged {
            // Needles are whole UTF-8 strings, so matches start and end on char boundaries.
            out.push_str(s.get(at..start).unwrap_or_default());
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(s.get(at..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// Scrubs every string, number and object key inside `value`.
    pub fn scrub(&mut self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(scrubbed) = self.scrub_str(s) {
                    *s = scrubbed;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if matches!(self.scrub_str(&text), Cow::Owned(_)) {
                    *value = Value::String(REDACTED.to_owned());
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.scrub(v)),
            Value::Object(m) => {
                let entries = std::mem::take(m);
                for (k, mut v) in entries {
                    self.scrub(&mut v);
                    let k = self.scrub_str(&k).into_owned();
                    m.insert(k, v);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
}

/// `\uXXXX` for every character of `s` but ASCII letters and digits.
fn unicode_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `s` with HTML's special characters as entities (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`).
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Lower-case hex of `bytes` (matching ignores case, so upper-case hex is caught too).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `%XX` (upper-case hex) for every byte of `s` but ASCII letters, digits and `keep`.
fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// For each byte alignment (0, 1, 2) a secret can have inside a longer base64 text, the
/// standard-alphabet characters that depend only on the secret's bits.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    (0..3usize)
        .map(|offset| {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(secret);
            let encoded = STANDARD_NO_PAD.encode(&padded);
            // Character i covers bits [6i, 6i + 6) of the padded bytes; the secret's bits are
            // [8 * offset, 8 * (offset + len)).
            let first = (8 * offset).div_ceil(6);
            let end = (8 * (offset + secret.len())) / 6;
            encoded.get(first..end).unwrap_or_default().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    use serde_json::json;

    use super::*;

    /// A connection's prepared secrets and a run's own are one redactor: each set's matches are
    /// found, and matches of different sets that overlap are replaced as one.
    #[test]
    fn prepared_and_own_secrets_scrub_together() {
        let setup = crate::validate::validate_setup(
            crate::AppId::Http,
            &json!({ "type": "BEARER", "token": "tok-prepared-1234" }),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let known = KnownSecrets::of_credentials(&setup, Some("access-abcdef-99"));
        let mut r = Redactor::default();
        r.add_known(known.clone());
        r.add_known(known);
        r.add("1234-own-secret");
        let scrubbed =
            r.scrub_str("a tok-prepared-1234-own-secret b access-abcdef-99 c").into_owned();
        assert_eq!(scrubbed, format!("a {REDACTED} b {REDACTED} c"));
        assert!(matches!(r.scrub_str("nothing here"), Cow::Borrowed(_)));
        assert!(!r.overflowed() && !r.is_empty());
    }

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

    /// Every transformation an upstream may apply to an echoed secret is caught.
    #[test]
    fn transformed_secrets_are_caught() {
        let secret = "At-OK/t0ken+with space&more=1";
        let mut r = Redactor::with([secret]);
        let forms = [
            secret.to_owned(),
            secret.to_uppercase(),
            secret.to_lowercase(),
            format!("Bearer {}", secret.to_uppercase()),
            STANDARD.encode(secret),
            URL_SAFE.encode(secret),
            STANDARD_NO_PAD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            STANDARD.encode(format!("x{secret}")),
            STANDARD.encode(format!("xy{secret}")),
            URL_SAFE_NO_PAD.encode(format!("user:{secret}")),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            percent_encode(secret, b"-._~"),
            percent_encode(secret, b"-._~").to_lowercase(),
            percent_encode(secret, b"-._~!*'()"),
            percent_encode(secret, b"").to_lowercase(),
            Value::String(secret.to_owned()).to_string(),
            Value::String(secret.to_owned()).to_string().replace('/', "\\/"),
            unicode_escape(secret),
            html_escape(secret),
            hex(secret.as_bytes()),
            hex(secret.as_bytes()).to_uppercase(),
            percent_encode(&percent_encode(secret, b"-._~"), b"-._~"),
        ];
        for form in forms {
            let text = format!("upstream said <{form}> back");
            let scrubbed = r.scrub_str(&text).into_owned();
            assert!(scrubbed.contains(REDACTED), "not caught: {form}");
            let lower = scrubbed.to_lowercase();
            assert!(!lower.contains("t0ken"), "left: {scrubbed}");
            for core in base64_cores(secret.as_bytes()) {
                assert!(!scrubbed.contains(&core), "left base64 {core} in {scrubbed}");
            }
        }
        assert_eq!(r.scrub_str("nothing to see"), "nothing to see");
    }

    /// An upstream that echoes a Basic header base64-encodes an encoded credential: caught, for
    /// a password too short to be matched inside base64 on its own too.
    #[test]
    fn an_echoed_basic_header_is_caught_encoded_again() {
        for password in ["pw12", "a-longer-passw0rd"] {
            let mut r = Redactor::default();
            r.add_basic("svc-user", password);
            let header = STANDARD.encode(format!("svc-user:{password}"));
            for echo in
                [STANDARD.encode(&header), URL_SAFE_NO_PAD.encode(format!("token={header}"))]
            {
                let out = r.scrub_str(&format!("saw {echo}")).into_owned();
                assert!(out.contains(REDACTED), "{password}: {out}");
            }
        }
    }

    #[test]
    fn a_secret_url_is_secret_for_its_path_and_query_too() {
        let mut r =
            Redactor::with(["https://hooks.slack.com/services/T0/B0/xoxb-s3cret?sig=abcdefgh123"]);
        let echoed =
            r.scrub_str(r#"{"path":"/services/T0/B0/xoxb-s3cret","query":"sig=abcdefgh123"}"#);
        assert!(!echoed.contains("xoxb-s3cret") && !echoed.contains("abcdefgh123"), "{echoed}");
        // A short path is not (it would match too much).
        let mut r = Redactor::with(["https://example.com/a"]);
        assert_eq!(r.scrub_str("/a"), "/a");
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

    /// A needle that starts earlier and runs into a secret (a `vars` value that ends with the
    /// start of a token) must not leave the rest of the secret behind.
    #[test]
    fn overlapping_secrets_are_redacted_whole() {
        let mut r = Redactor::with(["Bearer xoxb-", "xoxb-0123456789-abcdef"]);
        let out = r.scrub_str("sent Bearer xoxb-0123456789-abcdef now").into_owned();
        assert_eq!(out, "sent [redacted] now");
        assert!(!out.contains("abcdef"));
    }

    #[test]
    fn many_secrets_cost_little_and_too_many_are_reported() {
        let mut r = Redactor::default();
        let values: Vec<Value> = (0..5_000).map(|i| json!(format!("value-{i:06}"))).collect();
        r.add_value(&Value::Array(values));
        assert!(!r.overflowed());
        let mut record = json!({"echo": "value-004999 and value-000001 and other text"});
        r.scrub(&mut record);
        assert_eq!(record["echo"], "[redacted] and [redacted] and other text");

        let big = "x".repeat(1024 * 1024);
        for i in 0..10 {
            r.add(&format!("{i}{big}"));
        }
        assert!(r.overflowed());
    }

    #[test]
    fn base64_cores_depend_on_the_secret_alone() {
        let secret = b"0123456789abcdef";
        for (offset, core) in base64_cores(secret).iter().enumerate() {
            for prefix in [b"".as_slice(), b"abc", b"\xff\xfe\xfd"] {
                for suffix in [b"".as_slice(), b"!", b"\x00\x01"] {
                    let mut text = prefix.to_vec();
                    text.extend(std::iter::repeat_n(b'z', offset));
                    text.extend_from_slice(secret);
                    text.extend_from_slice(suffix);
                    assert!(STANDARD.encode(&text).contains(core.as_str()), "offset {offset}");
                }
            }
        }
    }
}
