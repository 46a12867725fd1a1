//! `POST /token`: injected faults first, then client authentication (RFC 6749 §2.3.1) and the
//! grants: `client_credentials`, `authorization_code` with PKCE, `refresh_token` with rotation
//! and reuse detection, and RFC 7523's `jwt-bearer`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::authorize::is_pkce_string;
use super::error::OAuthError;
use super::{
    AccessToken, FakeOAuth, Fault, RefreshStatus, RefreshToken, State, assertion, random_token,
    same_secret,
};

/// RFC 7523's grant type, as Google's service accounts use it.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Fields that [`Stats::last_token_request`](super::Stats) shows only as `"<redacted>"`.
const SECRET_FIELDS: [&str; 5] =
    ["client_secret", "refresh_token", "code", "code_verifier", "assertion"];

/// The request's parameters, each given once.
type Params = BTreeMap<String, String>;

/// A successful token response (RFC 6749 §5.1), plus Slack's `team` and Salesforce's
/// `instance_url`.
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<Team>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct Team {
    name: String,
}

pub(super) async fn token(
    Extract(fake): Extract<FakeOAuth>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = parse_params(&headers, &body);
    let fault = fake.begin_token_request(params.as_ref().ok());
    let mut expires_in = None;
    let answer = match fault {
        None => params.and_then(|params| fake.grant(&headers, &params)),
        Some(Fault::ExpiresIn(value)) => {
            expires_in = Some(value);
            params.and_then(|params| fake.grant(&headers, &params))
        }
        Some(Fault::Slow(delay)) => {
            // The lock is released here: other requests go on while this one waits.
            tokio::time::sleep(delay).await;
            params.and_then(|params| fake.grant(&headers, &params))
        }
        Some(Fault::ServerError) => Err(OAuthError::server_error("injected fault")),
        Some(Fault::InvalidGrant) => Err(OAuthError::invalid_grant("injected fault")),
        Some(Fault::InvalidClient) => Err(OAuthError::invalid_client("injected fault")),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            Err(OAuthError::too_many_requests(retry_after_secs))
        }
    };
    let mut response = match (answer, expires_in) {
        (Ok(token), None) => Json(token).into_response(),
        (Ok(token), Some(value)) => {
            let mut body = serde_json::to_value(&token).unwrap_or_default();
            body["expires_in"] = value;
            Json(body).into_response()
        }
        (Err(error), _) => error.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl FakeOAuth {
    /// Counts the request, records its redacted fields and takes the next queued fault.
    fn begin_token_request(&self, params: Option<&Params>) -> Option<Fault> {
        let mut server = self.lock();
        server.stats.token_requests += 1;
        server.stats.last_token_request = params.map(redacted).unwrap_or_default();
        let fault = server.faults.pop_front();
        if fault.is_some() {
            server.stats.faults_served += 1;
        }
        fault
    }

    /// Authenticates the client and runs the grant the request names.
    fn grant(&self, headers: &HeaderMap, params: &Params) -> Result<TokenResponse, OAuthError> {
        let now = self.now_millis();
        let mut server = self.lock();
        let client = authenticate(&mut server, headers, params)?;
        let required = || {
            client
                .clone()
                .ok_or_else(|| OAuthError::invalid_client("client authentication is missing"))
        };
        match param(params, "grant_type") {
            Some("client_credentials") => server.client_credentials(now, required()?, params),
            Some("authorization_code") => server.authorization_code(now, &required()?, params),
            Some("refresh_token") => server.refresh(now, &required()?, params),
            // The signed assertion is the credential; client authentication is optional here
            // (RFC 7523 §3.1), and Google's service accounts send none.
            Some(JWT_BEARER) => server.jwt_bearer(now, params),
            Some(other) => Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {} is not supported",
                printable(other)
            ))),
            None => Err(OAuthError::invalid_request("grant_type is missing")),
        }
    }
}

impl State {
    fn client_credentials(
        &mut self,
        now: i64,
        client: String,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        // `audience` and `resource` (Auth0, RFC 8707) are accepted and play no part.
        let scope = self.granted(param(params, "scope"));
        self.issue(now, client, "client_credentials", scope)
    }

