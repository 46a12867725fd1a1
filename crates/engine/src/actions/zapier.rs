//! Zapier `TRIGGER_WEBHOOK`: a request to the connection's Catch Hook URL (`POST` unless `method`
//! says `GET` or `PUT`). The params other than `connection_id` and `method` are the data: a JSON
//! body for `POST` and `PUT`, query parameters for `GET`.
//!
//! The URL is the credential (whoever has it can trigger the Zap), so it is never part of an
//! error message.

use http::Method;
use serde_json::{Map, Value, json};

use flowvault_core::ZapierOp;

use super::{ActionError, Call, Http, Request};

const ERRORS: &[&str] = &["/message", "/error"];

pub(super) async fn run(op: ZapierOp, call: &Call<'_>) -> Result<Value, ActionError> {
    let ZapierOp::TriggerWebhook = op;
    let url = call.setup("url")?;
    let method = match call.opt_str("method").as_deref().map(str::to_uppercase).as_deref() {
        None | Some("POST") => Method::POST,
        Some("GET") => Method::GET,
        Some("PUT") => Method::PUT,
        Some(other) => {
            return Err(ActionError::new(format!(
                "param `method` must be GET, POST or PUT, not {other}"
            )));
        }
    };
    let data: Map<String, Value> = call
        .params
        .as_object()
        .map(|params| {
            params
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "connection_id" | "method"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut request = Request::new(method.clone(), url);
    if method == Method::GET {
        for (k, v) in &data {
            request = request.query(k, text(v));
        }
    } else {
        request = request.json(Value::Object(data));
    }
    // The hook's path holds its secret too.
    let path = url::Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_default();
    let scrub = |mut e: ActionError| {
        e.message = e.message.replace(url, "[webhook URL]");
        if path.len() > 1 {
            e.message = e.message.replace(path.as_str(), "[webhook path]");
        }
        e
    };
    let response = call.http.send(request, true).await.map_err(scrub)?;
    let response = Http::expect_success("ZAPIER", response, ERRORS).map_err(scrub)?;
    Ok(match response.body {
        Value::Object(_) => response.body,
        Value::Null => json!({"status": response.status}),
        other => json!({"status": response.status, "body": other}),
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
