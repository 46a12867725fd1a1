//! "Connect": `GET /connect/{id}` sends the user to the provider; `GET /connect/callback` is
//! where the provider sends them back. The callback answers with a small page for the person in
//! the browser.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use flowvault_engine::ConnectError;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Scoped, UpdateConnections};
use crate::error::ApiError;
use crate::extract::ConnectionIdPath;
use crate::state::AppState;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/connect/callback", get(callback)).route("/connect/{id}", get(start))
}

/// Starts "Connect": a redirect to the provider (or, for `Accept: application/json`, its URL).
pub(crate) async fn start(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
    ConnectionIdPath(id): ConnectionIdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let callback = state.config.connect_callback();
    let url =
        state.engine.begin_connect(caller.tenant(), &id, &callback).await.map_err(|e| match e {
            ConnectError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "inexistent_flows_vault_connection",
                e.to_string(),
            ),
            ConnectError::Internal => ApiError::internal(&e),
            other => ApiError::new(StatusCode::CONFLICT, "cannot_connect", other.to_string()),
        })?;
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(Json(json!({ "authorize_url": url.as_str() })).into_response());
    }
    let mut response = StatusCode::FOUND.into_response();
    let location = HeaderValue::from_str(url.as_str()).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the user back.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(oauth_state) = params.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Connection failed",
            "The link has no state: start again from the connection.",
        );
    };
    if let Some(error) = params.error {
        // The state is spent either way, so this link can't be replayed.
        let _ = state.engine.abandon_connect(&oauth_state).await;
        let text = if error == "access_denied" {
            "Access was not granted, so nothing was stored. Start again from the connection to retry.".to_owned()
        } else {
            let detail: String = params
                .error_description
                .unwrap_or(error)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            format!("The provider reported an error, and nothing was stored: {detail}")
        };
        return page(StatusCode::BAD_REQUEST, "Connection failed", &text);
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        let _ = state.engine.abandon_connect(&oauth_state).await;
        return page(
            StatusCode::BAD_REQUEST,
            "Connection failed",
            "The provider sent no authorization code.",
        );
    };
    match state.engine.complete_connect(&oauth_state, &code, &state.config.connect_callback()).await
    {
        Ok(c) => {
            tracing::info!(connection = %c.id, "connected");
            let mut text = format!("The {} connection \"{}\" is connected", c.app_id, c.name);
            if let Some(account) = &c.account_name {
                text.push_str(&format!(" to {account}"));
            }
            text.push_str(". You can close this window.");
            if let Some(missing) = &c.missing_scopes {
                text.push_str(&format!(" Some permissions were not granted ({missing}): flows that need them will fail until you connect again."));
            }
            // A link back to the connection's dashboard page, which the person follows: the
            // browser then sends the dashboard's SameSite=Strict cookie (a redirect at the end
            // of the provider's redirect chain would arrive without it, signed out).
            let back = format!("/vault/{}?done=connected", c.id);
            page_with_link(
                StatusCode::OK,
                "Connected",
                &text,
                Some((&back, "Back to the connection in the dashboard")),
            )
        }
        Err(e) => {
            tracing::info!(error = %e, "connect callback refused");
            let status = if matches!(e, ConnectError::Internal) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            page(status, "Connection failed", &format!("{e}. Nothing was stored."))
        }
    }
}

/// A minimal page; `text` is escaped.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    page_with_link(status, title, text, None)
}

/// A minimal page with a link `(href, words)` under the text; everything is escaped.
fn page_with_link(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link.map_or_else(String::new, |(href, words)| {
        format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(words))
    });
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · flowvault</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{t}</h1><p>{x}</p>{link}</body></html>",
        t = escape(title),
        x = escape(text)
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    response.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
