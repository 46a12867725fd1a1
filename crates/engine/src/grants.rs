//! OAuth 2.0 grants: `client_credentials`, `refresh_token` (with rotation), `authorization_code`
//! with PKCE, and the RFC 7523 JWT bearer grant; and what their answers mean.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use flowvault_core::{AppId, Setup, SetupType, Timestamp};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use flowvault_core::Redactor;

use crate::clock::after;
use crate::providers::{ClientAuthMethod, Provider};
use crate::tokens::{MAX_REFRESH_TOKEN_LIFETIME, MAX_RETRY_AFTER, MAX_TOKEN_LIFETIME, TokenSet};
use crate::transport::{OutboundRequest, OutboundResponse, Transport, TransportError};

/// Why a grant did not produce tokens. Messages never contain a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GrantError {
    /// Worth retrying later (network trouble, 5xx, 429).
    #[error("{message}")]
    Transient {
        /// What happened.
        message: String,
        /// The provider's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The provider refused the grant itself (`invalid_grant`, `invalid_client`,
    /// `unauthorized_client`): only new credentials or a new authorization help.
    #[error("{message}")]
    Rejected {
        /// What the provider said.
        message: String,
    },
    /// Something else that retrying soon won't fix (a misconfigured endpoint, an odd answer).
    #[error("{message}")]
    Failed {
        /// What happened.
        message: String,
    },
}

/// What a successful grant produced.
#[derive(Debug)]
pub(crate) struct Obtained {
    pub(crate) tokens: TokenSet,
    /// The granted scopes, if the provider said.
    pub(crate) granted_scopes: Option<String>,
    /// The account the tokens act as, if the provider said.
    pub(crate) account_name: Option<String>,
}

/// What every grant needs.
pub(crate) struct GrantContext<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) provider: &'a Provider,
    pub(crate) app: AppId,
    pub(crate) now: Timestamp,
    pub(crate) timeout: Duration,
}