    fn authorization_code(
        &mut self,
        now: i64,
        client: &str,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let code = require(params, "code")?;
        let Some(grant) = self.codes.remove(code) else {
            // A replayed code may be in an attacker's hands: revoke what it produced.
            if let Some(Some(family)) = self.used_codes.get(code).copied() {
                self.revoke_family(family);
            }
            return Err(OAuthError::invalid_grant("the code is unknown, expired or already used"));
        };
        // A code is spent by its first presentation, right or wrong.
        self.used_codes.insert(code.to_owned(), None);
        if grant.client_id != client {
            return Err(OAuthError::invalid_grant("the code was issued to another client"));
        }
        if now >= grant.expires_at_millis {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if param(params, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the one sent to /authorize",
            ));
        }
        let verifier = param(params, "code_verifier")
            .ok_or_else(|| OAuthError::invalid_grant("code_verifier is missing"))?;
        if !is_pkce_string(verifier) || !same_secret(&s256(verifier), &grant.code_challenge) {
            return Err(OAuthError::invalid_grant("code_verifier does not match code_challenge"));
        }

        let scope = self.granted(grant.scope.as_deref());
        let family = self.new_family();
        let refresh_token = self.new_refresh_token(client, scope.clone(), family)?;
        self.used_codes.insert(code.to_owned(), Some(family));
        let mut response = self.issue(now, client.to_owned(), "authorization_code", scope)?;
        response.refresh_token = Some(refresh_token);
        Ok(response)
    }

    fn refresh(
        &mut self,
        now: i64,
        client: &str,
        params: &Params,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = require(params, "refresh_token")?;
        let Some(token) = self.refresh_tokens.get(presented) else {
            return Err(OAuthError::invalid_grant("the refresh token is unknown"));
        };
        if token.client_id != client {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let (family, token_scope) = (token.family, token.scope.clone());
        match token.status {
            RefreshStatus::Active => {}
            RefreshStatus::RotatedAway => {
                // Two parties hold this family's tokens; the server cannot tell which is the
                // thief, so neither keeps access (OAuth 2.0 Security BCP §4.14.2).
                self.stats.refresh_reuse_detected += 1;
                self.revoke_family(family);
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used; its family is revoked",
                ));
            }
            RefreshStatus::Revoked => {
                return Err(OAuthError::invalid_grant("the refresh token is revoked"));
            }
        }
        let asked = param(params, "scope");
        if let (Some(asked), Some(held)) = (asked, token_scope.as_deref())
            && !asked.split_whitespace().all(|s| held.split_whitespace().any(|h| h == s))
        {
            return Err(OAuthError::invalid_scope("scope exceeds what the refresh token holds"));
        }

        // A rotated refresh token keeps the scope of the one it replaces (RFC 6749 §6).
        let next = if self.rotate {
            Some(self.new_refresh_token(client, token_scope.clone(), family)?)
        } else {
            None
        };
        let scope = self.granted(asked.or(token_scope.as_deref()));
        let mut response = self.issue(now, client.to_owned(), "refresh_token", scope)?;
        if next.is_some()
            && let Some(old) = self.refresh_tokens.get_mut(presented)
        {
            old.status = RefreshStatus::RotatedAway;
        }
        response.refresh_token = next;
        Ok(response)
    }

    fn jwt_bearer(&mut self, now: i64, params: &Params) -> Result<TokenResponse, OAuthError> {
        let assertion = require(params, "assertion")?;
        let verified = assertion::verify(&self.service_accounts, assertion, now)?;
        let scope = self.granted(verified.scope.as_deref().or(param(params, "scope")));
        self.issue(now, verified.subject, JWT_BEARER, scope)
    }

    /// The scope a response grants: the test's override, else what was asked.
    fn granted(&self, asked: Option<&str>) -> Option<String> {
        self.granted_scopes.clone().or_else(|| asked.map(str::to_owned))
    }

    /// A new access token for `subject`, counted under `grant_type`.
    fn issue(
        &mut self,
        now: i64,
        subject: String,
        grant_type: &str,
        scope: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let access_token = random_token(&self.token_prefix)?;
        let lifetime_millis = i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX);
        let expires_at_millis = now.saturating_add(lifetime_millis);
        let record = AccessToken { subject, scope: scope.clone(), expires_at_millis };
        self.access_tokens.insert(access_token.clone(), record);
        *self.stats.by_grant.entry(grant_type.to_owned()).or_default() += 1;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.lifetime.as_secs(),
            refresh_token: None,
            scope,
            team: self.account_name.clone().map(|name| Team { name }),
            instance_url: self.instance_url.clone(),
        })
    }

    fn new_refresh_token(
        &mut self,
        client: &str,
        scope: Option<String>,
        family: u64,
    ) -> Result<String, OAuthError> {
        let token = random_token("rt_")?;
        let status = RefreshStatus::Active;
        let record = RefreshToken { client_id: client.to_owned(), scope, family, status };
        self.refresh_tokens.insert(token.clone(), record);
        Ok(token)
    }
}

