//! BigQuery `INSERT_ROWS`: one row streamed into a table with `tabledata.insertAll`
//! (`POST /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}/insertAll`), JSON
//! `{"rows": [{"json": data}]}`, with the access token the connection's service account got from
//! the JWT bearer grant (scope `https://www.googleapis.com/auth/bigquery`, one of those insertAll
//! accepts). The project is the connection's `project_id`.
//!
//! `data` is one row: Auth0's schema makes it an object, so a list (several rows) is refused
//! rather than guessed at. Unknown columns are not dropped (`ignoreUnknownValues` stays off): a
//! form field the table lacks is an error, not a silent loss.
//!
//! BigQuery answers 200 even when it refuses the row, listing why in `insertErrors`: that answer
//! is an error with the first reason it gives. The output is `{"inserted": 1}` (BigQuery's own
//! answer holds nothing more).

use flowvault_core::AppId;
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::BigqueryOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment, provider_error};

const API: &str = "https://bigquery.googleapis.com";
const ERRORS: &[&str] = &["/error/message", "/error/status"];
/// Where a 200 answer says why the row was refused: the first error's message, else its reason.
const INSERT_ERRORS: &[&str] =
    &["/insertErrors/0/errors/0/message", "/insertErrors/0/errors/0/reason"];

pub(super) async fn run(op: BigqueryOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let BigqueryOp::InsertRows = op;
    let token = call.access_token()?.to_owned();
    let url = format!(
        "{}/bigquery/v2/projects/{}/datasets/{}/tables/{}/insertAll",
        call.http.base(AppId::Bigquery, API),
        path_segment(call.setup("project_id")?)?,
        path_segment(&call.str("dataset_id")?)?,
        path_segment(&call.str("table_id")?)?,
    );
    let request = Request::new(Method::POST, url)
        .json(json!({"rows": [{"json": row(call.params.get("data"))?}]}))
        .auth(Auth::Bearer(token));
    let response = Http::expect_success("BIGQUERY", call.http.send(request, true).await?, ERRORS)?;
    if refused(&response.body) {
        return Err(provider_error("BIGQUERY", &response, INSERT_ERRORS));
    }
    Ok(json!({"inserted": 1}))
}

/// Whether a 200 answer lists insert errors (anything but an absent, null or empty list).
fn refused(body: &Value) -> bool {
    match body.get("insertErrors") {
        None | Some(Value::Null) => false,
        Some(Value::Array(errors)) => !errors.is_empty(),
        Some(_) => true,
    }
}

/// The row to insert: `data`, or an empty row (every column null) when it is absent.
fn row(data: Option<&Value>) -> Result<Map<String, Value>, ActionError> {
    match data {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(row)) => Ok(row.clone()),
        Some(Value::Array(_)) => Err(ActionError::new(
            "param `data` must be an object (one row); a list of rows is not supported",
        )),
        Some(_) => Err(ActionError::new("param `data` must be an object (one row)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_one_row() {
        assert_eq!(row(None), Ok(Map::new()));
        assert_eq!(row(Some(&Value::Null)), Ok(Map::new()));
        let one = json!({"email": "a@example.com", "age": 31});
        assert_eq!(row(Some(&one)).map(Value::Object), Ok(one));
        let many = row(Some(&json!([{"a": 1}, {"a": 2}]))).err().map(|e| e.message);
        assert!(many.is_some_and(|m| m.contains("a list of rows is not supported")));
        assert!(row(Some(&json!("a=1"))).is_err());
    }

    #[test]
    fn only_listed_insert_errors_refuse() {
        assert!(!refused(&json!({"kind": "bigquery#tableDataInsertAllResponse"})));
        assert!(!refused(&json!({"insertErrors": null})));
        assert!(!refused(&json!({"insertErrors": []})));
        assert!(refused(&json!({"insertErrors": [{"index": 0, "errors": []}]})));
    }
}
