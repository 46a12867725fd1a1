//! A fake of Slack: an incoming webhook (`POST /services/T…/B…/X…`, answering `ok` or the reason
//! as plain text, as Slack does) and the Web API methods `chat.postMessage` and `auth.test`
//! (`POST /api/…`, a token as `Authorization: Bearer` or a `token` form field, JSON with
//! `application/json; charset=utf-8` or a form body; always `200` with `{"ok": …}`).
//!
//! It knows one workspace with the channels it is given, threads nothing, and does not check
//! scopes. A JSON body without `charset` is accepted with Slack's `missing_charset` warning.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::request::{bearer, content_type, form};
use super::{Log, Received, fake_secret};

/// The channel every fake workspace has, as `#general`.
pub const GENERAL: &str = "C0FAKE0001";

const TEAM_ID: &str = "T0FAKE0001";
const BOT_ID: &str = "B0FAKE0001";
/// The Unix time of the fake's `ts` values; its clock never moves.
const EPOCH: u64 = 1_795_694_400;

/// An in-process fake of Slack. Clones share one fake.
#[derive(Debug, Clone)]
pub struct FakeSlack {
    token: Arc<Mutex<String>>,
    /// `/services/T…/B…/{secret}`: the URL is the webhook's credential.
    webhook_path: Arc<str>,
    /// Channel name → id.
    channels: Arc<Mutex<BTreeMap<String, String>>>,
    log: Log,
    next: Arc<AtomicU64>,
}

