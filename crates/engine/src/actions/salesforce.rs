//! Salesforce leads (REST API v60.0), OAuth bearer token:
//! - `CREATE_LEAD`: `POST /services/data/v60.0/sobjects/Lead` (`payload` holds more fields; the
//!   named params win over it);
//! - `GET_LEAD`: `GET …/sobjects/Lead/{id}`;
//! - `UPDATE_LEAD`: `PATCH …/sobjects/Lead/{id}` (Salesforce answers 204; the output is
//!   `{"id", "success": true}`);
//! - `SEARCH_LEADS`: SOQL (`GET …/query?q=SELECT … FROM Lead WHERE Email = '…'`) for `email`,
//!   `name` and `phone`, exact and immediately consistent; SOSL
//!   (`GET …/search?q=FIND {…} IN ALL FIELDS RETURNING Lead(…)`) for `all`. The output is
//!   `{"totalSize", "done", "records"}` either way.
//!
//! Nothing from a param reaches a query unescaped: the search value is a SOQL string literal with
//! every reserved character escaped (or a SOSL term with every operator character escaped), and
//! `lead_fields` must be field names (letters, digits, `_`, `.` for relationships).
//!
//! The API lives on the org's instance: `instance_url` of the token response, kept with the
//! connection's tokens (an operator's `base_url` wins, for fakes; `https://login.salesforce.com`
//! if neither is known).

use flowvault_core::AppId;
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::SalesforceOp;

use super::{ActionError, Auth, Call, Http, Request};

const API: &str = "https://login.salesforce.com";
const VERSION: &str = "v60.0";
/// Salesforce answers errors as a list of `{message, errorCode}`.
const ERRORS: &[&str] = &["/0/message", "/message", "/error_description"];
/// The most leads a search returns.
const LIMIT: u32 = 200;

pub(super) async fn run(op: SalesforceOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let token = call.access_token()?.to_owned();
    let data = format!("{}/services/data/{VERSION}", call.base(AppId::Salesforce, API));
    let leads = format!("{data}/sobjects/Lead");
    match op {
        SalesforceOp::CreateLead => {
            let mut lead = call.object("payload")?.cloned().unwrap_or_default();
            for (field, param) in [
                ("FirstName", "first_name"),
                ("LastName", "last_name"),
                ("Company", "company"),
                ("Email", "email"),
                ("Phone", "phone"),
            ] {
                if let Some(value) = call.opt_str(param) {
                    lead.insert(field.to_owned(), Value::String(value));
                }
            }
            send(call, Request::new(Method::POST, leads).json(Value::Object(lead)), token).await
        }
        SalesforceOp::GetLead => {
            let url = format!("{leads}/{}", record_id(&call.str("lead_id")?)?);
            send(call, Request::new(Method::GET, url), token).await
        }
        SalesforceOp::UpdateLead => {
            let id = record_id(&call.str("lead_id")?)?;
            let payload = call.object("payload")?.cloned().unwrap_or_default();
            let request =
                Request::new(Method::PATCH, format!("{leads}/{id}")).json(Value::Object(payload));
            send(call, request, token).await?;
            Ok(json!({"id": id, "success": true}))
        }
        SalesforceOp::SearchLeads => {
            let fields = field_list(&call.value("lead_fields"))?;
            let value = call.str("search_value")?;
            let column = match call.str("search_field")?.as_str() {
                "email" => "Email",
                "name" => "Name",
                "phone" => "Phone",
                "all" => {
                    let sosl = format!(
                        "FIND {{{}}} IN ALL FIELDS RETURNING Lead({fields}) LIMIT {LIMIT}",
                        sosl_term(&value)
                    );
                    let request =
                        Request::new(Method::GET, format!("{data}/search")).query("q", sosl);
                    let body = send(call, request, token).await?;
                    let records = body.get("searchRecords").cloned().unwrap_or(json!([]));
                    let total = records.as_array().map_or(0, Vec::len);
                    return Ok(json!({"totalSize": total, "done": true, "records": records}));
                }
                other => {
                    return Err(ActionError::new(format!(
                        "param `search_field` must be email, name, phone or all, not `{other}`"
                    )));
                }
            };
            let soql = format!(
                "SELECT {fields} FROM Lead WHERE {column} = '{}' LIMIT {LIMIT}",
                soql_literal(&value)
            );
            let request = Request::new(Method::GET, format!("{data}/query")).query("q", soql);
            let body = send(call, request, token).await?;
            let mut out = Map::new();
            for key in ["totalSize", "done", "records"] {
                out.insert(key.to_owned(), body.get(key).cloned().unwrap_or(Value::Null));
            }
            Ok(Value::Object(out))
        }
    }
}

