//! WhatsApp `SEND_MESSAGE`: Cloud API `POST /v17.0/{phone-number-id}/messages`, bearer token,
//! `{"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type", <type>: …}`
//! where the payload sits under the key named by the (lower-cased) type.
//!
//! The payload is the message object of that type (`{"body": …}` for text, `{"link": …}` for an
//! image, …). Shorthands: a string is the body of a text message, and the link (or media id) of
//! an audio, document, image or sticker; a JSON string is parsed. `contacts` is a list.

use flowvault_core::AppId;
use http::Method;
use serde_json::{Value, json};

use flowvault_core::WhatsappOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://graph.facebook.com";
const VERSION: &str = "v17.0";
const ERRORS: &[&str] = &["/error/message", "/error/error_data/details"];

pub(super) async fn run(op: WhatsappOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let WhatsappOp::SendMessage = op;
    let token = call.setup("token")?.to_owned();
    let kind = call.str("type")?.to_lowercase();
    let payload = payload(&kind, call.value("payload"))?;
    let body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": call.str("recipient_number")?,
        "type": kind,
        kind.clone(): payload,
    });
    let url = format!(
        "{}/{VERSION}/{}/messages",
        call.http.base(AppId::Whatsapp, API),
        path_segment(&call.str("sender_id")?)?
    );
    let request = Request::new(Method::POST, url).json(body).auth(Auth::Bearer(token));
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("WHATSAPP", response, ERRORS)?.body)
}

/// The message object for `kind`.
fn payload(kind: &str, payload: Value) -> Result<Value, ActionError> {
    let payload = match payload {
        Value::Null => return Err(ActionError::new("param `payload` is empty")),
        Value::String(s) if kind == "text" => return Ok(json!({"body": s})),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
            _ if matches!(kind, "audio" | "document" | "image" | "sticker" | "video") => {
                let key = if s.starts_with("https://") || s.starts_with("http://") {
                    "link"
                } else {
                    "id"
                };
                return Ok(json!({key: s}));
            }
            _ => {
                return Err(ActionError::new(format!(
                    "param `payload` must be a {kind} message object"
                )));
            }
        },
        other => other,
    };
    Ok(match (kind, payload) {
        ("contacts", v @ Value::Object(_)) => Value::Array(vec![v]),
        (_, v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_become_message_objects() {
        assert_eq!(payload("text", json!("hi")).ok(), Some(json!({"body": "hi"})));
        assert_eq!(
            payload("image", json!("https://x.test/a.png")).ok(),
            Some(json!({"link": "https://x.test/a.png"}))
        );
        assert_eq!(payload("document", json!("1234")).ok(), Some(json!({"id": "1234"})));
        assert_eq!(
            payload("template", json!("{\"name\":\"hello_world\"}")).ok(),
            Some(json!({"name": "hello_world"}))
        );
        assert_eq!(payload("contacts", json!({"name": {}})).ok(), Some(json!([{"name": {}}])));
        assert!(payload("location", json!("somewhere")).is_err());
    }
}
