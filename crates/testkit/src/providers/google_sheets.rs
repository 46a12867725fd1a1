//! A fake of the Google Sheets API v4: `GET /v4/spreadsheets/{id}` (the sheets' properties) and
//! `POST /v4/spreadsheets/{id}/values/{range}:append`. It takes OAuth bearer tokens, requires
//! `valueInputOption` (`RAW` or `USER_ENTERED`), reads A1 ranges (`'My sheet'!A1`, `Sheet1`, or a
//! bare `A1` for the first sheet), and answers errors as Google does:
//! `{"error": {"code", "message", "status"}}`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::{bearer, decode_segment, param, query};
use super::{Log, Received, fake_secret};

/// An in-process Google Sheets. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeGoogleSheets {
    access_token: Arc<str>,
    log: Log,
    spreadsheets: Arc<Mutex<Vec<Spreadsheet>>>,
}

#[derive(Debug)]
struct Spreadsheet {
    id: String,
    /// (sheet id, title, rows)
    sheets: Vec<(u64, String, Vec<Vec<Value>>)>,
}

impl Default for FakeGoogleSheets {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeGoogleSheets {
    /// No spreadsheets; accepts an access token made now ([`FakeGoogleSheets::access_token`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            access_token: fake_secret("fake-google-access-", 40).into(),
            log: Log::default(),
            spreadsheets: Arc::default(),
        }
    }

    /// The OAuth access token the fake accepts (as a bearer token).
    #[must_use]
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Adds a spreadsheet with these sheets (id, title), empty.
    pub fn add_spreadsheet(&self, id: &str, sheets: &[(u64, &str)]) -> &Self {
        self.lock().push(Spreadsheet {
            id: id.to_owned(),
            sheets: sheets.iter().map(|(gid, t)| (*gid, (*t).to_owned(), Vec::new())).collect(),
        });
        self
    }

    /// The rows of the sheet titled `title`.
    #[must_use]
    pub fn rows(&self, spreadsheet: &str, title: &str) -> Vec<Vec<Value>> {
        let all = self.lock();
        let sheet = all
            .iter()
            .filter(|s| s.id == spreadsheet)
            .flat_map(|s| &s.sheets)
            .find(|s| s.1 == title);
        sheet.map(|s| s.2.clone()).unwrap_or_default()
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

    fn lock(&self) -> MutexGuard<'_, Vec<Spreadsheet>> {
        self.spreadsheets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn handle(
    State(fake): State<FakeGoogleSheets>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received::from_request(&method, &uri, &headers, &body);
    fake.log.push(received.clone());
    if bearer(&headers) != Some(fake.access_token()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
             cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
    }
    let segments: Vec<String> =
        uri.path().trim_matches('/').split('/').map(decode_segment).collect();
    let mut all = fake.lock();
    let id = segments.get(2).cloned().unwrap_or_default();
    let Some(spreadsheet) = all.iter_mut().find(|s| s.id == id) else {
        return error(StatusCode::NOT_FOUND, "Requested entity was not found.");
    };
    match (method, segments.as_slice()) {
        (Method::GET, [v4, s, _]) if v4 == "v4" && s == "spreadsheets" => {
            let sheets: Vec<Value> = spreadsheet
                .sheets
                .iter()
                .map(|(gid, title, _)| json!({"properties": {"sheetId": gid, "title": title}}))
                .collect();
            (StatusCode::OK, axum::Json(json!({"sheets": sheets}))).into_response()
        }
        (Method::POST, [v4, s, _, values, range])
            if v4 == "v4" && s == "spreadsheets" && values == "values" =>
        {
            let Some(range) = range.strip_suffix(":append") else {
                return error(StatusCode::NOT_FOUND, "Requested entity was not found.");
            };
            append(spreadsheet, range, &query(&uri), &received)
        }
        _ => error(StatusCode::NOT_FOUND, "Requested entity was not found."),
    }
}

fn append(
    spreadsheet: &mut Spreadsheet,
    range: &str,
    query: &[(String, String)],
    received: &Received,
) -> Response {
    match param(query, "valueInputOption") {
        None => return invalid("'valueInputOption' is required but not specified"),
        Some("RAW" | "USER_ENTERED") => {}
        Some(other) => {
            return invalid(&format!(
                "Invalid value at 'value_input_option' \
                 (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), \"{other}\""
            ));
        }
    }
    if !received.is_json() {
        return invalid("Invalid JSON payload received.");
    }
    let Some(rows) = received.body.get("values").and_then(Value::as_array) else {
        return invalid("Invalid JSON payload received. Unknown name \"values\"");
    };
    let rows: Vec<Vec<Value>> =
        rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect();
    let Some(title) = sheet_title(range, spreadsheet) else {
        return invalid(&format!("Unable to parse range: {range}"));
    };
    let Some(sheet) = spreadsheet.sheets.iter_mut().find(|s| s.1 == title) else {
        return invalid(&format!("Unable to parse range: {range}"));
    };
    let first = sheet.2.len() + 1;
    sheet.2.extend(rows.iter().cloned());
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let quoted = format!("'{}'", title.replace('\'', "''"));
    let body = json!({
        "spreadsheetId": spreadsheet.id,
        "tableRange": format!("{quoted}!A1:{}{}", column(columns), first - 1),
        "updates": {
            "spreadsheetId": spreadsheet.id,
            "updatedRange": format!("{quoted}!A{first}:{}{}", column(columns), sheet.2.len()),
            "updatedRows": rows.len(),
            "updatedColumns": columns,
            "updatedCells": rows.iter().map(Vec::len).sum::<usize>(),
        },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The title of the sheet an A1 range names: `'Bob''s'!A1`, `Sheet1!A1`, `Sheet1`, or the first
/// sheet for a bare cell reference such as `A1`.
fn sheet_title(range: &str, spreadsheet: &Spreadsheet) -> Option<String> {
    if let Some(quoted) = range.strip_prefix('\'') {
        let mut title = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                title.push(c);
            } else if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                title.push('\'');
                chars.next();
            } else {
                let rest = &quoted[i + 1..];
                return (rest.is_empty() || rest.starts_with('!')).then_some(title);
            }
        }
        return None;
    }
    let name = range.split('!').next().unwrap_or_default();
    let is_cell = name
        .trim_start_matches(|c: char| c.is_ascii_uppercase())
        .chars()
        .all(|c| c.is_ascii_digit())
        && name.starts_with(|c: char| c.is_ascii_uppercase());
    if !range.contains('!') && is_cell {
        return spreadsheet.sheets.first().map(|s| s.1.clone());
    }
    Some(name.to_owned())
}

/// The letters of the 1-based column `n` (1 → A, 27 → AA).
fn column(mut n: usize) -> String {
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn error(status: StatusCode, message: &str) -> Response {
    let name = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        _ => "INVALID_ARGUMENT",
    };
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, axum::Json(body)).into_response()
}
