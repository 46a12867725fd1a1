//! A fake of HubSpot's CRM v3 contacts: `POST /crm/v3/objects/contacts/batch/upsert` (by
//! `idProperty: "email"`) and `GET /crm/v3/objects/contacts/{id}` (by id, or by e-mail address
//! with `?idProperty=email`); and of the Workflows API v2's
//! `POST /automation/v2/workflows/{workflowId}/enrollments/contacts/{email}`, which enrolls an
//! existing contact in an existing workflow and answers 204. Bearer tokens only (private app
//! tokens and OAuth tokens alike); errors are `{"status": "error", "message", "correlationId",
//! "category"}`, and a property the account does not have is refused as HubSpot refuses it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{bearer, decode_segment};
use super::{Log, Received, fake_secret};

const NOW: &str = "2026-11-26T12:00:00.000Z";
const PROPERTIES: &[&str] = &[
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "website",
    "jobtitle",
    "city",
    "state",
    "zip",
    "country",
    "lifecyclestage",
];

/// An in-process HubSpot. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeHubspot {
    token: Arc<str>,
    log: Log,
    state: Arc<Mutex<HubspotState>>,
}

#[derive(Debug, Default)]
struct HubspotState {
    tokens: Vec<String>,
    properties: Vec<String>,
    /// (id, properties)
    contacts: Vec<(u64, Map<String, Value>)>,
    /// (workflow id, e-mail addresses enrolled, in order)
    workflows: Vec<(u64, Vec<String>)>,
    next_id: u64,
}

impl Default for FakeHubspot {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHubspot {
    /// No contacts; the default contact properties; accepts a private app token made now
    /// ([`FakeHubspot::token`]).
    #[must_use]
    pub fn new() -> Self {
        let token = fake_secret("fake-hubspot-app-", 36);
        let state = HubspotState {
            tokens: vec![token.clone()],
            properties: PROPERTIES.iter().map(|p| (*p).to_owned()).collect(),
            next_id: 100,
            ..HubspotState::default()
        };
        Self { token: token.into(), log: Log::default(), state: Arc::new(Mutex::new(state)) }
    }

    /// The private app token the fake accepts from the start (as a bearer token).
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Also accepts `token` (an OAuth access token).
    pub fn accept_token(&self, token: &str) -> &Self {
        self.lock().tokens.push(token.to_owned());
        self
    }

    /// Defines a custom contact property.
    pub fn define_property(&self, name: &str) -> &Self {
        self.lock().properties.push(name.to_owned());
        self
    }

    /// Adds a contact with these properties (an `email` among them); returns its id.
    pub fn add_contact(&self, properties: Value) -> String {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        state.contacts.push((id, properties.as_object().cloned().unwrap_or_default()));
        id.to_string()
    }

    /// Adds a contact workflow with id `id`, with nobody enrolled.
    pub fn add_workflow(&self, id: u64) -> &Self {
        self.lock().workflows.push((id, Vec::new()));
        self
    }

    /// The e-mail addresses enrolled in workflow `id`, in the order they were enrolled.
    #[must_use]
    pub fn enrolled(&self, id: u64) -> Vec<String> {
        let state = self.lock();
        state.workflows.iter().find(|(w, _)| *w == id).map(|(_, e)| e.clone()).unwrap_or_default()
    }

