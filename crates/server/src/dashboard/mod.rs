//! The dashboard: server-rendered pages for people, at `/`, beside the Management API.
//!
//! Pages are HTML made by `maud` (escaped by default) with a little JavaScript of our own for
//! what forms can't do alone (filtering a list as you type, the flow editor's "+" dialog);
//! every page works without it. Assets are compiled into the binary: no CDN, nothing to build.
//!
//! Every request passes [`guard`]: it sets the security headers (a strict Content-Security-Policy
//! with no inline script, no framing, no referrer off-site) and, for anything that changes
//! state, checks the CSRF token before a handler runs. Who may do what is decided by the
//! `Signed` extractor of each handler, in the server, whatever the page showed.
//!
//! Not here: the Management API (`crate::routes`), managing dashboard users from the pages (the
//! CLI does that: `flowvault users`).

mod assets;
mod connection;
mod draft;
mod executions;
mod flows;
mod guard;
mod session;
mod ui;
mod vault;
mod wizard;

use std::sync::Mutex;

use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::get;
use flowvault_store::SessionPolicy;

use crate::auth::FailureThrottle;
use crate::state::AppState;

pub(crate) use guard::guard;

/// What the dashboard keeps between requests.
#[derive(Debug)]
pub(crate) struct DashboardState {
    /// How long sessions last.
    pub(crate) sessions: SessionPolicy,
    /// Failed sign-ins per (source address, tenant, e-mail).
    pub(crate) sign_ins: FailureThrottle,
    /// Failed sign-ins per source address, whatever account they name: generous, it only stops
    /// one address from trying many accounts (each try costs an Argon2id hash).
    pub(crate) sign_ins_per_source: FailureThrottle,
    /// The one-time token of the first-admin link, while the vault has no dashboard user.
    pub(crate) setup_token: Mutex<Option<String>>,
}

impl DashboardState {
    pub(crate) fn new(sessions: SessionPolicy, delay: std::time::Duration) -> Self {
        Self {
            sessions,
            sign_ins: FailureThrottle::new(5, delay, std::time::Duration::from_secs(15 * 60)),
            sign_ins_per_source: FailureThrottle::new(
                30,
                delay,
                std::time::Duration::from_secs(15 * 60),
            ),
            setup_token: Mutex::new(None),
        }
    }
}

/// The answer when the vault fails under a page: the detail goes to the log.
pub(crate) fn internal(e: &flowvault_store::VaultError) -> axum::response::Response {
    tracing::error!(error = %e, "dashboard request failed");
    ui::error_page(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "The vault can't be read right now; the server's log says why.",
    )
}

/// The `version` an edit form was rendered at: the change applies only if nobody changed the
/// object since (the same compare-and-set as the API's `If-Match`).
pub(crate) fn posted_version(form: &wizard::Posted) -> Option<u64> {
    wizard::posted(form, "version").and_then(|v| v.parse().ok())
}

/// The answer to an edit form without its version.
pub(crate) fn missing_version() -> axum::response::Response {
    ui::error_page(
        axum::http::StatusCode::BAD_REQUEST,
        "The form does not say which version it edits. Reload the page and make the change again.",
    )
}

/// The dashboard's routes.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/vault") }))
        .route("/signin", get(session::signin_page).post(session::signin))
        .route("/signout", axum::routing::post(session::signout))
        .route("/setup", get(session::setup_page).post(session::setup))
        .route("/vault", get(vault::page))
        .route("/vault/new", get(wizard::apps))
        .route("/vault/new/{app}", get(wizard::form).post(wizard::create))
        .route("/vault/{id}", get(connection::page).post(connection::update))
        .route("/vault/{id}/test", axum::routing::post(connection::test))
        .route("/vault/{id}/refresh", axum::routing::post(connection::refresh))
        .route("/vault/{id}/connect", get(connection::connect))
        .route("/vault/{id}/delete", get(connection::confirm_delete).post(connection::delete))
        .route("/vault/new/done", get(wizard::done))
        .route("/flows", get(flows::list).post(flows::create))
        .route("/flows/{id}", get(flows::editor).post(flows::update))
        .route("/flows/{id}/run", axum::routing::post(flows::run))
        .route("/flows/{id}/executions", get(executions::list))
        .route("/flows/{id}/executions/{execution}", get(executions::debugger))
        .route("/assets/{file}", get(assets::file))
        .route("/assets/apps/{icon}", get(assets::icon))
        .layer(middleware::from_fn_with_state(state, guard))
}
