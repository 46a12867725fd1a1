//! `GET /authorize`: approves at once and redirects back with a code (RFC 6749 §4.1.1, with the
//! PKCE challenge of RFC 7636 required).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use super::{Code, FakeOAuth, random_token};

/// How long a code stays exchangeable after it is issued.
const CODE_LIFETIME_MILLIS: i64 = 60_000;

pub(super) async fn authorize(
    State(fake): State<FakeOAuth>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());

    // Until the client and its redirect URI are known, errors go to the user, not the client
    // (RFC 6749 §4.1.2.1).
    let Some(client_id) = param("client_id") else {
        return OAuthError::invalid_request("client_id is missing").into_response();
    };
    if !fake.lock().clients.contains_key(client_id) {
        return OAuthError::invalid_request("client_id is unknown").into_response();
    }
    let Some(redirect_uri) = param("redirect_uri") else {
        return OAuthError::invalid_request("redirect_uri is missing").into_response();
    };
    if redirect_uri.contains('#') {
        return OAuthError::invalid_request("redirect_uri has a fragment").into_response();
    }

    let state = param("state");
    let refuse = |error: &str, description: &str| {
        redirect(redirect_uri, &[("error", error), ("error_description", description)], state)
    };
    match param("response_type") {
        Some("code") => {}
        Some(_) => return refuse("unsupported_response_type", "only code is supported"),
        None => return refuse("invalid_request", "response_type is missing"),
    }
    let Some(code_challenge) = param("code_challenge") else {
        return refuse("invalid_request", "code_challenge is missing (PKCE is required)");
    };
    if param("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    if !is_pkce_string(code_challenge) {
        return refuse("invalid_request", "code_challenge is malformed");
    }

    let now = fake.now_millis();
    let mut server = fake.lock();
    if server.deny_authorization {
        return refuse("access_denied", "the user denied the request");
    }
    let code = match random_token("ac_") {
        Ok(code) => code,
        Err(error) => return error.into_response(),
    };
    server.codes.insert(
        code.clone(),
        Code {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope: param("scope").map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
            expires_at_millis: now.saturating_add(CODE_LIFETIME_MILLIS),
        },
    );
    server.stats.authorizations += 1;
    redirect(redirect_uri, &[("code", &code)], state)
}

/// `302 Found` to `uri` with `pairs` and `state` added to its query.
fn redirect(uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut pairs = pairs.to_vec();
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    let Ok(query) = serde_urlencoded::to_string(&pairs) else {
        return OAuthError::server_error("the redirect query did not encode").into_response();
    };
    let separator = match uri.rfind('?') {
        None => "?",
        Some(i) if i + 1 == uri.len() || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    (StatusCode::FOUND, [(LOCATION, format!("{uri}{separator}{query}"))]).into_response()
}

/// 43 to 128 unreserved characters, the shape RFC 7636 §4.1 gives verifiers and challenges.
pub(super) fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
