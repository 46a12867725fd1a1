//! A fake of Mailchimp's Marketing API member upsert (`PUT /3.0/lists/{list_id}/members/
//! {subscriber_hash}`) and of the OAuth metadata endpoint (`GET /oauth2/metadata`) that tells an
//! OAuth token's data center. Like Mailchimp, it takes an API key (or OAuth token) as the Basic
//! password with any user name, or as a bearer token; refuses an API key sent to another data
//! center's host; checks that the hash is the MD5 of the lower-cased address; and answers errors
//! as problem JSON (`{"type","title","status","detail","instance"}`).
//!
//! One router serves both `login.mailchimp.com` and `{dc}.api.mailchimp.com`. It keeps members
//! in memory, and does not validate merge fields against a list's definitions or send opt-ins.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use md5::{Digest as _, Md5};
use serde_json::{Map, Value, json};

use super::request::{authorization, basic, bearer};
use super::{Log, Received, fake_secret};

/// The one audience (list) the fake has.
pub const LIST_ID: &str = "a1b2c3d4e5";

const STATUSES: [&str; 5] = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"];
const DATE: &str = "2026-11-26T12:00:00+00:00";
const ERROR_DOCS: &str = "https://mailchimp.com/developer/marketing/docs/errors/";

/// An in-process fake of Mailchimp. Clones share one fake.
#[derive(Debug, Clone)]
pub struct FakeMailchimp {
    api_key: Arc<str>,
    oauth_token: Arc<str>,
    api_endpoint: Arc<Mutex<String>>,
    /// (list, hash) → member.
    members: Arc<Mutex<BTreeMap<(String, String), Value>>>,
    log: Log,
    next: Arc<AtomicU64>,
}

