//! What every dashboard request passes: the session is looked up once, state-changing requests
//! must carry the CSRF token, and every answer gets the security headers.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::session;
use super::ui;
use crate::state::AppState;

/// The header scripts send the CSRF token in (forms send it as the `_csrf` field).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "_csrf";

/// The forms posted before there is a session, checked with the sign-in pages' double-submit
/// token instead of a session's.
const PRESESSION_FORMS: [&str; 2] = ["/signin", "/setup"];

/// The largest form the dashboard takes: a flow with many actions fits easily.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Pages load scripts, styles and images from this server only, run no inline script, submit
/// forms only here, and can't be framed by another site.
/// No page can be framed by anyone…
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
/// …but the wizard's, by this site only: the flow editor's "+" dialog shows it.
const CSP_FRAMEABLE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                             img-src 'self'; connect-src 'self'; form-action 'self'; \
                             frame-src 'self'; frame-ancestors 'self'; base-uri 'none'";

/// The pages the flow editor's dialog frames.
const FRAMEABLE_PREFIX: &str = "/vault/new";

/// Looks up the session, checks the CSRF token of state-changing requests, and sets the
/// security headers.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let frameable = req.uri().path().starts_with(FRAMEABLE_PREFIX);
    let mut response =
        if is_asset { next.run(req).await } else { checked(&state, req, next).await };
    let headers = response.headers_mut();
    let (csp, frames) = if frameable { (CSP_FRAMEABLE, "SAMEORIGIN") } else { (CSP, "DENY") };
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static(frames));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if state.config.tls.is_some() || state.config.public_url.scheme() == "https" {
        headers.insert(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !is_asset {
        // Pages show tenant data: no cache keeps them.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn checked(state: &AppState, req: Request, next: Next) -> Response {
    let signed = match session::current(state, req.headers()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut req = if is_safe(req.method()) {
        req
    } else {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return ui::error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
        };
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| form_field(&bytes, CSRF_FIELD));
        let ok = given.as_deref().is_some_and(|given| match &signed {
            Some(s) => s.csrf_matches(given),
            // Before there is a session, and only for the forms that start one: the
            // double-submit token of the sign-in and first-admin pages.
            None => {
                PRESESSION_FORMS.contains(&parts.uri.path())
                    && session::cookie(&parts.headers, session::presession_cookie_name(state))
                        .is_some_and(|p| session::same_secret(p, given))
            }
        });
        if !ok {
            tracing::info!(path = %parts.uri.path(), "dashboard request refused: missing or wrong CSRF token");
            return ui::error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this dashboard. Go back, reload the page and try again.",
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    };
    if let Some(s) = signed {
        req.extensions_mut().insert(s);
    }
    next.run(req).await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The first value of `name` in a URL-encoded form body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_field_is_found_among_others() {
        assert_eq!(form_field(b"a=1&_csrf=xyz&b=2", CSRF_FIELD).as_deref(), Some("xyz"));
        assert_eq!(form_field(b"a=1", CSRF_FIELD), None);
        assert_eq!(form_field(b"\xff=\xff", CSRF_FIELD), None);
    }
}
