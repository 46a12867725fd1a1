//! A generic HTTP API for the HTTP action: every path echoes the request back as JSON
//! (`{"method","path","query","headers","content_type","body"}`), with knobs that require a
//! bearer token, Basic credentials, or an API key in a header or the query (`401` otherwise).
//!
//! Three paths do something else: `/error` answers `400` (or `?status=`) with
//! `{"message": "upstream rejected the request: <echo>"}`, where `<echo>` is the `echo` query
//! parameter or else the request body, as providers that quote a bad value back do (the runner
//! must scrub secrets from it); `/slow?ms=` waits that long (tokio time, 30 s by default) and then
//! echoes; `/mirror` (only with [`FakeUpstream::echo_credentials`]) answers the credential of
//! the `Authorization` header transformed as a hostile upstream might: upper-cased, base64,
//! base64url, percent-encoded with lower-case hex. Credentials are never echoed or recorded (`Authorization`, cookies, headers whose name
//! says key, token, secret or auth, and the API key query parameter) unless
//! [`FakeUpstream::echo_credentials`] asks for it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::request::{basic, bearer, content_type, form, param, query};
use super::{Log, Received};

/// What replaces a credential in echoes and the log.
pub const REDACTED: &str = "[redacted]";

/// Words in a header name that mark it as carrying a credential.
const CREDENTIAL_WORDS: [&str; 6] = ["auth", "key", "token", "secret", "password", "cookie"];

/// An in-process generic HTTP API. Clones share one fake; knobs apply to requests from then on.
#[derive(Debug, Clone, Default)]
pub struct FakeUpstream {
    knobs: Arc<Mutex<Knobs>>,
    log: Log,
}

#[derive(Debug, Clone, Default)]
struct Knobs {
    bearer: Option<String>,
    basic: Option<(String, String)>,
    header_key: Option<(String, String)>,
    query_key: Option<(String, String)>,
    echo_credentials: bool,
}

impl FakeUpstream {
    /// An API that requires nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes at the root of the test's host.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/error", any(error))
            .route("/slow", any(slow))
            .route("/mirror", any(mirror))
            .fallback(echo)
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included, credentials left out.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// Requires `Authorization: Bearer {token}`.
    pub fn require_bearer(&self, token: &str) {
        self.knobs().bearer = Some(token.to_owned());
    }

    /// Requires HTTP Basic with `user` and `password`.
    pub fn require_basic(&self, user: &str, password: &str) {
        self.knobs().basic = Some((user.to_owned(), password.to_owned()));
    }

