//! A fake of Twilio's 2010-04-01 REST API: the Messages and Calls resources
//! (`POST …/Messages.json`, `POST …/Calls.json`) and the account fetch a credential test uses.
//! Like Twilio, it takes form-encoded parameters, authenticates with HTTP Basic (Account SID :
//! auth token), answers `201` with the created resource and errors as
//! `{"code","message","more_info","status"}`.
//!
//! It sends nothing and never moves a message past `queued`; it does not accept API key SIDs
//! (`SK…`) as the Basic user, subaccounts, or status callbacks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::request::{basic, content_type, form};
use super::{Log, Received, fake_secret};

/// The Account SID the fake answers to unless [`FakeTwilio::with_credentials`] says otherwise.
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// Twilio's `date_created` format (RFC 2822); the fake's clock never moves.
const DATE: &str = "Thu, 26 Nov 2026 12:00:00 +0000";
const API_VERSION: &str = "2010-04-01";

/// An in-process fake of Twilio's REST API. Clones share one fake.
#[derive(Debug, Clone)]
pub struct FakeTwilio {
    account_sid: String,
    auth_token: String,
    log: Log,
    next: Arc<AtomicU64>,
}

impl Default for FakeTwilio {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeTwilio {
    /// A fake accepting [`ACCOUNT_SID`] and an auth token made now ([`FakeTwilio::auth_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_credentials(ACCOUNT_SID, &fake_secret("fake-twilio-", 32))
    }

    /// A fake accepting other credentials.
    #[must_use]
    pub fn with_credentials(account_sid: &str, auth_token: &str) -> Self {
        Self {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            log: Log::default(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The Account SID the fake answers to (the HTTP Basic user).
    #[must_use]
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// The auth token that goes with [`FakeTwilio::account_sid`] (the HTTP Basic password).
    #[must_use]
    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    /// Routes at the root of `api.twilio.com`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/2010-04-01/Accounts/{account}", get(fetch_account))
            .route("/2010-04-01/Accounts/{account}/{resource}", post(create))
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, params: &Map<String, Value>) {
        self.log.push(Received::with_body(method, uri, headers, Value::Object(params.clone())));
    }

    /// Whether the request carries this account's Basic credentials.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let expected = (self.account_sid.as_str(), self.auth_token.as_str());
        basic(headers).is_some_and(|credentials| credentials.split_once(':') == Some(expected))
    }

    /// A SID such as `SM` followed by 32 hexadecimal digits, unique within the fake.
    fn sid(&self, prefix: &str) -> String {
        format!("{prefix}{:032x}", self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// `GET /2010-04-01/Accounts/{AccountSid}.json`.
async fn fetch_account(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.record(&method, &uri, &headers, &Map::new());
    if !fake.authenticated(&headers) {
        return unauthenticated();
    }
    if account.strip_suffix(".json") != Some(fake.account_sid.as_str()) {
        return not_found(&uri);
    }
    let sid = &fake.account_sid;
    let body = json!({
        "sid": sid,
        "owner_account_sid": sid,
        "friendly_name": "flowvault test account",
        "status": "active",
        "type": "Full",
        "auth_token": "[not shown by the fake]",
        "date_created": DATE,
        "date_updated": DATE,
        "uri": format!("/{API_VERSION}/Accounts/{sid}.json"),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST …/Messages.json` and `POST …/Calls.json`.
async fn create(
    State(fake): State<FakeTwilio>,
    Path((account, resource)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Twilio reads parameters from a form body only; a JSON body is as good as none.
    let is_form =
        content_type(&headers).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params = if is_form { form(&body).unwrap_or_default() } else { Map::new() };
    fake.record(&method, &uri, &headers, &params);
    if !fake.authenticated(&headers) {
        return unauthenticated();
    }
    if account != fake.account_sid {
        return not_found(&uri);
    }
    let get = |name: &str| params.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (to, from) = (get("To"), get("From"));
    match resource.as_str() {
        "Messages.json" => {
            let Some(to) = to else {
                return error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
            };
            if !is_address(to) {
                let message = format!("Invalid 'To' Phone Number: {to}");
                return error(StatusCode::BAD_REQUEST, 21211, &message);
            }
            let service = get("MessagingServiceSid");
            if from.is_none() && service.is_none() {
                return error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
            }
            let text = get("Body").unwrap_or_default();
            if text.is_empty() && get("MediaUrl").is_none() && get("ContentSid").is_none() {
                return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
            }
            if text.chars().count() > 1600 {
                let message = "The concatenated message body exceeds the 1600 character limit.";
                return error(StatusCode::BAD_REQUEST, 21617, message);
            }
            let sid = fake.sid("SM");
            let base = format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}");
            let segments =
                if text.chars().count() <= 160 { 1 } else { text.chars().count() / 153 + 1 };
            let body = json!({
                "account_sid": account,
                "api_version": API_VERSION,
                "body": text,
                "date_created": DATE,
                "date_sent": null,
                "date_updated": DATE,
                "direction": "outbound-api",
                "error_code": null,
                "error_message": null,
                "from": from,
                "messaging_service_sid": service,
                "num_media": "0",
                "num_segments": segments.to_string(),
                "price": null,
                "price_unit": "USD",
                "sid": sid,
                "status": if from.is_some() { "queued" } else { "accepted" },
                "subresource_uris": { "media": format!("{base}/Media.json") },
                "to": to,
                "uri": format!("{base}.json"),
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        "Calls.json" => {
            let Some(to) = to else {
                return error(StatusCode::BAD_REQUEST, 21201, "No 'To' number is specified");
            };
            let Some(from) = from else {
                return error(StatusCode::BAD_REQUEST, 21213, "No 'From' number is specified");
            };
            if ["Url", "Twiml", "ApplicationSid"].iter().all(|k| get(k).is_none()) {
                let message = "Either Url, Twiml or ApplicationSid is required.";
                return error(StatusCode::BAD_REQUEST, 21205, message);
            }
            let sid = fake.sid("CA");
            let body = json!({
                "account_sid": account,
                "api_version": API_VERSION,
                "date_created": DATE,
                "date_updated": DATE,
                "direction": "outbound-api",
                "from": from,
                "from_formatted": from,
                "sid": sid,
                "status": "queued",
                "to": to,
                "to_formatted": to,
                "uri": format!("/{API_VERSION}/Accounts/{account}/Calls/{sid}.json"),
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        _ => not_found(&uri),
    }
}

/// An E.164 number, or a channel address such as `whatsapp:+15552229999`.
fn is_address(s: &str) -> bool {
    let number = s.split_once(':').map_or(s, |(_, rest)| rest);
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Twilio's error body.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

fn unauthenticated() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
    response
}

fn not_found(uri: &Uri) -> Response {
    let message = format!("The requested resource {} was not found", uri.path());
    error(StatusCode::NOT_FOUND, 20404, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(is_address("+15005550006"));
        assert!(is_address("whatsapp:+15552229999"));
        assert!(!is_address("15005550006"));
        assert!(!is_address("+1500555000a"));
    }
}
