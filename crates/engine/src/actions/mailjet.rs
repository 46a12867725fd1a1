//! Mailjet `SEND_EMAIL`: Send API v3.1 (`POST /v3.1/send`), HTTP Basic with the API key and the
//! secret key. One message: `From` (`from_email`, `from_name`), `To` (`to`: an address, several
//! separated by commas, or a list of addresses or `{email, name}`), `Subject`, and either the
//! `content` (sent as `HTMLPart` when it looks like HTML, else as `TextPart`) or a template
//! (`template_id` with `variables`, `TemplateLanguage` on so the variables are applied).
//! [`send`] is the one request, which `AUTH0 SEND_EMAIL` uses too (through the delivery
//! settings).

use flowvault_core::AppId;
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::MailjetOp;

use super::{ActionError, Auth, Call, Http, Request};

const API: &str = "https://api.mailjet.com";
const ERRORS: &[&str] = &["/Messages/0/Errors/0/ErrorMessage", "/ErrorMessage", "/ErrorInfo"];

pub(super) async fn run(op: MailjetOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let MailjetOp::SendEmail = op;
    let mut message = Map::new();
    let mut from = json!({"Email": call.str("from_email")?});
    if let Some(name) = call.opt_str("from_name").filter(|n| !n.is_empty()) {
        from["Name"] = Value::String(name);
    }
    message.insert("From".to_owned(), from);
    message.insert("To".to_owned(), Value::Array(recipients(&call.value("to"))?));
    if let Some(subject) = call.opt_str("subject") {
        message.insert("Subject".to_owned(), Value::String(subject));
    }
    if let Some(content) = call.opt_str("content").filter(|c| !c.is_empty()) {
        let part = if looks_like_html(&content) { "HTMLPart" } else { "TextPart" };
        message.insert(part.to_owned(), Value::String(content));
    }
    if let Some(template) = call.opt_str("template_id").filter(|t| !t.is_empty()) {
        let id: u64 = template
            .trim()
            .parse()
            .map_err(|_| ActionError::new("param `template_id` must be a number"))?;
        message.insert("TemplateID".to_owned(), Value::from(id));
        message.insert("TemplateLanguage".to_owned(), Value::Bool(true));
        if let Some(variables) = call.object("variables")? {
            message.insert("Variables".to_owned(), Value::Object(variables.clone()));
        }
    }
    send(call, message).await
}

/// Sends one Send API v3.1 `message` with the connection's keys; the output is Mailjet's answer.
pub(super) async fn send(
    call: &Call<'_>,
    message: Map<String, Value>,
) -> Result<Value, ActionError> {
    let key = call.setup("api_key")?.to_owned();
    let secret = call.setup("secret_key")?.to_owned();
    let url = format!("{}/v3.1/send", call.http.base(AppId::Mailjet, API));
    let request = Request::new(Method::POST, url)
        .json(json!({"Messages": [message]}))
        .auth(Auth::Basic(key, secret));
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("MAILJET", response, ERRORS)?.body)
}

/// `to` as Mailjet recipients.
fn recipients(to: &Value) -> Result<Vec<Value>, ActionError> {
    let out: Vec<Value> = match to {
        Value::String(s) => s
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|email| json!({"Email": email}))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(email) => Ok(json!({"Email": email.trim()})),
                Value::Object(o) => {
                    let email = o
                        .get("email")
                        .or_else(|| o.get("Email"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                        ActionError::new("each recipient in `to` needs an email")
                    })?;
                    let mut r = json!({"Email": email});
                    if let Some(name) =
                        o.get("name").or_else(|| o.get("Name")).and_then(Value::as_str)
                    {
                        r["Name"] = Value::String(name.to_owned());
                    }
                    Ok(r)
                }
                _ => Err(ActionError::new("param `to` must hold e-mail addresses")),
            })
            .collect::<Result<_, _>>()?,
        Value::Object(_) => return recipients(&Value::Array(vec![to.clone()])),
        _ => Vec::new(),
    };
    if out.is_empty() {
        return Err(ActionError::new("param `to` is empty"));
    }
    Ok(out)
}

/// Whether `content` has an HTML tag (`<p>`, `</div>`, `<br/>`, `<!DOCTYPE html>`).
pub(super) fn looks_like_html(content: &str) -> bool {
    content.match_indices('<').any(|(i, _)| {
        let rest = &content[i + 1..];
        rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!')
            && rest.contains('>')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_told_from_text() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(looks_like_html("Hi<br/>there"));
        assert!(!looks_like_html("1 < 2 and 3 > 2"));
        assert!(!looks_like_html("plain text"));
    }

    #[test]
    fn recipients_take_several_forms() {
        assert_eq!(
            recipients(&json!("a@x.com, b@x.com")).unwrap_or_default(),
            vec![json!({"Email": "a@x.com"}), json!({"Email": "b@x.com"})]
        );
        assert_eq!(
            recipients(&json!([{"email": "a@x.com", "name": "A"}, "b@x.com"])).unwrap_or_default(),
            vec![json!({"Email": "a@x.com", "Name": "A"}), json!({"Email": "b@x.com"})]
        );
        assert!(recipients(&json!("")).is_err());
    }
}