    /// The properties of the contact with `email`.
    #[must_use]
    pub fn contact(&self, email: &str) -> Option<Map<String, Value>> {
        let state = self.lock();
        find(&state, email).map(|i| state.contacts[i].1.clone())
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

    fn lock(&self) -> MutexGuard<'_, HubspotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeHubspot>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if !bearer(&headers).is_some_and(|t| fake.lock().tokens.iter().any(|k| k == t)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and \
             you can find more details at \
             https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        );
    }
    let path = uri.path().trim_end_matches('/');
    if let Some(rest) = path.strip_prefix("/automation/v2/workflows/") {
        return match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
            (Method::POST, [workflow, "enrollments", "contacts", email]) => {
                enroll(&fake, workflow, &decode_segment(email))
            }
            _ => error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Resource not found"),
        };
    }
    match (method, path.strip_prefix("/crm/v3/objects/contacts")) {
        (Method::POST, Some("/batch/upsert")) => upsert(&fake, &received),
        (Method::GET, Some(id)) if id.len() > 1 => {
            let id = decode_segment(&id[1..]);
            let by_email =
                uri.query().is_some_and(|q| q.split('&').any(|p| p == "idProperty=email"));
            let state = fake.lock();
            let found = if by_email {
                find(&state, &id)
            } else {
                state.contacts.iter().position(|(n, _)| n.to_string() == id)
            };
            match found {
                Some(i) => ok(contact_json(state.contacts[i].0, &state.contacts[i].1, None)),
                None => error(
                    StatusCode::NOT_FOUND,
                    "OBJECT_NOT_FOUND",
                    "Object not found.  objectId are usually numeric.",
                ),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Resource not found"),
    }
}

fn upsert(fake: &FakeHubspot, received: &Received) -> Response {
    if !received.is_json() {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "VALIDATION_ERROR",
            "Unsupported Media Type",
        );
    }
    let Some(inputs) = received.body.get("inputs").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid input JSON: inputs is required",
        );
    };
    let mut state = fake.lock();
    let mut results = Vec::new();
    for input in inputs {
        let id = input.get("id").and_then(Value::as_str).unwrap_or_default();
        if input.get("idProperty").and_then(Value::as_str) != Some("email") || id.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "Upsert requires an idProperty that is a unique property (email) and an id",
            );
        }
        let properties =
            input.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        for (name, value) in &properties {
            if !state.properties.contains(name) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!(
                        "Property values were not valid: [{{\"isValid\":false,\"message\":\
                         \"Property \\\"{name}\\\" does not exist\",\
                         \"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"{name}\"}}]"
                    ),
                );
            }
            if !value.is_string() {
                return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid input JSON");
            }
        }
        let (i, new) = match find(&state, id) {
            Some(i) => (i, false),
            None => {
                state.next_id += 1;
                let n = state.next_id;
                state.contacts.push((n, Map::from_iter([("email".to_owned(), json!(id))])));
                (state.contacts.len() - 1, true)
            }
        };
        state.contacts[i].1.extend(properties);
        results.push(contact_json(state.contacts[i].0, &state.contacts[i].1, Some(new)));
    }
    ok(json!({"status": "COMPLETE", "results": results, "startedAt": NOW, "completedAt": NOW}))
}

/// Enrolls the contact with `email` in workflow `workflow`: both must exist. Enrolling a contact
/// already enrolled answers 204 again and changes nothing.
fn enroll(fake: &FakeHubspot, workflow: &str, email: &str) -> Response {
    let mut state = fake.lock();
    if find(&state, email).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Contact with email {email} does not exist"),
        );
    }
    let known = workflow.parse::<u64>().ok().and_then(|id| {
        state.workflows.iter_mut().find(|(w, _)| *w == id).map(|(_, enrolled)| enrolled)
    });
    let Some(enrolled) = known else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Workflow {workflow} does not exist"),
        );
    };
    if !enrolled.iter().any(|e| e.eq_ignore_ascii_case(email)) {
        enrolled.push(email.to_owned());
    }
    StatusCode::NO_CONTENT.into_response()
}

fn find(state: &HubspotState, email: &str) -> Option<usize> {
    state.contacts.iter().position(|(_, p)| {
        p.get("email").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

fn contact_json(id: u64, properties: &Map<String, Value>, new: Option<bool>) -> Value {
    let mut props = properties.clone();
    props.insert("hs_object_id".to_owned(), json!(id.to_string()));
    props.insert("createdate".to_owned(), json!(NOW));
    props.insert("lastmodifieddate".to_owned(), json!(NOW));
    let mut contact = json!({
        "id": id.to_string(), "properties": props, "createdAt": NOW, "updatedAt": NOW,
        "archived": false,
    });
    if let Some(new) = new {
        contact["new"] = json!(new);
    }
    contact
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": "3f1c0a52-6d3e-4c1b-9e64-0d6c2b8f7a11",
        "category": category,
    });
    (status, axum::Json(body)).into_response()
}