impl Default for FakeSlack {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeSlack {
    /// A workspace with `#general`, accepting a bot token and with one incoming webhook, both
    /// made now ([`FakeSlack::bot_token`], [`FakeSlack::webhook_path`]).
    #[must_use]
    pub fn new() -> Self {
        let channels = BTreeMap::from([("general".to_owned(), GENERAL.to_owned())]);
        let webhook_secret = fake_secret("fake-webhook-", 24);
        Self {
            token: Arc::new(Mutex::new(fake_secret("fake-slack-bot-", 40))),
            webhook_path: format!("/services/{TEAM_ID}/{BOT_ID}/{webhook_secret}").into(),
            channels: Arc::new(Mutex::new(channels)),
            log: Log::default(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Accepts `token` instead (the one the test's OAuth connection holds).
    #[must_use]
    pub fn with_token(self, token: &str) -> Self {
        token.clone_into(&mut self.token.lock().unwrap_or_else(PoisonError::into_inner));
        self
    }

    /// The bot token the Web API accepts: the one made with the fake, or the one
    /// [`FakeSlack::with_token`] gave.
    #[must_use]
    pub fn bot_token(&self) -> String {
        self.token.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The path of the workspace's one incoming webhook, its secret included.
    #[must_use]
    pub fn webhook_path(&self) -> &str {
        &self.webhook_path
    }

    /// Adds channel `#name` with `id`.
    pub fn add_channel(&self, name: &str, id: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels.insert(name.to_owned(), id.to_owned());
    }

    /// Routes at the root of `slack.com` and `hooks.slack.com`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/services/{team}/{bot}/{secret}", post(webhook))
            .route("/api/chat.postMessage", post(post_message))
            .route("/api/auth.test", post(auth_test).get(auth_test))
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// Records the request and reads its body: JSON as JSON, a form as an object of strings
    /// (`None` if it is neither or does not parse). A form's `token` is not kept.
    fn receive(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Parsed {
        let content_type = content_type(headers);
        let parsed = match content_type.map(media_type).as_deref() {
            Some("application/json") => serde_json::from_slice::<Value>(body).ok().map(Body::Json),
            Some("application/x-www-form-urlencoded") => form(body).map(Body::Form),
            _ => None,
        };
        let recorded = match &parsed {
            Some(Body::Json(v)) => v.clone(),
            Some(Body::Form(m)) => {
                let mut m = m.clone();
                m.remove("token");
                Value::Object(m)
            }
            None => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        self.log.push(Received::with_body(method, uri, headers, recorded));
        Parsed { body: parsed, charset: content_type.is_some_and(|c| c.contains("charset=")) }
    }

    /// `None` if the Web API request is authenticated, else Slack's error code.
    fn auth_error(&self, headers: &HeaderMap, body: Option<&Body>) -> Option<&'static str> {
        let form_token = match body {
            Some(Body::Form(m)) => m.get("token").and_then(Value::as_str),
            _ => None,
        };
        let expected = self.bot_token();
        match bearer(headers).or(form_token) {
            None => Some("not_authed"),
            Some(t) if t == expected => None,
            Some(_) => Some("invalid_auth"),
        }
    }

    fn channel_id(&self, channel: &str) -> Option<String> {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let name = channel.strip_prefix('#').unwrap_or(channel);
        channels.get(name).cloned().or_else(|| channels.values().find(|id| *id == channel).cloned())
    }
}

enum Body {
    Json(Value),
    Form(Map<String, Value>),
}

struct Parsed {
    body: Option<Body>,
    charset: bool,
}

/// `POST /services/{T}/{B}/{X}`: `ok`, or the reason as text with Slack's status.
async fn webhook(
    State(fake): State<FakeSlack>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = fake.receive(&method, &uri, &headers, &body);
    if uri.path() != fake.webhook_path() {
        return (StatusCode::FORBIDDEN, "invalid_token").into_response();
    }
    // A form posts the message as JSON in its `payload` field.
    let message = match parsed.body {
        Some(Body::Json(v)) => Some(v),
        Some(Body::Form(m)) => {
            m.get("payload").and_then(Value::as_str).and_then(|p| serde_json::from_str(p).ok())
        }
        None => None,
    };
    let Some(Value::Object(message)) = message else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    match message.get("attachments") {
        None | Some(Value::Array(_)) => {}
        Some(_) => return (StatusCode::BAD_REQUEST, "invalid_attachments").into_response(),
    }
    if !has_content(&message) {
        return (StatusCode::BAD_REQUEST, "no_text").into_response();
    }
    (StatusCode::OK, "ok").into_response()
}

/// `POST /api/chat.postMessage`.
async fn post_message(
    State(fake): State<FakeSlack>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = fake.receive(&method, &uri, &headers, &body);
    if let Some(error) = fake.auth_error(&headers, parsed.body.as_ref()) {
        return failure(error);
    }
    let (mut args, json_body) = match parsed.body {
        Some(Body::Json(Value::Object(m))) => (m, true),
        Some(Body::Form(m)) => (m, false),
        Some(Body::Json(_)) => return failure("invalid_json"),
        None => return failure("invalid_post_type"),
    };
    // Forms carry attachments and blocks as JSON text.
    for key in ["attachments", "blocks"] {
        if let Some(Value::String(s)) = args.get(key) {
            match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Array(_)) => {
                    args.insert(key.to_owned(), v);
                }
                _ => {
                    return failure(if key == "blocks" {
                        "invalid_blocks"
                    } else {
                        "invalid_attachments"
                    });
                }
            }
        }
    }
    let channel = args.get("channel").and_then(Value::as_str).unwrap_or_default();
    let Some(channel) = fake.channel_id(channel) else {
        return failure("channel_not_found");
    };
    if !has_content(&args) {
        return failure("no_text");
    }
    let n = fake.next.fetch_add(1, Ordering::Relaxed);
    let ts = format!("{EPOCH}.{n:06}");
    let mut message = json!({
        "type": "message",
        "subtype": "bot_message",
        "text": args.get("text").cloned().unwrap_or_else(|| json!("")),
        "ts": ts,
        "username": "flowvault",
        "bot_id": BOT_ID,
    });
    for key in ["attachments", "blocks"] {
        if let (Some(v), Some(m)) = (args.get(key), message.as_object_mut()) {
            m.insert(key.to_owned(), v.clone());
        }
    }
    let mut answer = json!({ "ok": true, "channel": channel, "ts": ts, "message": message });
    if json_body && !parsed.charset {
        answer["warning"] = json!("missing_charset");
        answer["response_metadata"] = json!({ "warnings": ["missing_charset"] });
    }
    (StatusCode::OK, Json(answer)).into_response()
}

/// `POST /api/auth.test`: who the token is.
async fn auth_test(
    State(fake): State<FakeSlack>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = fake.receive(&method, &uri, &headers, &body);
    if let Some(error) = fake.auth_error(&headers, parsed.body.as_ref()) {
        return failure(error);
    }
    let answer = json!({
        "ok": true,
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "flowvault",
        "team_id": TEAM_ID,
        "user_id": "U0FAKE0001",
        "bot_id": BOT_ID,
        "is_enterprise_install": false,
    });
    (StatusCode::OK, Json(answer)).into_response()
}

/// A message needs text, attachments or blocks.
fn has_content(message: &Map<String, Value>) -> bool {
    let text = message.get("text").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty());
    let non_empty =
        |k: &str| message.get(k).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    text || non_empty("attachments") || non_empty("blocks")
}

/// `application/json; charset=utf-8` → `application/json`.
fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Web API errors are `200` with `ok: false`.
fn failure(error: &str) -> Response {
    (StatusCode::OK, Json(json!({ "ok": false, "error": error }))).into_response()
}
