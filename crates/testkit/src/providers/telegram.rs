//! A fake of the Telegram Bot API's `POST /bot{token}/sendMessage`. The token is in the path (a
//! wrong one is 401 `Unauthorized`); `chat_id` (a number, or `@channel`) must be a chat the bot
//! knows and `text` must not be empty. Answers are `{"ok": true, "result": Message}` or
//! `{"ok": false, "error_code", "description"}`. The log keeps the path with the token replaced by
//! `[token]`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Log, Received, fake_secret};

/// When the fake says messages were sent (2026-11-26T12:00:00Z).
const DATE: u64 = 1_795_694_400;

/// An in-process Telegram Bot API. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeTelegram {
    bot_token: Arc<str>,
    log: Log,
    state: Arc<Mutex<TelegramState>>,
}

#[derive(Debug, Default)]
struct TelegramState {
    chats: Vec<String>,
    /// (chat, text)
    messages: Vec<(String, String)>,
}

impl Default for FakeTelegram {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeTelegram {
    /// A bot in no chat, with a token made now ([`FakeTelegram::bot_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            // Shaped as `<bot id>:<secret>` with `_` and `-`, as Telegram's are: every kind of
            // character the engine lets into the path.
            bot_token: fake_secret("1000000001:fake_telegram-", 35).into(),
            log: Log::default(),
            state: Arc::default(),
        }
    }

    /// The bot token the fake accepts (in the path, `/bot{token}/…`).
    #[must_use]
    pub fn bot_token(&self) -> &str {
        &self.bot_token
    }

    /// Puts the bot in the chat `id` (`"123456789"` or `"@channel"`).
    pub fn add_chat(&self, id: &str) -> &Self {
        self.lock().chats.push(id.to_owned());
        self
    }

    /// The messages sent, as (chat, text).
    #[must_use]
    pub fn messages(&self) -> Vec<(String, String)> {
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

    fn lock(&self) -> MutexGuard<'_, TelegramState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeTelegram>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let (token, api_method) =
        path.strip_prefix("/bot").and_then(|rest| rest.split_once('/')).unwrap_or(("", ""));
    let mut received = Received::from_request_or_form(&method, &uri, &headers, &body);
    // The token is in the path: the log says where, not what.
    received.path = format!("/bot[token]/{api_method}");
    fake.log.push(received.clone());
    if token.is_empty() {
        return failure(StatusCode::NOT_FOUND, "Not Found");
    }
    if token != fake.bot_token() {
        return failure(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if api_method != "sendMessage" {
        return failure(StatusCode::NOT_FOUND, "Not Found: method not found");
    }
    let chat = match &received.body["chat_id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if chat.is_empty() {
        return failure(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty");
    }
    let text = received.body["text"].as_str().unwrap_or_default().to_owned();
    if text.trim().is_empty() {
        return failure(StatusCode::BAD_REQUEST, "Bad Request: message text is empty");
    }
    let mut state = fake.lock();
    if !state.chats.contains(&chat) {
        return failure(StatusCode::BAD_REQUEST, "Bad Request: chat not found");
    }
    state.messages.push((chat.clone(), text.clone()));
    let chat_json = match chat.parse::<i64>() {
        Ok(id) => json!({"id": id, "type": "private"}),
        Err(_) => {
            let username = chat.trim_start_matches('@');
            json!({"id": -1_001_234_567_890_i64, "type": "channel", "username": username})
        }
    };
    let body = json!({"ok": true, "result": {
        "message_id": state.messages.len(),
        "from": {
            "id": 7_012_345_678_u64, "is_bot": true, "first_name": "Flowvault",
            "username": "flowvault_bot",
        },
        "chat": chat_json,
        "date": DATE,
        "text": text,
    }});
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn failure(status: StatusCode, description: &str) -> Response {
    let body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    (status, axum::Json(body)).into_response()
}