async fn send(call: &Call<'_>, request: Request, token: String) -> Result<Value, ActionError> {
    let response = call.http.send(request.auth(Auth::Bearer(token)), true).await?;
    Ok(Http::expect_success("SALESFORCE", response, ERRORS)?.body)
}

/// A Salesforce record id: 15 or 18 letters and digits.
fn record_id(id: &str) -> Result<String, ActionError> {
    let id = id.trim();
    if matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id.to_owned())
    } else {
        Err(ActionError::new(
            "param `lead_id` is not a Salesforce id (15 or 18 letters and digits)",
        ))
    }
}

/// The `SELECT` list: `Id` first, then each named field once. Field names are checked, never
/// quoted, so anything else is refused.
fn field_list(fields: &Value) -> Result<String, ActionError> {
    let names = match fields {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::trim).ok_or_else(not_a_field))
            .collect::<Result<Vec<_>, _>>()?,
        Value::String(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect(),
        _ => return Err(not_a_field()),
    };
    let mut out: Vec<&str> = vec!["Id"];
    for name in names {
        let valid = name.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid {
            return Err(ActionError::new(format!("`{name}` in `lead_fields` is not a field name")));
        }
        if !out.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            out.push(name);
        }
    }
    Ok(out.join(", "))
}

fn not_a_field() -> ActionError {
    ActionError::new("param `lead_fields` must be a list of field names")
}

/// `s` inside a SOQL string literal (`'…'`), with Salesforce's escape sequences.
fn soql_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a literal SOSL search term: every character SOSL reads as an operator is escaped, and
/// control characters are dropped.
fn sosl_term(s: &str) -> String {
    const RESERVED: &str = "?&|!{}[]()^~*:\\\"'+-";
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| !c.is_control()) {
        if RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_cannot_leave_the_soql_literal() {
        assert_eq!(soql_literal("x' OR Name != '"), "x\\' OR Name != \\'");
        assert_eq!(soql_literal("a\\' b"), "a\\\\\\' b");
        assert_eq!(soql_literal("l1\nl2\u{7}"), "l1\\nl2\\u0007");
    }

    #[test]
    fn a_value_cannot_leave_the_sosl_term() {
        assert_eq!(sosl_term("} RETURNING User(Id"), "\\} RETURNING User\\(Id");
        assert_eq!(sosl_term("a*b-c"), "a\\*b\\-c");
    }

    #[test]
    fn field_names_are_checked() {
        assert_eq!(
            field_list(&json!(["Email", "Owner.Name", "Score__c", "id"])).ok().as_deref(),
            Some("Id, Email, Owner.Name, Score__c")
        );
        assert!(field_list(&json!(["Email FROM User --"])).is_err());
        assert!(field_list(&json!(["Name)"])).is_err());
        assert!(field_list(&json!([1])).is_err());
    }

    #[test]
    fn record_ids_are_checked() {
        assert!(record_id("00Q5e00000AbCdE").is_ok());
        assert!(record_id("00Q5e00000AbCdEFGH").is_ok());
        assert!(record_id("../../sobjects/User").is_err());
    }
}
