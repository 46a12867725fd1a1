//! Fakes of the providers flowvault's actions call. Each checks authentication and the request's
//! shape the way the real service does (rejecting what it would reject, with its error format),
//! records what it received (headers that carry credentials are not kept), and answers like the
//! real service.
//!
//! Their credentials are made when a fake is created ([`fake_secret`]) and read from it
//! (`fake.api_key()`, …): none is written in the source, so no committed string has the shape of
//! a real provider's key.

pub mod activecampaign;
pub mod airtable;
pub mod auth0;
pub mod bigquery;
pub mod clearbit;
pub mod google_sheets;
pub mod hubspot;
pub mod mailchimp;
pub mod mailjet;
pub mod pipedrive;
pub mod salesforce;
pub mod sendgrid;
pub mod slack;
pub mod stripe;
pub mod telegram;
pub mod twilio;
pub mod upstream;
pub mod whatsapp;
pub mod zapier;

mod request;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

/// A credential made at test time: `prefix` followed by `len` random ASCII letters and digits
/// from the operating system's generator.
///
/// Keep `prefix` neutral (`fake-slack-bot-`, not the provider's own prefix) unless the code under
/// test reads it (Mailchimp's fake adds the data center suffix the engine reads after it): a
/// string in a real provider's format trips secret scanners, here and in every log it reaches.
///
/// # Panics
/// If the random generator fails: without it no fake, and no test, can run.
#[must_use]
pub fn fake_secret(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut secret = String::with_capacity(prefix.len() + len);
    secret.push_str(prefix);
    let mut missing = len;
    let mut bytes = [0u8; 64];
    while missing > 0 {
        getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the random generator failed: {e}"));
        // Bytes from 248 (4 × 62) up are dropped, so that every character is as likely.
        let chars = bytes.iter().filter(|&&b| b < 248).take(missing);
        for &b in chars {
            secret.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            missing -= 1;
        }
    }
    secret
}

/// One request a fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The body: JSON as JSON, a form as an object of strings, anything else as a string.
    pub body: Value,
}

impl Received {
    /// The request as most fakes log it: the path with its query, and the body as JSON if it
    /// parses, else as text (`null` when empty).
    fn from_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        Self::with_body(method, uri, headers, request::json_or_text(body))
    }

    /// Like [`Received::from_request`], but a form body (by its `Content-Type`) becomes an
    /// object of strings (an empty one if it does not parse).
    fn from_request_or_form(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        let is_form =
            request::content_type(headers).is_some_and(|c| c.starts_with("application/x-www-form"));
        let body = if is_form && !body.is_empty() {
            Value::Object(request::form(body).unwrap_or_default())
        } else {
            request::json_or_text(body)
        };
        Self::with_body(method, uri, headers, body)
    }

    /// The request with a body the fake has read its own way.
    fn with_body(method: &Method, uri: &Uri, headers: &HeaderMap, body: Value) -> Self {
        Self {
            method: method.to_string(),
            path: uri.path_and_query().map_or_else(|| uri.path().to_owned(), ToString::to_string),
            content_type: request::content_type(headers).map(str::to_owned),
            body,
        }
    }

    /// Whether the body was sent as JSON.
    fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| c.starts_with("application/json"))
    }
}

/// An error answer, small until it becomes a response (so `?` can return it).
type Refusal = (StatusCode, Json<Value>);

/// What a fake received, shared with the test.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    /// Records one request.
    pub fn push(&self, r: Received) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(r);
    }

    /// Everything received so far.
    #[must_use]
    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The last request received.
    #[must_use]
    pub fn last(&self) -> Option<Received> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).last().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::fake_secret;

    #[test]
    fn fake_secrets_are_the_prefix_and_fresh_random_alphanumerics() {
        let a = fake_secret("fake-test-", 40);
        let b = fake_secret("fake-test-", 40);
        for s in [&a, &b] {
            let tail = s.strip_prefix("fake-test-").unwrap_or_else(|| panic!("no prefix: {s}"));
            assert_eq!(tail.len(), 40, "{s}");
            assert!(tail.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
        assert_ne!(a, b);
        assert_eq!(fake_secret("p", 0), "p");
        assert_eq!(fake_secret("", 100).len(), 100);
    }
}
