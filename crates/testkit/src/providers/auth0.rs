//! A fake of Auth0's Management API v2 users endpoints: `POST /api/v2/users`, `GET /api/v2/users`,
//! `GET` and `PATCH /api/v2/users/{id}`. Like Auth0, it takes a bearer access token, validates
//! the payload (known properties only, `connection` required, e-mail and password for the
//! database connection, unique e-mail), merges `user_metadata`/`app_metadata` on update, and
//! answers errors as `{"statusCode","error","message","errorCode"}`.
//!
//! It knows one database connection, `Username-Password-Authentication`; it checks neither
//! token scopes nor password strength, and ignores search parameters (`q`) when listing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::request::bearer;
use super::{Log, Received, fake_secret};

/// The database connection users are created in.
pub const DATABASE: &str = "Username-Password-Authentication";

const DATE: &str = "2026-11-26T12:00:00.000Z";
/// What `POST /api/v2/users` accepts; `PATCH` takes these but `user_id`.
#[rustfmt::skip]
const USER_FIELDS: [&str; 17] = [
    "connection", "email", "phone_number", "user_metadata", "app_metadata", "blocked",
    "email_verified", "phone_verified", "given_name", "family_name", "name", "nickname", "picture",
    "user_id", "verify_email", "username", "password",
];

/// An in-process fake of the Auth0 Management API. Clones share one fake.
#[derive(Debug, Clone)]
pub struct FakeAuth0Management {
    token: String,
    users: Arc<Mutex<BTreeMap<String, Map<String, Value>>>>,
    log: Log,
    next: Arc<AtomicU64>,
}

impl Default for FakeAuth0Management {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeAuth0Management {
    /// A tenant with no users, accepting an access token made now
    /// ([`FakeAuth0Management::token`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_token(&fake_secret("fake-auth0-management-", 40))
    }

