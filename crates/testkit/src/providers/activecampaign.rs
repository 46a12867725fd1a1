//! A fake of an ActiveCampaign account's API v3: `POST /api/3/contact/sync` (create, or update the
//! contact with that e-mail address) and `GET /api/3/contacts?email=`. The `Api-Token` header
//! authenticates (403 `{"message"}` without a valid one); validation errors are 422
//! `{"errors": [{"title", "detail", "code", "source"}]}`. Serve it at the account's own host (the
//! connection's `base_url`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{param, query};
use super::{Log, Received, fake_secret};

const NOW: &str = "2026-11-26T06:00:00-06:00";

/// An in-process ActiveCampaign account. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeActiveCampaign {
    api_token: Arc<str>,
    log: Log,
    contacts: Arc<Mutex<Vec<Map<String, Value>>>>,
}

impl Default for FakeActiveCampaign {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeActiveCampaign {
    /// No contacts; accepts an API token made now ([`FakeActiveCampaign::api_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            api_token: fake_secret("fake-activecampaign-", 64).into(),
            log: Log::default(),
            contacts: Arc::default(),
        }
    }

    /// The API token the fake accepts (the `Api-Token` header).
    #[must_use]
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Adds a contact (`email`, `firstName`, …); returns its id.
    pub fn add_contact(&self, fields: Value) -> String {
        let mut contacts = self.lock();
        let id = (contacts.len() + 1).to_string();
        let mut contact = fields.as_object().cloned().unwrap_or_default();
        contact.insert("id".to_owned(), json!(id));
        contacts.push(contact);
        id
    }

    /// The contact with `email`, with its `fieldValues` (`{field: value}`).
    #[must_use]
    pub fn contact(&self, email: &str) -> Option<Map<String, Value>> {
        let contacts = self.lock();
        contacts.iter().find(|c| same_email(c, email)).cloned()
    }

    /// The API, to serve at the account's host.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What the fake received.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Map<String, Value>>> {
        self.contacts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeActiveCampaign>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if headers.get("api-token").and_then(|v| v.to_str().ok()) != Some(fake.api_token()) {
        let body = json!({"message": "You are not authorized to access this resource"});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    match (method, uri.path().trim_end_matches('/')) {
        (Method::POST, "/api/3/contact/sync") => sync(&fake, &received),
        (Method::GET, "/api/3/contacts") => {
            let query = query(&uri);
            let email = param(&query, "email");
            let contacts: Vec<Value> = fake
                .lock()
                .iter()
                .filter(|c| email.is_none_or(|e| same_email(c, e)))
                .map(|c| Value::Object(contact_json(c)))
                .collect();
            let total = contacts.len().to_string();
            let body =
                json!({"scoredContacts": [], "contacts": contacts, "meta": {"total": total}});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"message": "No Result found"})))
            .into_response(),
    }
}

fn sync(fake: &FakeActiveCampaign, received: &Received) -> Response {
    if !received.is_json() {
        return invalid("Invalid JSON", "invalid_json", "");
    }
    let Some(input) = received.body.get("contact").and_then(Value::as_object) else {
        return invalid("Contact is required", "field_missing", "/data/attributes/contact");
    };
    let email = input.get("email").and_then(Value::as_str).unwrap_or_default();
    let valid = email.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.'));
    if !valid {
        return invalid("Email address is not valid.", "email_invalid", "/data/attributes/email");
    }
    let mut field_values = Map::new();
    for item in input.get("fieldValues").and_then(Value::as_array).into_iter().flatten() {
        let field = item
            .get("field")
            .and_then(|f| f.as_str().map(str::to_owned).or(f.as_u64().map(|n| n.to_string())));
        match (field, item.get("value")) {
            (Some(field), Some(value)) => {
                field_values.insert(field, value.clone());
            }
            _ => {
                return invalid(
                    "Field value is invalid",
                    "field_invalid",
                    "/data/attributes/fieldValues",
                );
            }
        }
    }
    let mut contacts = fake.lock();
    let (index, status) = match contacts.iter().position(|c| same_email(c, email)) {
        Some(i) => (i, StatusCode::OK),
        None => {
            let id = (contacts.len() + 1).to_string();
            contacts.push(Map::from_iter([("id".to_owned(), json!(id))]));
            (contacts.len() - 1, StatusCode::CREATED)
        }
    };
    let contact = &mut contacts[index];
    for key in ["email", "firstName", "lastName", "phone"] {
        if let Some(v) = input.get(key) {
            contact.insert(key.to_owned(), v.clone());
        }
    }
    let mut stored =
        contact.get("fieldValues").and_then(Value::as_object).cloned().unwrap_or_default();
    stored.extend(field_values);
    contact.insert("fieldValues".to_owned(), Value::Object(stored.clone()));
    let id = contact.get("id").cloned().unwrap_or(Value::Null);
    let field_values: Vec<Value> = stored
        .iter()
        .map(|(field, value)| json!({"contact": id, "field": field, "value": value}))
        .collect();
    let body = json!({"fieldValues": field_values, "contact": contact_json(contact)});
    (status, axum::Json(body)).into_response()
}

fn contact_json(contact: &Map<String, Value>) -> Map<String, Value> {
    let mut out = contact.clone();
    out.remove("fieldValues");
    out.insert("cdate".to_owned(), json!(NOW));
    out.insert("udate".to_owned(), json!(NOW));
    out
}

fn same_email(contact: &Map<String, Value>, email: &str) -> bool {
    contact.get("email").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(email))
}

fn invalid(title: &str, code: &str, pointer: &str) -> Response {
    let body = json!({"errors": [{
        "title": title, "detail": "", "code": code, "source": {"pointer": pointer},
    }]});
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}
