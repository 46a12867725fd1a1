//! The Add Vault Connection wizard: app → setup type (where an app has several) → name and
//! credentials, or an empty connection.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use flowvault_core::{
    AppId, AppSpec, CATALOG, FieldKind, FieldSpec, SetupSpec, SetupType, validate_create_with,
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::session::{Edit, Signed, see_other};
use super::ui::{self, FieldView, Page, Section};
use crate::state::AppState;

/// The field of an `OAUTH_CODE` setup that Connect fills in: never asked for in a form.
const AUTHORIZATION_CODE_FIELD: &str = "code";

/// Form fields of a setup are named `setup.<field>`, apart from the connection's own.
const SETUP_PREFIX: &str = "setup.";

#[derive(Deserialize, Default)]
pub(crate) struct WizardQuery {
    #[serde(rename = "type")]
    setup_type: Option<String>,
    /// `1`: shown in the flow editor's dialog.
    embed: Option<String>,
}

/// `GET /vault/new`: step 1, the app.
pub(crate) async fn apps(who: Signed<Edit>) -> Response {
    let main = html! {
        (steps(1))
        h1 { "Add Vault Connection" }
        div.field {
            label for="app-search" { "Search apps" }
            input #app-search type="search" data-filter="#app-list" aria-controls="app-list"
                placeholder="Twilio, Slack, HTTP…" autocomplete="off";
            p.help #app-list-status aria-live="polite" {}
        }
        ul.app-grid #app-list {
            @for app in &CATALOG {
                li data-name=(app.name.to_lowercase()) {
                    a href={ "/vault/new/" (app.id.as_str()) } data-app=(app.id.as_str()) {
                        (ui::app_icon(app.id, 36))
                        span {
                            strong { (app.name) }
                            span.types { (type_labels(app)) }
                        }
                    }
                }
            }
        }
    };
    Page {
        title: "Add Vault Connection",
        section: Section::Vault,
        who: who.session(),
        embed: false,
    }
    .render(main)
}

fn type_labels(app: &AppSpec) -> String {
    app.setups.iter().map(|s| s.setup_type.label()).collect::<Vec<_>>().join(" · ")
}

fn steps(current: u8) -> Markup {
    let names = ["App", "Setup", "Name and credentials"];
    html! {
        ol.steps aria-label="Steps" {
            @for (i, name) in names.iter().enumerate() {
                @if usize::from(current) == i + 1 {
                    li aria-current="step" { (name) }
                } @else { li { (name) } }
            }
        }
    }
}

/// The app a path names, or a 404 page.
fn app_from(app: &str) -> Result<AppId, ui::Refusal> {
    app.parse::<AppId>().map_err(|_| {
        ui::Refusal::new(StatusCode::NOT_FOUND, "There is no such app in the catalog.")
    })
}

/// The setup the query picks: the named type, the app's only one, or none yet (the user
/// chooses).
fn chosen_setup(
    app: &AppSpec,
    given: Option<&str>,
) -> Result<Option<&'static SetupSpec>, ui::Refusal> {
    match given {
        Some(t) => {
            let t = t.parse::<SetupType>().ok().and_then(|t| app.setup(t));
            t.map(Some).ok_or_else(|| {
                ui::Refusal::new(
                    StatusCode::NOT_FOUND,
                    format!("{} has no such setup type.", app.name),
                )
            })
        }
        None if app.setups.len() == 1 => Ok(app.setups.first()),
        None => Ok(None),
    }
}

/// `GET /vault/new/{app}`: step 2 (the setup type) or 3 (name and credentials).
pub(crate) async fn form(
    who: Signed<Edit>,
    Path(app): Path<String>,
    Query(q): Query<WizardQuery>,
) -> Response {
    let app = match app_from(&app) {
        Ok(a) => a.spec(),
        Err(r) => return r.into_response(),
    };
    let embed = q.embed.as_deref() == Some("1");
    match chosen_setup(app, q.setup_type.as_deref()) {
        Err(r) => r.into_response(),
        Ok(None) => choose_type(&who, app, embed),
        Ok(Some(setup)) => details(&who, app, setup, &Entered::default(), StatusCode::OK, embed),
    }
}

fn choose_type(who: &Signed<Edit>, app: &AppSpec, embed: bool) -> Response {
    let suffix = if embed { "&embed=1" } else { "" };
    let main = html! {
        (steps(2))
        div.page-head { (ui::app_icon(app.id, 40)) h1 { "Add " (app.name) " connection" } }
        p { "How does this connection sign in to " (app.name) "?" }
        ul.choice-list {
            @for s in app.setups {
                li { a.btn href={ "/vault/new/" (app.id.as_str()) "?type=" (s.setup_type.as_str()) (suffix) } {
                    (s.setup_type.label())
                } }
            }
        }
        @if !embed { p { a href="/vault/new" { "← Other app" } } }
    };
    Page { title: "Add Vault Connection", section: Section::Vault, who: who.session(), embed }
        .render(main)
}

