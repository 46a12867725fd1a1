//! HTTP `SEND_REQUEST`: any URL, with the connection's credentials applied as its setup says
//! (bearer token, basic auth, an API key in a header or the query, or an OAuth client-credentials
//! token), or none.

use flowvault_core::{SetupType, header_refusal, header_value_refusal};
use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::HttpOp;

use super::{ActionError, Auth, Body, Call, Http, Request};

pub(super) async fn run(op: HttpOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let HttpOp::SendRequest = op;
    let url = call.str("url")?;
    let method = call.opt_str("method").unwrap_or_else(|| "GET".to_owned()).to_uppercase();
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ActionError::new("param `method` is not an HTTP method"))?;
    let mut request = Request::new(method, url);
    // Checked again on the rendered headers (a template may have made them): the same rules as
    // when the flow was saved.
    let credentialed = call.credentials.is_some() || call.object("basic")?.is_some();
    for (k, v) in call.object("headers")?.into_iter().flatten() {
        let value = text(v);
        if let Some(why) = header_refusal(k, credentialed).or_else(|| header_value_refusal(&value))
        {
            return Err(ActionError::new(format!("header `{}` {why}", printable(k))));
        }
        request = request.header(k, value);
    }
    for (k, v) in call.object("params")?.into_iter().flatten() {
        request = request.query(k, text(v));
    }
    if let Some(basic) = call.object("basic")? {
        let user = basic.get("username").map(text).unwrap_or_default();
        let pass = basic.get("password").map(text).unwrap_or_default();
        request.auth = Auth::Basic(user, pass);
    }
    request.body = body(call)?;
    if call.credentials.is_some() {
        request = with_credentials(call, request)?;
    }
    // Credentials go only over https (or to a private address the operator allowed).
    let response = call.http.send(request, credentialed).await?;
    let response = Http::expect_success(
        "HTTP",
        response,
        &["/message", "/error/message", "/error_description", "/error"],
    )?;
    let headers: Map<String, Value> =
        response.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    // Auth0's documented output; `success` is always true here, as a non-2xx answer is an error.
    Ok(json!({
        "status": response.status,
        "headers": headers,
        "body": response.body,
        "success": true,
    }))
}

fn with_credentials(call: &Call<'_>, mut request: Request) -> Result<Request, ActionError> {
    match call.setup_type() {
        Some(SetupType::Bearer) => request.auth = Auth::Bearer(call.setup("token")?.to_owned()),
        Some(SetupType::BasicAuth) => {
            let password = call
                .credentials
                .and_then(|c| c.setup.expose("password"))
                .unwrap_or_default()
                .to_owned();
            request.auth = Auth::Basic(call.setup("username")?.to_owned(), password);
        }
        Some(SetupType::ApiKey) => {
            let (name, value) = (call.setup("name")?.to_owned(), call.setup("value")?.to_owned());
            if call.setup("in")? == "QUERY" {
                request = request.query(&name, value);
            } else {
                request = request.header(&name, value);
            }
        }
        Some(SetupType::OauthClientCredentials) => {
            request.auth = Auth::Bearer(call.access_token()?.to_owned())
        }
        _ => return Err(ActionError::new("this connection can't authenticate HTTP requests")),
    }
    Ok(request)
}

fn body(call: &Call<'_>) -> Result<Body, ActionError> {
    let payload = match call.params.get("payload") {
        None | Some(Value::Null) => return Ok(Body::None),
        Some(p) => p,
    };
    match call.opt_str("content_type").as_deref().unwrap_or("JSON") {
        "JSON" => Ok(match payload {
            Value::String(s) => Body::Raw("application/json", s.clone().into_bytes()),
            other => Body::Json(other.clone()),
        }),
        "FORM" => match payload {
            Value::Object(m) => {
                Ok(Body::Form(m.iter().map(|(k, v)| (k.clone(), text(v))).collect()))
            }
            Value::String(s) => {
                Ok(Body::Raw("application/x-www-form-urlencoded", s.clone().into_bytes()))
            }
            _ => Err(ActionError::new("a FORM payload must be an object or a string")),
        },
        "XML" => match payload {
            Value::String(s) => Ok(Body::Raw("application/xml", s.clone().into_bytes())),
            _ => Err(ActionError::new("an XML payload must be a string")),
        },
        other => Err(ActionError::new(format!("content_type `{other}` is not JSON, FORM or XML"))),
    }
}

/// A header name as it may appear in a message (no control characters, not too long).
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
