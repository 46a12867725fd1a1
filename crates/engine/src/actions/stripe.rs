//! Stripe customers: `CREATE_CUSTOMER` (`POST /v1/customers`), `GET_CUSTOMER`
//! (`GET /v1/customers/{id}`), `UPDATE_CUSTOMER` (`POST /v1/customers/{id}`) and `FIND_CUSTOMERS`
//! (`GET /v1/customers?email=`); their tax ids: `ADD_TAX_ID`
//! (`POST /v1/customers/{customer}/tax_ids`) and `DELETE_TAX_ID`
//! (`DELETE /v1/customers/{customer}/tax_ids/{id}`); and `CREATE_PORTAL_SESSION`
//! (`POST /v1/billing_portal/sessions`), whose `url` sends the customer to Stripe's billing
//! portal. Bodies are form-encoded with Stripe's bracket notation for nested objects
//! (`address[city]`, `metadata[plan]`, `tax_id_data[0][type]`). A `KEY_PAIR` connection
//! authenticates with its secret key, an `OAUTH_CODE` (Connect) connection with its access token,
//! both as a bearer token. The output is Stripe's answer as is.
//!
//! `FIND_CUSTOMERS` uses the list endpoint's `email` filter rather than the Search API: Stripe
//! documents search as eventually consistent ("don't use search in read-after-write flows") and
//! unavailable to merchants in India, while the list filter is an exact, immediately consistent
//! match (case-sensitive, as Stripe stores the address).

use flowvault_core::{AppId, SetupType};
use http::Method;
use serde_json::Value;

use flowvault_core::StripeOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://api.stripe.com";
const ERRORS: &[&str] = &["/error/message"];
/// The customer fields both create and update take, sent as given.
const TEXT_FIELDS: &[&str] = &["name", "description", "email", "phone", "tax_exempt"];
/// The most customers one list request returns.
const PAGE: &str = "100";

pub(super) async fn run(op: StripeOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let auth = auth(call)?;
    let base = call.http.base(AppId::Stripe, API);
    let request = match op {
        StripeOp::CreateCustomer => {
            let mut form = customer_form(call)?;
            if let Some(tax_id) = call.params.get("tax_id").filter(|v| !v.is_null()) {
                // The flow param is one tax id ({type, value}); Stripe takes a list.
                let list = match tax_id {
                    Value::Array(_) => tax_id.clone(),
                    Value::Object(_) => Value::Array(vec![tax_id.clone()]),
                    _ => return Err(ActionError::new("param `tax_id` must be an object")),
                };
                flatten("tax_id_data", &list, &mut form);
            }
            Request::new(Method::POST, format!("{base}/v1/customers")).form(form)
        }
        StripeOp::GetCustomer => Request::new(
            Method::GET,
            format!("{base}/v1/customers/{}", path_segment(&call.str("id")?)?),
        ),
        StripeOp::UpdateCustomer => {
            let url = format!("{base}/v1/customers/{}", path_segment(&call.str("id")?)?);
            Request::new(Method::POST, url).form(customer_form(call)?)
        }
        StripeOp::FindCustomers => Request::new(Method::GET, format!("{base}/v1/customers"))
            .query("email", call.str("email")?)
            .query("limit", PAGE),
        StripeOp::AddTaxId => {
            let form = vec![
                ("type".to_owned(), call.str("type")?),
                ("value".to_owned(), call.str("value")?),
            ];
            Request::new(Method::POST, format!("{}/tax_ids", customer_url(call, &base)?)).form(form)
        }
        StripeOp::DeleteTaxId => {
            let url = format!(
                "{}/tax_ids/{}",
                customer_url(call, &base)?,
                path_segment(&call.str("id")?)?
            );
            Request::new(Method::DELETE, url)
        }
        StripeOp::CreatePortalSession => {
            let mut form = vec![("customer".to_owned(), call.str("customer_id")?)];
            // Empty means "not given": Stripe refuses an empty URL, and without one the portal
            // uses the account's default return URL.
            if let Some(url) = call.opt_str("return_url").filter(|u| !u.is_empty()) {
                form.push(("return_url".to_owned(), url));
            }
            Request::new(Method::POST, format!("{base}/v1/billing_portal/sessions")).form(form)
        }
    };
    let response = call.http.send(request.auth(auth), true).await?;
    Ok(Http::expect_success("STRIPE", response, ERRORS)?.body)
}

/// `{base}/v1/customers/{customer_id}`, the customer whose tax ids an action changes.
fn customer_url(call: &Call<'_>, base: &str) -> Result<String, ActionError> {
    Ok(format!("{base}/v1/customers/{}", path_segment(&call.str("customer_id")?)?))
}

fn auth(call: &Call<'_>) -> Result<Auth, ActionError> {
    match call.setup_type() {
        Some(SetupType::KeyPair) => Ok(Auth::Bearer(call.setup("private_key")?.to_owned())),
        Some(SetupType::OauthCode) => Ok(Auth::Bearer(call.access_token()?.to_owned())),
        _ => Err(ActionError::new("Stripe actions need a KEY_PAIR or OAUTH_CODE connection")),
    }
}

/// The fields create and update share, in Stripe's form encoding.
fn customer_form(call: &Call<'_>) -> Result<Vec<(String, String)>, ActionError> {
    let mut form = Vec::new();
    for name in TEXT_FIELDS {
        if let Some(value) = call.opt_str(name) {
            form.push(((*name).to_owned(), value));
        }
    }
    if let Some(address) = call.object("address")? {
        // Auth0's address names one field its own way; the others are Stripe's names already.
        let address = address
            .iter()
            .map(|(k, v)| (if k == "postalCode" { "postal_code" } else { k.as_str() }, v));
        for (k, v) in address {
            flatten(&format!("address[{k}]"), v, &mut form);
        }
    }
    if let Some(metadata) = call.object("metadata")? {
        flatten("metadata", &Value::Object(metadata.clone()), &mut form);
    }
    Ok(form)
}

/// `value` under `key` in bracket notation: `address[city]=Paris`, `tax_id_data[0][type]=eu_vat`.
/// A nested null becomes an empty string, which is how Stripe unsets a field (a metadata key).
fn flatten(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{key}[{k}]"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{key}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((key.to_owned(), s.clone())),
        Value::Null => out.push((key.to_owned(), String::new())),
        other => out.push((key.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_objects_use_bracket_notation() {
        let mut out = Vec::new();
        flatten("address", &json!({"city": "Paris", "line1": "1 rue X"}), &mut out);
        flatten("tax_id_data", &json!([{"type": "eu_vat", "value": "FR1"}]), &mut out);
        flatten("metadata", &json!({"plan": null, "seats": 3}), &mut out);
        let pairs: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("address[city]", "Paris"),
                ("address[line1]", "1 rue X"),
                ("tax_id_data[0][type]", "eu_vat"),
                ("tax_id_data[0][value]", "FR1"),
                ("metadata[plan]", ""),
                ("metadata[seats]", "3"),
            ]
        );
    }

    #[test]
    fn ids_cannot_leave_their_path_segment() {
        assert_eq!(
            path_segment("cus_1/../charges?x=1 y").unwrap_or_default(),
            "cus_1%2F..%2Fcharges%3Fx%3D1%20y"
        );
        for bad in ["", ".", ".."] {
            assert!(path_segment(bad).is_err(), "{bad:?}");
        }
    }
}
