//! `GET /userinfo`: a tiny protected resource, so end-to-end tests can check that a token the
//! vault hands out is one the provider accepts.

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::FakeOAuth;

pub(super) async fn userinfo(State(fake): State<FakeOAuth>, headers: HeaderMap) -> Response {
    let subject = bearer_token(&headers).and_then(|token| fake.token_subject(token));
    match subject {
        Some(sub) => Json(json!({ "sub": sub })).into_response(),
        // RFC 6750 §3: the challenge names the error; the body stays empty.
        None => (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""))],
        )
            .into_response(),
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = headers.get(AUTHORIZATION)?.to_str().ok()?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
