//! What the sweep collects (every response, command output and log line) and how it searches
//! it: the canaries and their disguises.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use flowvault_testkit::providers::fake_secret;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::support::{Cli, Run};

use super::{FLOWS, MARKER};

/// Everything flowvault said, by where it said it.
pub(super) struct Sweep {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) token: String,
    pub(super) seen: Vec<(String, String)>,
    pub(super) requests: usize,
    pub(super) commands: usize,
}

impl Sweep {
    pub(super) fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
            base: String::new(),
            token: String::new(),
            seen: Vec::new(),
            requests: 0,
            commands: 0,
        }
    }

    pub(super) fn note(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.seen.push((place.into(), text.into()));
    }

    /// Sends `req`, records the answer's status line, headers and body; returns the status and
    /// the body as JSON (`null` if it is not).
    pub(super) async fn send(
        &mut self,
        place: String,
        req: reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let resp = req.send().await.unwrap_or_else(|e| panic!("{place}: {e}"));
        let status = resp.status().as_u16();
        let headers: String = resp
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let body = resp.text().await.unwrap_or_else(|e| panic!("{place}: {e}"));
        self.requests += 1;
        self.note(format!("{place} → {status}, headers"), headers);
        self.note(format!("{place} → {status}, body"), body.clone());
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub(super) async fn api(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(format!("{method} {path}"), req).await
    }

    pub(super) async fn raw(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(format!("{method} {path} ({content_type})"), req).await
    }

    pub(super) async fn form(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(format!("POST {path}"), req).await
    }

    pub(super) async fn create_flow(&mut self, name: &str, actions: &Value) -> String {
        let (status, flow) =
            self.api(Method::POST, FLOWS, Some(&json!({"name": name, "actions": actions}))).await;
        assert_eq!(status, 201, "creating flow {name}: {flow}");
        flow["id"].as_str().unwrap_or_default().to_owned()
    }

    pub(super) fn cli(&mut self, cli: &Cli, args: &[&str], stdin: Option<&str>) -> Run {
        let run = cli.run_with(args, stdin, &[]);
        self.commands += 1;
        let command = format!("flowvault {}", args.join(" "));
        self.note(format!("{command}: stdout"), run.stdout.clone());
        self.note(format!("{command}: stderr"), run.stderr.clone());
        run
    }

    pub(super) fn cli_json(&mut self, cli: &Cli, args: &[&str]) -> Value {
        let run = self.cli(cli, args, None);
        assert!(run.ok, "{args:?} failed: {}", run.stderr);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", run.stdout))
    }
}

/// Every canary planted, and the secret forms derived from them (HTTP Basic credentials, whole
/// webhook URLs and PEM blocks).
#[derive(Default)]
pub(super) struct Canaries {
    pub(super) values: Vec<(String, String)>,
}

impl Canaries {
    /// A fresh canary: the marker, letters and digits naming where it was planted, and random
    /// ones (so two runs never share one).
    pub(super) fn mint(&mut self, label: &str) -> String {
        let tag: String = label
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let value = fake_secret(&format!("{MARKER}{tag}"), 8);
        self.values.push((label.to_owned(), value.clone()));
        value
    }

    pub(super) fn derive(&mut self, label: &str, value: String) {
        self.values.push((label.to_owned(), value));
    }

    /// Every place in `seen` holding the marker in any case, or a canary base64, base64url or
    /// percent-encoded (any hex case); one line each with an excerpt.
    pub(super) fn find(&self, seen: &[(String, String)]) -> Vec<String> {
        let needles: Vec<(String, String)> = self
            .values
            .iter()
            .flat_map(|(label, value)| {
                disguises(value)
                    .into_iter()
                    .map(move |(form, text)| (format!("{label} ({form})"), text))
            })
            .collect();
        let marker = MARKER.to_ascii_lowercase();
        let mut found = Vec::new();
        for (place, text) in seen {
            let hay = text.to_ascii_lowercase();
            if let Some(at) = hay.find(&marker) {
                let which = self
                    .values
                    .iter()
                    .find(|(_, v)| v.starts_with(MARKER) && hay.contains(&v.to_ascii_lowercase()))
                    .map_or_else(
                        || "a canary, in part".to_owned(),
                        |(label, v)| {
                            let form = if text.contains(v.as_str()) {
                                "plain"
                            } else if text.contains(&v.to_uppercase()) {
                                "upper-cased"
                            } else if text.contains(&v.to_lowercase()) {
                                "lower-cased"
                            } else {
                                "in another letter case"
                            };
                            format!("{label} ({form})")
                        },
                    );
                found.push(format!("- {place}: {which}: …{}…", excerpt(text, at)));
                continue;
            }
            let hits: Vec<(&str, usize)> = needles
                .iter()
                .filter_map(|(what, n)| hay.find(n.as_str()).map(|at| (what.as_str(), at)))
                .collect();
            if let Some(&(_, at)) = hits.first() {
                let mut forms: Vec<&str> = hits.iter().map(|(what, _)| *what).collect();
                forms.dedup();
                found.push(format!("- {place}: {}: …{}…", forms.join("; "), excerpt(text, at)));
            }
        }
        found
    }
}

/// The forms of `secret` to look for, lower-cased (matching is case-insensitive): itself, its
/// base64 and base64url at each of the three alignments it can have inside a longer encoded
/// text, and each of those percent-encoded (every byte, or all but letters and digits, or all
/// but RFC 3986's unreserved characters).
pub(super) fn disguises(secret: &str) -> Vec<(String, String)> {
    let mut forms = vec![("plain".to_owned(), secret.to_owned())];
    for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
        for offset in 0..3 {
            let mut bytes = vec![b'.'; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            // Only the groups of 3 bytes that lie wholly inside the secret encode the same
            // whatever surrounds it.
            let (first, last) = (offset.div_ceil(3), bytes.len() / 3);
            if last > first && (last - first) * 4 >= 16 {
                forms.push((
                    format!("{name} at offset {offset}"),
                    encoded[first * 4..last * 4].to_owned(),
                ));
            }
        }
    }
    let encoded: Vec<(String, String)> = forms
        .iter()
        .flat_map(|(form, text)| {
            [
                ("every byte percent-encoded", percent(text, |_| false)),
                ("percent-encoded", percent(text, |b| b.is_ascii_alphanumeric())),
                (
                    "percent-encoded (RFC 3986)",
                    percent(text, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
                ),
            ]
            .into_iter()
            .filter(move |(_, e)| e != text)
            .map(move |(how, e)| (format!("{form}, {how}"), e))
        })
        .collect();
    forms.extend(encoded);
    forms.into_iter().map(|(form, text)| (form, text.to_ascii_lowercase())).collect()
}

pub(super) fn percent(text: &str, keep: impl Fn(u8) -> bool) -> String {
    text.bytes()
        .map(|b| if keep(b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Up to 80 bytes either side of `at`, on one line.
pub(super) fn excerpt(text: &str, at: usize) -> String {
    let mut start = at.saturating_sub(80);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 80).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].replace('\n', "⏎")
}