/// What was typed into the form (secrets are never put back into a page) and what is wrong.
#[derive(Default)]
pub(crate) struct Entered {
    pub(crate) name: String,
    /// Non-secret setup values, by field.
    pub(crate) values: Vec<(String, String)>,
    /// Problems by field (`name`, a setup field, or `` for the form as a whole).
    pub(crate) errors: Vec<(String, String)>,
}

impl Entered {
    pub(crate) fn value(&self, field: &str) -> &str {
        self.values.iter().find(|(k, _)| k == field).map_or("", |(_, v)| v.as_str())
    }

    pub(crate) fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(k, _)| k == field).map(|(_, v)| v.as_str())
    }

    /// Problems not tied to one field of the form.
    pub(crate) fn general(&self, fields: &[&str]) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|(k, _)| !fields.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn details(
    who: &Signed<Edit>,
    app: &AppSpec,
    setup: &SetupSpec,
    entered: &Entered,
    status: StatusCode,
    embed: bool,
) -> Response {
    let action = format!("/vault/new/{}", app.id.as_str());
    let mut known: Vec<&str> = vec!["name"];
    known.extend(form_fields(setup).map(|f| f.name));
    let connect = setup.setup_type.needs_authorization();
    let main = html! {
        (steps(3))
        div.page-head { (ui::app_icon(app.id, 40)) h1 { "Add " (app.name) " connection" } }
        form.panel method="post" action=(action) novalidate {
            (ui::csrf(who.session()))
            input type="hidden" name="type" value=(setup.setup_type.as_str());
            @if embed { input type="hidden" name="embed" value="1"; }
            @for e in entered.general(&known) { p.alert.alert-error role="alert" { (e) } }
            (ui::field(&FieldView {
                name: "name", label: "Connection name", value: &entered.name, kind: "text",
                required: true, autocomplete: Some("off"),
                help: Some("How flows and people will know it, e.g. “Twilio production”."),
                error: entered.error("name"),
            }))
            h2 { (setup.setup_type.label()) }
            @if connect && !embed {
                p.muted { "After adding it, " strong { "Connect" } " sends you to " (app.name)
                    " to authorize flowvault, then back here." }
            } @else if connect {
                p.muted { "Once added, authorize it with " strong { "Connect" } " on its page in the vault: flows can use it after that." }
            }
            (credential_fields(setup, entered, &[]))
            div.form-actions {
                button.btn.btn-primary type="submit" name="intent" value="create" {
                    @if connect && !embed { "Add and Connect" } @else { "Add Vault Connection" }
                }
                button.btn type="submit" name="intent" value="empty" formnovalidate {
                    "Create an empty connection"
                }
                @if !embed { a href="/vault/new" { "Cancel" } }
            }
            p.help { "An empty connection keeps its name and app; flows can use it once its credentials are filled in." }
        }
    };
    Page { title: "Add Vault Connection", section: Section::Vault, who: who.session(), embed }
        .render_with(status, main)
}

/// The fields of `setup` a person fills in.
pub(crate) fn form_fields(setup: &SetupSpec) -> impl Iterator<Item = &'static FieldSpec> {
    let connect = setup.setup_type.needs_authorization();
    setup.fields.iter().filter(move |f| !(connect && f.name == AUTHORIZATION_CODE_FIELD))
}

/// The inputs of a setup's fields. `set` names the fields that hold a value already (secrets
/// are not shown; the label says they are set, and leaving them blank keeps them).
pub(crate) fn credential_fields(setup: &SetupSpec, entered: &Entered, set: &[&str]) -> Markup {
    html! {
        @for f in form_fields(setup) {
            @let name = format!("{SETUP_PREFIX}{}", f.name);
            @let is_set = set.contains(&f.name);
            @let value = if f.secret { "" } else { entered.value(f.name) };
            @let help = field_help(f, is_set);
            @if let FieldKind::OneOf(options) = f.kind {
                div.field.field-error[entered.error(f.name).is_some()] {
                    label for={ "f-" (name) } { (f.label) @if !f.required { span.optional { " (optional)" } } }
                    select id={ "f-" (name) } name=(name) {
                        @if !f.required { option value="" { "—" } }
                        @for o in options { option value=(o) selected[value == *o] { (o) } }
                    }
                    @if let Some(e) = entered.error(f.name) { p.error { (e) } }
                }
            } @else {
                (ui::field(&FieldView {
                    name: &name,
                    label: f.label,
                    value,
                    kind: input_kind(f),
                    // A set field may be left blank to keep it.
                    required: f.required && !is_set,
                    autocomplete: Some(if f.secret { "new-password" } else { "off" }),
                    help: help.as_deref(),
                    error: entered.error(f.name),
                }))
            }
        }
    }
}

fn input_kind(f: &FieldSpec) -> &'static str {
    if f.multiline() {
        "textarea"
    } else if f.secret {
        "password"
    } else {
        match f.kind {
            FieldKind::Email => "email",
            FieldKind::HttpsUrl => "url",
            _ => "text",
        }
    }
}

