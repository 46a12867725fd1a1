//! A fake of Mailjet's Send API v3.1: `POST /v3.1/send`, HTTP Basic with the API key and secret
//! key. Authentication errors are `{"ErrorIdentifier", "ErrorCode", "StatusCode",
//! "ErrorMessage"}`; a message Mailjet would refuse (no sender, no recipient, a malformed address,
//! no content nor template) makes the whole call 400 with per-message `Errors`, as Mailjet does.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::request::authorization;
use super::{Log, Received, fake_secret};

const ERROR_ID: &str = "9f6f4c4e-2b2a-4f49-9d5c-6e6b8d7a1c00";

/// An in-process Mailjet. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeMailjet {
    api_key: Arc<str>,
    secret_key: Arc<str>,
    log: Log,
    sent: Arc<Mutex<Vec<Value>>>,
}

impl Default for FakeMailjet {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeMailjet {
    /// Nothing sent yet; accepts an API key and secret key made now ([`FakeMailjet::api_key`],
    /// [`FakeMailjet::secret_key`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            api_key: fake_secret("fake-mailjet-key-", 32).into(),
            secret_key: fake_secret("fake-mailjet-secret-", 32).into(),
            log: Log::default(),
            sent: Arc::default(),
        }
    }

    /// The API key the fake accepts (the HTTP Basic user).
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret key that goes with [`FakeMailjet::api_key`] (the HTTP Basic password).
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The messages accepted so far.
    #[must_use]
    pub fn sent(&self) -> Vec<Value> {
        self.lock().clone()
    }

    /// The API, to serve at the provider's base URL.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What the fake received.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Value>> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeMailjet>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    let credentials = format!("{}:{}", fake.api_key(), fake.secret_key());
    let expected = format!("Basic {}", STANDARD.encode(credentials));
    if authorization(&headers) != Some(expected.as_str()) {
        let body = json!({
            "ErrorIdentifier": ERROR_ID,
            "ErrorCode": "mj-0002",
            "StatusCode": 401,
            "ErrorMessage": "API key authentication/authorization failure. You may be \
                 unauthorized to access the API or your API key may be expired. Visit API keys \
                 management section to check your keys.",
        });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    if method != Method::POST || uri.path() != "/v3.1/send" {
        let body = json!({"ErrorInfo": "", "ErrorMessage": "Object not found", "StatusCode": 404});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let messages = match received.body.get("Messages").and_then(Value::as_array) {
        Some(m) if received.is_json() => m.clone(),
        _ => {
            let body = json!({
                "ErrorIdentifier": ERROR_ID, "ErrorCode": "mj-0004", "StatusCode": 400,
                "ErrorMessage": "Type mismatch. Expected type \"array of messages\".",
            });
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let results: Vec<Value> = messages.iter().map(check).collect();
    if results.iter().any(|r| r["Status"] == "error") {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"Messages": results}))).into_response();
    }
    let mut sent = fake.lock();
    let results: Vec<Value> = messages
        .iter()
        .map(|m| {
            sent.push(m.clone());
            let to: Vec<Value> = m["To"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let id = 288_230_376_151_711_744_u64 + sent.len() as u64;
                    json!({
                        "Email": r["Email"],
                        "MessageUUID": format!("1ab23cd4-e567-8901-2345-6789f0ab{:04}", sent.len()),
                        "MessageID": id,
                        "MessageHref": format!("https://api.mailjet.com/v3/REST/message/{id}"),
                    })
                })
                .collect();
            json!({"Status": "success", "CustomID": "", "To": to, "Cc": [], "Bcc": []})
        })
        .collect();
    (StatusCode::OK, axum::Json(json!({"Messages": results}))).into_response()
}

/// What Mailjet says about one message: `{"Status": "error", "Errors": […]}` if it refuses it.
fn check(message: &Value) -> Value {
    let mut errors = Vec::new();
    let mut refuse = |code: &str, text: &str, related: &str| {
        errors.push(json!({
            "ErrorIdentifier": ERROR_ID, "ErrorCode": code, "StatusCode": 400,
            "ErrorMessage": text, "ErrorRelatedTo": [related],
        }));
    };
    let address = |v: &Value| {
        v.as_str().is_some_and(|e| {
            e.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))
        })
    };
    if !address(&message["From"]["Email"]) {
        refuse("send-0006", "\"From\" must be a valid e-mail address.", "From.Email");
    }
    match message["To"].as_array() {
        Some(to) if !to.is_empty() => {
            for (i, r) in to.iter().enumerate() {
                if !address(&r["Email"]) {
                    let text = format!(
                        "\"{}\" is an invalid email address.",
                        r["Email"].as_str().unwrap_or_default()
                    );
                    refuse("send-0010", &text, &format!("To[{i}].Email"));
                }
            }
        }
        _ => refuse("send-0008", "At least one recipient is required.", "To"),
    }
    if ["HTMLPart", "TextPart", "TemplateID"].iter().all(|k| message.get(*k).is_none()) {
        refuse(
            "send-0003",
            "At least \"HTMLPart\", \"TextPart\" or \"TemplateID\" must be provided.",
            "HTMLPart",
        );
    }
    if message.get("TemplateID").is_some_and(|t| !t.is_u64()) {
        refuse("send-0011", "Type mismatch. Expected type \"integer\".", "TemplateID");
    }
    if errors.is_empty() {
        json!({"Status": "success"})
    } else {
        json!({"Status": "error", "Errors": errors})
    }
}
