//! Slack `POST_MESSAGE`: to an incoming webhook (`WEBHOOK` setups) or with `chat.postMessage`
//! (`OAUTH_CODE` setups, bearer token, JSON with `charset=utf-8`, as Slack asks of JSON bodies).

use flowvault_core::{AppId, SetupType};
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::SlackOp;

use super::{ActionError, Auth, Body, Call, Http, Request, provider_error};

const API: &str = "https://slack.com";

pub(super) async fn run(op: SlackOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let SlackOp::PostMessage = op;
    let mut message = Map::new();
    if let Some(text) = call.opt_str("text") {
        message.insert("text".into(), Value::String(text));
    }
    if let Some(attachments) = call.params.get("attachments").filter(|a| !a.is_null()) {
        message.insert("attachments".into(), attachments.clone());
    }
    if message.is_empty() {
        return Err(ActionError::new("give `text` or `attachments`"));
    }
    match call.setup_type() {
        Some(SetupType::Webhook) => {
            let url = call.setup("url")?.to_owned();
            let response = call
                .http
                .send(Request::new(Method::POST, url).json(Value::Object(message)), true)
                .await?;
            // Webhooks answer plain text: `ok`, or the reason (`invalid_payload`, `no_text`…).
            let response = Http::expect_success("SLACK", response, &[])?;
            Ok(json!({"ok": true, "response": response.body}))
        }
        Some(SetupType::OauthCode) => {
            let channel = call.opt_str("channel").filter(|c| !c.is_empty()).ok_or_else(|| {
                ActionError::new(
                    "param `channel` is required to post with a Slack OAuth connection",
                )
            })?;
            message.insert("channel".into(), Value::String(channel));
            let token = call.access_token()?.to_owned();
            let url = format!("{}/api/chat.postMessage", call.http.base(AppId::Slack, API));
            // Slack's documented JSON content type; without the charset it adds a
            // `missing_charset` warning to every answer.
            let mut request = Request::new(Method::POST, url).auth(Auth::Bearer(token));
            request.body = Body::Raw(
                "application/json; charset=utf-8",
                Value::Object(message).to_string().into_bytes(),
            );
            let response = call.http.send(request, true).await?;
            // The Web API answers 200 with {"ok": false, "error": "channel_not_found"} on failure.
            if response.status == 200 && response.body.get("ok") == Some(&Value::Bool(true)) {
                Ok(response.body)
            } else {
                Err(provider_error("SLACK", &response, &["/error"]))
            }
        }
        _ => Err(ActionError::new("Slack actions need a WEBHOOK or OAUTH_CODE connection")),
    }
}