/// Gets a new access token for a connection with `setup` (and its current tokens, for the
/// refresh grant).
pub(crate) async fn obtain(
    ctx: &GrantContext<'_>,
    setup: &Setup,
    current: Option<&TokenSet>,
) -> Result<Obtained, GrantError> {
    let field = |name: &str| setup.expose(name).unwrap_or_default();
    match setup.setup_type() {
        SetupType::OauthApp => {
            let domain = field("domain");
            let base = match &ctx.provider.base_url {
                Some(b) => b.as_str().trim_end_matches('/').to_owned(),
                None => format!("https://{domain}"),
            };
            let token_url = parse_url(&format!("{base}/oauth/token"))?;
            let audience = setup
                .expose("audience")
                .map_or_else(|| format!("https://{domain}/api/v2/"), str::to_owned);
            let params =
                vec![("grant_type", "client_credentials".to_owned()), ("audience", audience)];
            let auth = Auth {
                id: field("client_id"),
                secret: field("client_secret"),
                method: ClientAuthMethod::Post,
            };
            request(ctx, token_url, params, Some(auth), &[field("client_secret")]).await
        }
        SetupType::OauthClientCredentials => {
            let token_url = parse_url(field("token_endpoint"))?;
            let mut params = vec![("grant_type", "client_credentials".to_owned())];
            for name in ["audience", "resource", "scope"] {
                if let Some(v) = setup.expose(name) {
                    params.push((name, v.to_owned()));
                }
            }
            let auth = Auth {
                id: field("client_id"),
                secret: field("client_secret"),
                method: ClientAuthMethod::Basic,
            };
            request(ctx, token_url, params, Some(auth), &[field("client_secret")]).await
        }
        SetupType::OauthJwt => {
            let token_url = ctx
                .provider
                .token_url
                .clone()
                .ok_or_else(|| not_configured(ctx.app, "token_url"))?;
            let scope = ctx.provider.scopes.join(ctx.provider.scope_separator);
            let assertion = jwt_assertion(
                field("client_email"),
                field("private_key"),
                token_url.as_str(),
                &scope,
                ctx.now,
            )?;
            let params = vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
                ("assertion", assertion.to_string()),
            ];
            request(ctx, token_url, params, None, &[assertion.as_str()]).await
        }
        SetupType::OauthCode => {
            let refresh_token =
                current.and_then(|t| t.refresh_token.as_ref()).ok_or_else(|| {
                    GrantError::Rejected {
                        message: "there is no refresh token: connect again".to_owned(),
                    }
                })?;
            let token_url = ctx
                .provider
                .token_url
                .clone()
                .ok_or_else(|| not_configured(ctx.app, "token_url"))?;
            let (id, secret) = operator_client(ctx)?;
            let params = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.expose_secret().to_owned()),
            ];
            let auth =
                Auth { id: &id, secret: secret.expose_secret(), method: ctx.provider.client_auth };
            let mut obtained = request(
                ctx,
                token_url,
                params,
                Some(auth),
                &[secret.expose_secret(), refresh_token.expose_secret()],
            )
            .await?;
            // A provider that does not rotate answers without a refresh token: keep the old one.
            if obtained.tokens.refresh_token.is_none() {
                obtained.tokens.refresh_token = Some(refresh_token.clone());
            }
            // Nor need it repeat the instance the connection lives on.
            if obtained.tokens.api_base.is_none() {
                obtained.tokens.api_base = current.and_then(|t| t.api_base.clone());
            }
            Ok(obtained)
        }
        other => {
            Err(GrantError::Failed { message: format!("{other} connections do not use tokens") })
        }
    }
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub(crate) async fn exchange_code(
    ctx: &GrantContext<'_>,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<Obtained, GrantError> {
    let token_url =
        ctx.provider.token_url.clone().ok_or_else(|| not_configured(ctx.app, "token_url"))?;
    let (id, secret) = operator_client(ctx)?;
    let params = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("code_verifier", verifier.to_owned()),
    ];
    let auth = Auth { id: &id, secret: secret.expose_secret(), method: ctx.provider.client_auth };
    request(ctx, token_url, params, Some(auth), &[secret.expose_secret(), code, verifier]).await
}

/// The operator's OAuth client for an `OAUTH_CODE` app.
pub(crate) fn operator_client(
    ctx: &GrantContext<'_>,
) -> Result<(String, SecretString), GrantError> {
    match (&ctx.provider.client_id, &ctx.provider.client_secret) {
        (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        _ => Err(not_configured(ctx.app, "client_id and client_secret")),
    }
}

fn not_configured(app: AppId, what: &str) -> GrantError {
    GrantError::Failed {
        message: format!("the operator has not configured the {what} of the {app} OAuth app"),
    }
}

fn parse_url(s: &str) -> Result<Url, GrantError> {
    Url::parse(s).map_err(|_| GrantError::Failed {
        message: "the token endpoint is not a valid URL".to_owned(),
    })
}

struct Auth<'a> {
    id: &'a str,
    secret: &'a str,
    method: ClientAuthMethod,
}

