//! `POST /oauth/token` (the client credentials grant, as Auth0 implements it) and the public
//! keys that verify its tokens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_core::{ClientId, Scopes};
use serde::Serialize;
use serde_json::Value;

use crate::auth::source_address;
use crate::extract::read_limited;
use crate::state::AppState;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
}

/// Token requests are small; anything bigger is not one.
const MAX_TOKEN_REQUEST: usize = 8 * 1024;

/// An RFC 6749 error answer: `{"error": …, "error_description": …}`.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        let mut response =
            (self.status, Json(Body { error: self.error, error_description: &self.description }))
                .into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"flowvault\""));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    access_token: String,
    scope: String,
    expires_in: u64,
    token_type: &'static str,
}

/// The token request, as the document describes it (the handler reads it by hand, to answer
/// each mistake in RFC 6749's words).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub(crate) struct TokenRequest {
    /// `client_credentials`, the only grant.
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    /// The client id (or in HTTP Basic).
    client_id: Option<String>,
    /// The client secret (or in HTTP Basic).
    client_secret: Option<String>,
    /// `{public_url}api/v2/`.
    audience: Option<String>,
    /// Space-separated scopes, a subset of the client's.
    scope: Option<String>,
}

#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth", operation_id = "post_oauth_token",
    summary = "Get a Management API access token (client credentials grant)",
    description = "As Auth0's `/oauth/token`: `grant_type=client_credentials`, the client authenticated with `client_secret_post` (body) or `client_secret_basic` (HTTP Basic), `audience` = `{public_url}api/v2/`, optional `scope`. Form or JSON body.",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "A signed RS256 access token.", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope."),
        (status = 401, description = "invalid_client: unknown client or wrong secret."),
        (status = 403, description = "access_denied: wrong audience or scopes not granted."),
        (status = 429, description = "Too many failed attempts for this client from this address (growing delays); `Retry-After` says how long to wait."),
    )
)]
pub(crate) async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match issue(&state, peer, request).await {
        Ok(t) => {
            let mut response = Json(t).into_response();
            response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn issue(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
) -> Result<TokenResponse, OAuthError> {
    let (parts, body) = request.into_parts();
    let body = read_limited(body, MAX_TOKEN_REQUEST)
        .await
        .map_err(|_| OAuthError::invalid_request("the request body is too large or unreadable"))?;
    let params = parse_params(&parts.headers, &body)?;
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());

    match get("grant_type") {
        None => return Err(OAuthError::invalid_request("missing grant_type")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
    }

    let basic = basic_credentials(&parts.headers)?;
    let (client_id, secret) = match (basic, get("client_id"), get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both",
            ));
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body does not match the Authorization header",
                ));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        (None, _, _) => {
            let mut e = OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            );
            e.basic_challenge = true;
            return Err(e);
        }
    };

    let now = Instant::now();
    let address =
        source_address(peer.ip(), &parts.headers, &state.config.trusted_proxies).to_string();
    let shown_id: String = client_id.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
    let internal = |e: flowvault_store::VaultError| {
        tracing::error!(error = %e, "client authentication failed");
        OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    };
    let id = client_id.parse::<ClientId>().ok();
    let known = match &id {
        Some(id) => state.vault.client(id).await.map_err(internal)?.is_some(),
        None => false,
    };
    // Throttled per source and client: someone else's failures never slow the right secret
    // from another address. Ids that name no client share one key per source, so a stream of
    // made-up ids counts as one guesser rather than growing the table one entry per id.
    let pair = if known { format!("{address}|{shown_id}") } else { format!("{address}|?") };
    if let Err(wait) = state.auth.per_source_and_client.check(&pair, now) {
        tracing::warn!(%address, client = %shown_id, "client authentication throttled");
        let mut e = OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed client authentications; wait before retrying",
        );
        e.retry_after = Some(wait);
        return Err(e);
    }

    let client = match &id {
        Some(id) if known => {
            state.vault.authenticate_client(id, &secret).await.map_err(internal)?
        }
        _ => None,
    };
    let Some(client) = client else {
        state.auth.per_source_and_client.record_failure(&pair, now);
        tracing::info!(%address, client = %shown_id, "client authentication failed (invalid_client)");
        let mut e = OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        e.basic_challenge = parts.headers.contains_key(AUTHORIZATION);
        return Err(e);
    };
    state.auth.per_source_and_client.record_success(&pair);

    let audience = state.auth.keys.audience();
    if let Some(asked) = get("audience")
        && asked != audience
    {
        let shown: String = asked.chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Service not found: {shown}"),
        ));
    }
    let scopes = match get("scope") {
        None => client.scopes.clone(),
        Some(asked) => {
            let asked: Scopes = asked.parse().map_err(|e| {
                OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", format!("{e}"))
            })?;
            if !client.scopes.covers(&asked) {
                return Err(OAuthError::new(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    format!(
                        "Client has not been granted scopes: {}",
                        client.scopes.missing(&asked)
                    ),
                ));
            }
            asked
        }
    };
    if client.scopes.is_empty() {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Client is not authorized to access \"{audience}\": it has no scopes"),
        ));
    }
    let access_token =
        state.auth.keys.issue(&client.id, &client.tenant_id, &scopes).map_err(|e| {
            tracing::error!(error = %e, "cannot sign a token");
            OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
        })?;
    tracing::info!(client = %client.id, tenant = %client.tenant_id, "access token issued");
    Ok(TokenResponse {
        access_token,
        scope: scopes.to_string(),
        expires_in: state.auth.keys.lifetime().as_secs(),
        token_type: "Bearer",
    })
}

/// The form or JSON body as string parameters; a parameter given twice is an error.
fn parse_params(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = match mime.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the form body is not valid"))?,
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    _ => Err(OAuthError::invalid_request(format!(
                        "{} must be a string",
                        printable(&k)
                    ))),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(OAuthError::invalid_request("the body must be a JSON object")),
        },
        _ => {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded or application/json",
            ));
        }
    };
    let mut params = HashMap::new();
    for (k, v) in pairs {
        if params.contains_key(&k) {
            return Err(OAuthError::invalid_request(format!("{} is given twice", printable(&k))));
        }
        params.insert(k, v);
    }
    Ok(params)
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1), if given.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let bad = || {
        OAuthError::invalid_request("the Authorization header is not valid Basic authentication")
    };
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
    };
    Ok(Some((unescape(id).ok_or_else(bad)?, unescape(secret).ok_or_else(bad)?)))
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "oauth", operation_id = "get_jwks",
    summary = "Public keys that verify access tokens",
    responses((status = 200, description = "A JSON Web Key Set.", body = serde_json::Value))
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.auth.keys.jwks().clone()).into_response();
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