fn field_help(f: &FieldSpec, is_set: bool) -> Option<String> {
    let shape = f.help();
    match (is_set, shape) {
        (true, Some(h)) => Some(format!("Set: leave blank to keep it. {h}")),
        (true, None) => Some("Set: leave blank to keep it.".to_owned()),
        (false, h) => h.map(str::to_owned),
    }
}

/// The form as posted, in order.
pub(crate) type Posted = Vec<(String, String)>;

pub(crate) fn posted<'a>(form: &'a Posted, name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The `setup` object a posted form describes: its type and the non-blank fields of `setup`.
/// `keep` supplies values for fields left blank (the current setup's, when replacing one).
pub(crate) fn setup_json(
    setup: &SetupSpec,
    form: &Posted,
    keep: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let mut object = Map::new();
    object.insert("type".to_owned(), Value::String(setup.setup_type.as_str().to_owned()));
    for f in form_fields(setup) {
        let given = posted(form, &format!("{SETUP_PREFIX}{}", f.name)).filter(|v| !v.is_empty());
        let value = match given {
            Some(v) => Some(v.to_owned()),
            None => keep(f.name),
        };
        if let Some(v) = value {
            object.insert(f.name.to_owned(), Value::String(v));
        }
    }
    Value::Object(object)
}

/// What to show again after a refused form: the name, the non-secret values, the problems.
pub(crate) fn entered_from(
    setup: &SetupSpec,
    form: &Posted,
    errors: &flowvault_core::ValidationErrors,
) -> Entered {
    let values = form_fields(setup)
        .filter(|f| !f.secret)
        .filter_map(|f| {
            posted(form, &format!("{SETUP_PREFIX}{}", f.name))
                .map(|v| (f.name.to_owned(), v.to_owned()))
        })
        .collect();
    let errors = errors
        .0
        .iter()
        .map(|e| {
            let field = e.field.strip_prefix("setup.").unwrap_or(&e.field).to_owned();
            (field, ui::sentence(&e.problem.to_string()))
        })
        .collect();
    Entered { name: posted(form, "name").unwrap_or("").to_owned(), values, errors }
}

/// `POST /vault/new/{app}`: creates the connection.
pub(crate) async fn create(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(app): Path<String>,
    axum::Form(form): axum::Form<Posted>,
) -> Response {
    let app = match app_from(&app) {
        Ok(a) => a.spec(),
        Err(r) => return r.into_response(),
    };
    let embed = posted(&form, "embed") == Some("1");
    let setup = match chosen_setup(app, posted(&form, "type")) {
        Ok(Some(s)) => s,
        Ok(None) => return choose_type(&who, app, embed),
        Err(r) => return r.into_response(),
    };
    let empty = posted(&form, "intent") == Some("empty");
    let mut body = Map::new();
    body.insert("name".to_owned(), Value::String(posted(&form, "name").unwrap_or("").to_owned()));
    body.insert("app_id".to_owned(), Value::String(app.id.as_str().to_owned()));
    if !empty {
        body.insert("setup".to_owned(), setup_json(setup, &form, &|_| None));
    }
    let new = match validate_create_with(&Value::Object(body), &state.config.rules()) {
        Ok(n) => n,
        Err(errors) => {
            let entered = entered_from(setup, &form, &errors);
            return details(&who, app, setup, &entered, StatusCode::BAD_REQUEST, embed);
        }
    };
    let c = match state.vault.create_connection(who.tenant(), new).await {
        Ok(c) => c,
        Err(e) => return super::internal(&e),
    };
    state.engine.wake();
    tracing::info!(connection = %c.id, user = %who.session().user.id, "connection created in the dashboard");
    if embed {
        return see_other(&format!("/vault/new/done?id={}", c.id));
    }
    if !empty && setup.setup_type.needs_authorization() {
        return see_other(&format!("/vault/{}/connect", c.id));
    }
    see_other(&format!("/vault/{}?done=created", c.id))
}

#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    id: String,
}

/// `GET /vault/new/done?id=…`: the end of the wizard in the flow editor's dialog. The page
/// script hands the new connection to the editor, which selects it and closes the dialog.
pub(crate) async fn done(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let Ok(id) = q.id.parse::<flowvault_core::ConnectionId>() else {
        return ui::error_page(
            StatusCode::NOT_FOUND,
            "There is no such connection in your tenant.",
        );
    };
    let c = match state.vault.connection(who.tenant(), &id).await {
        Ok(c) => c,
        Err(flowvault_store::VaultError::NotFound) => {
            return ui::error_page(
                StatusCode::NOT_FOUND,
                "There is no such connection in your tenant.",
            );
        }
        Err(e) => return super::internal(&e),
    };
    let main = html! {
        div #created-connection data-id=(c.id) data-name=(c.name) data-app=(c.app_id.as_str()) data-ready=(c.ready) {
            p.alert.alert-ok role="status" { "Added " strong { (c.name) } "." }
            p { (ui::badge(c.status)) }
        }
    };
    Page { title: "Connection added", section: Section::Vault, who: who.session(), embed: true }
        .render(main)
}
