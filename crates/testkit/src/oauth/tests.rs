//! The fake's endpoints driven through its router, as a client would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::body::Body;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use flowvault_core::{Clock, Timestamp};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::{FakeOAuth, Fault};

const CLIENT: &str = "app";
/// Needs the form-urlencoding of RFC 6749 §2.3.1 to survive Basic authentication.
const SECRET: &str = "s3cret: &+/=é";
const REDIRECT: &str = "https://vault.example/callback";
/// The verifier and challenge of RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ROBOT: &str = "robot@project.iam.gserviceaccount.com";
const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// A clock that moves only when told.
#[derive(Debug)]
struct TestClock(Mutex<Timestamp>);

impl TestClock {
    fn new() -> Arc<Self> {
        let start = "2026-03-01T12:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        Arc::new(Self(Mutex::new(start)))
    }

    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = Timestamp::from_datetime(now.as_datetime() + by);
    }

    fn unix_secs(&self) -> i64 {
        self.now().unix_millis() / 1000
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Fixture {
    fake: FakeOAuth,
    clock: Arc<TestClock>,
    router: Router,
}

/// A fake with the client [`CLIENT`] registered.
fn fixture() -> Fixture {
    let clock = TestClock::new();
    let fake = FakeOAuth::new(clock.clone());
    fake.register_client(CLIENT, SECRET);
    let router = fake.router();
    Fixture { fake, clock, router }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_else(|| panic!("no error in {}", self.body))
    }

    fn field(&self, name: &str) -> &str {
        self.body[name].as_str().unwrap_or_else(|| panic!("no {name} in {}", self.body))
    }

    fn header(&self, name: impl axum::http::header::AsHeaderName) -> &str {
        let value = self.headers.get(name).unwrap_or_else(|| panic!("header missing"));
        value.to_str().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The query parameters of a redirect to [`REDIRECT`].
    fn redirect_params(&self) -> HashMap<String, String> {
        assert_eq!(self.status, StatusCode::FOUND, "{}", self.body);
        let location = self.header(LOCATION);
        let query = location
            .strip_prefix(REDIRECT)
            .and_then(|rest| rest.strip_prefix('?'))
            .unwrap_or_else(|| panic!("redirect elsewhere: {location}"));
        serde_urlencoded::from_str(query).unwrap_or_else(|e| panic!("{e}"))
    }
}

async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON: {e}"))
    };
    Reply { status, headers, body }
}

/// How a token request authenticates its client.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    None,
}

const BASIC: Auth<'static> = Auth::Basic(CLIENT, SECRET);
const POST: Auth<'static> = Auth::Post(CLIENT, SECRET);

fn token_request(auth: Auth<'_>, fields: &[(&str, &str)]) -> Request<Body> {
    let mut fields = fields.to_vec();
    let mut request =
        Request::post("/token").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    match auth {
        Auth::Basic(id, secret) => request = request.header(AUTHORIZATION, basic(id, secret)),
        Auth::Post(id, secret) => fields.extend([("client_id", id), ("client_secret", secret)]),
        Auth::None => {}
    }
    let body = serde_urlencoded::to_string(&fields).unwrap_or_else(|e| panic!("{e}"));
    request.body(Body::from(body)).unwrap_or_else(|e| panic!("{e}"))
}

/// `Basic base64(urlencode(id):urlencode(secret))`.
fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| {
        let pair = serde_urlencoded::to_string([("v", s)]).unwrap_or_else(|e| panic!("{e}"));
        pair.trim_start_matches("v=").to_owned()
    };
    format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))))
}

async fn token(router: &Router, auth: Auth<'_>, fields: &[(&str, &str)]) -> Reply {
    send(router, token_request(auth, fields)).await
}

async fn client_credentials(router: &Router) -> Reply {
    token(router, BASIC, &[("grant_type", "client_credentials")]).await
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
}

