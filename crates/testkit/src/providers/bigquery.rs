//! A fake of BigQuery's streaming insert, `tabledata.insertAll`:
//! `POST /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}/insertAll` with
//! `{"rows": [{"json": {…}}], "skipInvalidRows"?, "ignoreUnknownValues"?}`.
//!
//! It takes OAuth bearer tokens: its own ([`FakeBigquery::access_token`]), and those a
//! [`FakeOAuth`] it trusts has issued, when they hold a scope insertAll accepts (`bigquery`,
//! `bigquery.insertdata` or `cloud-platform`); a token without one is refused with 403, as Google
//! refuses it. Tables have a schema (column names and modes): a row naming a column the table
//! lacks, or missing a `REQUIRED` one, is refused the way BigQuery refuses it — a 200 answer
//! listing `insertErrors`, the other rows of the request `stopped` and nothing inserted (unless
//! `skipInvalidRows`). Other errors are Google's `{"error": {"code", "message", "errors",
//! "status"}}`. Column types are not checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::request::{bearer, decode_segment};
use super::{Log, Received, Refusal, fake_secret};
use crate::FakeOAuth;

/// The scopes that allow `tabledata.insertAll`.
const INSERT_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/bigquery.insertdata",
    "https://www.googleapis.com/auth/cloud-platform",
];
const CREDENTIALS_HELP: &str = "Expected OAuth 2 access token, login cookie or other valid \
     authentication credential. See \
     https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// An in-process BigQuery. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeBigquery {
    access_token: Arc<str>,
    log: Log,
    state: Arc<Mutex<BigqueryState>>,
}

#[derive(Debug, Default)]
struct BigqueryState {
    /// An authorization server whose tokens are accepted too.
    issuer: Option<FakeOAuth>,
    /// Tables by (project, dataset, table).
    tables: BTreeMap<(String, String, String), Table>,
}

#[derive(Debug)]
struct Table {
    /// (column name, whether its mode is `REQUIRED`)
    columns: Vec<(String, bool)>,
    rows: Vec<Value>,
}

/// One row's errors, as `insertErrors[].errors` lists them.
type RowErrors = Vec<Value>;

impl Default for FakeBigquery {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeBigquery {
    /// No tables; accepts an access token made now ([`FakeBigquery::access_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            access_token: fake_secret("fake-google-access-", 40).into(),
            log: Log::default(),
            state: Arc::default(),
        }
    }

    /// An OAuth access token the fake accepts (as a bearer token), as if it held the `bigquery`
    /// scope.
    #[must_use]
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Also accepts the access tokens `issuer` has issued and not yet expired, if they were
    /// granted a scope that allows inserting rows.
    pub fn trust(&self, issuer: &FakeOAuth) -> &Self {
        self.lock().issuer = Some(issuer.clone());
        self
    }

    /// Adds an empty table with `schema` in BigQuery's form: `{"fields": [{"name": "email",
    /// "type": "STRING", "mode": "REQUIRED"}, …]}` (the mode defaults to `NULLABLE`).
    pub fn add_table(&self, project: &str, dataset: &str, table: &str, schema: &Value) -> &Self {
        let columns = schema["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?.to_owned();
                Some((name, f.get("mode").and_then(Value::as_str) == Some("REQUIRED")))
            })
            .collect();
        let key = (project.to_owned(), dataset.to_owned(), table.to_owned());
        self.lock().tables.insert(key, Table { columns, rows: Vec::new() });
        self
    }

    /// The rows of a table, in the order they were inserted.
    #[must_use]
    pub fn rows(&self, project: &str, dataset: &str, table: &str) -> Vec<Value> {
        let key = (project.to_owned(), dataset.to_owned(), table.to_owned());
        self.lock().tables.get(&key).map(|t| t.rows.clone()).unwrap_or_default()
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

    fn lock(&self) -> MutexGuard<'_, BigqueryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeBigquery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    authenticate(&fake, bearer(&headers))?;
    let segments: Vec<String> =
        uri.path().trim_matches('/').split('/').map(decode_segment).collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, parts.as_slice()) {
        (
            Method::POST,
            [
                "bigquery",
                "v2",
                "projects",
                project,
                "datasets",
                dataset,
                "tables",
                table,
                "insertAll",
            ],
        ) => insert_all(&fake, (project, dataset, table), &received),
        _ => Err(error(StatusCode::NOT_FOUND, "notFound", "Requested entity was not found.")),
    }
}

