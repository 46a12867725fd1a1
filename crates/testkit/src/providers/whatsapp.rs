//! A fake of the WhatsApp Cloud API's `POST /{version}/{phone-number-id}/messages`. It takes a
//! bearer token, checks the message as the Graph API does (`messaging_product: "whatsapp"`, `to`,
//! a known `type` and the object under that key — `text.body` for text), and answers
//! `{"messaging_product", "contacts": [{input, wa_id}], "messages": [{id}]}` or Graph errors:
//! `{"error": {"message", "type", "code", "fbtrace_id"}}`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::bearer;
use super::{Log, Received, fake_secret};

const TYPES: &[&str] = &[
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
];

/// An in-process WhatsApp Cloud API. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeWhatsapp {
    access_token: Arc<str>,
    log: Log,
    state: Arc<Mutex<WhatsappState>>,
}

#[derive(Debug, Default)]
struct WhatsappState {
    senders: Vec<String>,
    messages: Vec<Value>,
}

impl Default for FakeWhatsapp {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeWhatsapp {
    /// No business phone numbers; accepts an access token made now
    /// ([`FakeWhatsapp::access_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            access_token: fake_secret("fake-whatsapp-", 48).into(),
            log: Log::default(),
            state: Arc::default(),
        }
    }

    /// The access token the fake accepts (as a bearer token).
    #[must_use]
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Adds a business phone number with this id.
    pub fn add_sender(&self, phone_number_id: &str) -> &Self {
        self.lock().senders.push(phone_number_id.to_owned());
        self
    }

    /// The messages accepted so far (the request bodies).
    #[must_use]
    pub fn messages(&self) -> Vec<Value> {
        self.lock().messages.clone()
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

    fn lock(&self) -> MutexGuard<'_, WhatsappState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeWhatsapp>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if bearer(&headers) != Some(fake.access_token()) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "Invalid OAuth access token - Cannot parse access token",
            "OAuthException",
            190,
        );
    }
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let [version, sender, "messages"] = segments.as_slice() else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Unknown path components",
            "OAuthException",
            2500,
        );
    };
    let known = fake.lock().senders.iter().any(|s| s == sender);
    if method != Method::POST || !version.starts_with('v') || !known {
        let message = format!(
            "Unsupported post request. Object with ID '{sender}' does not exist, cannot be loaded \
             due to missing permissions, or does not support this operation."
        );
        return graph_error(StatusCode::BAD_REQUEST, &message, "GraphMethodException", 100);
    }
    let body = &received.body;
    let required = |name: &str| {
        graph_error(
            StatusCode::BAD_REQUEST,
            &format!("(#100) The parameter {name} is required."),
            "OAuthException",
            100,
        )
    };
    if body["messaging_product"] != "whatsapp" {
        return required("messaging_product");
    }
    let Some(to) = body["to"].as_str().filter(|t| !t.is_empty()) else {
        return required("to");
    };
    let kind = body["type"].as_str().unwrap_or("text");
    if !TYPES.contains(&kind) {
        let message = format!(
            "(#100) Param type must be one of {{{}}} - got \"{kind}\".",
            TYPES.join(", ").to_uppercase()
        );
        return graph_error(StatusCode::BAD_REQUEST, &message, "OAuthException", 100);
    }
    let payload = &body[kind];
    let complete = match kind {
        "text" => payload["body"].as_str().is_some_and(|b| !b.is_empty()),
        "contacts" => payload.as_array().is_some_and(|c| !c.is_empty()),
        "template" => payload["name"].is_string(),
        "audio" | "document" | "image" | "sticker" | "video" => {
            payload["link"].is_string() || payload["id"].is_string()
        }
        _ => payload.is_object(),
    };
    if !complete {
        return required(&if kind == "text" { "text['body']".to_owned() } else { kind.to_owned() });
    }
    let mut state = fake.lock();
    state.messages.push(body.clone());
    let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
    let id = format!("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI{:06}", state.messages.len());
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": id}],
    });
    (StatusCode::OK, axum::Json(answer)).into_response()
}

fn graph_error(status: StatusCode, message: &str, kind: &str, code: u32) -> Response {
    let body = json!({"error": {
        "message": message, "type": kind, "code": code, "fbtrace_id": "AzFlowvaultFakeTrace",
    }});
    (status, axum::Json(body)).into_response()
}