/// `GET /authorize` with the standard parameters, `overrides` replacing or adding some.
async fn authorize(router: &Router, overrides: &[(&str, &str)]) -> Reply {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("scope", "read write"),
        ("state", "st-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in overrides {
        params.retain(|(n, _)| n != name);
        params.push((name, value));
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_else(|e| panic!("{e}"));
    send(router, get(&format!("/authorize?{query}"))).await
}

async fn code(router: &Router) -> String {
    let params = authorize(router, &[]).await.redirect_params();
    params.get("code").unwrap_or_else(|| panic!("no code in {params:?}")).clone()
}

async fn exchange(router: &Router, code: &str, verifier: &str, redirect_uri: &str) -> Reply {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token(router, BASIC, &fields).await
}

/// An access and a refresh token from the code flow.
async fn code_tokens(router: &Router) -> (String, String) {
    let code = code(router).await;
    let reply = exchange(router, &code, VERIFIER, REDIRECT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    (reply.field("access_token").to_owned(), reply.field("refresh_token").to_owned())
}

async fn refresh(router: &Router, refresh_token: &str) -> Reply {
    token(router, BASIC, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

async fn userinfo(router: &Router, access_token: &str) -> Reply {
    let request = Request::get("/userinfo")
        .header(AUTHORIZATION, format!("Bearer {access_token}"))
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    send(router, request).await
}

#[tokio::test]
async fn client_credentials_with_basic_auth() {
    let fx = fixture();
    let fields = [("grant_type", "client_credentials"), ("scope", "read"), ("audience", "api")];
    let reply = token(&fx.router, BASIC, &fields).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert_eq!(reply.body["scope"], "read");
    assert!(reply.body.get("refresh_token").is_none());
    assert!(reply.body.get("team").is_none());
    let access_token = reply.field("access_token");
    assert!(access_token.starts_with("at_") && access_token.len() == 35, "{access_token}");
    assert!(fx.fake.access_token_valid(access_token));
    assert!(!fx.fake.access_token_valid("at_never-issued"));

    let stats = fx.fake.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.by_grant.get("client_credentials"), Some(&1));
    assert_eq!(stats.last_client_auth.as_deref(), Some("client_secret_basic"));
    let seen: Vec<_> = stats.last_token_request.keys().map(String::as_str).collect();
    assert_eq!(seen, ["audience", "grant_type", "scope"]);
}

#[tokio::test]
async fn client_credentials_with_post_auth() {
    let fx = fixture();
    let first = token(&fx.router, POST, &[("grant_type", "client_credentials")]).await;
    let second = token(&fx.router, POST, &[("grant_type", "client_credentials")]).await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_ne!(first.field("access_token"), second.field("access_token"));
    assert!(first.body.get("scope").is_none(), "nothing asked, nothing granted");
    let stats = fx.fake.stats();
    assert_eq!(stats.by_grant.get("client_credentials"), Some(&2));
    assert_eq!(stats.last_client_auth.as_deref(), Some("client_secret_post"));
    assert_eq!(stats.last_token_request["client_id"], CLIENT);
    assert_eq!(stats.last_token_request["client_secret"], "<redacted>");
}

#[tokio::test]
async fn client_credentials_as_json() {
    let fx = fixture();
    let body = json!({
        "grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET,
    });
    let request = Request::post("/token")
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = send(&fx.router, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let request = Request::post("/token")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "grant_type": 1 }).to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = send(&fx.router, request).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn wrong_or_missing_client_credentials_are_invalid_client() {
    let fx = fixture();
    let cases = [
        Auth::Basic(CLIENT, "wrong"),
        Auth::Post(CLIENT, "wrong"),
        Auth::Basic("stranger", SECRET),
        Auth::None,
    ];
    for auth in cases {
        let reply = token(&fx.router, auth, &[("grant_type", "client_credentials")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert_eq!(reply.error(), "invalid_client");
        assert!(reply.header(WWW_AUTHENTICATE).starts_with("Basic"));
    }
    assert_eq!(fx.fake.stats().last_client_auth.as_deref(), Some("client_secret_basic"));

    // Two methods at once is a malformed request (RFC 6749 §2.3).
    let mut request = token_request(POST, &[("grant_type", "client_credentials")]);
    let basic = basic(CLIENT, SECRET).parse().unwrap_or_else(|e| panic!("{e}"));
    request.headers_mut().insert(AUTHORIZATION, basic);
    let reply = send(&fx.router, request).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_request"));

    let stats = fx.fake.stats();
    assert_eq!(stats.token_requests, 5);
    assert!(stats.by_grant.is_empty(), "{:?}", stats.by_grant);
}

#[tokio::test]
async fn unknown_or_missing_grant_type_is_refused() {
    let fx = fixture();
    let reply = token(&fx.router, BASIC, &[("grant_type", "password")]).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "unsupported_grant_type"));
    let reply = token(&fx.router, BASIC, &[("scope", "read")]).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let fx = fixture();
    let state = "a b&c=d/é?";
    let params = authorize(&fx.router, &[("state", state)]).await.redirect_params();
    assert_eq!(params["state"], state);
    assert!(params["code"].starts_with("ac_"));
    assert_eq!(fx.fake.stats().authorizations, 1);

    let reply = exchange(&fx.router, &params["code"], VERIFIER, REDIRECT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(reply.body["scope"], "read write");
    assert!(reply.field("refresh_token").starts_with("rt_"));
    let info = userinfo(&fx.router, reply.field("access_token")).await;
    assert_eq!((info.status, info.field("sub")), (StatusCode::OK, CLIENT));

    let stats = fx.fake.stats();
    assert_eq!(stats.by_grant.get("authorization_code"), Some(&1));
    for secret in ["code", "code_verifier"] {
        assert_eq!(stats.last_token_request[secret], "<redacted>");
    }
    assert_eq!(stats.last_token_request["redirect_uri"], REDIRECT);
}

#[tokio::test]
async fn redirect_keeps_an_existing_query() {
    let fx = fixture();
    let uri = format!("{REDIRECT}?tenant=t1");
    let reply = authorize(&fx.router, &[("redirect_uri", &uri)]).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(reply.header(LOCATION).starts_with(&format!("{uri}&code=ac_")), "{:?}", reply.headers);
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_spends_the_code() {
    let fx = fixture();
    let code = code(&fx.router).await;
    let wrong = "x".repeat(43);
    let reply = exchange(&fx.router, &code, &wrong, REDIRECT).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let reply = exchange(&fx.router, &code, VERIFIER, REDIRECT).await;
    assert_eq!(reply.error(), "invalid_grant");
    assert!(fx.fake.stats().by_grant.is_empty());
}

#[tokio::test]
async fn replayed_code_is_invalid_grant_and_revokes_its_tokens() {
    let fx = fixture();
    let code = code(&fx.router).await;
    let first = exchange(&fx.router, &code, VERIFIER, REDIRECT).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    let replay = exchange(&fx.router, &code, VERIFIER, REDIRECT).await;
    assert_eq!((replay.status, replay.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let reply = refresh(&fx.router, first.field("refresh_token")).await;
    assert_eq!(reply.error(), "invalid_grant");
}

#[tokio::test]
async fn wrong_redirect_uri_is_invalid_grant() {
    let fx = fixture();
    let code = code(&fx.router).await;
    let reply = exchange(&fx.router, &code, VERIFIER, "https://evil.example/callback").await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
}

#[tokio::test]
async fn code_expires_after_a_minute_by_the_clock() {
    let fx = fixture();
    let fresh = code(&fx.router).await;
    let stale = code(&fx.router).await;
    fx.clock.advance(Duration::from_secs(59));
    let reply = exchange(&fx.router, &fresh, VERIFIER, REDIRECT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    fx.clock.advance(Duration::from_secs(1));
    let reply = exchange(&fx.router, &stale, VERIFIER, REDIRECT).await;
    assert_eq!(reply.error(), "invalid_grant");
}

#[tokio::test]
async fn authorize_refusals() {
    let fx = fixture();
    let reply = authorize(&fx.router, &[("client_id", "stranger")]).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(reply.headers.get(LOCATION).is_none(), "never redirect for an unknown client");

    let without_challenge = [("code_challenge", "")];
    let plain = [("code_challenge_method", "plain")];
    let token_flow = [("response_type", "token")];
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&without_challenge, "invalid_request"),
        (&plain, "invalid_request"),
        (&token_flow, "unsupported_response_type"),
    ];
    for (overrides, error) in cases {
        let params = authorize(&fx.router, overrides).await.redirect_params();
        assert_eq!(params.get("error").map(String::as_str), Some(error), "{overrides:?}");
        assert_eq!(params["state"], "st-1");
        assert!(!params.contains_key("code"));
    }

    fx.fake.set_deny_authorization(true);
    let params = authorize(&fx.router, &[]).await.redirect_params();
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-1");
    assert_eq!(fx.fake.stats().authorizations, 0);
}

#[tokio::test]
async fn rotation_replaces_the_refresh_token_and_detects_reuse() {
    let fx = fixture();
    let (_, first) = code_tokens(&fx.router).await;

    let reply = refresh(&fx.router, &first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = reply.field("refresh_token").to_owned();
    assert_ne!(second, first);
    assert_eq!(reply.body["scope"], "read write");
    assert!(fx.fake.access_token_valid(reply.field("access_token")));

    let reuse = refresh(&fx.router, &first).await;
    assert_eq!((reuse.status, reuse.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(fx.fake.stats().refresh_reuse_detected, 1);
    let after = refresh(&fx.router, &second).await;
    assert_eq!(after.error(), "invalid_grant", "the whole family is revoked");

    let stats = fx.fake.stats();
    assert_eq!(stats.refresh_reuse_detected, 1, "a revoked token is not reuse");
    assert_eq!(stats.by_grant.get("refresh_token"), Some(&1));
    assert_eq!(stats.last_token_request["refresh_token"], "<redacted>");
}

#[tokio::test]
async fn without_rotation_the_refresh_token_stays() {
    let fx = fixture();
    fx.fake.set_rotation(false);
    let (_, refresh_token) = code_tokens(&fx.router).await;
    for _ in 0..2 {
        let reply = refresh(&fx.router, &refresh_token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.body.get("refresh_token").is_none(), "{}", reply.body);
    }
    let stats = fx.fake.stats();
    assert_eq!(stats.by_grant.get("refresh_token"), Some(&2));
    assert_eq!(stats.refresh_reuse_detected, 0);
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_not_widen_it() {
    let fx = fixture();
    fx.fake.set_rotation(false);
    let (_, refresh_token) = code_tokens(&fx.router).await;
    let narrow = [("grant_type", "refresh_token"), ("refresh_token", &refresh_token)];
    let reply = token(&fx.router, BASIC, &[narrow[0], narrow[1], ("scope", "read")]).await;
    assert_eq!(reply.body["scope"], "read");
    let reply = token(&fx.router, BASIC, &[narrow[0], narrow[1], ("scope", "admin")]).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_scope"));
}

#[tokio::test]
async fn revoked_refresh_tokens_are_invalid_grant() {
    let fx = fixture();
    let (_, refresh_token) = code_tokens(&fx.router).await;
    fx.fake.revoke_refresh_tokens();
    let reply = refresh(&fx.router, &refresh_token).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(fx.fake.stats().refresh_reuse_detected, 0);
}

#[tokio::test]
async fn each_fault_answers_once_then_the_server_recovers() {
    let fx = fixture();
    let cases = [
        (Fault::ServerError, StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        (Fault::InvalidGrant, StatusCode::BAD_REQUEST, "invalid_grant"),
        (Fault::InvalidClient, StatusCode::UNAUTHORIZED, "invalid_client"),
        (
            Fault::TooManyRequests { retry_after_secs: 7 },
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
        ),
    ];
    for (fault, status, error) in cases {
        fx.fake.inject(fault.clone(), 1);
        let reply = client_credentials(&fx.router).await;
        assert_eq!((reply.status, reply.error()), (status, error), "{fault:?}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.header(RETRY_AFTER), "7");
        }
    }
    let reply = client_credentials(&fx.router).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let stats = fx.fake.stats();
    assert_eq!((stats.token_requests, stats.faults_served), (5, 4));
    assert_eq!(stats.by_grant.get("client_credentials"), Some(&1));
}

#[tokio::test]
async fn faults_apply_before_client_authentication_and_can_be_cleared() {
    let fx = fixture();
    fx.fake.inject(Fault::ServerError, 3);
    let reply = token(&fx.router, Auth::None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let reply = client_credentials(&fx.router).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    fx.fake.clear_faults();
    let reply = client_credentials(&fx.router).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(fx.fake.stats().faults_served, 2);
}

#[tokio::test(start_paused = true)]
async fn slow_fault_waits_then_answers() {
    let fx = fixture();
    fx.fake.inject(Fault::Slow(Duration::from_secs(30)), 1);
    let started = tokio::time::Instant::now();
    let reply = client_credentials(&fx.router).await;
    assert!(started.elapsed() >= Duration::from_secs(30), "{:?}", started.elapsed());
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let started = tokio::time::Instant::now();
    client_credentials(&fx.router).await;
    assert!(started.elapsed() < Duration::from_secs(1), "one slow answer only");
    assert_eq!(fx.fake.stats().faults_served, 1);
}

#[tokio::test]
async fn token_lifetime_follows_the_clock() {
    let fx = fixture();
    fx.fake.set_token_lifetime(Duration::from_secs(60));
    let reply = client_credentials(&fx.router).await;
    assert_eq!(reply.body["expires_in"], 60);
    let access_token = reply.field("access_token");

    fx.clock.advance(Duration::from_secs(59));
    assert!(fx.fake.access_token_valid(access_token));
    assert_eq!(userinfo(&fx.router, access_token).await.status, StatusCode::OK);
    fx.clock.advance(Duration::from_secs(1));
    assert!(!fx.fake.access_token_valid(access_token));
    let info = userinfo(&fx.router, access_token).await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    assert!(info.header(WWW_AUTHENTICATE).contains("invalid_token"));
}

#[tokio::test]
async fn granted_scopes_and_account_name_shape_the_response() {
    let fx = fixture();
    fx.fake.set_granted_scopes(Some("chat:write"));
    fx.fake.set_account_name(Some("Acme"));
    let reply =
        token(&fx.router, BASIC, &[("grant_type", "client_credentials"), ("scope", "read")]).await;
    assert_eq!(reply.body["scope"], "chat:write");
    assert_eq!(reply.body["team"], json!({ "name": "Acme" }));

    fx.fake.set_granted_scopes(None);
    fx.fake.set_account_name(None);
    let reply =
        token(&fx.router, BASIC, &[("grant_type", "client_credentials"), ("scope", "read")]).await;
    assert_eq!(reply.body["scope"], "read");
    assert!(reply.body.get("team").is_none());
}

/// Two RSA keys, generated once: key generation is slow in a debug build.
fn keys() -> &'static [KeyPair; 2] {
    static KEYS: OnceLock<[KeyPair; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generate = || KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
        [generate(), generate()]
    })
}

fn public_pem(key: &KeyPair) -> String {
    let der: PublicKeyX509Der<'_> = key.public_key().as_der().unwrap_or_else(|e| panic!("{e}"));
    let base64 = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

/// An RS256 JWT of `claims`, signed with `key`.
fn sign(key: &KeyPair, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "typ": "JWT" }).to_string());
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut signature)
        .unwrap_or_else(|e| panic!("{e}"));
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn robot_claims(now: i64) -> Value {
    json!({
        "iss": ROBOT,
        "scope": "https://www.googleapis.com/auth/drive",
        "aud": GOOGLE_TOKEN_URL,
        "iat": now,
        "exp": now + 3600,
    })
}

async fn jwt_bearer(router: &Router, assertion: &str) -> Reply {
    token(router, Auth::None, &[("grant_type", JWT_BEARER), ("assertion", assertion)]).await
}

#[tokio::test]
async fn jwt_bearer_with_a_service_account_key() {
    let fx = fixture();
    let [key, _] = keys();
    fx.fake.register_service_account(ROBOT, &public_pem(key));
    let assertion = sign(key, &robot_claims(fx.clock.unix_secs()));

    let reply = jwt_bearer(&fx.router, &assertion).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["scope"], "https://www.googleapis.com/auth/drive");
    assert!(reply.body.get("refresh_token").is_none());
    let info = userinfo(&fx.router, reply.field("access_token")).await;
    assert_eq!(info.field("sub"), ROBOT);
    assert_eq!(
        fx.fake.access_token_scopes(reply.field("access_token")),
        Some(vec!["https://www.googleapis.com/auth/drive".to_owned()])
    );
    assert_eq!(fx.fake.access_token_scopes("at_unknown"), None);

    let stats = fx.fake.stats();
    assert_eq!(stats.by_grant.get(JWT_BEARER), Some(&1));
    assert_eq!(stats.last_token_request["assertion"], "<redacted>");
}

#[tokio::test]
async fn jwt_bearer_refusals() {
    let fx = fixture();
    let [key, other_key] = keys();
    fx.fake.register_service_account(ROBOT, &public_pem(key));
    fx.fake.register_service_account("broken@example.com", "-----BEGIN PUBLIC KEY-----\n!!");
    let now = fx.clock.unix_secs();
    let with = |name: &str, value: Value| {
        let mut claims = robot_claims(now);
        claims[name] = value;
        claims
    };
    // Each case is refused for its own reason, which the description names.
    let cases = [
        ("signature does not verify", sign(other_key, &robot_claims(now))),
        ("has expired", sign(key, &with("exp", json!(now - 1)))),
        ("more than an hour away", sign(key, &with("exp", json!(now + 7200)))),
        ("iat is in the future", sign(key, &with("iat", json!(now + 600)))),
        ("longer than an hour", sign(key, &with("iat", json!(now - 600)))),
        ("not a token endpoint", sign(key, &with("aud", json!("https://api.example/v1")))),
        ("not a registered", sign(key, &with("iss", json!("stranger@example.com")))),
        ("not a PEM key", sign(key, &with("iss", json!("broken@example.com")))),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    for (reason, assertion) in cases {
        let reply = jwt_bearer(&fx.router, &assertion).await;
        assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
        let description = reply.field("error_description");
        assert!(description.contains(reason), "{reason}: {description}");
    }

    // An array aud is fine when one member is a token endpoint.
    let audiences = json!(["https://api.example/v1", GOOGLE_TOKEN_URL]);
    let reply = jwt_bearer(&fx.router, &sign(key, &with("aud", audiences))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Valid now, expired once the injected clock passes exp.
    let assertion = sign(key, &robot_claims(now));
    fx.clock.advance(Duration::from_secs(3600));
    let reply = jwt_bearer(&fx.router, &assertion).await;
    assert!(reply.field("error_description").contains("has expired"), "{}", reply.body);
    assert_eq!(fx.fake.stats().by_grant.get(JWT_BEARER), Some(&1));
}
