//! A fake of Clearbit's enrichment API v2: `GET /v2/people/find?email=` and
//! `GET /v2/companies/find?domain=`, served from one host (in Clearbit's world they are
//! `person.clearbit.com` and `company.clearbit.com`). The secret key is a bearer token or the HTTP
//! Basic user; answers are the record (200), `202` for a lookup Clearbit has queued, or
//! `{"error": {"type", "message"}}` (401, 404 `unknown_record`, 422 for a malformed input).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::{bearer_or_basic_user, param, query};
use super::{Log, Received, fake_secret};

/// An in-process Clearbit. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeClearbit {
    secret_key: Arc<str>,
    log: Log,
    state: Arc<Mutex<ClearbitState>>,
}

#[derive(Debug, Default)]
struct ClearbitState {
    people: HashMap<String, Value>,
    companies: HashMap<String, Value>,
    queued: Vec<String>,
}

impl Default for FakeClearbit {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeClearbit {
    /// Knows nobody; accepts a secret key made now ([`FakeClearbit::secret_key`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            secret_key: fake_secret("fake-clearbit-", 40).into(),
            log: Log::default(),
            state: Arc::default(),
        }
    }

    /// The secret key the fake accepts (as a bearer token or the HTTP Basic user).
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Knows the person with `email`: `record` is what a lookup answers (an `id` and `email` are
    /// added).
    pub fn add_person(&self, email: &str, mut record: Value) -> &Self {
        record["email"] = json!(email);
        record["id"] = json!(format!("d54c54ad-40be-4305-8a34-{:012}", self.lock().people.len()));
        self.lock().people.insert(email.to_lowercase(), record);
        self
    }

    /// Knows the company at `domain`.
    pub fn add_company(&self, domain: &str, mut record: Value) -> &Self {
        record["domain"] = json!(domain);
        record["id"] =
            json!(format!("3f5d6a4e-c284-4f78-bfdf-{:012}", self.lock().companies.len()));
        self.lock().companies.insert(domain.to_lowercase(), record);
        self
    }

    /// Looking up `email` or `domain` answers `202 Accepted` (queued).
    pub fn queue(&self, email_or_domain: &str) -> &Self {
        self.lock().queued.push(email_or_domain.to_lowercase());
        self
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

    fn lock(&self) -> MutexGuard<'_, ClearbitState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeClearbit>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.log.push(Received::from_request(&method, &uri, &headers, &body));
    let Some(key) = bearer_or_basic_user(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "auth_required", "API key required.");
    };
    if key != fake.secret_key() {
        return error(StatusCode::UNAUTHORIZED, "invalid_api_key", "Invalid API key provided.");
    }
    let query = query(&uri);
    let get = |name: &str| param(&query, name).map(str::to_lowercase);
    let state = fake.lock();
    let (key, records, kind) = match (method, uri.path()) {
        (Method::GET, "/v2/people/find") => match get("email") {
            Some(e) if e.contains('@') => (e, &state.people, "email address"),
            _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", "Invalid email."),
        },
        (Method::GET, "/v2/companies/find") => match get("domain") {
            Some(d) if d.contains('.') => (d, &state.companies, "domain"),
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_domain",
                    "Invalid domain.",
                );
            }
        },
        _ => return error(StatusCode::NOT_FOUND, "not_found", "Resource not found"),
    };
    if state.queued.contains(&key) {
        return StatusCode::ACCEPTED.into_response();
    }
    match records.get(&key) {
        Some(record) => (StatusCode::OK, axum::Json(record.clone())).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_record", &format!("Unknown {kind}")),
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"type": kind, "message": message}}))).into_response()
}
