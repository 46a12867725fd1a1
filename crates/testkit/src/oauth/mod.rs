//! A fake OAuth 2.0 authorization server that runs in-process: the authorization code grant with
//! PKCE (RFC 6749, RFC 7636), client credentials, refresh with rotation and reuse detection, and
//! JWT bearer assertions (RFC 7523) as Google's service accounts use them. Knobs and injected
//! faults let a test reproduce what real providers do on a bad day.
//!
//! It keeps everything in memory and auto-approves every authorization (there is no login page).
//! It does not check redirect URIs against an allow-list, issue ID tokens or JWT access tokens:
//! access tokens are opaque, and only [`FakeOAuth::access_token_valid`] and `GET /userinfo` know
//! them. Refresh tokens do not expire by time; they end by rotation or revocation.

mod assertion;
mod authorize;
mod error;
mod token;
mod userinfo;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::Clock;

use self::error::OAuthError;

/// How long an access token lives unless a test says otherwise.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// An in-process fake OAuth 2.0 authorization server.
///
/// Clones share one server: keep a clone to turn knobs and read [`Stats`] while the
/// [`router`](Self::router) serves requests. Every expiry decision reads the injected clock.
#[derive(Clone)]
pub struct FakeOAuth {
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<State>>,
}

/// A way for the next `POST /token` requests to fail, queued by [`FakeOAuth::inject`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Grants the request normally, but answers this `expires_in` (a hostile or broken
    /// provider: `1e12`, `-5`, `"abc"`, …).
    ExpiresIn(serde_json::Value),
    /// `500` with `{"error":"server_error"}`.
    ServerError,
    /// Waits this long (tokio time), then answers the request normally.
    Slow(Duration),
    /// `400` with `{"error":"invalid_grant"}`, as when a provider has revoked the grant.
    InvalidGrant,
    /// `401` with `{"error":"invalid_client"}`, as when the client secret was rotated.
    InvalidClient,
    /// `429` with `Retry-After` and `{"error":"temporarily_unavailable"}`.
    TooManyRequests {
        /// The `Retry-After` header's value, in seconds.
        retry_after_secs: u64,
    },
}

/// What the server has seen, as returned by [`FakeOAuth::stats`].
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Every `POST /token`, including failed and faulted ones.
    pub token_requests: u64,
    /// Successful token issues per `grant_type`.
    pub by_grant: BTreeMap<String, u64>,
    /// How often a rotated-away refresh token was presented again.
    pub refresh_reuse_detected: u64,
    /// Requests answered by an injected [`Fault`] (slow ones included).
    pub faults_served: u64,
    /// Successful `/authorize` redirects carrying a code.
    pub authorizations: u64,
    /// The client authentication method of the last `POST /token` that presented credentials,
    /// right or wrong: `"client_secret_basic"` or `"client_secret_post"`.
    pub last_client_auth: Option<String>,
    /// The form fields of the last `POST /token`, secrets replaced by `"<redacted>"`.
    pub last_token_request: BTreeMap<String, String>,
}

/// Everything the server knows, behind one lock that is never held across an `await`.
#[derive(Debug)]
struct State {
    lifetime: Duration,
    rotate: bool,
    /// What issued access tokens start with (`at_` by default).
    token_prefix: String,
    granted_scopes: Option<String>,
    account_name: Option<String>,
    instance_url: Option<String>,
    deny_authorization: bool,
    /// client id → client secret.
    clients: HashMap<String, String>,
    /// Service account e-mail → the DER inside its PEM key, `None` if the PEM did not decode.
    service_accounts: HashMap<String, Option<Vec<u8>>>,
    faults: VecDeque<Fault>,
    codes: HashMap<String, Code>,
    /// Codes already presented once → the refresh token family they started, if any, so a
    /// replay can revoke it (RFC 6749 §4.1.2).
    used_codes: HashMap<String, Option<u64>>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    next_family: u64,
    stats: Stats,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scope: Option<String>,
    code_challenge: String,
    expires_at_millis: i64,
}

#[derive(Debug)]
struct AccessToken {
    /// The client id, or the service account for jwt-bearer: what `/userinfo` calls `sub`.
    subject: String,
    /// What the token response granted, for resource servers that check scopes.
    scope: Option<String>,
    expires_at_millis: i64,
}

