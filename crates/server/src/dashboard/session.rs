//! Signing in and out, the first admin, and the [`Signed`] extractor that makes a handler's
//! required role part of its signature.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{Email, Role, TenantName, check_new_password};
use flowvault_store::{SignedIn, VaultError};
use maud::html;
use secrecy::SecretString;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::ui;
use crate::auth::source_address;
use crate::state::AppState;

/// The session cookie over plain HTTP (development on localhost).
const SESSION_COOKIE: &str = "fv_session";
/// The session cookie under TLS: `__Host-` makes browsers refuse it unless it is `Secure`, for
/// this host only, on path `/`.
const SESSION_COOKIE_SECURE: &str = "__Host-fv_session";
/// The double-submit token of the sign-in and first-admin forms, before there is a session.
const PRESESSION_COOKIE: &str = "fv_signin";
/// The same under TLS: `__Host-`, so a sibling subdomain can't plant one.
const PRESESSION_COOKIE_SECURE: &str = "__Host-fv_signin";

/// What a handler needs the signed-in user's role to be.
pub(crate) trait Need: Send + Sync + 'static {
    /// The least role allowed.
    const ROLE: Role;
}

/// Reading: any signed-in user.
pub(crate) struct View;
/// Changing connections and flows, running flows.
pub(crate) struct Edit;

impl Need for View {
    const ROLE: Role = Role::Viewer;
}
impl Need for Edit {
    const ROLE: Role = Role::Editor;
}

/// A signed-in dashboard user whose role is at least `R`'s: a handler that takes one can't be
/// reached by anyone else. Without a session the browser is sent to sign in; with too small a
/// role the request is refused with 403.
pub(crate) struct Signed<R: Need>(pub(crate) SignedIn, PhantomData<R>);

impl<R: Need> Signed<R> {
    /// The session.
    pub(crate) fn session(&self) -> &SignedIn {
        &self.0
    }

    /// The user's tenant.
    pub(crate) fn tenant(&self) -> &flowvault_core::TenantId {
        &self.0.user.tenant_id
    }
}

impl<R: Need> FromRequestParts<AppState> for Signed<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        // The guard put the session there, after checking the CSRF token of a form.
        let Some(signed) = parts.extensions.get::<SignedIn>().cloned() else {
            let next = parts.uri.path_and_query().map_or("/vault", |p| p.as_str());
            let to = format!("/signin?next={}", urlencode(next));
            return Err(see_other(&to));
        };
        if signed.user.role < R::ROLE {
            return Err(ui::error_page(
                StatusCode::FORBIDDEN,
                &format!(
                    "Your role ({}) can't do this: it needs {} or above. Ask an admin of your tenant.",
                    signed.user.role,
                    R::ROLE
                ),
            ));
        }
        Ok(Self(signed, PhantomData))
    }
}

/// The session the request's cookie opens, if any.
pub(crate) async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, Response> {
    let name = session_cookie_name(state);
    let Some(secret) = cookie(headers, name) else { return Ok(None) };
    state.vault.session(secret, state.dashboard.sessions).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read a dashboard session");
        ui::error_page(StatusCode::INTERNAL_SERVER_ERROR, "The vault can't be read right now.")
    })
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name && !v.is_empty()).then_some(v))
}

/// Whether two secrets are equal, compared in constant time.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn session_cookie_name(state: &AppState) -> &'static str {
    if secure(state) { SESSION_COOKIE_SECURE } else { SESSION_COOKIE }
}

/// The name of the sign-in forms' double-submit cookie.
pub(crate) fn presession_cookie_name(state: &AppState) -> &'static str {
    if secure(state) { PRESESSION_COOKIE_SECURE } else { PRESESSION_COOKIE }
}

