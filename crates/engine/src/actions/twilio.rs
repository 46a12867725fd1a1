//! Twilio: `SEND_SMS` (Messages resource) and `MAKE_CALL` (Calls resource) of the 2010-04-01 API,
//! form-encoded, HTTP Basic with the Account SID and auth token.

use flowvault_core::AppId;
use http::Method;
use serde_json::Value;

use flowvault_core::TwilioOp;

use super::{ActionError, Auth, Call, Http, Request, path_segment};

const API: &str = "https://api.twilio.com";
const ERRORS: &[&str] = &["/message"];

pub(super) async fn run(op: TwilioOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let sid = call.setup("account_id")?.to_owned();
    let token = call.setup("api_key")?.to_owned();
    let base = call.http.base(AppId::Twilio, API);
    let (resource, mut form) = match op {
        TwilioOp::SendSms => ("Messages", vec![("Body".to_owned(), call.str("message")?)]),
        TwilioOp::MakeCall => {
            // A URL answers the call with TwiML it serves; anything else is TwiML itself.
            let payload = call.str("payload")?;
            let key = if payload.starts_with("https://") || payload.starts_with("http://") {
                "Url"
            } else {
                "Twiml"
            };
            ("Calls", vec![(key.to_owned(), payload)])
        }
    };
    form.push(("To".to_owned(), call.str("to")?));
    form.push(("From".to_owned(), call.str("from")?));
    let url = format!("{base}/2010-04-01/Accounts/{}/{resource}.json", path_segment(&sid)?);
    let request = Request::new(Method::POST, url).form(form).auth(Auth::Basic(sid, token));
    let response = call.http.send(request, true).await?;
    Ok(Http::expect_success("TWILIO", response, ERRORS)?.body)
}
