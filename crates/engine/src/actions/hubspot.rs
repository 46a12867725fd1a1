//! HubSpot contacts (CRM v3) and workflow enrollment (Workflows API v2), with a private app token
//! (`API_KEY`) or an OAuth access token, both as a bearer token.
//!
//! - `UPSERT_CONTACT`: `POST /crm/v3/objects/contacts/batch/upsert` with one input identified by
//!   `idProperty: "email"`: HubSpot creates the contact or updates the one with that address in a
//!   single call (no search-then-write race). Properties come from `properties` (Auth0's list of
//!   `{property, value}`, or an object) and from any extra params (the action's params are open).
//! - `GET_CONTACT`: `GET /crm/v3/objects/contacts/{email}?idProperty=email`.
//! - `ENROLL_CONTACT`: `POST /automation/v2/workflows/{workflowId}/enrollments/contacts/{email}`,
//!   no body; HubSpot answers 204 with nothing, so the output says what was done:
//!   `{"enrolled": true, "workflow_id": 123, "email": "…"}` (Auth0 documents no output for it).

use flowvault_core::{AppId, SetupType};
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::HubspotOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://api.hubapi.com";
const ERRORS: &[&str] = &["/message", "/errors/0/message"];
/// Params that are not contact properties.
const NOT_PROPERTIES: &[&str] = &["connection_id", "email", "properties"];

pub(super) async fn run(op: HubspotOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let auth = match call.setup_type() {
        Some(SetupType::ApiKey) => Auth::Bearer(call.setup("api_key")?.to_owned()),
        Some(SetupType::OauthCode) => Auth::Bearer(call.access_token()?.to_owned()),
        _ => {
            return Err(ActionError::new(
                "HubSpot actions need an API_KEY or OAUTH_CODE connection",
            ));
        }
    };
    let base = call.http.base(AppId::Hubspot, API);
    let email = call.str("email")?;
    match op {
        HubspotOp::UpsertContact => {
            let mut properties = properties(call)?;
            properties.insert("email".to_owned(), Value::String(email.clone()));
            let body = json!({"inputs": [{
                "idProperty": "email",
                "id": email,
                "properties": properties,
            }]});
            let url = format!("{base}/crm/v3/objects/contacts/batch/upsert");
            let request = Request::new(Method::POST, url).json(body).auth(auth);
            let response =
                Http::expect_success("HUBSPOT", call.http.send(request, true).await?, ERRORS)?;
            // A batch answers 207 with `errors` when an input failed.
            if let Some(message) =
                response.body.pointer("/errors/0/message").and_then(Value::as_str)
            {
                return Err(ActionError {
                    message: format!("HUBSPOT answered {}: {message}", response.status),
                    status: Some(response.status),
                });
            }
            response
                .body
                .pointer("/results/0")
                .cloned()
                .ok_or_else(|| ActionError::new("HubSpot's answer has no contact"))
        }
        HubspotOp::GetContact => {
            let url = format!("{base}/crm/v3/objects/contacts/{}", path_segment(&email)?);
            let request = Request::new(Method::GET, url).query("idProperty", "email").auth(auth);
            Ok(Http::expect_success("HUBSPOT", call.http.send(request, true).await?, ERRORS)?.body)
        }
        HubspotOp::EnrollContact => {
            let workflow = workflow_id(&call.value("workflow_id"))?;
            let url = format!(
                "{base}/automation/v2/workflows/{workflow}/enrollments/contacts/{}",
                path_segment(&email)?
            );
            let request = Request::new(Method::POST, url).auth(auth);
            Http::expect_success("HUBSPOT", call.http.send(request, true).await?, ERRORS)?;
            Ok(json!({"enrolled": true, "workflow_id": workflow, "email": email}))
        }
    }
}

/// A workflow id: HubSpot's are positive integers, given as a number or as a string of digits.
fn workflow_id(value: &Value) -> Result<u64, ActionError> {
    let id = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    };
    id.filter(|&id| id > 0).ok_or_else(|| {
        ActionError::new("param `workflow_id` must be a workflow id (a positive integer)")
    })
}

/// The contact properties: `properties` and the extra params, as HubSpot's string values.
fn properties(call: &Call<'_>) -> Result<Map<String, Value>, ActionError> {
    let mut out = Map::new();
    match call.params.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let name = item
                    .get("property")
                    .or_else(|| item.get("name"))
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        ActionError::new("each of `properties` needs a `property` and a `value`")
                    })?;
                let value = item.get("value").unwrap_or(&Value::Null);
                out.insert(name.to_owned(), Value::String(text(value)));
            }
        }
        Some(Value::Object(map)) => {
            for (name, value) in map {
                out.insert(name.clone(), Value::String(text(value)));
            }
        }
        Some(_) => return Err(ActionError::new("param `properties` must be a list")),
    }
    if let Some(params) = call.params.as_object() {
        for (name, value) in params.iter().filter(|(k, _)| !NOT_PROPERTIES.contains(&k.as_str())) {
            out.insert(name.clone(), Value::String(text(value)));
        }
    }
    Ok(out)
}

/// A property value as HubSpot stores it: text, with the options of a multiple checkbox joined
/// by `;` and null clearing the property.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_hubspot_text() {
        assert_eq!(text(&json!(["a", "b"])), "a;b");
        assert_eq!(text(&json!(42)), "42");
        assert_eq!(text(&json!(true)), "true");
        assert_eq!(text(&Value::Null), "");
    }

    #[test]
    fn workflow_ids_are_positive_integers() {
        assert_eq!(workflow_id(&json!(123)), Ok(123));
        assert_eq!(workflow_id(&json!("0042")), Ok(42));
        for bad in [json!(0), json!(-1), json!(1.5), json!(""), json!("12/../3"), json!(null)] {
            assert!(workflow_id(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_address_with_a_plus_stays_one_segment() {
        assert_eq!(
            path_segment("jane+tag@example.com").unwrap_or_default(),
            "jane%2Btag%40example.com"
        );
    }
}
