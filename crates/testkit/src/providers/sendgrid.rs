//! A fake of SendGrid's v3 Mail Send (`POST /v3/mail/send`) and `GET /v3/scopes` (what a
//! credential test calls). Like SendGrid, it takes the API key as a bearer token and a JSON body,
//! checks the rules the service enforces before queueing (personalizations with recipients, a
//! sender, content or a template, a subject unless a template or every personalization has one),
//! answers `202` with an empty body and an `X-Message-Id` header, and reports every problem at
//! once as `{"errors":[{"message","field","help"}]}`.
//!
//! It delivers nothing, and does not check that the sender is verified or the template exists.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::request::bearer;
use super::{Log, Received, fake_secret};

const HELP: &str = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";

/// An in-process fake of SendGrid. Clones share one fake.
#[derive(Debug, Clone)]
pub struct FakeSendgrid {
    api_key: String,
    log: Log,
    next: Arc<AtomicU64>,
}

impl Default for FakeSendgrid {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeSendgrid {
    /// A fake accepting an API key made now ([`FakeSendgrid::api_key`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_api_key(&fake_secret("fake-sendgrid-", 64))
    }

    /// A fake accepting `api_key`.
    #[must_use]
    pub fn with_api_key(api_key: &str) -> Self {
        Self { api_key: api_key.to_owned(), log: Log::default(), next: Arc::new(AtomicU64::new(1)) }
    }

    /// The API key the fake accepts (as a bearer token).
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Routes at the root of `api.sendgrid.com`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v3/mail/send", post(send))
            .route("/v3/scopes", get(scopes))
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// Records the request; returns what was recorded.
    fn receive(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Received {
        let mut received = Received::from_request(method, uri, headers, body);
        if body.is_empty() {
            // Unlike the other fakes, this one has always logged an empty body as "", not null.
            received.body = json!("");
        }
        self.log.push(received.clone());
        received
    }

    /// `None` if the bearer key is this fake's, else the `401` to answer.
    fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let message = match bearer(headers) {
            None => "authorization required",
            Some(key) if key == self.api_key => return None,
            Some(_) => "The provided authorization grant is invalid, expired, or revoked",
        };
        Some(errors(StatusCode::UNAUTHORIZED, vec![problem(message, None, None)]))
    }
}

/// `POST /v3/mail/send`.
async fn send(
    State(fake): State<FakeSendgrid>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = fake.receive(&method, &uri, &headers, &body);
    if let Some(response) = fake.unauthorized(&headers) {
        return response;
    }
    if !received.is_json() {
        let message = "Content-Type should be application/json.";
        return errors(StatusCode::BAD_REQUEST, vec![problem(message, None, None)]);
    }
    let Ok(Value::Object(mail)) = serde_json::from_slice::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, vec![problem("Bad Request", None, None)]);
    };
    let mut found = Vec::new();
    let personalizations = mail.get("personalizations").and_then(Value::as_array);
    match personalizations {
        Some(list) if !list.is_empty() => {
            for (i, p) in list.iter().enumerate() {
                let to = p.get("to").and_then(Value::as_array);
                let ok = to.is_some_and(|to| !to.is_empty() && to.iter().all(has_email));
                if !ok {
                    found.push(problem(
                        "The to array is required for all personalization objects, and must have \
                         at least one email object with a valid email address.",
                        Some(&format!("personalizations.{i}.to")),
                        Some("#message.personalizations.to"),
                    ));
                }
            }
        }
        _ => found.push(problem(
            "The personalizations field is required and must have at least one personalization.",
            Some("personalizations"),
            Some("#-Personalizations-Errors"),
        )),
    }
    if !mail.get("from").is_some_and(has_email) {
        found.push(problem(
            "The from object must be provided for every email send. It is an object that \
             requires the email parameter, but may also contain a name parameter.",
            Some("from"),
            Some("#message.from"),
        ));
    }
    let template = mail.get("template_id").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    let content = mail.get("content").and_then(Value::as_array);
    if !template && content.is_none_or(Vec::is_empty) {
        found.push(problem(
            "Unless a valid template_id is provided, the content parameter is required. There \
             must be at least one defined content block. We typically suggest both text/plain and \
             text/html blocks are included, but only one block is required.",
            Some("content"),
            Some("#message.content"),
        ));
    }
    for (i, c) in content.into_iter().flatten().enumerate() {
        let text = |k: &str| c.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        if !text("type") || !text("value") {
            found.push(problem(
                "The content value must be a string at least one character in length.",
                Some(&format!("content.{i}.value")),
                Some("#message.content.value"),
            ));
        }
    }
    let subject =
        |v: &Value| v.get("subject").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let every_personal_subject =
        personalizations.is_some_and(|l| !l.is_empty() && l.iter().all(subject));
    if !template && !subject(&Value::Object(mail.clone())) && !every_personal_subject {
        found.push(problem(
            "The subject is required. You can get around this requirement if you use a template \
             with a subject defined or if every personalization has a subject defined.",
            Some("subject"),
            Some("#message.subject"),
        ));
    }
    if !found.is_empty() {
        return errors(StatusCode::BAD_REQUEST, found);
    }
    let id = format!("fake{:018}", fake.next.fetch_add(1, Ordering::Relaxed));
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-message-id", value);
    }
    response
}

/// `GET /v3/scopes`: what the key may do.
async fn scopes(
    State(fake): State<FakeSendgrid>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.receive(&method, &uri, &headers, &Bytes::new());
    if let Some(response) = fake.unauthorized(&headers) {
        return response;
    }
    (StatusCode::OK, Json(json!({ "scopes": ["mail.send"] }))).into_response()
}

/// An object with an `email` that looks like an address.
fn has_email(v: &Value) -> bool {
    v.get("email").and_then(Value::as_str).is_some_and(|e| {
        e.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
    })
}

fn problem(message: &str, field: Option<&str>, help: Option<&str>) -> Value {
    json!({
        "message": message,
        "field": field,
        "help": help.map(|h| format!("{HELP}{h}")),
    })
}

fn errors(status: StatusCode, found: Vec<Value>) -> Response {
    (status, Json(json!({ "errors": found }))).into_response()
}