/// Posts a token request and reads the answer. `secrets` are scrubbed from any message.
async fn request(
    ctx: &GrantContext<'_>,
    token_url: Url,
    mut params: Vec<(&str, String)>,
    auth: Option<Auth<'_>>,
    secrets: &[&str],
) -> Result<Obtained, GrantError> {
    let mut request = OutboundRequest::new(Method::POST, token_url);
    request.https_only = true;
    request.timeout = Some(ctx.timeout);
    request
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    request.headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut redactor = Redactor::with(secrets.iter().copied());
    if let Some(auth) = auth {
        match auth.method {
            ClientAuthMethod::Post => {
                params.push(("client_id", auth.id.to_owned()));
                params.push(("client_secret", auth.secret.to_owned()));
            }
            ClientAuthMethod::Basic => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let (id, secret) = (enc(auth.id), enc(auth.secret));
                redactor.add_basic(&id, &secret);
                let basic = Zeroizing::new(STANDARD.encode(format!("{id}:{secret}")));
                let value =
                    HeaderValue::from_str(&format!("Basic {}", basic.as_str())).map_err(|_| {
                        GrantError::Failed {
                            message: "the client credentials can't be sent".to_owned(),
                        }
                    })?;
                request.headers.insert(AUTHORIZATION, value);
            }
        }
    }
    let body = Zeroizing::new(serde_urlencoded::to_string(&params).map_err(|_| {
        GrantError::Failed { message: "the token request can't be encoded".to_owned() }
    })?);
    for (_, v) in params.iter_mut() {
        zeroize::Zeroize::zeroize(v);
    }
    request.body = Bytes::from(body.as_bytes().to_vec());

    let response = ctx.transport.send(request).await.map_err(|e| match e {
        TransportError::Refused(r) => GrantError::Failed { message: format!("token endpoint {r}") },
        e if e.is_transient() => {
            GrantError::Transient { message: format!("token endpoint: {e}"), retry_after: None }
        }
        e => GrantError::Failed { message: format!("token endpoint: {e}") },
    })?;
    parse_response(ctx.provider, ctx.now, &response, &mut redactor)
}

/// Reads a token endpoint's answer: an error (its message scrubbed of `redactor`'s secrets), or
/// the tokens — with every provider-supplied duration checked and bounded. Pure: the answer is
/// hostile input, and this is what the fuzz harness feeds.
pub(crate) fn parse_response(
    provider: &Provider,
    now: Timestamp,
    response: &OutboundResponse,
    redactor: &mut Redactor,
) -> Result<Obtained, GrantError> {
    let status = response.status;
    let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    // Scrubbed before it is cut short: a secret the provider echoes across the cut would
    // otherwise leave its start behind.
    let mut described = |json: &Value| {
        let mut field = |name: &str, max: usize| {
            let text = json.get(name).and_then(Value::as_str).unwrap_or("");
            truncate(&redactor.scrub_str(text), max)
        };
        let (error, description) = (field("error", 60), field("error_description", 200));
        let mut m = format!("token endpoint answered {}", status.as_u16());
        if !error.is_empty() {
            m.push(' ');
            m.push_str(&error);
        }
        if !description.is_empty() {
            m.push_str(": ");
            m.push_str(&description);
        }
        m
    };

    if status.is_server_error() {
        return Err(GrantError::Transient { message: described(&json), retry_after: None });
    }
    if status.as_u16() == 429 {
        // Honoured up to MAX_RETRY_AFTER: a provider can't park a connection for years.
        let retry_after = response
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
        return Err(GrantError::Transient { message: described(&json), retry_after });
    }
    // Slack answers 200 with {"ok": false, "error": "…"}.
    let slack_error = json.get("ok") == Some(&Value::Bool(false));
    if !status.is_success() || slack_error {
        let error = json.get("error").and_then(Value::as_str).unwrap_or("");
        let rejected = matches!(error, "invalid_grant" | "invalid_client" | "unauthorized_client")
            || (slack_error
                && (error.starts_with("invalid_")
                    || error.contains("revoked")
                    || error.starts_with("bad_client")));
        let message = described(&json);
        return Err(if rejected {
            GrantError::Rejected { message }
        } else {
            GrantError::Failed { message }
        });
    }

    let access_token =
        json.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(
            || GrantError::Failed {
                message: "the token endpoint's answer has no access_token".to_owned(),
            },
        )?;
    let expires_in = lifetime(&json, "expires_in", MAX_TOKEN_LIFETIME)?;
    let refresh_expires_in =
        lifetime(&json, "refresh_token_expires_in", MAX_REFRESH_TOKEN_LIFETIME)?;
    let tokens = TokenSet {
        access_token: SecretString::from(access_token.to_owned()),
        refresh_token: json
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_owned())),
        token_type: json.get("token_type").and_then(Value::as_str).unwrap_or("Bearer").to_owned(),
        expires_at: expires_in.map(|d| after(now, d)),
        refresh_expires_at: refresh_expires_in.map(|d| after(now, d)),
        scope: json.get("scope").and_then(Value::as_str).map(str::to_owned),
        obtained_at: now,
        api_base: provider
            .api_base_pointer
            .as_deref()
            .and_then(|p| json.pointer(p))
            .and_then(Value::as_str)
            .and_then(api_base),
    };
    let account_name = provider
        .account_name_pointer
        .as_deref()
        .and_then(|p| json.pointer(p))
        .and_then(Value::as_str)
        .map(|s| truncate(s, 150));
    Ok(Obtained {
        granted_scopes: tokens.scope.as_ref().map(|s| normalize_scopes(s)),
        tokens,
        account_name,
    })
}

