//! ActiveCampaign (API v3), on the account's own API URL (the setup's `base_url`, e.g.
//! `https://acme.api-us1.com`), with the `Api-Token` header:
//! - `UPSERT_CONTACT`: `POST /api/3/contact/sync`, which creates the contact or updates the one
//!   with that e-mail address. `custom_fields` maps custom field ids to values (`fieldValues`).
//! - `LIST_CONTACTS`: `GET /api/3/contacts?email=`.

use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::ActivecampaignOp;

use super::{ActionError, Auth, Call, Http, Request};

const ERRORS: &[&str] = &["/message", "/errors/0/title", "/errors/0/detail"];

pub(super) async fn run(op: ActivecampaignOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let token = call.setup("api_key")?.to_owned();
    let base = api_root(call.setup("base_url")?);
    let email = call.str("email")?;
    let request = match op {
        ActivecampaignOp::UpsertContact => {
            let mut contact = Map::new();
            contact.insert("email".to_owned(), Value::String(email));
            for (field, param) in
                [("firstName", "first_name"), ("lastName", "last_name"), ("phone", "phone")]
            {
                if let Some(value) = call.opt_str(param) {
                    contact.insert(field.to_owned(), Value::String(value));
                }
            }
            if let Some(custom) = call.object("custom_fields")? {
                let values: Vec<Value> = custom
                    .iter()
                    .map(|(field, value)| json!({"field": field, "value": text(value)}))
                    .collect();
                contact.insert("fieldValues".to_owned(), Value::Array(values));
            }
            Request::new(Method::POST, format!("{base}/api/3/contact/sync"))
                .json(json!({"contact": contact}))
        }
        ActivecampaignOp::ListContacts => {
            Request::new(Method::GET, format!("{base}/api/3/contacts")).query("email", email)
        }
    };
    let response = call.http.send(request.auth(Auth::Header("api-token", token)), true).await?;
    Ok(Http::expect_success("ACTIVECAMPAIGN", response, ERRORS)?.body)
}

/// The account's URL without a trailing `/` or `/api/3` (people paste either).
fn api_root(base_url: &str) -> String {
    let trimmed = base_url.trim().trim_end_matches('/');
    trimmed.strip_suffix("/api/3").unwrap_or(trimmed).to_owned()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_ignores_a_pasted_api_path() {
        assert_eq!(api_root("https://acme.api-us1.com/api/3/"), "https://acme.api-us1.com");
        assert_eq!(api_root("https://acme.api-us1.com"), "https://acme.api-us1.com");
    }
}
