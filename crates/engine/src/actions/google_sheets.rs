//! Google Sheets `ADD_ROW`: `POST /v4/spreadsheets/{id}/values/{range}:append` (Sheets API v4),
//! OAuth bearer token, `insertDataOption=INSERT_ROWS`.
//!
//! `sheet_id` names the sheet (tab):
//! - absent: the range is `A1`, which the API reads as the first visible sheet;
//! - a JSON number: a sheet id (the `gid` of the sheet's URL), resolved to its title with
//!   `GET /v4/spreadsheets/{id}?fields=sheets.properties(sheetId,title)`;
//! - a string of digits: a sheet id if the spreadsheet has one, else a title;
//! - any other string: a title.
//!
//! Values go in with `valueInputOption=RAW`: what a form user typed is stored as typed, so text
//! such as `=IMPORTXML(…)` never becomes a formula. A list of lists appends several rows.

use flowvault_core::AppId;
use http::Method;
use serde_json::{Value, json};

use flowvault_core::GoogleSheetsOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://sheets.googleapis.com";
const ERRORS: &[&str] = &["/error/message", "/error/status"];

pub(super) async fn run(op: GoogleSheetsOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let GoogleSheetsOp::AddRow = op;
    let token = call.access_token()?.to_owned();
    let spreadsheet = format!(
        "{}/v4/spreadsheets/{}",
        call.http.base(AppId::GoogleSheets, API),
        path_segment(&call.str("spreadsheet_id")?)?
    );
    let range = match call.params.get("sheet_id") {
        None | Some(Value::Null) => "A1".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "A1".to_owned(),
        Some(Value::Number(n)) => {
            let gid =
                n.as_u64().ok_or_else(|| ActionError::new("param `sheet_id` is not a sheet id"))?;
            quote(&title_of(call, &spreadsheet, &token, gid).await?.ok_or_else(|| {
                ActionError::new(format!("the spreadsheet has no sheet with id {gid}"))
            })?)
        }
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(gid) => quote(
                &title_of(call, &spreadsheet, &token, gid).await?.unwrap_or_else(|| s.clone()),
            ),
            Err(_) => quote(s),
        },
        Some(_) => return Err(ActionError::new("param `sheet_id` must be a sheet id or name")),
    };
    let url = format!("{spreadsheet}/values/{}:append", path_segment(&range)?);
    let request = Request::new(Method::POST, url)
        .query("valueInputOption", "RAW")
        .query("insertDataOption", "INSERT_ROWS")
        .json(json!({"majorDimension": "ROWS", "values": rows(&call.value("values"))?}))
        .auth(Auth::Bearer(token));
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("GOOGLE_SHEETS", response, ERRORS)?.body)
}

/// The title of the sheet whose id is `gid`, if there is one.
async fn title_of(
    call: &Call<'_>,
    spreadsheet: &str,
    token: &str,
    gid: u64,
) -> Result<Option<String>, ActionError> {
    let request = Request::new(Method::GET, spreadsheet)
        .query("fields", "sheets.properties(sheetId,title)")
        .auth(Auth::Bearer(token.to_owned()));
    let response =
        Http::expect_success("GOOGLE_SHEETS", call.http.send(request, true).await?, ERRORS)?;
    let sheets = response.body.get("sheets").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(sheets.iter().find_map(|sheet| {
        let properties = sheet.get("properties")?;
        (properties.get("sheetId")?.as_u64()? == gid)
            .then(|| properties.get("title")?.as_str().map(str::to_owned))
            .flatten()
    }))
}

/// The rows to append: one row, or several when `values` is a list of lists.
fn rows(values: &Value) -> Result<Vec<Vec<Value>>, ActionError> {
    match values {
        Value::Null => Ok(vec![Vec::new()]),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_array) => Ok(items
            .iter()
            .map(|row| {
                row.as_array().map(|cells| cells.iter().map(cell).collect()).unwrap_or_default()
            })
            .collect()),
        Value::Array(items) => Ok(vec![items.iter().map(cell).collect()]),
        _ => Err(ActionError::new("param `values` must be a list")),
    }
}

/// A cell value: strings, numbers and booleans as they are; null as an empty cell; anything else
/// as its JSON text.
fn cell(value: &Value) -> Value {
    match value {
        Value::Null => Value::String(String::new()),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

/// A sheet title in A1 notation: quoted, with quotes doubled (`'Bob''s sheet'`).
fn quote(title: &str) -> String {
    format!("'{}'", title.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_quoted_in_a1_notation() {
        assert_eq!(quote("Bob's sheet"), "'Bob''s sheet'");
    }

    #[test]
    fn a_list_of_lists_is_several_rows() {
        assert_eq!(
            rows(&json!([["a", 1], ["b", null]])).unwrap_or_default(),
            vec![vec![json!("a"), json!(1)], vec![json!("b"), json!("")]]
        );
        assert_eq!(
            rows(&json!(["a", {"k": 1}])).unwrap_or_default(),
            vec![vec![json!("a"), json!("{\"k\":1}")]]
        );
    }
}