    /// Requires header `name` (any case) with `value`.
    pub fn require_api_key_header(&self, name: &str, value: &str) {
        self.knobs().header_key = Some((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Requires query parameter `name` with `value`.
    pub fn require_api_key_query(&self, name: &str, value: &str) {
        self.knobs().query_key = Some((name.to_owned(), value.to_owned()));
    }

    /// Echoes and records credentials too (to test what would leak if a provider did).
    pub fn echo_credentials(&self, yes: bool) {
        self.knobs().echo_credentials = yes;
    }

    fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.knobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the request and returns what an echo shows of it.
    fn receive(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Seen {
        let knobs = self.knobs().clone();
        let mut shown = query(uri);
        if let Some((name, _)) = knobs.query_key.as_ref().filter(|_| !knobs.echo_credentials) {
            shown.iter_mut().filter(|(k, _)| k == name).for_each(|(_, v)| *v = REDACTED.to_owned());
        }
        let path = match serde_urlencoded::to_string(&shown) {
            Ok(q) if !q.is_empty() => format!("{}?{q}", uri.path()),
            _ => uri.path().to_owned(),
        };
        let content_type = content_type(headers).map(str::to_owned);
        let text = String::from_utf8_lossy(body).into_owned();
        let body = match content_type.as_deref().unwrap_or_default() {
            _ if body.is_empty() => Value::Null,
            c if c.starts_with("application/json") => {
                serde_json::from_slice(body).unwrap_or(Value::String(text))
            }
            c if c.starts_with("application/x-www-form-urlencoded") => {
                form(body).map_or(Value::String(text), Value::Object)
            }
            _ => Value::String(text),
        };
        let headers: Map<String, Value> = headers
            .iter()
            .filter(|(name, _)| knobs.echo_credentials || !is_credential(name.as_str(), &knobs))
            .map(|(name, v)| (name.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        self.log.push(Received {
            method: method.to_string(),
            path: path.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
        });
        Seen {
            echo: json!({
                "method": method.as_str(),
                "path": path,
                "query": shown.into_iter().map(|(k, v)| (k, json!(v))).collect::<Map<_, _>>(),
                "headers": headers,
                "content_type": content_type,
                "body": body,
            }),
            query: query(uri),
        }
    }

    /// `None` if every requirement holds, else the `401`.
    fn unauthorized(&self, headers: &HeaderMap, query: &[(String, String)]) -> Option<Response> {
        let knobs = self.knobs().clone();
        if let Some(token) = &knobs.bearer
            && bearer(headers) != Some(token.as_str())
        {
            return Some(unauthorized("a valid bearer token is required", "Bearer"));
        }
        if let Some((user, password)) = &knobs.basic
            && basic(headers) != Some(format!("{user}:{password}"))
        {
            return Some(unauthorized("valid Basic credentials are required", "Basic"));
        }
        if let Some((name, value)) = &knobs.header_key {
            let given = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            if given != Some(value.as_str()) {
                return Some(unauthorized(&format!("header {name} is missing or wrong"), "ApiKey"));
            }
        }
        if let Some((name, value)) = &knobs.query_key
            && !query.iter().any(|(k, v)| k == name && v == value)
        {
            let message = format!("query parameter {name} is missing or wrong");
            return Some(unauthorized(&message, "ApiKey"));
        }
        None
    }
}

struct Seen {
    /// What an echo answers.
    echo: Value,
    /// The query as sent (credentials included: for checking them only).
    query: Vec<(String, String)>,
}

/// Any path but `/error` and `/slow`.
async fn echo(
    State(fake): State<FakeUpstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = fake.receive(&method, &uri, &headers, &body);
    if let Some(r) = fake.unauthorized(&headers, &seen.query) {
        return r;
    }
    (StatusCode::OK, Json(seen.echo)).into_response()
}

/// `/error?status=&echo=`.
async fn error(
    State(fake): State<FakeUpstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = fake.receive(&method, &uri, &headers, &body);
    if let Some(r) = fake.unauthorized(&headers, &seen.query) {
        return r;
    }
    let get = |name: &str| param(&seen.query, name).map(str::to_owned);
    let status = get("status")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| !s.is_success())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let echoed = get("echo").unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let message = format!("upstream rejected the request: {echoed}");
    (status, Json(json!({ "message": message }))).into_response()
}

/// `/mirror`: the `Authorization` credential (what follows the scheme) in several disguises.
async fn mirror(
    State(fake): State<FakeUpstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let seen = fake.receive(&method, &uri, &headers, &body);
    if let Some(r) = fake.unauthorized(&headers, &seen.query) {
        return r;
    }
    if !fake.knobs().echo_credentials {
        return (StatusCode::FORBIDDEN, Json(json!({"message": "mirror is off"}))).into_response();
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let credential = auth.split_once(' ').map_or(auth, |(_, c)| c);
    let percent: String = credential
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02x}") }
        })
        .collect();
    Json(json!({
        "plain": auth,
        "upper": auth.to_uppercase(),
        "base64": STANDARD.encode(credential),
        "base64url": URL_SAFE_NO_PAD.encode(format!("token={credential}")),
        "percent": percent,
        "sentence": format!("we saw {} and kept it", credential.to_lowercase()),
    }))
    .into_response()
}

/// `/slow?ms=`: waits, then echoes.
async fn slow(
    State(fake): State<FakeUpstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = fake.receive(&method, &uri, &headers, &body);
    let ms = param(&seen.query, "ms").and_then(|v| v.parse().ok());
    tokio::time::sleep(Duration::from_millis(ms.unwrap_or(30_000))).await;
    if let Some(r) = fake.unauthorized(&headers, &seen.query) {
        return r;
    }
    (StatusCode::OK, Json(seen.echo)).into_response()
}

/// `Authorization`, cookies, the configured key header, and anything named like a credential.
fn is_credential(name: &str, knobs: &Knobs) -> bool {
    let name = name.to_ascii_lowercase();
    knobs.header_key.as_ref().is_some_and(|(n, _)| *n == name)
        || CREDENTIAL_WORDS.iter().any(|w| name.contains(w))
}

fn unauthorized(message: &str, scheme: &'static str) -> Response {
    let mut response =
        (StatusCode::UNAUTHORIZED, Json(json!({ "message": format!("unauthorized: {message}") })))
            .into_response();
    let challenge = format!("{scheme} realm=\"upstream\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers() {
        let knobs = Knobs { header_key: Some(("x-tenant".into(), "v".into())), ..Knobs::default() };
        for name in ["authorization", "x-api-key", "Api-Key", "x-auth-token", "x-tenant", "cookie"]
        {
            assert!(is_credential(name, &knobs), "{name}");
        }
        for name in ["accept", "content-type", "x-request-id", "host"] {
            assert!(!is_credential(name, &knobs), "{name}");
        }
    }
}