/// A lifetime the provider gives in seconds (`expires_in`, `refresh_token_expires_in`): a
/// positive number (or a string of one), clamped to `max`; absent means "not said". Anything
/// else — zero, a negative number, text — is an error naming the field, so the connection shows
/// what is wrong instead of holding a token believed to never expire, or already expired.
fn lifetime(json: &Value, field: &str, max: Duration) -> Result<Option<Duration>, GrantError> {
    let seconds = match json.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s >= 1.0 => {
            Ok(Some(Duration::try_from_secs_f64(s).map_or(max, |d| d.min(max))))
        }
        _ => Err(GrantError::Failed {
            message: format!(
                "the token endpoint's answer has an invalid {field}: it must be a positive number \
                 of seconds"
            ),
        }),
    }
}

/// A provider-named API host: an `https` origin (no credentials, path, query), else ignored —
/// a token response must not be able to send the connection's requests anywhere but https.
fn api_base(s: &str) -> Option<url::Url> {
    let url = url::Url::parse(s).ok()?;
    let plain = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.host_str().is_some()
        && matches!(url.path(), "" | "/");
    plain.then_some(url)
}

/// Scopes as space-separated words (providers use spaces or commas).
pub(crate) fn normalize_scopes(s: &str) -> String {
    s.split([' ', ',']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// An RS256 assertion for the JWT bearer grant (RFC 7523): `iss` the service account, `aud` the
/// token endpoint, valid for an hour.
fn jwt_assertion(
    client_email: &str,
    private_key_pem: &str,
    audience: &str,
    scope: &str,
    now: Timestamp,
) -> Result<Zeroizing<String>, GrantError> {
    let bad_key =
        || GrantError::Rejected { message: "the private key is not a usable RSA key".to_owned() };
    let key = PrivateKeyDer::from_pem_slice(private_key_pem.as_bytes()).map_err(|_| bad_key())?;
    let pair = match &key {
        PrivateKeyDer::Pkcs8(k) => KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => KeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err(bad_key()),
    }
    .map_err(|_| bad_key())?;
    let iat = now.unix_millis() / 1000;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    let mut claims =
        serde_json::json!({"iss": client_email, "aud": audience, "iat": iat, "exp": iat + 3600});
    if !scope.is_empty() {
        claims["scope"] = Value::String(scope.to_owned());
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
        .map_err(|_| bad_key())?;
    Ok(Zeroizing::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_named_api_host_must_be_a_plain_https_origin() {
        let ok = |s: &str| api_base(s).map(|u| u.to_string());
        assert_eq!(
            ok("https://eu12.my.salesforce.com").as_deref(),
            Some("https://eu12.my.salesforce.com/")
        );
        assert_eq!(
            ok("https://acme.pipedrive.com/").as_deref(),
            Some("https://acme.pipedrive.com/")
        );
        for bad in [
            "http://eu12.my.salesforce.com",
            "https://user:pw@evil.test",
            "https://evil.test/path",
            "https://evil.test/?x=1",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn provider_lifetimes_are_bounded() {
        let max = Duration::from_secs(100);
        let life = |v: Value| lifetime(&serde_json::json!({ "expires_in": v }), "expires_in", max);
        assert_eq!(life(Value::from(60)).ok().flatten(), Some(Duration::from_secs(60)));
        assert_eq!(life(Value::from("60")).ok().flatten(), Some(Duration::from_secs(60)));
        assert_eq!(life(Value::from(59.5)).ok().flatten(), Some(Duration::from_secs_f64(59.5)));
        for huge in [
            Value::from(1_000_000_000_000u64),
            Value::from(1e14),
            Value::from(u64::MAX),
            Value::from(1e300),
        ] {
            assert_eq!(life(huge.clone()).ok().flatten(), Some(max), "{huge}");
        }
        for bad in [
            Value::from(-5),
            Value::from(0),
            Value::from("abc"),
            Value::from(true),
            serde_json::json!([1]),
        ] {
            let e = life(bad.clone()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("invalid expires_in"), "{bad}: {e}");
        }
        assert_eq!(lifetime(&serde_json::json!({}), "expires_in", max).ok(), Some(None));
    }

    mod hostile_answers {
        use proptest::prelude::*;

        use super::*;

        const KEYS: &[&str] = &[
            "access_token",
            "refresh_token",
            "expires_in",
            "refresh_token_expires_in",
            "token_type",
            "scope",
            "error",
            "error_description",
            "ok",
            "instance_url",
            "team",
        ];

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(
                    |f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                ),
                ".{0,30}".prop_map(Value::String),
                Just(Value::String("invalid_grant".to_owned())),
                Just(Value::String("1e400".to_owned())),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                Just(serde_json::json!({"name": "x"})),
            ]
        }

        fn body() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                prop::collection::vec((prop::sample::select(KEYS), value()), 0..8).prop_map(
                    |entries| {
                        let map: serde_json::Map<String, Value> =
                            entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                        Value::Object(map).to_string().into_bytes()
                    }
                ),
                prop::collection::vec(any::<u8>(), 0..200),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Whatever a token endpoint answers, reading it neither panics nor yields a time
            /// past the documented bounds, nor a message with the request's secrets.
            #[test]
            fn token_responses_are_read_defensively(
                status in 100u16..600,
                retry_after in proptest::option::of(".{0,25}"),
                body in body(),
            ) {
                let Ok(now) = "2026-12-03T00:00:00Z".parse::<Timestamp>() else { return Ok(()) };
                let mut headers = http::HeaderMap::new();
                if let Some(v) = retry_after.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                    headers.insert(RETRY_AFTER, v);
                }
                let response = OutboundResponse {
                    status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK),
                    headers,
                    body: Bytes::from(body),
                };
                let mut redactor = Redactor::with(["client-s3cret-planted"]);
                match parse_response(&Provider::default(), now, &response, &mut redactor) {
                    Ok(o) => {
                        prop_assert!(o.tokens.expires_at.is_none_or(|e| e <= now.saturating_add(MAX_TOKEN_LIFETIME)));
                        prop_assert!(o.tokens.refresh_expires_at.is_none_or(|e| e <= now.saturating_add(MAX_REFRESH_TOKEN_LIFETIME)));
                        prop_assert!(!o.tokens.access_token().is_empty());
                    }
                    Err(GrantError::Transient { retry_after, message }) => {
                        prop_assert!(retry_after.is_none_or(|d| d <= MAX_RETRY_AFTER));
                        prop_assert!(!message.contains("client-s3cret-planted"));
                    }
                    Err(GrantError::Rejected { message } | GrantError::Failed { message }) => {
                        prop_assert!(!message.contains("client-s3cret-planted"));
                    }
                }
            }
        }
    }

    #[test]
    fn scopes_and_truncation() {
        assert_eq!(normalize_scopes("a,b  c"), "a b c");
        assert_eq!(truncate("é\nx", 1), "é…");
    }
}