/// The bearer token: the fake's own, or one its issuer granted with an insert scope.
fn authenticate(fake: &FakeBigquery, token: Option<&str>) -> Result<(), Refusal> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        let message =
            format!("Request is missing required authentication credential. {CREDENTIALS_HELP}");
        return Err(error(StatusCode::UNAUTHORIZED, "required", &message));
    };
    if token == fake.access_token() {
        return Ok(());
    }
    let issuer = fake.lock().issuer.clone();
    match issuer.and_then(|i| i.access_token_scopes(token)) {
        Some(scopes) if scopes.iter().any(|s| INSERT_SCOPES.contains(&s.as_str())) => Ok(()),
        Some(_) => Err(error(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )),
        None => {
            let message =
                format!("Request had invalid authentication credentials. {CREDENTIALS_HELP}");
            Err(error(StatusCode::UNAUTHORIZED, "authError", &message))
        }
    }
}

fn insert_all(
    fake: &FakeBigquery,
    (project, dataset, table): (&str, &str, &str),
    received: &Received,
) -> Result<Response, Refusal> {
    let mut state = fake.lock();
    let key = (project.to_owned(), dataset.to_owned(), table.to_owned());
    let Some(target) = state.tables.get_mut(&key) else {
        let has_dataset = state.tables.keys().any(|(p, d, _)| p == project && d == dataset);
        let message = if has_dataset {
            format!("Not found: Table {project}:{dataset}.{table}")
        } else {
            format!("Not found: Dataset {project}:{dataset}")
        };
        return Err(error(StatusCode::NOT_FOUND, "notFound", &message));
    };
    if !received.is_json() {
        return Err(error(StatusCode::BAD_REQUEST, "invalid", "Invalid JSON payload received."));
    }
    let flag = |name: &str| received.body.get(name).and_then(Value::as_bool).unwrap_or(false);
    let (skip_invalid, ignore_unknown) = (flag("skipInvalidRows"), flag("ignoreUnknownValues"));
    let rows: Vec<Map<String, Value>> = match received.body.get("rows").and_then(Value::as_array) {
        Some(rows) if !rows.is_empty() => {
            let parsed: Option<Vec<_>> =
                rows.iter().map(|r| r.get("json").and_then(Value::as_object).cloned()).collect();
            let Some(parsed) = parsed else {
                let message = "Invalid JSON payload received. Each row needs a `json` object.";
                return Err(error(StatusCode::BAD_REQUEST, "invalid", message));
            };
            parsed
        }
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "No rows present in the request.",
            ));
        }
    };
    let checked: Vec<(Map<String, Value>, RowErrors)> =
        rows.into_iter().map(|row| check_row(&target.columns, row, ignore_unknown)).collect();
    let any_refused = checked.iter().any(|(_, errors)| !errors.is_empty());
    let mut insert_errors = Vec::new();
    for (index, (row, errors)) in checked.into_iter().enumerate() {
        if !errors.is_empty() {
            insert_errors.push(json!({"index": index, "errors": errors}));
        } else if any_refused && !skip_invalid {
            // A valid row of a refused request is not inserted either.
            let stopped =
                json!({"reason": "stopped", "location": "", "debugInfo": "", "message": ""});
            insert_errors.push(json!({"index": index, "errors": [stopped]}));
        } else {
            target.rows.push(Value::Object(row));
        }
    }
    let mut answer = json!({"kind": "bigquery#tableDataInsertAllResponse"});
    if !insert_errors.is_empty() {
        answer["insertErrors"] = Value::Array(insert_errors);
    }
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// The row as it would be stored (unknown columns dropped when ignored), and why BigQuery
/// refuses it: columns the table lacks, `REQUIRED` columns absent or null.
fn check_row(
    columns: &[(String, bool)],
    mut row: Map<String, Value>,
    ignore_unknown: bool,
) -> (Map<String, Value>, RowErrors) {
    let mut errors = Vec::new();
    let unknown: Vec<String> =
        row.keys().filter(|k| !columns.iter().any(|(c, _)| c == *k)).cloned().collect();
    for name in unknown {
        if ignore_unknown {
            row.remove(&name);
        } else {
            errors.push(row_error(&name, &format!("no such field: {name}.")));
        }
    }
    for (name, _) in columns.iter().filter(|(_, required)| *required) {
        if row.get(name).is_none_or(Value::is_null) {
            errors.push(row_error(name, &format!("Missing required field: {name}.")));
        }
    }
    (row, errors)
}

