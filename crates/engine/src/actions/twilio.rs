//! Twilio: `SEND_SMS` (Messages resource) and `MAKE_CALL` (Calls resource) of the 2010-04-01 API,
//! form-encoded, HTTP Basic with the Account SID and auth token. [`create`] is the one request
//! builder, which `AUTH0 SEND_SMS` and `MAKE_CALL` use too (through the delivery settings).

use flowvault_core::AppId;
use http::Method;
use serde_json::Value;

use flowvault_core::TwilioOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://api.twilio.com";
const ERRORS: &[&str] = &["/message"];

/// What to create at Twilio.
pub(super) enum Create {
    /// A message with this body.
    Message(String),
    /// A call, answered with TwiML fetched from this URL.
    CallUrl(String),
    /// A call, answered with this TwiML.
    CallTwiml(String),
}

pub(super) async fn run(op: TwilioOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let what = match op {
        TwilioOp::SendSms => Create::Message(call.str("message")?),
        TwilioOp::MakeCall => {
            // A URL answers the call with TwiML it serves; anything else is TwiML itself.
            let payload = call.str("payload")?;
            if payload.starts_with("https://") || payload.starts_with("http://") {
                Create::CallUrl(payload)
            } else {
                Create::CallTwiml(payload)
            }
        }
    };
    create(call, what, call.str("to")?, call.str("from")?).await
}

/// Creates a Message or a Call from `from` to `to` with the connection's credentials; the
/// output is Twilio's resource.
pub(super) async fn create(
    call: &Call<'_>,
    what: Create,
    to: String,
    from: String,
) -> Result<Value, ActionError> {
    let sid = call.setup("account_id")?.to_owned();
    let token = call.setup("api_key")?.to_owned();
    let base = call.http.base(AppId::Twilio, API);
    let (resource, key, value) = match what {
        Create::Message(body) => ("Messages", "Body", body),
        Create::CallUrl(url) => ("Calls", "Url", url),
        Create::CallTwiml(twiml) => ("Calls", "Twiml", twiml),
    };
    let form = vec![(key.to_owned(), value), ("To".to_owned(), to), ("From".to_owned(), from)];
    let url = format!("{base}/2010-04-01/Accounts/{}/{resource}.json", path_segment(&sid)?);
    let request = Request::new(Method::POST, url).form(form).auth(Auth::Basic(sid, token));
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("TWILIO", response, ERRORS)?.body)
}
