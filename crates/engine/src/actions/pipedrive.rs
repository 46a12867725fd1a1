//! Pipedrive (API v1): `ADD_PERSON` (`POST /v1/persons`), `ADD_DEAL` (`POST /v1/deals`) and
//! `ADD_ORGANIZATION` (`POST /v1/organizations`), JSON bodies. A `TOKEN` connection sends its API
//! token as the `api_token` query parameter, an `OAUTH_CODE` connection its access token as a
//! bearer token. `fields` holds custom fields (keyed by Pipedrive's 40-character hashes) and is
//! merged into the body; the named params win over it.
//!
//! An OAuth connection calls the company's own domain (`api_domain` of the token response, kept
//! with its tokens); a `TOKEN` connection `https://api.pipedrive.com`; an operator's `base_url`
//! wins over both (for fakes).

use flowvault_core::{AppId, SetupType};
use http::Method;
use serde_json::{Map, Value};

use flowvault_core::PipedriveOp;

use super::{ActionError, Auth, Call, Http, Request};

const API: &str = "https://api.pipedrive.com";
const ERRORS: &[&str] = &["/error", "/message"];

pub(super) async fn run(op: PipedriveOp, call: &Call<'_>) -> Result<Value, ActionError> {
    // (body field, param, is an id)
    let (resource, params): (&str, &[(&str, &str, bool)]) = match op {
        PipedriveOp::AddPerson => (
            "persons",
            &[
                ("name", "name", false),
                ("email", "email", false),
                ("phone", "phone", false),
                ("owner_id", "owner_id", true),
                ("org_id", "organization_id", true),
            ],
        ),
        PipedriveOp::AddDeal => (
            "deals",
            &[
                ("title", "title", false),
                ("value", "value", false),
                ("user_id", "user_id", true),
                ("person_id", "person_id", true),
                ("org_id", "organization_id", true),
                ("stage_id", "stage_id", true),
            ],
        ),
        PipedriveOp::AddOrganization => {
            ("organizations", &[("name", "name", false), ("owner_id", "owner_id", true)])
        }
    };
    let mut body: Map<String, Value> = call.object("fields")?.cloned().unwrap_or_default();
    for (field, param, is_id) in params {
        match call.params.get(*param) {
            None | Some(Value::Null) => {}
            Some(value) if *is_id => {
                body.insert((*field).to_owned(), id(value));
            }
            Some(_) => {
                body.insert(
                    (*field).to_owned(),
                    Value::String(call.opt_str(param).unwrap_or_default()),
                );
            }
        }
    }
    let url = format!("{}/v1/{resource}", call.base(AppId::Pipedrive, API));
    let mut request = Request::new(Method::POST, url).json(Value::Object(body));
    match call.setup_type() {
        Some(SetupType::Token) => request = request.query("api_token", call.setup("token")?),
        Some(SetupType::OauthCode) => {
            request = request.auth(Auth::Bearer(call.access_token()?.to_owned()));
        }
        _ => {
            return Err(ActionError::new(
                "Pipedrive actions need a TOKEN or OAUTH_CODE connection",
            ));
        }
    }
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("PIPEDRIVE", response, ERRORS)?.body)
}

/// Pipedrive ids are integers; a form or template often gives them as text.
fn id(value: &Value) -> Value {
    match value {
        Value::String(s) => s.trim().parse::<u64>().map_or_else(|_| value.clone(), Value::from),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numeric_ids_become_numbers() {
        assert_eq!(id(&json!("42")), json!(42));
        assert_eq!(id(&json!(7)), json!(7));
        assert_eq!(id(&json!("abc")), json!("abc"));
    }
}