fn row_error(location: &str, message: &str) -> Value {
    json!({"reason": "invalid", "location": location, "debugInfo": "", "message": message})
}

fn error(status: StatusCode, reason: &str, message: &str) -> Refusal {
    let name = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::FORBIDDEN => "PERMISSION_DENIED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        _ => "INVALID_ARGUMENT",
    };
    let body = json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": name,
    }});
    (status, axum::Json(body))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use tower::ServiceExt as _;

    use super::*;

    /// Posts `body` to `p.d.t`'s insertAll with the fake's token: the status and the answer.
    async fn insert(fake: &FakeBigquery, body: &Value) -> (StatusCode, Value) {
        let request = Request::post("/bigquery/v2/projects/p/datasets/d/tables/t/insertAll")
            .header(AUTHORIZATION, format!("Bearer {}", fake.access_token()))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        let response = fake.router().oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}")))
    }

    fn fake() -> FakeBigquery {
        let fake = FakeBigquery::new();
        let schema = json!({"fields": [{"name": "a", "mode": "REQUIRED"}, {"name": "b"}]});
        fake.add_table("p", "d", "t", &schema);
        fake
    }

    #[tokio::test]
    async fn one_bad_row_stops_the_others_unless_invalid_rows_are_skipped() {
        let fake = fake();
        let rows = json!([{"json": {"b": 1}}, {"json": {"a": 1, "c": 2}}, {"json": {"a": 2}}]);
        let (status, answer) = insert(&fake, &json!({"rows": rows})).await;
        assert_eq!(status, StatusCode::OK);
        let reasons: Vec<(u64, Vec<&str>)> = answer["insertErrors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let messages = e["errors"].as_array().into_iter().flatten();
                let texts = messages.map(|m| m["message"].as_str().unwrap_or("?")).collect();
                (e["index"].as_u64().unwrap_or(99), texts)
            })
            .collect();
        assert_eq!(
            reasons,
            [
                (0, vec!["Missing required field: a."]),
                (1, vec!["no such field: c."]),
                (2, vec![""]),
            ]
        );
        assert_eq!(answer["insertErrors"][2]["errors"][0]["reason"], "stopped");
        assert!(fake.rows("p", "d", "t").is_empty());

        let (_, answer) = insert(
            &fake,
            &json!({"rows": rows, "skipInvalidRows": true, "ignoreUnknownValues": true}),
        )
        .await;
        let refused: Vec<&Value> =
            answer["insertErrors"].as_array().into_iter().flatten().map(|e| &e["index"]).collect();
        assert_eq!(refused, [&json!(0)]);
        assert_eq!(fake.rows("p", "d", "t"), [json!({"a": 1}), json!({"a": 2})]);
    }

    #[tokio::test]
    async fn a_request_without_rows_is_refused() {
        let (status, answer) = insert(&fake(), &json!({"rows": []})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["message"], "No rows present in the request.");
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
    }
}
