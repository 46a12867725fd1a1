//! One connection: its details, rename, replace credentials, test, refresh, Connect, delete.

use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use flowvault_core::{
    AppSpec, Connection, ConnectionId, FlowId, SetupSpec, SetupType, Timestamp, validate_patch_with,
};
use flowvault_engine::{ConnectError, RefreshError};
use flowvault_store::VaultError;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::session::{Edit, Need, Signed, View, see_other};
use super::ui::{self, Page, Section};
use super::wizard::{self, Entered, Posted, posted};
use crate::state::AppState;

/// A message at the top of the page after an action.
pub(crate) struct Notice {
    kind: &'static str,
    text: String,
}

impl Notice {
    fn ok(text: impl Into<String>) -> Self {
        Self { kind: "alert-ok", text: text.into() }
    }

    fn warn(text: impl Into<String>) -> Self {
        Self { kind: "alert-warn", text: text.into() }
    }

    fn error(text: impl Into<String>) -> Self {
        Self { kind: "alert-error", text: text.into() }
    }

    /// The notice a `?done=` after a redirect stands for.
    fn after(done: &str) -> Option<Self> {
        match done {
            "created" => Some(Self::ok("The connection was added.")),
            "renamed" => Some(Self::ok("The connection was renamed.")),
            "updated" => Some(Self::ok(
                "The credentials were replaced. Every flow that uses this connection uses them from its next run.",
            )),
            _ => None,
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct DetailQuery {
    done: Option<String>,
    /// Show the credentials form for another setup type of the app.
    #[serde(rename = "type")]
    setup_type: Option<String>,
}

fn connection_id(id: &str) -> Result<ConnectionId, ui::Refusal> {
    id.parse().map_err(|_| ui::Refusal::new(StatusCode::NOT_FOUND, NOT_FOUND))
}

const NOT_FOUND: &str = "There is no such connection in your tenant.";

fn not_found() -> Response {
    ui::error_page(StatusCode::NOT_FOUND, NOT_FOUND)
}

/// `GET /vault/{id}`.
pub(crate) async fn page(
    who: Signed<View>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let notice = q.done.as_deref().and_then(Notice::after);
    let view = Detail {
        notice,
        entered: None,
        setup_type: q.setup_type,
        status: StatusCode::OK,
        version: None,
    };
    render(&who, &state, &id, view).await
}

/// What a render of the page carries beyond the connection.
struct Detail {
    notice: Option<Notice>,
    /// A refused credentials form, shown again.
    entered: Option<Entered>,
    /// The setup type whose form is shown, if not the connection's own.
    setup_type: Option<String>,
    status: StatusCode,
    /// The version the refused form was made at, kept in the form shown again: a change made
    /// meanwhile by someone else is not overwritten by resubmitting it.
    version: Option<u64>,
}

impl Detail {
    /// The page as it is now, with `notice` at the top.
    fn with(notice: Notice, status: StatusCode) -> Self {
        Self { notice: Some(notice), entered: None, setup_type: None, status, version: None }
    }
}

async fn render<R: Need>(
    who: &Signed<R>,
    state: &AppState,
    id: &ConnectionId,
    view: Detail,
) -> Response {
    let tenant = who.tenant();
    let c = match state.vault.connection(tenant, id).await {
        Ok(c) => c,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let setup = match state.vault.open_setup(tenant, id).await {
        Ok(s) => s,
        Err(e) => {
            // Damaged credentials: the page still shows, so they can be replaced.
            tracing::warn!(connection = %id, error = %e, "cannot open a connection's credentials");
            None
        }
    };
    let flows = match used_by(state, tenant, id).await {
        Ok(f) => f,
        Err(e) => return super::internal(&e),
    };
    let app = c.app_id.spec();
    let current_type = setup.as_ref().map(flowvault_core::Setup::setup_type);
    let shown: &SetupSpec = view
        .setup_type
        .as_deref()
        .and_then(|t| t.parse::<SetupType>().ok())
        .and_then(|t| app.setup(t))
        .or_else(|| current_type.and_then(|t| app.setup(t)))
        .or_else(|| app.setups.first())
        .unwrap_or(&EMPTY_SETUP);
    // The form of the current setup says which fields are set; another type's starts blank.
    let same_type = current_type == Some(shown.setup_type);
    let set: Vec<&str> = match (&setup, same_type) {
        (Some(s), true) => wizard::form_fields(shown)
            .filter(|f| s.expose(f.name).is_some())
            .map(|f| f.name)
            .collect(),
        _ => Vec::new(),
    };
    let entered = view.entered.unwrap_or_else(|| Entered {
        name: String::new(),
        values: match (&setup, same_type) {
            (Some(s), true) => wizard::form_fields(shown)
                .filter(|f| !f.secret)
                .filter_map(|f| s.expose(f.name).map(|v| (f.name.to_owned(), v.to_owned())))
                .collect(),
            _ => Vec::new(),
        },
        errors: Vec::new(),
    });
    drop(setup);
    let may_edit = who.session().user.role.may_edit();
    let form_version = view.version.unwrap_or(c.version);
    let last_used = flows.iter().filter_map(|f| f.executed_at).max();
    let main = html! {
        p { a href="/vault" { "← Vault" } }
        div.page-head {
            (ui::app_icon(c.app_id, 44))
            div {
                h1 { (c.name) }
                span.muted { (app.name) " · " code { (c.id) } }
            }
            div.actions { (ui::badge(c.status)) }
        }
        @if let Some(n) = &view.notice { p class={ "alert " (n.kind) } role="status" { (n.text) } }
        @if let Some(reason) = reason(&c) { p.alert.alert-error { (reason) } }
        div.two-col {
            section.panel aria-labelledby="facts-h" {
                h2 #facts-h { "Details" }
                dl.facts {
                    dt { "Status" } dd { (ui::badge(c.status)) }
                    dt { "App" } dd { (app.name) }
                    @if let Some(t) = current_type { dt { "Setup" } dd { (t.label()) } }
                    @if let Some(a) = &c.account_name { dt { "Account" } dd { (a) } }
                    dt { "Created" } dd { (ui::time(c.created_at)) }
                    dt { "Updated" } dd { (ui::time(c.updated_at)) }
                    @if let Some(t) = c.refreshed_at { dt { "Last refresh" } dd { (ui::time(t)) } }
                    @if let Some(t) = c.expires_at { dt { "Token expires" } dd { (ui::time(t)) } }
                    dt { "Last used" } dd {
                        @if let Some(t) = last_used { (ui::time(t)) " (by a flow run)" } @else { "Not used by a flow run yet" }
                    }
                }
                @if may_edit {
                    div.form-actions {
                        form method="post" action={ "/vault/" (c.id) "/test" } {
                            (ui::csrf(who.session()))
                            button.btn type="submit" disabled[c.status == flowvault_core::ConnectionStatus::Empty] { "Test" }
                        }
                        @if current_type.and_then(SetupType::grant).is_some() {
                            form method="post" action={ "/vault/" (c.id) "/refresh" } {
                                (ui::csrf(who.session()))
                                button.btn type="submit" { "Refresh now" }
                            }
                        }
                        @if app.setup(SetupType::OauthCode).is_some() && current_type == Some(SetupType::OauthCode) {
                            a.btn href={ "/vault/" (c.id) "/connect" } {
                                @if c.refreshed_at.is_some() { "Reconnect" } @else { "Connect" }
                            }
                        }
                    }
                }
            }
            section.panel aria-labelledby="flows-h" {
                h2 #flows-h { "Used by" }
                @if flows.is_empty() {
                    p.muted { "No flow uses this connection." }
                } @else {
                    ul {
                        @for f in &flows {
                            li { a href={ "/flows/" (f.id) } { (f.name) } " " code.muted { (f.id) } }
                        }
                    }
                }
            }
        }
        @if may_edit {
            section.panel aria-labelledby="rename-h" {
                h2 #rename-h { "Name" }
                form method="post" action={ "/vault/" (c.id) } {
                    (ui::csrf(who.session()))
                    input type="hidden" name="intent" value="rename";
                    input type="hidden" name="version" value=(form_version);
                    (ui::field(&ui::FieldView {
                        name: "name", label: "Connection name",
                        value: if entered.name.is_empty() { c.name.as_str() } else { &entered.name },
                        kind: "text", required: true, autocomplete: Some("off"), help: None,
                        error: entered.error("name"),
                    }))
                    button.btn type="submit" { "Rename" }
                }
            }
            (credentials_form(who, &c, form_version, app, shown, &entered, &set))
            section.panel.danger-zone aria-labelledby="delete-h" {
                h2 #delete-h { "Delete" }
                p { "Deleting can't be undone. "
                    @if !flows.is_empty() { strong { (flows.len()) " flow(s)" } " use this connection and will fail at their next run." } }
                a.btn.btn-danger href={ "/vault/" (c.id) "/delete" } { "Delete connection…" }
            }
        }
    };
    Page { title: c.name.as_str(), section: Section::Vault, who: who.session(), embed: false }
        .render_with(view.status, main)
}

/// Stands in when an app has no setups at all (the catalog has none such).
static EMPTY_SETUP: SetupSpec = SetupSpec {
    setup_type: SetupType::ApiKey,
    type_required: true,
    open: false,
    fields: &[],
    rule: None,
    advice: None,
    needs: &[],
};

fn credentials_form(
    who: &Signed<impl Need>,
    c: &Connection,
    form_version: u64,
    app: &AppSpec,
    shown: &SetupSpec,
    entered: &Entered,
    set: &[&str],
) -> Markup {
    let mut known: Vec<&str> = vec!["name"];
    known.extend(wizard::form_fields(shown).map(|f| f.name));
    html! {
        section.panel aria-labelledby="creds-h" {
            h2 #creds-h {
                @if c.ready { "Replace credentials" } @else { "Fill in credentials" }
            }
            @if app.setups.len() > 1 {
                p { "Setup: "
                    @for (i, s) in app.setups.iter().enumerate() {
                        @if i > 0 { " · " }
                        @if s.setup_type == shown.setup_type { strong { (s.setup_type.label()) } }
                        @else { a href={ "/vault/" (c.id) "?type=" (s.setup_type.as_str()) "#creds-h" } { (s.setup_type.label()) } }
                    }
                }
            }
            p.help { "Stored values are never shown again. Secret fields left blank keep what is stored." }
            form method="post" action={ "/vault/" (c.id) } novalidate {
                (ui::csrf(who.session()))
                input type="hidden" name="intent" value="credentials";
                input type="hidden" name="type" value=(shown.setup_type.as_str());
                input type="hidden" name="version" value=(form_version);
                @for e in entered.general(&known) { p.alert.alert-error role="alert" { (e) } }
                (wizard::credential_fields(shown, entered, set))
                button.btn.btn-primary type="submit" {
                    @if c.ready { "Replace credentials" } @else { "Save credentials" }
                }
            }
        }
    }
}

/// Why the connection needs attention, in words, if it does.
fn reason(c: &Connection) -> Option<String> {
    if let Some(scopes) = &c.missing_scopes {
        return Some(format!("Not granted scopes the app now asks for ({scopes}): reconnect."));
    }
    c.last_error.clone()
}

/// A flow that uses a connection, and when it last ran.
struct UsingFlow {
    id: FlowId,
    name: String,
    executed_at: Option<Timestamp>,
}

async fn used_by(
    state: &AppState,
    tenant: &flowvault_core::TenantId,
    id: &ConnectionId,
) -> Result<Vec<UsingFlow>, VaultError> {
    let mut out = Vec::new();
    for (flow, name) in state.vault.flows_using(tenant, id).await? {
        let executed_at = match state.vault.flow(tenant, &flow).await {
            Ok(f) => f.executed_at,
            Err(e) => {
                // Deleted meanwhile, or failing its integrity check: listed without a last run.
                tracing::warn!(flow = %flow, error = %e, "cannot read a flow that uses a connection");
                None
            }
        };
        out.push(UsingFlow { id: flow, name, executed_at });
    }
    Ok(out)
}

/// `POST /vault/{id}`: rename, or replace the credentials.
pub(crate) async fn update(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Posted>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let tenant = who.tenant();
    let current = match state.vault.connection(tenant, &id).await {
        Ok(c) => c,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let app = current.app_id.spec();
    let Some(version) = super::posted_version(&form) else {
        return super::missing_version();
    };
    let (body, shown, done) = match posted(&form, "intent") {
        Some("rename") => {
            let mut body = Map::new();
            body.insert(
                "name".to_owned(),
                Value::String(posted(&form, "name").unwrap_or("").to_owned()),
            );
            (body, None, "renamed")
        }
        Some("credentials") => {
            let Some(shown) = posted(&form, "type")
                .and_then(|t| t.parse::<SetupType>().ok())
                .and_then(|t| app.setup(t))
            else {
                return ui::error_page(
                    StatusCode::BAD_REQUEST,
                    "The form names no setup type of this app.",
                );
            };
            let old = match state.vault.open_setup(tenant, &id).await {
                Ok(s) => s.filter(|s| s.setup_type() == shown.setup_type),
                Err(e) => {
                    // Damaged credentials are replaced as a whole: nothing of them is kept.
                    tracing::warn!(connection = %id, error = %e, "cannot open the credentials being replaced");
                    None
                }
            };
            // A secret left blank keeps what is stored (it is never shown to be typed again); a
            // non-secret field is shown filled in, so a blank one is meant to be cleared.
            let keep = |field: &str| {
                let secret = shown.field(field).is_some_and(|f| f.secret);
                old.as_ref().filter(|_| secret).and_then(|s| s.expose(field)).map(str::to_owned)
            };
            let mut body = Map::new();
            body.insert("setup".to_owned(), wizard::setup_json(shown, &form, &keep));
            (body, Some(shown), "updated")
        }
        _ => {
            return ui::error_page(
                StatusCode::BAD_REQUEST,
                "The form does not say what to change.",
            );
        }
    };
    let patch =
        match validate_patch_with(current.app_id, &Value::Object(body), &state.config.rules()) {
            Ok(p) => p,
            Err(errors) => {
                let entered = match shown {
                    Some(s) => wizard::entered_from(s, &form, &errors),
                    None => Entered {
                        name: posted(&form, "name").unwrap_or("").to_owned(),
                        values: Vec::new(),
                        errors: errors
                            .0
                            .iter()
                            .map(|e| (e.field.clone(), e.problem.to_string()))
                            .collect(),
                    },
                };
                let view = Detail {
                    notice: Some(Notice::error("Nothing was changed: see the fields below.")),
                    entered: Some(entered),
                    setup_type: shown.map(|s| s.setup_type.as_str().to_owned()),
                    status: StatusCode::BAD_REQUEST,
                    version: Some(version),
                };
                return render(&who, &state, &id, view).await;
            }
        };
    match state.vault.update_connection(tenant, &id, patch, version).await {
        Ok(_) => {
            state.engine.wake();
            if let Err(e) = state.engine.check_scopes(tenant, &id).await {
                tracing::warn!(connection = %id, error = %e, "cannot check the connection's scopes");
            }
            tracing::info!(connection = %id, user = %who.session().user.id, "connection changed in the dashboard");
            see_other(&format!("/vault/{id}?done={done}"))
        }
        Err(VaultError::VersionConflict { .. }) => {
            let view = Detail::with(
                Notice::error(
                    "Someone else changed this connection meanwhile; nothing was saved. Here it is as it is now.",
                ),
                StatusCode::CONFLICT,
            );
            render(&who, &state, &id, view).await
        }
        Err(VaultError::NotFound) => not_found(),
        Err(e) => super::internal(&e),
    }
}

/// `POST /vault/{id}/test`.
pub(crate) async fn test(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let notice = match state.engine.verify(who.tenant(), &id).await {
        Ok(v) => match v.ok {
            Some(true) => Notice::ok(format!("Test passed: {}", v.message)),
            Some(false) => Notice::error(format!("Test failed: {}", v.message)),
            None => Notice::warn(v.message),
        },
        Err(RefreshError::NotFound) => return not_found(),
        Err(e) => Notice::error(format!("Test failed: {e}")),
    };
    render(&who, &state, &id, Detail::with(notice, StatusCode::OK)).await
}

/// `POST /vault/{id}/refresh`.
pub(crate) async fn refresh(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let notice = match state.engine.refresh(who.tenant(), &id).await {
        Ok(_) => Notice::ok("Refreshed: a new access token is stored."),
        Err(RefreshError::NotFound) => return not_found(),
        Err(e) => Notice::error(format!("Refresh failed: {e}")),
    };
    render(&who, &state, &id, Detail::with(notice, StatusCode::OK)).await
}

/// `GET /vault/{id}/connect`: off to the provider to authorize ("Connect", "Reconnect"). A GET
/// like the API's `/connect/{id}`, so the provider's page is reached by a plain link; the
/// session cookie is `SameSite=Strict`, so another site can't start it for a signed-in user.
pub(crate) async fn connect(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let callback = state.config.connect_callback();
    match state.engine.begin_connect(who.tenant(), &id, &callback).await {
        Ok(url) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(url.as_str()) {
                Ok(v) => {
                    response.headers_mut().insert(LOCATION, v);
                    response
                }
                Err(_) => ui::error_page(
                    StatusCode::BAD_GATEWAY,
                    "The provider's authorization URL is not usable.",
                ),
            }
        }
        Err(ConnectError::NotFound) => not_found(),
        Err(e) => {
            let text = match &e {
                ConnectError::NotConfigured(app) => format!(
                    "Connect can't start: the operator has not configured an OAuth client for {app}. Add [providers.{app}] with client_id and client_secret to the server's configuration file."
                ),
                other => format!("Connect can't start: {other}"),
            };
            render(&who, &state, &id, Detail::with(Notice::error(text), StatusCode::CONFLICT)).await
        }
    }
}

/// `GET /vault/{id}/delete`: what deleting would break, and a button to do it.
pub(crate) async fn confirm_delete(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let tenant = who.tenant();
    let c = match state.vault.connection(tenant, &id).await {
        Ok(c) => c,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let flows = match used_by(&state, tenant, &id).await {
        Ok(f) => f,
        Err(e) => return super::internal(&e),
    };
    let main = html! {
        p { a href={ "/vault/" (c.id) } { "← " (c.name) } }
        h1 { "Delete " (c.name) "?" }
        @if flows.is_empty() {
            p { "No flow uses this connection." }
        } @else {
            div.alert.alert-warn role="alert" #impact {
                p { strong { (flows.len()) " flow(s) use this connection" } " and will fail at their next run, naming it, until they are given another:" }
                ul { @for f in &flows { li { a href={ "/flows/" (f.id) } { (f.name) } } } }
            }
        }
        form method="post" action={ "/vault/" (c.id) "/delete" } {
            (ui::csrf(who.session()))
            div.form-actions {
                button.btn.btn-danger type="submit" { "Delete " (c.name) }
                a href={ "/vault/" (c.id) } { "Cancel" }
            }
        }
    };
    Page { title: "Delete connection", section: Section::Vault, who: who.session(), embed: false }
        .render(main)
}

/// `POST /vault/{id}/delete`.
pub(crate) async fn delete(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    match state.vault.delete_connection(who.tenant(), &id, None).await {
        Ok(()) | Err(VaultError::NotFound) => {
            tracing::info!(connection = %id, user = %who.session().user.id, "connection deleted in the dashboard");
            see_other("/vault?done=deleted")
        }
        Err(e) => super::internal(&e),
    }
}
