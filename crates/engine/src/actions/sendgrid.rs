//! SendGrid `SEND_EMAIL`: v3 Mail Send, bearer API key. Every param but `connection_id` is the
//! request body (`personalizations`, `from`, `subject`, `content`, `template_id`, …). [`send`]
//! is the one request, which `AUTH0 SEND_EMAIL` uses too (through the delivery settings).

use flowvault_core::AppId;
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::SendgridOp;

use super::{ActionError, Auth, Call, Http, Request};

const API: &str = "https://api.sendgrid.com";

pub(super) async fn run(op: SendgridOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let SendgridOp::SendEmail = op;
    let mut body = call.params.as_object().cloned().unwrap_or_default();
    body.remove("connection_id");
    send(call, body).await
}

/// Sends a Mail Send `body` with the connection's key; the output is `{status, message_id}`.
pub(super) async fn send(call: &Call<'_>, body: Map<String, Value>) -> Result<Value, ActionError> {
    let key = call.setup("api_key")?.to_owned();
    let url = format!("{}/v3/mail/send", call.http.base(AppId::Sendgrid, API));
    let request = Request::new(Method::POST, url).json(Value::Object(body)).auth(Auth::Bearer(key));
    let response = call.http.send(request, true).await?;
    let response = Http::expect_success("SENDGRID", response, &["/errors/0/message"])?;
    let message_id =
        response.headers.iter().find(|(k, _)| k == "x-message-id").map(|(_, v)| v.clone());
    Ok(json!({"status": response.status, "message_id": message_id}))
}
