//! Auth0 Management API actions, with the connection's client-credentials token:
//! `CREATE_USER`, `GET_USER`, `UPDATE_USER`, and `SEND_REQUEST` to any path of the API.
//! `SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` go through the tenant's delivery settings instead
//! (see [`super::delivery`]).

use flowvault_core::AppId;
use http::Method;
use serde_json::Value;

use flowvault_core::Auth0Op;

use super::{ActionError, Auth, Body, Call, Http, Request, delivery, path_segment};

const ERRORS: &[&str] = &["/message", "/error_description", "/error"];

pub(super) async fn run(op: Auth0Op, call: &Call<'_>) -> Result<Value, ActionError> {
    if let Some(channel) = delivery::channel(op) {
        return delivery::run(channel, call).await;
    }
    let domain = call.setup("domain")?;
    let base = call.http.base(AppId::Auth0, &format!("https://{domain}"));
    let token = call.access_token()?.to_owned();
    let user = |call: &Call<'_>| path_segment(&call.str("user_id")?);
    let request = match op {
        Auth0Op::CreateUser => {
            Request::new(Method::POST, format!("{base}/api/v2/users")).json(call.value("payload"))
        }
        Auth0Op::GetUser => {
            Request::new(Method::GET, format!("{base}/api/v2/users/{}", user(call)?))
        }
        Auth0Op::UpdateUser => {
            Request::new(Method::PATCH, format!("{base}/api/v2/users/{}", user(call)?))
                .json(call.value("changes"))
        }
        Auth0Op::SendRequest => {
            let path = call.str("pathname")?;
            let path = if path.starts_with('/') { path } else { format!("/{path}") };
            let method = call.opt_str("method").unwrap_or_else(|| "GET".to_owned()).to_uppercase();
            let method = Method::from_bytes(method.as_bytes())
                .map_err(|_| ActionError::new("param `method` is not an HTTP method"))?;
            let mut r = Request::new(method, format!("{base}{path}"));
            for (k, v) in call.object("headers")?.into_iter().flatten() {
                r = r.header(k, v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            }
            for (k, v) in call.object("params")?.into_iter().flatten() {
                r = r.query(k, v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            }
            match call.params.get("payload") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    r.body = Body::Raw("application/json", s.clone().into_bytes())
                }
                Some(v) => r = r.json(v.clone()),
            }
            r
        }
        Auth0Op::SendEmail | Auth0Op::SendSms | Auth0Op::MakeCall => {
            // Sent through the delivery settings above; never a Management API request.
            return Err(ActionError::new(format!("{op:?} is sent through the delivery settings")));
        }
    };
    let response = call.http.send(request.auth(Auth::Bearer(token)), true).await?;
    Ok(Http::expect_success("AUTH0", response, ERRORS)?.body)
}
