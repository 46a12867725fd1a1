//! A fake of Salesforce's REST API (v60.0) for leads: `POST …/sobjects/Lead`,
//! `GET`/`PATCH …/sobjects/Lead/{id}`, `GET …/query?q=` and `GET …/search?q=`. It takes OAuth
//! bearer tokens and answers errors as Salesforce does, a list of `{"message", "errorCode"}`.
//!
//! Queries are parsed, not pattern-matched: the fake reads the SOQL
//! `SELECT <fields> FROM Lead WHERE <field> = '<literal>' [LIMIT n]` and the SOSL
//! `FIND {<term>} IN ALL FIELDS RETURNING Lead(<fields>) [LIMIT n]` with Salesforce's escapes, and
//! refuses anything else as `MALFORMED_QUERY` / `MALFORMED_SEARCH`: a value that breaks out of
//! its literal fails here as it would there.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{bearer, param, query};
use super::{Log, Received, Refusal, fake_secret};

const DATA: &str = "/services/data/v60.0";
const FIELDS: &[&str] = &[
    "Id",
    "FirstName",
    "LastName",
    "Name",
    "Company",
    "Email",
    "Phone",
    "Title",
    "Status",
    "LeadSource",
    "Description",
    "Website",
    "City",
    "Country",
];

/// An in-process Salesforce org. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeSalesforce {
    access_token: Arc<str>,
    log: Log,
    leads: Arc<Mutex<Vec<Map<String, Value>>>>,
}

impl Default for FakeSalesforce {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeSalesforce {
    /// No leads; accepts an access token made now ([`FakeSalesforce::access_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            access_token: fake_secret("fake-salesforce-session-", 48).into(),
            log: Log::default(),
            leads: Arc::default(),
        }
    }

    /// The OAuth access token the fake accepts (as a bearer token).
    #[must_use]
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Adds a lead with these fields; returns its 18-character id.
    pub fn add_lead(&self, fields: Value) -> String {
        let mut leads = self.lock();
        let id = format!("00Q5e00000Fake{:04}", leads.len() + 1);
        let mut lead = fields.as_object().cloned().unwrap_or_default();
        lead.insert("Id".to_owned(), json!(id));
        leads.push(lead);
        id
    }

    /// The lead `id`'s fields.
    #[must_use]
    pub fn lead(&self, id: &str) -> Option<Map<String, Value>> {
        self.lock().iter().find(|l| l["Id"] == json!(id)).cloned()
    }

    /// The API, to serve at the instance URL.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What the fake received.
    #[must_use]
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Map<String, Value>>> {
        self.leads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeSalesforce>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if bearer(&headers) != Some(fake.access_token()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ));
    }
    let query = query(&uri);
    let q = param(&query, "q").unwrap_or_default();
    let path = uri.path().strip_prefix(DATA).unwrap_or_default().trim_end_matches('/');
    let not_found =
        || error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist");
    let mut leads = fake.lock();
    let answer = match (method, path) {
        (Method::GET, "/query") => {
            let (fields, column, value) = soql(q)?;
            let found: Vec<Value> = leads
                .iter()
                .filter(|l| text(l, &column).eq_ignore_ascii_case(&value))
                .map(|l| record(l, &fields))
                .collect();
            json!({"totalSize": found.len(), "done": true, "records": found})
        }
        (Method::GET, "/search") => {
            let (fields, term) = sosl(q)?;
            let term = term.to_lowercase();
            let found: Vec<Value> = leads
                .iter()
                .filter(|l| FIELDS.iter().any(|f| text(l, f).to_lowercase().contains(&term)))
                .map(|l| record(l, &fields))
                .collect();
            json!({"searchRecords": found})
        }
        (Method::POST, "/sobjects/Lead") => {
            let mut lead = fields_of(&received)?;
            let missing: Vec<&str> = ["LastName", "Company"]
                .into_iter()
                .filter(|f| lead.get(*f).and_then(Value::as_str).is_none_or(str::is_empty))
                .collect();
            if !missing.is_empty() {
                let message = format!("Required fields are missing: [{}]", missing.join(", "));
                return Err(error(StatusCode::BAD_REQUEST, "REQUIRED_FIELD_MISSING", &message));
            }
            let id = format!("00Q5e00000Fake{:04}", leads.len() + 1);
            lead.insert("Id".to_owned(), json!(id));
            leads.push(lead);
            let body = json!({"id": id, "success": true, "errors": []});
            return Ok((StatusCode::CREATED, axum::Json(body)).into_response());
        }
        (method, p) if p.starts_with("/sobjects/Lead/") => {
            let id = &p["/sobjects/Lead/".len()..];
            let lead = leads.iter_mut().find(|l| l["Id"] == json!(id)).ok_or_else(not_found)?;
            match method {
                Method::GET => record(lead, &all_fields(lead)),
                Method::PATCH => {
                    lead.extend(fields_of(&received)?);
                    return Ok(StatusCode::NO_CONTENT.into_response());
                }
                _ => {
                    return Err(error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "METHOD_NOT_ALLOWED",
                        "HTTP Method not allowed",
                    ));
                }
            }
        }
        _ => return Err(not_found()),
    };
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// The fields of a create or update body, checked against the Lead object.
fn fields_of(received: &Received) -> Result<Map<String, Value>, Refusal> {
    if !received.is_json() {
        let (status, message) = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type not supported");
        return Err(error(status, "UNSUPPORTED_MEDIA_TYPE", message));
    }
    let Value::Object(fields) = &received.body else {
        return Err(bad("JSON_PARSER_ERROR", "Cannot deserialize instance of Lead"));
    };
    for name in fields.keys() {
        check_field(name)?;
        if name == "Id" || name == "Name" {
            let message = format!(
                "Unable to create/update fields: {name}. Please check the security settings of \
                 this field and verify that it is read/write for your profile or permission set."
            );
            return Err(bad("INVALID_FIELD_FOR_INSERT_UPDATE", &message));
        }
    }
    Ok(fields.clone())
}

