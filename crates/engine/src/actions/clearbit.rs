//! Clearbit enrichment (v2), secret key as a bearer token: `FIND_PERSON`
//! (`GET https://person.clearbit.com/v2/people/find?email=`) and `FIND_COMPANY`
//! (`GET https://company.clearbit.com/v2/companies/find?domain=`). A configured base URL replaces
//! both hosts.
//!
//! Clearbit answers `202 Accepted` when it has queued a lookup it could not finish in time; the
//! output is then `{"status": 202, "pending": true}` so a flow can tell "not yet" from "found".

use flowvault_core::AppId;
use http::Method;
use serde_json::{Value, json};

use flowvault_core::ClearbitOp;

use super::{ActionError, Auth, Call, Http, Request};

const PERSON_API: &str = "https://person.clearbit.com";
const COMPANY_API: &str = "https://company.clearbit.com";
const ERRORS: &[&str] = &["/error/message", "/error/type"];

pub(super) async fn run(op: ClearbitOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let key = call.setup("secret_key")?.to_owned();
    let request = match op {
        ClearbitOp::FindPerson => {
            let url = format!("{}/v2/people/find", call.http.base(AppId::Clearbit, PERSON_API));
            Request::new(Method::GET, url).query("email", call.str("email")?)
        }
        ClearbitOp::FindCompany => {
            let url = format!("{}/v2/companies/find", call.http.base(AppId::Clearbit, COMPANY_API));
            Request::new(Method::GET, url).query("domain", call.str("domain")?)
        }
    };
    let response = call.http.send(request.auth(Auth::Bearer(key)), true).await?;
    let response = Http::expect_success("CLEARBIT", response, ERRORS)?;
    if response.status == 202 {
        return Ok(json!({"status": 202, "pending": true}));
    }
    Ok(response.body)
}
