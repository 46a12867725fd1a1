//! Airtable records (Web API v0), with a personal access token as a bearer token:
//! `CREATE_RECORD` (`POST /v0/{base}/{table}` with `{"fields": …}`), `LIST_RECORDS`
//! (`GET /v0/{base}/{table}?filterByFormula=…&view=…`) and `UPDATE_RECORD`
//! (`PATCH /v0/{base}/{table}/{record}`: only the given fields change). The table may be named by
//! its name or its id; either is one path segment, percent-encoded.
//!
//! Values are not type-cast (`typecast` stays off, Airtable's default): a value that does not fit
//! its field is Airtable's 422 error rather than a silently created select option.

use flowvault_core::AppId;
use http::Method;
use serde_json::{Value, json};

use flowvault_core::AirtableOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://api.airtable.com";
const ERRORS: &[&str] = &["/error/message", "/error/type", "/error"];

pub(super) async fn run(op: AirtableOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let token = call.setup("api_key")?.to_owned();
    let table = format!(
        "{}/v0/{}/{}",
        call.http.base(AppId::Airtable, API),
        path_segment(&call.str("base_id")?)?,
        path_segment(&call.str("table_name")?)?
    );
    let request = match op {
        AirtableOp::CreateRecord => {
            Request::new(Method::POST, table).json(json!({"fields": fields(call)?}))
        }
        AirtableOp::ListRecords => {
            let mut request = Request::new(Method::GET, table);
            if let Some(formula) = call.opt_str("query").filter(|q| !q.is_empty()) {
                request = request.query("filterByFormula", formula);
            }
            if let Some(view) = call.opt_str("view").filter(|v| !v.is_empty()) {
                request = request.query("view", view);
            }
            request
        }
        AirtableOp::UpdateRecord => {
            let url = format!("{table}/{}", path_segment(&call.str("record_id")?)?);
            Request::new(Method::PATCH, url).json(json!({"fields": fields(call)?}))
        }
    };
    let response = call.http.send(request.auth(Auth::Bearer(token)), true).await?;
    Ok(Http::expect_success("AIRTABLE", response, ERRORS)?.body)
}

fn fields(call: &Call<'_>) -> Result<Value, ActionError> {
    Ok(Value::Object(call.object("fields")?.cloned().unwrap_or_default()))
}