/// Whether cookies are marked `Secure`: under TLS here, or behind a proxy that serves the
/// public URL over HTTPS.
fn secure(state: &AppState) -> bool {
    state.config.tls.is_some() || state.config.public_url.scheme() == "https"
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    // Names are constants and values base64url: always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A fresh random token for the sign-in forms' double submit.
fn presession_token() -> Result<String, ui::Refusal> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|_| {
        ui::Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "The random generator failed.")
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The pre-session token of the request, or a new one with the cookie that sets it.
fn presession(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), ui::Refusal> {
    let name = presession_cookie_name(state);
    if let Some(t) = cookie(headers, name) {
        return Ok((t.to_owned(), None));
    }
    let t = presession_token()?;
    let header = set_cookie(state, name, &t, 3600);
    Ok((t, Some(header)))
}

#[derive(Deserialize)]
pub(crate) struct NextParam {
    next: Option<String>,
}

/// `GET /signin`.
pub(crate) async fn signin_page(
    State(state): State<AppState>,
    Query(q): Query<NextParam>,
    headers: HeaderMap,
    signed: Option<axum::Extension<SignedIn>>,
) -> Response {
    if signed.is_some() {
        return see_other(&safe_next(q.next.as_deref()));
    }
    let (token, cookie) = match presession(&state, &headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut response = signin_form(&token, q.next.as_deref(), "default", "", None);
    if let Some(c) = cookie {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

fn signin_form(
    csrf: &str,
    next: Option<&str>,
    tenant: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    let body = html! {
        div.auth-card {
            h1 { "Sign in to flowvault" }
            @if let Some(e) = error { p.alert.alert-error role="alert" { (e) } }
            form method="post" action="/signin" {
                input type="hidden" name="_csrf" value=(csrf);
                @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                (ui::text_field("tenant", "Tenant", tenant, "text", true, Some("username organization"), None))
                (ui::text_field("email", "E-mail address", email, "email", true, Some("username"), None))
                (ui::text_field("password", "Password", "", "password", true, Some("current-password"), None))
                button.btn.btn-primary type="submit" { "Sign in" }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    ui::bare_page(status, "Sign in", body)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    next: Option<String>,
    tenant: String,
    email: String,
    password: SecretString,
}

/// `POST /signin`.
pub(crate) async fn signin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let source = source_address(peer.ip(), &headers, &state.config.trusted_proxies);
    let key = format!("{source}|{}|{}", form.tenant.trim(), form.email.trim().to_lowercase());
    let now = Instant::now();
    let refuse = |message: &str| {
        signin_form(
            &form.csrf,
            form.next.as_deref(),
            form.tenant.trim(),
            form.email.trim(),
            Some(message),
        )
    };
    let source_key = source.to_string();
    let throttled = state
        .dashboard
        .sign_ins
        .check(&key, now)
        .err()
        .into_iter()
        .chain(state.dashboard.sign_ins_per_source.check(&source_key, now).err());
    if let Some(wait) = throttled.max() {
        return refuse(&format!("Too many failed sign-ins: try again in {wait} s."));
    }
    let tenant = match form.tenant.trim().parse::<TenantName>() {
        Ok(name) => state.vault.tenant(&name).await,
        Err(_) => Ok(None),
    };
    let tenant = match tenant {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    let email = form.email.parse::<Email>().ok();
    let user = match (tenant, email) {
        (Some(t), Some(email)) => state.vault.authenticate_user(&t.id, &email, form.password).await,
        _ => {
            // Unknown tenant or a malformed address: the same time as a wrong password.
            flowvault_store::Vault::decoy_password_check(form.password).await.map(|()| None)
        }
    };
    let user = match user {
        Ok(u) => u,
        Err(e) => return internal(&e),
    };
    let Some(user) = user else {
        state.dashboard.sign_ins.record_failure(&key, now);
        state.dashboard.sign_ins_per_source.record_failure(&source_key, now);
        tracing::info!(%source, "dashboard sign-in failed");
        return refuse("Wrong tenant, e-mail address or password.");
    };
    state.dashboard.sign_ins.record_success(&key);
    // A session the browser already had ends: signing in never continues an older one.
    if let Some(old) = cookie(&headers, session_cookie_name(&state))
        && let Err(e) = state.vault.end_session(old).await
    {
        return internal(&e);
    }
    start_session(&state, user, &safe_next(form.next.as_deref())).await
}

/// Starts a session for `user` and sends the browser to `to` with its cookie.
async fn start_session(
    state: &AppState,
    user: flowvault_store::DashboardUser,
    to: &str,
) -> Response {
    let policy = state.dashboard.sessions;
    let (secret, signed) = match state.vault.start_session(user, policy).await {
        Ok(s) => s,
        Err(e) => return internal(&e),
    };
    tracing::info!(user = %signed.user.id, "dashboard sign-in");
    let mut response = see_other(to);
    let name = session_cookie_name(state);
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, set_cookie(state, name, secret.expose(), policy.absolute.as_secs()));
    headers.append(SET_COOKIE, set_cookie(state, presession_cookie_name(state), "", 0));
    response
}

/// `POST /signout`.
pub(crate) async fn signout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let name = session_cookie_name(&state);
    if let Some(secret) = cookie(&headers, name)
        && let Err(e) = state.vault.end_session(secret).await
    {
        return internal(&e);
    }
    let mut response = see_other("/signin");
    response.headers_mut().append(SET_COOKIE, set_cookie(&state, name, "", 0));
    response
}

#[derive(Deserialize)]
pub(crate) struct SetupParam {
    token: Option<String>,
}

/// Whether `given` is the pending first-admin token.
fn setup_token_matches(state: &AppState, given: &str) -> bool {
    let pending =
        state.dashboard.setup_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    pending.as_deref().is_some_and(|t| same_secret(t, given))
}

/// `GET /setup?token=…`: the first admin's form, from the link `serve` printed.
pub(crate) async fn setup_page(
    State(state): State<AppState>,
    Query(q): Query<SetupParam>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.unwrap_or_default();
    if !setup_token_matches(&state, &token) {
        return setup_gone();
    }
    let (csrf, cookie) = match presession(&state, &headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut response = setup_form(&csrf, &token, "", None);
    if let Some(c) = cookie {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

fn setup_gone() -> Response {
    ui::error_page(
        StatusCode::NOT_FOUND,
        "This first-admin link has been used or is no longer valid. Sign in, or create a user with `flowvault users create`.",
    )
}

fn setup_form(csrf: &str, token: &str, email: &str, error: Option<&str>) -> Response {
    let body = html! {
        div.auth-card {
            h1 { "Create the first admin" }
            p.muted { "This account administers the " strong { "default" } " tenant. More users: "
                code { "flowvault users create" } "." }
            @if let Some(e) = error { p.alert.alert-error role="alert" { (e) } }
            form method="post" action="/setup" {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="token" value=(token);
                (ui::text_field("email", "E-mail address", email, "email", true, Some("username"), None))
                (ui::text_field("password", "Password", "", "password", true, Some("new-password"),
                    Some("At least 12 characters.")))
                (ui::text_field("password_again", "Password again", "", "password", true, Some("new-password"), None))
                button.btn.btn-primary type="submit" { "Create admin and sign in" }
            }
        }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    ui::bare_page(status, "First admin", body)
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    token: String,
    email: String,
    password: SecretString,
    password_again: SecretString,
}

/// `POST /setup`: creates the first admin, once.
pub(crate) async fn setup(State(state): State<AppState>, Form(form): Form<SetupForm>) -> Response {
    use secrecy::ExposeSecret as _;
    if !setup_token_matches(&state, &form.token) {
        return setup_gone();
    }
    let again =
        |message: &str| setup_form(&form.csrf, &form.token, form.email.trim(), Some(message));
    let Ok(email) = form.email.parse::<Email>() else {
        return again("Enter an e-mail address such as ada@example.com.");
    };
    if let Err(p) = check_new_password(form.password.expose_secret()) {
        return again(&ui::sentence(&p.to_string()));
    }
    if form.password.expose_secret() != form.password_again.expose_secret() {
        return again("The two passwords differ.");
    }
    // Taken before the user is made: two submissions can't both create an admin.
    let taken = state
        .dashboard
        .setup_token
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if taken.is_none() {
        return setup_gone();
    }
    // A failure of the vault puts the link back: it stays usable until an admin exists.
    let give_back = |e: &VaultError| {
        *state.dashboard.setup_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            taken.clone();
        internal(e)
    };
    let tenant = match state.vault.ensure_tenant(&TenantName::default_tenant()).await {
        Ok(t) => t,
        Err(e) => return give_back(&e),
    };
    match state.vault.any_user().await {
        Ok(false) => {}
        Ok(true) => return setup_gone(),
        Err(e) => return give_back(&e),
    }
    let user = match state.vault.create_user(&tenant.id, email, Role::Admin, form.password).await {
        Ok(u) => u,
        Err(e) => return give_back(&e),
    };
    tracing::info!(user = %user.id, "first dashboard admin created");
    start_session(&state, user, "/vault").await
}

/// A local path to go to after signing in: only this site's paths, never `//elsewhere`.
fn safe_next(next: Option<&str>) -> String {
    // Browsers drop tabs and line breaks from URLs and read a backslash as `/`: `/\t/evil.example`
    // would become `//evil.example`, another site. Only plain paths of this site pass.
    let plain = |n: &str| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    };
    match next {
        Some(n) if plain(n) => n.to_owned(),
        _ => "/vault".to_owned(),
    }
}

/// A 303 to a local path.
pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn internal(e: &VaultError) -> Response {
    super::internal(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/vault?page=2")), "/vault?page=2");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "vault",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/vault", "{bad}");
        }
        assert_eq!(safe_next(None), "/vault");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; fv_session=abc; fv_session_x=2"));
        assert_eq!(cookie(&h, "fv_session"), Some("abc"));
        assert_eq!(cookie(&h, "fv_sess"), None);
    }
}