fn check_field(name: &str) -> Result<(), Refusal> {
    if FIELDS.contains(&name) || name.ends_with("__c") {
        return Ok(());
    }
    Err(bad("INVALID_FIELD", &format!("No such column '{name}' on sobject of type Lead")))
}

/// `SELECT f, … FROM Lead WHERE F = '…' [LIMIT n]` as (fields, F, the literal's value).
fn soql(q: &str) -> Result<(Vec<String>, String, String), Refusal> {
    let malformed = || bad("MALFORMED_QUERY", &format!("unexpected token in: {q}"));
    let rest = q.strip_prefix("SELECT ").ok_or_else(malformed)?;
    let (fields, rest) = rest.split_once(" FROM Lead WHERE ").ok_or_else(malformed)?;
    let fields = select_list(fields)?;
    let (column, rest) = rest.split_once(" = '").ok_or_else(malformed)?;
    check_field(column)?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    let end = loop {
        match chars.next().ok_or_else(malformed)? {
            (i, '\'') => break i + 1,
            (_, '\\') => match chars.next().ok_or_else(malformed)?.1 {
                'n' | 'N' => value.push('\n'),
                'r' | 'R' => value.push('\r'),
                't' | 'T' => value.push('\t'),
                'b' | 'B' => value.push('\u{8}'),
                'f' | 'F' => value.push('\u{c}'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                    let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    value.push(c.ok_or_else(malformed)?);
                }
                c @ ('\'' | '"' | '\\') => value.push(c),
                _ => return Err(malformed()),
            },
            (_, c) => value.push(c),
        }
    };
    let tail = &rest[end..];
    let limit_ok = tail.strip_prefix(" LIMIT ").is_some_and(|n| n.parse::<u32>().is_ok());
    if !tail.is_empty() && !limit_ok {
        return Err(malformed());
    }
    Ok((fields, column.to_owned(), value))
}

/// `FIND {…} IN ALL FIELDS RETURNING Lead(f, …) [LIMIT n]` as (fields, the search term).
fn sosl(q: &str) -> Result<(Vec<String>, String), Refusal> {
    let malformed = || bad("MALFORMED_SEARCH", &format!("Invalid search query: {q}"));
    let rest = q.strip_prefix("FIND {").ok_or_else(malformed)?;
    let mut term = String::new();
    let mut chars = rest.char_indices();
    let end = loop {
        match chars.next().ok_or_else(malformed)? {
            (i, '}') => break i + 1,
            (_, '\\') => term.push(chars.next().ok_or_else(malformed)?.1),
            (_, c) if "{}[]()".contains(c) => return Err(malformed()),
            (_, c) => term.push(c),
        }
    };
    let rest = rest[end..].strip_prefix(" IN ALL FIELDS RETURNING Lead(").ok_or_else(malformed)?;
    let (fields, tail) = rest.split_once(')').ok_or_else(malformed)?;
    let limit_ok = tail.strip_prefix(" LIMIT ").is_some_and(|n| n.parse::<u32>().is_ok());
    if !tail.is_empty() && !limit_ok {
        return Err(malformed());
    }
    Ok((select_list(fields)?, term))
}

fn select_list(fields: &str) -> Result<Vec<String>, Refusal> {
    let fields: Vec<String> = fields.split(", ").map(str::to_owned).collect();
    for f in &fields {
        check_field(f)?;
    }
    Ok(fields)
}

fn all_fields(lead: &Map<String, Value>) -> Vec<String> {
    let mut fields: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    fields.extend(lead.keys().filter(|k| k.ends_with("__c")).cloned());
    fields
}

/// A lead as the API returns it: `attributes` and the asked fields (null when unset).
fn record(lead: &Map<String, Value>, fields: &[String]) -> Value {
    let id = lead.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "attributes".to_owned(),
        json!({"type": "Lead", "url": format!("{DATA}/sobjects/Lead/{id}")}),
    );
    for f in fields {
        let value = if f == "Name" {
            json!(text(lead, "Name"))
        } else {
            lead.get(f).cloned().unwrap_or(Value::Null)
        };
        out.insert(f.clone(), value);
    }
    Value::Object(out)
}

/// A field as text; `Name` is the compound of first and last name.
fn text(lead: &Map<String, Value>, field: &str) -> String {
    let get = |f: &str| lead.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
    if field == "Name" {
        return format!("{} {}", get("FirstName"), get("LastName")).trim().to_owned();
    }
    get(field)
}

fn bad(code: &str, message: &str) -> Refusal {
    error(StatusCode::BAD_REQUEST, code, message)
}

fn error(status: StatusCode, code: &str, message: &str) -> Refusal {
    (status, axum::Json(json!([{"message": message, "errorCode": code}])))
}