#[derive(Debug)]
struct RefreshToken {
    client_id: String,
    scope: Option<String>,
    /// Every refresh token descending from one authorization shares a family.
    family: u64,
    status: RefreshStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshStatus {
    Active,
    /// Replaced by rotation: presenting it again is reuse.
    RotatedAway,
    Revoked,
}

impl FakeOAuth {
    /// A server with no clients, a token lifetime of 3600 s and refresh token rotation on.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let state = State {
            lifetime: DEFAULT_TOKEN_LIFETIME,
            rotate: true,
            token_prefix: "at_".to_owned(),
            granted_scopes: None,
            account_name: None,
            instance_url: None,
            deny_authorization: false,
            clients: HashMap::new(),
            service_accounts: HashMap::new(),
            faults: VecDeque::new(),
            codes: HashMap::new(),
            used_codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            next_family: 0,
            stats: Stats::default(),
        };
        Self { clock, state: Arc::new(Mutex::new(state)) }
    }

    /// `GET /authorize`, `POST /token` and `GET /userinfo`, to serve in-process or on a listener.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/authorize", get(authorize::authorize))
            .route("/token", post(token::token))
            .route("/userinfo", get(userinfo::userinfo))
            .with_state(self.clone())
    }

    /// Adds a confidential client, or replaces its secret.
    pub fn register_client(&self, client_id: &str, client_secret: &str) {
        self.lock().clients.insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// Adds a service account whose RS256 assertions the jwt-bearer grant accepts.
    /// `public_key_pem` is a `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1)
    /// PEM block; if it does not decode, the account's assertions are refused with
    /// `invalid_grant`.
    pub fn register_service_account(&self, email: &str, public_key_pem: &str) {
        let der = assertion::pem_to_der(public_key_pem);
        self.lock().service_accounts.insert(email.to_owned(), der);
    }

    /// How long access tokens issued from now on live.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    /// What issued access tokens start with (`at_` by default): a canary, say, to look for
    /// where tokens must not go.
    pub fn set_access_token_prefix(&self, prefix: &str) {
        self.lock().token_prefix = prefix.to_owned();
    }

    /// Whether using a refresh token replaces it with a new one (the default) or keeps it.
    pub fn set_rotation(&self, rotate: bool) {
        self.lock().rotate = rotate;
    }

    /// The scope every token response grants, whatever was asked; `None` grants what was asked.
    pub fn set_granted_scopes(&self, scopes: Option<&str>) {
        self.lock().granted_scopes = scopes.map(str::to_owned);
    }

    /// Adds `"instance_url": …` to token responses, as Salesforce does; `None` leaves it out.
    pub fn set_instance_url(&self, url: Option<&str>) {
        self.lock().instance_url = url.map(str::to_owned);
    }

    /// Adds `"team": {"name": …}` to token responses, as Slack does; `None` leaves it out.
    pub fn set_account_name(&self, name: Option<&str>) {
        self.lock().account_name = name.map(str::to_owned);
    }

    /// Makes `/authorize` redirect with `error=access_denied`, as when the user clicks "Cancel".
    pub fn set_deny_authorization(&self, deny: bool) {
        self.lock().deny_authorization = deny;
    }

    /// Makes the next `times` `POST /token` requests fail with `fault`, after any already queued.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.lock().faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// A snapshot of what the server has seen so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Whether `token` is an access token this server issued that has not expired by the clock.
    #[must_use]
    pub fn access_token_valid(&self, token: &str) -> bool {
        self.token_subject(token).is_some()
    }

    /// The scopes granted to `token` (split on spaces), or `None` if it is not an access token
    /// this server issued that has not expired: what a resource server (the BigQuery fake) reads
    /// to refuse a token that lacks the scope an endpoint needs.
    #[must_use]
    pub fn access_token_scopes(&self, token: &str) -> Option<Vec<String>> {
        let now = self.now_millis();
        let state = self.lock();
        let access = state.access_tokens.get(token).filter(|a| now < a.expires_at_millis)?;
        Some(
            access
                .scope
                .iter()
                .flat_map(|s| s.split(' '))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Revokes every refresh token issued so far: presenting one gets `invalid_grant`, as after
    /// the user disconnects the app at the provider.
    pub fn revoke_refresh_tokens(&self) {
        for token in self.lock().refresh_tokens.values_mut() {
            if token.status == RefreshStatus::Active {
                token.status = RefreshStatus::Revoked;
            }
        }
    }

    /// The subject of a valid access token.
    fn token_subject(&self, token: &str) -> Option<String> {
        let now = self.now_millis();
        let state = self.lock();
        let access = state.access_tokens.get(token)?;
        (now < access.expires_at_millis).then(|| access.subject.clone())
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().unix_millis()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held (a failing test thread) leaves the state usable: every
        // update below is a single assignment or insert.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for FakeOAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOAuth").field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl State {
    /// Marks every live refresh token of `family` revoked. Rotated-away ones stay rotated away,
    /// so presenting them again still counts as reuse.
    fn revoke_family(&mut self, family: u64) {
        for token in self.refresh_tokens.values_mut() {
            if token.family == family && token.status == RefreshStatus::Active {
                token.status = RefreshStatus::Revoked;
            }
        }
    }

    fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }
}

/// `prefix` and 32 base64url characters from the operating system's random generator.
fn random_token(prefix: &str) -> Result<String, OAuthError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|_| OAuthError::server_error("the random generator failed"))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}