    /// A tenant accepting `token` (the one the test's connection holds).
    #[must_use]
    pub fn with_token(token: &str) -> Self {
        Self {
            token: token.to_owned(),
            users: Arc::new(Mutex::new(BTreeMap::new())),
            log: Log::default(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The access token the fake accepts (as a bearer token).
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Routes at the root of the tenant's domain.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/users", get(list).post(create))
            .route("/api/v2/users/{id}", get(fetch).patch(update))
            .with_state(self.clone())
    }

    /// Every request received, rejected ones included (passwords are not kept).
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// A user, as the API shows it.
    #[must_use]
    pub fn user(&self, id: &str) -> Option<Value> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.get(id).cloned().map(Value::Object)
    }

    /// Adds a user directly (in `DATABASE`) and returns its id.
    pub fn add_user(&self, email: &str) -> String {
        let user = self.new_user(email);
        let id = user.get("user_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.users.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), user);
        id
    }

    /// Records the request (its password redacted) and returns the body if it is JSON.
    fn receive(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Option<Value> {
        let mut received = Received::from_request(method, uri, headers, body);
        if let Some(password) = received.body.get_mut("password") {
            *password = json!("<redacted>");
        }
        self.log.push(received);
        serde_json::from_slice(body).ok()
    }

    /// `None` if the bearer token is this fake's, else the `401`.
    fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        match bearer(headers) {
            Some(t) if t == self.token => None,
            Some(_) => Some(error(StatusCode::UNAUTHORIZED, "Invalid token", "invalid_token")),
            None => Some(error(
                StatusCode::UNAUTHORIZED,
                "Missing authentication",
                "missing_authentication",
            )),
        }
    }

    fn new_user(&self, email: &str) -> Map<String, Value> {
        let id = format!("auth0|{:024x}", self.next.fetch_add(1, Ordering::Relaxed));
        let user = json!({
            "user_id": id,
            "email": email,
            "email_verified": false,
            "name": email,
            "nickname": email.split('@').next().unwrap_or_default(),
            "picture": "https://s.gravatar.com/avatar/fake.png",
            "created_at": DATE,
            "updated_at": DATE,
            "identities": [{
                "connection": DATABASE,
                "user_id": id.trim_start_matches("auth0|"),
                "provider": "auth0",
                "isSocial": false,
            }],
        });
        user.as_object().cloned().unwrap_or_default()
    }
}

/// `POST /api/v2/users`.
async fn create(
    State(fake): State<FakeAuth0Management>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = fake.receive(&method, &uri, &headers, &body);
    if let Some(r) = fake.unauthorized(&headers) {
        return r;
    }
    let input = match checked_payload(parsed, |k| USER_FIELDS.contains(&k)) {
        Ok(m) => m,
        Err(problem) => return invalid_body(&problem),
    };
    match input.get("connection").and_then(Value::as_str) {
        None => return invalid_body("Missing required property: connection"),
        Some(DATABASE) => {}
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "The connection does not exist.",
                "inexistent_connection",
            );
        }
    }
    for required in ["email", "password"] {
        if !input.get(required).is_some_and(Value::is_string) {
            return invalid_body(&format!("Missing required property: {required}"));
        }
    }
    let email = input.get("email").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let mut users = fake.users.lock().unwrap_or_else(PoisonError::into_inner);
    if users.values().any(|u| u.get("email").and_then(Value::as_str) == Some(email.as_str())) {
        return error(StatusCode::CONFLICT, "The user already exists.", "auth0_idp_error");
    }
    let mut user = fake.new_user(&email);
    merge(&mut user, &input);
    user.insert("email".to_owned(), json!(email));
    let id = user.get("user_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    users.insert(id, user.clone());
    (StatusCode::CREATED, Json(Value::Object(user))).into_response()
}

/// `GET /api/v2/users`: every user.
async fn list(
    State(fake): State<FakeAuth0Management>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.receive(&method, &uri, &headers, &Bytes::new());
    if let Some(r) = fake.unauthorized(&headers) {
        return r;
    }
    let users = fake.users.lock().unwrap_or_else(PoisonError::into_inner);
    let all: Vec<Value> = users.values().cloned().map(Value::Object).collect();
    (StatusCode::OK, Json(Value::Array(all))).into_response()
}

/// `GET /api/v2/users/{id}`.
async fn fetch(
    State(fake): State<FakeAuth0Management>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.receive(&method, &uri, &headers, &Bytes::new());
    if let Some(r) = fake.unauthorized(&headers) {
        return r;
    }
    match fake.user(&id) {
        Some(user) => (StatusCode::OK, Json(user)).into_response(),
        None => error(StatusCode::NOT_FOUND, "The user does not exist.", "inexistent_user"),
    }
}

/// `PATCH /api/v2/users/{id}`.
async fn update(
    State(fake): State<FakeAuth0Management>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = fake.receive(&method, &uri, &headers, &body);
    if let Some(r) = fake.unauthorized(&headers) {
        return r;
    }
    let input = match checked_payload(parsed, |k| k != "user_id" && USER_FIELDS.contains(&k)) {
        Ok(m) => m,
        Err(problem) => return invalid_body(&problem),
    };
    let mut users = fake.users.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(user) = users.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "The user does not exist.", "inexistent_user");
    };
    merge(user, &input);
    user.insert("updated_at".to_owned(), json!(DATE));
    (StatusCode::OK, Json(Value::Object(user.clone()))).into_response()
}

/// The payload as an object with only `allowed` properties.
fn checked_payload(
    parsed: Option<Value>,
    allowed: impl Fn(&str) -> bool,
) -> Result<Map<String, Value>, String> {
    let Some(Value::Object(input)) = parsed else {
        return Err("Expected type object but found type null".to_owned());
    };
    if let Some(extra) = input.keys().find(|k| !allowed(k)) {
        return Err(format!("Additional properties not allowed: {extra}"));
    }
    Ok(input)
}

/// Metadata merges one level deep (a `null` value removes a key); other properties replace.
/// Secrets and write-only properties are not stored; the fake picks user ids itself.
fn merge(user: &mut Map<String, Value>, input: &Map<String, Value>) {
    for (k, v) in input {
        match (k.as_str(), v) {
            ("password" | "verify_email" | "connection" | "user_id", _) => {}
            ("user_metadata" | "app_metadata", Value::Object(new)) => {
                let entry = user.entry(k.clone()).or_insert_with(|| json!({}));
                if let Some(old) = entry.as_object_mut() {
                    for (mk, mv) in new {
                        if mv.is_null() {
                            old.remove(mk);
                        } else {
                            old.insert(mk.clone(), mv.clone());
                        }
                    }
                }
            }
            _ => {
                user.insert(k.clone(), v.clone());
            }
        }
    }
}

fn invalid_body(problem: &str) -> Response {
    let message = format!("Payload validation error: '{problem}'.");
    error(StatusCode::BAD_REQUEST, &message, "invalid_body")
}

/// Auth0's error body.
fn error(status: StatusCode, message: &str, code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or_default(),
        "message": message,
        "errorCode": code,
    });
    (status, Json(body)).into_response()
}
