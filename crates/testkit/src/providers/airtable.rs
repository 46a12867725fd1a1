//! A fake of Airtable's Web API records: `POST /v0/{base}/{table}` (`{"fields"}`),
//! `GET /v0/{base}/{table}` (`filterByFormula` of the form `{Field} = 'value'`, `view`) and
//! `PATCH /v0/{base}/{table}/{record}`. Tables are found by name or id. Personal access tokens as
//! bearer tokens; errors are `{"error": {"type", "message"}}` (or `{"error": "NOT_FOUND"}` for a
//! missing record), with Airtable's statuses (401, 403 for an unknown base or table, 422).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{authorization, bearer, decode_segment, param, query};
use super::{Log, Received, Refusal, fake_secret};

const CREATED: &str = "2026-11-26T12:00:00.000Z";

/// An in-process Airtable. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeAirtable {
    token: Arc<str>,
    log: Log,
    state: Arc<Mutex<Vec<Table>>>,
}

#[derive(Debug)]
struct Table {
    base: String,
    id: String,
    name: String,
    fields: Vec<String>,
    views: Vec<String>,
    records: Vec<Value>,
}

impl Default for FakeAirtable {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeAirtable {
    /// No bases; accepts a personal access token made now ([`FakeAirtable::token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            token: fake_secret("fake-airtable-", 48).into(),
            log: Log::default(),
            state: Arc::default(),
        }
    }

    /// The personal access token the fake accepts (as a bearer token).
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Adds a table (with a "Grid view") to `base`; returns its id.
    pub fn add_table(&self, base: &str, name: &str, fields: &[&str]) -> String {
        let mut tables = self.lock();
        let id = format!("tblFake{:09}", tables.len() + 1);
        tables.push(Table {
            base: base.to_owned(),
            id: id.clone(),
            name: name.to_owned(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            views: vec!["Grid view".to_owned()],
            records: Vec::new(),
        });
        id
    }

    /// Adds a record to the table `name` of `base`; returns its id.
    pub fn add_record(&self, base: &str, table: &str, fields: Value) -> String {
        let mut tables = self.lock();
        let Some(t) = tables.iter_mut().find(|t| t.base == base && t.name == table) else {
            return String::new();
        };
        let id = format!("recFake{:010}", t.records.len() + 1);
        t.records.push(json!({"id": id, "createdTime": CREATED, "fields": fields}));
        id
    }

    /// The records of the table `name` of `base`.
    #[must_use]
    pub fn records(&self, base: &str, table: &str) -> Vec<Value> {
        let tables = self.lock();
        tables
            .iter()
            .find(|t| t.base == base && t.name == table)
            .map(|t| t.records.clone())
            .unwrap_or_default()
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

    fn lock(&self) -> MutexGuard<'_, Vec<Table>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeAirtable>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if authorization(&headers).is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_REQUIRED",
            "Authentication required",
        )
        .into_response();
    }
    if bearer(&headers) != Some(fake.token()) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid authentication token")
            .into_response();
    }
    let segments: Vec<String> =
        uri.path().trim_matches('/').split('/').map(decode_segment).collect();
    let (base, table, record) = match segments.as_slice() {
        [v0, base, table] if v0 == "v0" => (base, table, None),
        [v0, base, table, record] if v0 == "v0" => (base, table, Some(record)),
        _ => {
            return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "NOT_FOUND"})))
                .into_response();
        }
    };
    let mut tables = fake.lock();
    let Some(table) =
        tables.iter_mut().find(|t| &t.base == base && (&t.name == table || &t.id == table))
    else {
        return error(
            StatusCode::FORBIDDEN,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your user \
             and your token have the required permissions, and that the model names and/or ids are \
             correct.",
        )
        .into_response();
    };
    let fields = || -> Result<Map<String, Value>, Refusal> {
        if !received.is_json() {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "INVALID_REQUEST_UNKNOWN",
                "Invalid request: unsupported content type",
            ));
        }
        let fields =
            received.body.get("fields").and_then(Value::as_object).cloned().ok_or_else(|| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST_MISSING_FIELDS",
                    "Could not find field \"fields\" in the request body",
                )
            })?;
        match fields.keys().find(|k| !table.fields.contains(k)) {
            Some(unknown) => Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNKNOWN_FIELD_NAME",
                &format!("Unknown field name: \"{unknown}\""),
            )),
            None => Ok(fields),
        }
    };
    match (method, record) {
        (Method::POST, None) => match fields() {
            Ok(fields) => {
                let id = format!("recFake{:010}", table.records.len() + 1);
                let record = json!({"id": id, "createdTime": CREATED, "fields": fields});
                table.records.push(record.clone());
                ok(record)
            }
            Err(r) => r.into_response(),
        },
        (Method::GET, None) => list(table, &query(&uri)),
        (Method::PATCH, Some(id)) => match fields() {
            Ok(fields) => match table.records.iter_mut().find(|r| r["id"] == json!(id)) {
                Some(record) => {
                    if let Some(existing) = record["fields"].as_object_mut() {
                        existing.extend(fields);
                    }
                    ok(record.clone())
                }
                None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "NOT_FOUND"})))
                    .into_response(),
            },
            Err(r) => r.into_response(),
        },
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "NOT_FOUND"}))).into_response(),
    }
}

fn list(table: &Table, query: &[(String, String)]) -> Response {
    let get = |name: &str| param(query, name);
    if let Some(view) = get("view")
        && !table.views.iter().any(|v| v == view)
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VIEW_NAME_NOT_FOUND",
            &format!("Could not find view {view} in table {}", table.name),
        )
        .into_response();
    }
    let filter = match get("filterByFormula").map(equality) {
        None => None,
        Some(Some(f)) => Some(f),
        Some(None) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_FILTER_BY_FORMULA",
                "The formula for filtering records is invalid",
            )
            .into_response();
        }
    };
    let records: Vec<Value> = table
        .records
        .iter()
        .filter(|r| filter.as_ref().is_none_or(|(f, v)| r["fields"][f.as_str()] == json!(v)))
        .cloned()
        .collect();
    ok(json!({"records": records}))
}

/// `{Field} = 'value'` as (field, value): the only formula the fake evaluates.
fn equality(formula: &str) -> Option<(String, String)> {
    let (left, right) = formula.split_once('=')?;
    let field = left.trim().strip_prefix('{')?.strip_suffix('}')?;
    let value = right.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))?;
    Some((field.to_owned(), value.to_owned()))
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Refusal {
    (status, axum::Json(json!({"error": {"type": kind, "message": message}})))
}
