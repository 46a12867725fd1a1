//! A fake of Pipedrive's API v1: `POST /v1/persons`, `POST /v1/deals` and
//! `POST /v1/organizations`. It takes the API token as the `api_token` query parameter or an OAuth
//! token as a bearer token, answers `201 {"success": true, "data": {…}}`, and refuses as Pipedrive
//! does: `{"success": false, "error", "error_info", …}` (401 `unauthorized access`, 400 for a
//! missing name or title). The log keeps the path with the token's value replaced by `[redacted]`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{bearer, param, query};
use super::{Log, Received, fake_secret};

const ERROR_INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";
const ADDED: &str = "2026-11-26 12:00:00";

/// An in-process Pipedrive. Clones share state.
#[derive(Debug, Clone)]
pub struct FakePipedrive {
    api_token: Arc<str>,
    log: Log,
    state: Arc<Mutex<PipedriveState>>,
}

#[derive(Debug, Default)]
struct PipedriveState {
    tokens: Vec<String>,
    /// (resource, item)
    items: Vec<(String, Value)>,
}

impl Default for FakePipedrive {
    fn default() -> Self {
        Self::new()
    }
}

impl FakePipedrive {
    /// Nothing stored; accepts an API token made now ([`FakePipedrive::api_token`]).
    #[must_use]
    pub fn new() -> Self {
        let api_token = fake_secret("fake-pipedrive-", 40);
        let state = PipedriveState { tokens: vec![api_token.clone()], items: Vec::new() };
        Self {
            api_token: api_token.into(),
            log: Log::default(),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The API token the fake accepts from the start (the `api_token` query parameter).
    #[must_use]
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Also accepts `token` (an OAuth access token, as a bearer token).
    pub fn accept_token(&self, token: &str) -> &Self {
        self.lock().tokens.push(token.to_owned());
        self
    }

    /// What was created in `resource` (`persons`, `deals`, `organizations`).
    #[must_use]
    pub fn items(&self, resource: &str) -> Vec<Value> {
        self.lock().items.iter().filter(|(r, _)| r == resource).map(|(_, v)| v.clone()).collect()
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

    fn lock(&self) -> MutexGuard<'_, PipedriveState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakePipedrive>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query(&uri);
    let mut received = Received::from_request_or_form(&method, &uri, &headers, &body);
    received.path = redacted_path(&uri, &query);
    fake.log.push(received.clone());
    let token = param(&query, "api_token").or(bearer(&headers));
    if !token.is_some_and(|t| fake.lock().tokens.iter().any(|k| k == t)) {
        return failure(StatusCode::UNAUTHORIZED, "unauthorized access");
    }
    let (resource, required, message) = match (method, uri.path().trim_end_matches('/')) {
        (Method::POST, "/v1/persons") => ("persons", "name", "Name must be given."),
        (Method::POST, "/v1/deals") => ("deals", "title", "Title must be given."),
        (Method::POST, "/v1/organizations") => ("organizations", "name", "Name must be given."),
        _ => return failure(StatusCode::NOT_FOUND, "Unknown method ."),
    };
    let Value::Object(fields) = received.body else {
        return failure(StatusCode::BAD_REQUEST, message);
    };
    if fields.get(required).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return failure(StatusCode::BAD_REQUEST, message);
    }
    for id in ["owner_id", "org_id", "person_id", "user_id", "stage_id"] {
        if fields.get(id).is_some_and(|v| !v.is_u64() && !v.is_null()) {
            return failure(StatusCode::BAD_REQUEST, &format!("Invalid {id}: must be an integer"));
        }
    }
    let mut state = fake.lock();
    let id = state.items.len() + 1;
    let item = item(resource, id, fields);
    state.items.push((resource.to_owned(), item.clone()));
    let body = json!({"success": true, "data": item, "related_objects": {}});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The stored item as Pipedrive answers it (e-mail addresses and phones as lists).
fn item(resource: &str, id: usize, fields: Map<String, Value>) -> Value {
    let mut item = json!({"id": id, "add_time": ADDED, "update_time": ADDED, "active_flag": true});
    for (k, v) in fields {
        let v = match (resource, k.as_str(), v) {
            ("persons", "email" | "phone", Value::String(s)) => {
                json!([{"label": "work", "value": s, "primary": true}])
            }
            ("deals", "value", Value::String(s)) => s.parse::<f64>().map_or(json!(s), Value::from),
            (_, _, v) => v,
        };
        item[k.as_str()] = v;
    }
    if resource == "deals" {
        item["currency"] = json!("USD");
        item["status"] = json!("open");
    }
    item
}

fn failure(status: StatusCode, error: &str) -> Response {
    let body = json!({
        "success": false,
        "error": error,
        "errorCode": status.as_u16(),
        "error_info": ERROR_INFO,
        "data": null,
        "additional_data": null,
    });
    (status, axum::Json(body)).into_response()
}

/// The path and query as logged: the API token's value replaced by `[redacted]`.
fn redacted_path(uri: &Uri, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return uri.path().to_owned();
    }
    let redacted: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), if k == "api_token" { "[redacted]" } else { v.as_str() }))
        .collect();
    format!("{}?{}", uri.path(), serde_urlencoded::to_string(redacted).unwrap_or_default())
}