/// The authenticated client id, or `None` when the request presents no client credentials.
fn authenticate(
    server: &mut State,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<String>, OAuthError> {
    let Some((method, client_id, secret)) = presented_credentials(headers, params)? else {
        return Ok(None);
    };
    server.stats.last_client_auth = Some(method.to_owned());
    match server.clients.get(&client_id) {
        Some(expected) if same_secret(expected, &secret) => Ok(Some(client_id)),
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// The method, client id and secret a request authenticates with, if it does.
fn presented_credentials(
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<(&'static str, String, String)>, OAuthError> {
    match (basic_credentials(headers)?, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            Err(OAuthError::invalid_request("use one client authentication method, not two"))
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|body_id| *body_id != id) {
                return Err(OAuthError::invalid_client("client_id differs from the Basic user"));
            }
            Ok(Some(("client_secret_basic", id, secret)))
        }
        (None, Some(secret)) => match params.get("client_id") {
            Some(id) => Ok(Some(("client_secret_post", id.clone(), secret.clone()))),
            None => Err(OAuthError::invalid_client("client_secret without client_id")),
        },
        (None, None) => Ok(None),
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, if the request has one.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let malformed = || OAuthError::invalid_client("the Basic Authorization header is malformed");
    let (scheme, encoded) =
        value.to_str().ok().and_then(|v| v.split_once(' ')).ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Undoes the `application/x-www-form-urlencoded` encoding of one value; `None` if a `%` is not
/// followed by two hex digits or the result is not UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                u8::try_from(hi * 16 + lo).ok()?
            }
            other => other,
        });
    }
    String::from_utf8(out).ok()
}

/// The form or JSON body as parameters; one given twice is an error (RFC 6749 §3.2).
fn parse_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let pairs: Vec<(String, String)> = match media_type.as_deref() {
        Some("application/x-www-form-urlencoded") => serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the form body does not parse"))?,
        Some("application/json") => json_pairs(body)?,
        _ => {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded or application/json",
            ));
        }
    };
    let mut params = Params::new();
    for (name, value) in pairs {
        if params.contains_key(&name) {
            let name = printable(&name);
            return Err(OAuthError::invalid_request(format!("{name} is given more than once")));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// A JSON object's members, which must all be strings.
fn json_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let Ok(Value::Object(object)) = serde_json::from_slice(body) else {
        return Err(OAuthError::invalid_request("the JSON body must be an object"));
    };
    object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(value) => Ok((name, value)),
            _ => Err(OAuthError::invalid_request(format!("{} must be a string", printable(&name)))),
        })
        .collect()
}

/// A parameter's value; an empty one counts as absent (RFC 6749 §3.1).
fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn require<'a>(params: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    param(params, name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

/// What `Stats::last_token_request` shows: the fields, secrets redacted.
fn redacted(params: &Params) -> Params {
    let show = |name: &str, value: &str| {
        if SECRET_FIELDS.contains(&name) { "<redacted>".to_owned() } else { value.to_owned() }
    };
    params.iter().map(|(name, value)| (name.clone(), show(name, value))).collect()
}

/// BASE64URL-NOPAD(SHA256(verifier)): the S256 challenge of RFC 7636 §4.2.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Caller-supplied text made safe to echo in an error description.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}