impl Default for FakeMailchimp {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeMailchimp {
    /// A fake with list [`LIST_ID`], accepting an API key and an OAuth token made now
    /// ([`FakeMailchimp::api_key`], [`FakeMailchimp::oauth_token`]), whose metadata sends OAuth
    /// clients to `https://us6.api.mailchimp.com`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            // Letters and digits (what a connection accepts), then `-us6`: the engine takes the
            // host from that suffix.
            api_key: format!("{}-us6", fake_secret("fakemailchimp", 32)).into(),
            oauth_token: fake_secret("fake-mailchimp-oauth-", 32).into(),
            api_endpoint: Arc::new(Mutex::new("https://us6.api.mailchimp.com".to_owned())),
            members: Arc::new(Mutex::new(BTreeMap::new())),
            log: Log::default(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The API key the fake accepts (the Basic password, or a bearer token): its data center is
    /// `us6`.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The OAuth access token the fake accepts.
    #[must_use]
    pub fn oauth_token(&self) -> &str {
        &self.oauth_token
    }

    /// Where the metadata endpoint says the account's API is.
    pub fn set_api_endpoint(&self, url: &str) {
        url.clone_into(&mut self.api_endpoint.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Routes at the root of `login.mailchimp.com` and `{dc}.api.mailchimp.com`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/3.0/lists/{list_id}/members/{hash}", put(upsert))
            .route("/oauth2/metadata", get(metadata))
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// A member, as the fake holds it.
    #[must_use]
    pub fn member(&self, list_id: &str, email: &str) -> Option<Value> {
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        members.get(&(list_id.to_owned(), subscriber_hash(email))).cloned()
    }

    /// `n`, unique within the fake.
    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the API key or OAuth token is a Basic password (any user) or a bearer token. An
    /// API key also has to reach its own data center: `us6.api.mailchimp.com` for a `…-us6` key.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let credentials = basic(headers);
        let secret = match &credentials {
            Some(user_pass) => user_pass.split_once(':').map(|(_, pass)| pass),
            None => bearer(headers),
        };
        match secret {
            Some(s) if s == self.oauth_token() => true,
            Some(s) if s == self.api_key() => {
                let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
                let dc = self.api_key.rsplit_once('-').map(|(_, dc)| dc).unwrap_or_default();
                // Hosts that are not Mailchimp's (a fake's test host) carry no data center.
                host.strip_suffix(".api.mailchimp.com").is_none_or(|h| h == dc)
            }
            _ => false,
        }
    }
}

/// The MD5 of the lower-cased address, in hex: a member's id in URLs.
#[must_use]
pub fn subscriber_hash(email: &str) -> String {
    Md5::digest(email.to_lowercase().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `PUT /3.0/lists/{list_id}/members/{subscriber_hash}`.
async fn upsert(
    State(fake): State<FakeMailchimp>,
    Path((list, hash)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.log.push(Received::from_request(&method, &uri, &headers, &body));
    if !fake.authenticated(&headers) {
        let detail =
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.";
        return problem(&fake, StatusCode::UNAUTHORIZED, "API Key Invalid", detail, None);
    }
    if list != LIST_ID {
        let detail = "The requested resource could not be found.";
        return problem(&fake, StatusCode::NOT_FOUND, "Resource Not Found", detail, None);
    }
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(&body) else {
        let detail = "We encountered an unspecified JSON parsing error.";
        return problem(&fake, StatusCode::BAD_REQUEST, "JSON Parse Error", detail, None);
    };
    let key = (list.clone(), hash.clone());
    let existing = fake.members.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
    if let Some((field, message)) = invalid_field(&input, &hash) {
        let detail = "The resource submitted could not be validated. For field-specific details, \
                      see the 'errors' array.";
        let errors = json!([{ "field": field, "message": message }]);
        return problem(&fake, StatusCode::BAD_REQUEST, "Invalid Resource", detail, Some(errors));
    }
    let status = input.get("status").and_then(Value::as_str);
    let mut member = existing.unwrap_or_else(|| {
        let n = fake.next();
        json!({
            "id": hash,
            "unique_email_id": format!("{n:010x}"),
            "contact_id": format!("{n:032x}"),
            "web_id": n,
            "email_type": "html",
            "status": status.or_else(|| input.get("status_if_new").and_then(Value::as_str)),
            "merge_fields": {},
            "interests": {},
            "vip": false,
            "language": "",
            "timestamp_signup": "",
            "timestamp_opt": DATE,
            "tags": [],
            "list_id": list,
            "_links": [{ "rel": "self", "href": format!("/3.0/lists/{list}/members/{hash}") }],
        })
    });
    if let Some(m) = member.as_object_mut() {
        apply(m, &input, status);
        m.insert("last_changed".to_owned(), json!(DATE));
    }
    fake.members.lock().unwrap_or_else(PoisonError::into_inner).insert(key, member.clone());
    (StatusCode::OK, Json(member)).into_response()
}

/// What Mailchimp refuses in an upsert, as `(field, message)`: the document makes
/// `email_address` and `status_if_new` required on every `PUT`.
fn invalid_field(input: &Map<String, Value>, hash: &str) -> Option<(&'static str, String)> {
    let email = input.get("email_address").and_then(Value::as_str).unwrap_or_default();
    if !email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) {
        return Some(("email_address", "Please provide a valid email address.".to_owned()));
    }
    if subscriber_hash(email) != hash {
        return Some(("email_address", "The email address does not match the hash.".to_owned()));
    }
    if !input.contains_key("status_if_new") {
        return Some(("status_if_new", "Schema describes enum, NULL found instead".to_owned()));
    }
    for field in ["status", "status_if_new"] {
        match input.get(field) {
            None => {}
            Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => {}
            Some(_) => {
                return Some((field, format!("Value must be one of: {}", STATUSES.join(", "))));
            }
        }
    }
    let scalar_or_address = |v: &Value| v.is_string() || v.is_number() || v.is_object();
    let merge_ok = input
        .get("merge_fields")
        .is_none_or(|f| f.as_object().is_some_and(|m| m.values().all(scalar_or_address)));
    if !merge_ok {
        return Some((
            "merge_fields",
            "Merge fields must be strings, numbers or addresses.".into(),
        ));
    }
    None
}

/// Applies an upsert's fields to a member: merge fields and interests merge, the rest replace.
fn apply(member: &mut Map<String, Value>, input: &Map<String, Value>, status: Option<&str>) {
    if let Some(s) = status {
        member.insert("status".to_owned(), json!(s));
    }
    for (k, v) in input {
        match (k.as_str(), v) {
            ("status" | "status_if_new", _) => {}
            ("merge_fields" | "interests", Value::Object(new)) => {
                let entry = member.entry(k.clone()).or_insert_with(|| json!({}));
                if let Some(old) = entry.as_object_mut() {
                    old.extend(new.clone());
                }
            }
            _ => {
                member.insert(k.clone(), v.clone());
            }
        }
    }
    let name = |k: &str| member.get("merge_fields").and_then(|m| m.get(k)).and_then(Value::as_str);
    let full = [name("FNAME"), name("LNAME")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    member.insert("full_name".to_owned(), json!(full));
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`.
async fn metadata(
    State(fake): State<FakeMailchimp>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.log.push(Received::from_request(&method, &uri, &headers, &[]));
    let token = authorization(&headers).and_then(|v| v.strip_prefix("OAuth "));
    if token != Some(fake.oauth_token()) {
        let body = json!({ "error": "invalid_token", "error_description": "Invalid token" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let endpoint = fake.api_endpoint.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let body = json!({
        "dc": "us6",
        "role": "owner",
        "accountname": "Fake Account",
        "user_id": 1,
        "login": { "login_id": 1, "login_name": "flowvault", "login_email": "ops@example.com" },
        "login_url": "https://login.mailchimp.com",
        "api_endpoint": endpoint,
    });
    (StatusCode::OK, Json(body)).into_response()
}

fn problem(
    fake: &FakeMailchimp,
    status: StatusCode,
    title: &str,
    detail: &str,
    errors: Option<Value>,
) -> Response {
    let mut body = json!({
        "type": ERROR_DOCS,
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": format!("00000000-0000-4000-8000-{:012x}", fake.next()),
    });
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_md5_of_the_lower_cased_address() {
        // Mailchimp's documented example.
        assert_eq!(
            subscriber_hash("Urist.McVankab@FreddiesJokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
    }
}
