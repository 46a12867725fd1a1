//! Telegram `SEND_MESSAGE`: Bot API `POST /bot{token}/sendMessage` with `{chat_id, text}`.
//!
//! The bot token is part of the URL, so it is checked to be a token (no character that would
//! change the path), and no message this module builds holds the URL: an error that somehow
//! carries the token has it replaced.

use flowvault_core::AppId;
use http::Method;
use serde_json::{Value, json};

use flowvault_core::TelegramOp;

use super::{ActionError, Call, Http, Request};

const API: &str = "https://api.telegram.org";
const ERRORS: &[&str] = &["/description"];

pub(super) async fn run(op: TelegramOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let TelegramOp::SendMessage = op;
    let token = call.setup("token")?;
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
    {
        return Err(ActionError::new("the connection's bot token is not a Telegram token"));
    }
    let body = json!({"chat_id": call.str("chat_id")?, "text": call.str("text")?});
    let url = format!("{}/bot{token}/sendMessage", call.http.base(AppId::Telegram, API));
    let scrub = |mut e: ActionError| {
        e.message = e.message.replace(token, "[token]");
        e
    };
    let response =
        call.http.send(Request::new(Method::POST, url).json(body), true).await.map_err(scrub)?;
    Ok(Http::expect_success("TELEGRAM", response, ERRORS).map_err(scrub)?.body)
}
