//! Flows: the list, the editor (actions, params, the "Vault connection" select and its "+"),
//! and running a flow with test fields.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use flowvault_core::{
    ActionSpec, AppId, ConnectionStatus, ConnectionSummary, FlowId, Schema, validate_flow_create,
    validate_flow_patch,
};
use flowvault_engine::{ExecuteError, RunInput, Wait};
use flowvault_store::{ListQuery, VaultError};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::draft::{Draft, DraftAction, multiline};
use super::session::{Edit, Need, Signed, View, see_other};
use super::ui::{self, FieldView, Page, Section};
use super::wizard::{Posted, posted};
use crate::state::AppState;

fn flow_id(id: &str) -> Result<FlowId, ui::Refusal> {
    id.parse().map_err(|_| ui::Refusal::new(StatusCode::NOT_FOUND, NOT_FOUND))
}

const NOT_FOUND: &str = "There is no such flow in your tenant.";

pub(crate) fn not_found() -> Response {
    ui::error_page(StatusCode::NOT_FOUND, NOT_FOUND)
}

/// `GET /flows`.
pub(crate) async fn list(who: Signed<View>, State(state): State<AppState>) -> Response {
    list_page(&who, &state, "", None, StatusCode::OK).await
}

async fn list_page(
    who: &Signed<impl Need>,
    state: &AppState,
    name: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let query = ListQuery { app: None, offset: 0, limit: 1000 };
    let flows = match state.vault.list_flows(who.tenant(), &query).await {
        Ok(p) => p.items,
        Err(e) => return super::internal(&e),
    };
    let may_edit = who.session().user.role.may_edit();
    let main = html! {
        div.page-head { h1 { "Flows" } }
        @if may_edit {
            form.panel method="post" action="/flows" {
                (ui::csrf(who.session()))
                (ui::field(&FieldView { name: "name", label: "New flow name", value: name, kind: "text",
                    required: true, autocomplete: Some("off"), help: None, error }))
                button.btn.btn-primary type="submit" { "Create flow" }
            }
        }
        @if flows.is_empty() {
            div.panel.empty-state { p { "No flows yet." } }
        } @else {
            table.list {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Actions" } th scope="col" { "Updated" } th scope="col" { "Last run" } } }
                tbody {
                    @for f in &flows {
                        tr {
                            td { a href={ "/flows/" (f.id) } { (f.name) } br; code.muted { (f.id) } }
                            td { (f.actions.len()) }
                            td { (ui::time(f.updated_at)) }
                            td { @if let Some(t) = f.executed_at { a href={ "/flows/" (f.id) "/executions" } { (ui::time(t)) } } @else { "—" } }
                        }
                    }
                }
            }
        }
    };
    Page { title: "Flows", section: Section::Flows, who: who.session(), embed: false }
        .render_with(status, main)
}

/// `POST /flows`: creates an empty flow and opens it.
pub(crate) async fn create(
    who: Signed<Edit>,
    State(state): State<AppState>,
    axum::Form(form): axum::Form<Posted>,
) -> Response {
    let name = posted(&form, "name").unwrap_or("");
    let new = match validate_flow_create(&json!({ "name": name, "actions": [] })) {
        Ok(n) => n,
        Err(e) => {
            let message = e.0.first().map(|e| e.problem.to_string()).unwrap_or_default();
            return list_page(&who, &state, name, Some(&message), StatusCode::BAD_REQUEST).await;
        }
    };
    match state.vault.create_flow(who.tenant(), new).await {
        Ok(flow) => see_other(&format!("/flows/{}", flow.id)),
        Err(e) => super::internal(&e),
    }
}

/// `GET /flows/{id}`: the editor, with the flow as stored.
pub(crate) async fn editor(
    who: Signed<View>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let id = match flow_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let flow = match state.vault.flow(who.tenant(), &id).await {
        Ok(f) => f,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let view = EditorView {
        id: &id,
        version: flow.version,
        draft: Draft::of(&flow),
        errors: Vec::new(),
        notice: None,
        status: StatusCode::OK,
        may_edit: who.session().user.role.may_edit(),
    };
    render_editor(&who, &state, view).await
}

/// What the editor shows.
struct EditorView<'a> {
    id: &'a FlowId,
    version: u64,
    draft: Draft,
    /// Problems by path (`name`, `actions[0].params.to`, …).
    errors: Vec<(String, String)>,
    notice: Option<(&'static str, String)>,
    status: StatusCode,
    /// Whether the user may change the flow (otherwise no editing controls are shown).
    may_edit: bool,
}

impl EditorView<'_> {
    fn error(&self, path: &str) -> Option<&str> {
        self.errors.iter().find(|(p, _)| p == path).map(|(_, m)| m.as_str())
    }

    /// Every problem inside param `name` of action `i`, below its top level (`member.email:
    /// …; then[0].id: …`), as one text.
    fn nested_errors(&self, i: usize, name: &str) -> String {
        let prefix = format!("actions[{i}].params.{name}");
        let found: Vec<String> = self
            .errors
            .iter()
            .filter(|(p, _)| p.starts_with(&prefix) && p.len() > prefix.len())
            .map(|(p, m)| format!("{}: {m}", &p[prefix.len()..].trim_start_matches('.')))
            .collect();
        found.join("; ")
    }

    /// Problems the fields of the form don't show.
    fn unplaced(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(p, _)| {
                p != "name"
                    && !self.draft.actions.iter().enumerate().any(|(i, a)| {
                        let here = format!("actions[{i}]");
                        p == &format!("{here}.id")
                            || p == &format!("{here}.alias")
                            || p == &format!("{here}.extra")
                            || a.fields()
                                .iter()
                                .any(|(n, _, _)| p.starts_with(&format!("{here}.params.{n}")))
                    })
            })
            .map(|(p, m)| if p.is_empty() { m.clone() } else { format!("{p}: {m}") })
            .collect()
    }
}

async fn render_editor(
    who: &Signed<impl Need>,
    state: &AppState,
    view: EditorView<'_>,
) -> Response {
    // The connections of every app the flow's actions use, for their selects.
    let mut apps: Vec<AppId> = view.draft.actions.iter().filter_map(|a| a.spec.app()).collect();
    apps.sort_by_key(|a| a.as_str());
    apps.dedup();
    let mut connections: Vec<ConnectionSummary> = Vec::new();
    for app in apps {
        match state.vault.connection_summaries(who.tenant(), Some(app), None).await {
            Ok(mut list) => connections.append(&mut list),
            Err(e) => return super::internal(&e),
        }
    }
    let may_edit = who.session().user.role.may_edit();
    let id = view.id;
    let main = html! {
        p { a href="/flows" { "← Flows" } }
        div.page-head {
            h1 { (if view.draft.name.is_empty() { "Flow" } else { view.draft.name.as_str() }) }
            div.actions { a.btn href={ "/flows/" (id) "/executions" } { "Executions" } }
        }
        @if let Some((kind, text)) = &view.notice { p class={ "alert " (kind) } role="status" { (text) } }
        @let unplaced = view.unplaced();
        @if !unplaced.is_empty() {
            div.alert.alert-error role="alert" { ul { @for e in &unplaced { li { (e) } } } }
        }
        form #flow-editor method="post" action={ "/flows/" (id) } novalidate {
            (ui::csrf(who.session()))
            input type="hidden" name="version" value=(view.version);
            input type="hidden" name="count" value=(view.draft.actions.len());
            section.panel {
                (ui::field(&FieldView { name: "name", label: "Flow name", value: &view.draft.name, kind: "text",
                    required: true, autocomplete: Some("off"), help: None, error: view.error("name") }))
            }
            h2 { "Actions" }
            @if view.draft.actions.is_empty() { p.muted { "No actions yet: add one below." } }
            ol.action-list {
                @for (i, a) in view.draft.actions.iter().enumerate() {
                    li { (action_fields(&view, i, a, &connections, view.draft.actions.len())) }
                }
            }
            @if may_edit {
                section.panel.add-action {
                    div.field {
                        label for="add-action" { "Add an action" }
                        select #add-action name="new_action" {
                            @for (group, specs) in action_groups() {
                                optgroup label=(group) {
                                    @for spec in specs {
                                        option value={ (spec.kind) " " (spec.action) } { (action_title(spec)) }
                                    }
                                }
                            }
                        }
                    }
                    button.btn type="submit" name="op" value="add" { "Add action" }
                }
                div.form-actions {
                    button.btn.btn-primary type="submit" name="op" value="save" { "Save flow" }
                    span.muted { "Adding, moving and removing actions is saved only with Save." }
                }
            }
        }
        @if may_edit {
            section.panel aria-labelledby="run-h" {
                h2 #run-h { "Run" }
                form method="post" action={ "/flows/" (id) "/run" } {
                    (ui::csrf(who.session()))
                    (ui::field(&FieldView { name: "fields", label: "Test fields (JSON object)", value: "{}", kind: "textarea",
                        required: false, autocomplete: Some("off"),
                        help: Some("What {{ fields.… }} refers to in the params. The saved flow runs, and you see its execution."),
                        error: None }))
                    button.btn type="submit" { "Run flow" }
                }
            }
        }
        dialog #connection-dialog aria-labelledby="connection-dialog-title" {
            div.dialog-head {
                h2 #connection-dialog-title { "Add Vault Connection" }
                button.btn.btn-link type="button" data-close-dialog { "Close" }
            }
            iframe title="Add Vault Connection" {}
        }
    };
    Page { title: "Flow editor", section: Section::Flows, who: who.session(), embed: false }
        .render_with(view.status, main)
}

/// The catalog's actions by app (or logic type), in catalog order.
fn action_groups() -> Vec<(&'static str, Vec<&'static ActionSpec>)> {
    let mut groups: Vec<(&'static str, Vec<&'static ActionSpec>)> = Vec::new();
    for spec in ActionSpec::all() {
        let group = spec.kind.parse::<AppId>().map_or(spec.kind, |a| a.spec().name);
        match groups.last_mut() {
            Some((g, list)) if *g == group => list.push(spec),
            _ => groups.push((group, vec![spec])),
        }
    }
    groups
}

fn action_title(spec: &ActionSpec) -> String {
    let app = spec.kind.parse::<AppId>().map_or(spec.kind, |a| a.spec().name);
    format!("{app}: {}", humanise(spec.action))
}

/// `SEND_SMS` → `Send SMS`.
fn humanise(action: &str) -> String {
    action
        .split('_')
        .enumerate()
        .map(|(i, w)| {
            if w.len() <= 3
                && !matches!(
                    w,
                    "TO" | "OF"
                        | "IN"
                        | "AND"
                        | "OR"
                        | "NEW"
                        | "SET"
                        | "GET"
                        | "ADD"
                        | "RUN"
                        | "MAP"
                )
            {
                w.to_owned()
            } else if i == 0 {
                let mut c = w.chars();
                c.next().map(|f| f.to_string() + &c.as_str().to_lowercase()).unwrap_or_default()
            } else {
                w.to_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn action_fields(
    view: &EditorView<'_>,
    i: usize,
    a: &DraftAction,
    connections: &[ConnectionSummary],
    count: usize,
) -> Markup {
    let p = |key: &str| format!("a{i}.{key}");
    let here = format!("actions[{i}]");
    html! {
        fieldset.panel.action {
            legend { span.step-no { (i + 1) } " " (action_title(a.spec)) }
            input type="hidden" name=(p("type")) value=(a.spec.kind);
            input type="hidden" name=(p("action")) value=(a.spec.action);
            div.two-col {
                (ui::field(&FieldView { name: &p("id"), label: "Action id", value: &a.id, kind: "text", required: true,
                    autocomplete: Some("off"), help: Some("Later actions refer to its output as {{ actions.<id> }}."),
                    error: view.error(&format!("{here}.id")) }))
                (ui::field(&FieldView { name: &p("alias"), label: "Alias", value: &a.alias, kind: "text", required: false,
                    autocomplete: Some("off"), help: None, error: view.error(&format!("{here}.alias")) }))
            }
            @for (name, schema, required) in a.fields() {
                @let field_name = p(&format!("p.{name}"));
                @let error = view.error(&format!("{here}.params.{name}"));
                @let nested = view.nested_errors(i, name);
                @if matches!(schema, Schema::Connection) {
                    (connection_select(&field_name, a, connections, error, view.may_edit))
                } @else if let Schema::Enum(options) = schema {
                    div.field.field-error[error.is_some()] {
                        label for={ "f-" (field_name) } { (name) @if !required { span.optional { " (optional)" } } }
                        select id={ "f-" (field_name) } name=(field_name) {
                            @if !required { option value="" { "—" } }
                            @if !a.param(name).is_empty() && !options.contains(&a.param(name)) {
                                option value=(a.param(name)) selected { (a.param(name)) }
                            }
                            @for o in *options { option value=(o) selected[a.param(name) == *o] { (o) } }
                        }
                        @if let Some(e) = error { p.error { (e) } }
                    }
                } @else {
                    (ui::field(&FieldView {
                        name: &field_name, label: name, value: a.param(name),
                        kind: if multiline(schema) { "textarea" } else { "text" },
                        required, autocomplete: Some("off"), help: param_help(schema).as_deref(),
                        error: error.or((!nested.is_empty()).then_some(nested.as_str())),
                    }))
                }
            }
            @if a.takes_extra() {
                (ui::field(&FieldView { name: &p("extra"), label: "Other params (JSON object)", value: &a.extra,
                    kind: "textarea", required: false, autocomplete: Some("off"),
                    help: Some("Params this action takes beyond those above, e.g. a webhook's payload."),
                    error: view.error(&format!("{here}.extra")) }))
            }
            div.checks {
                label { input type="checkbox" name=(p("allow_failure")) checked[a.allow_failure]; " Continue the flow if this action fails" }
                label { input type="checkbox" name=(p("mask_output")) checked[a.mask_output]; " Keep its output out of the execution record" }
            }
            @if view.may_edit { div.form-actions {
                button.btn type="submit" name="op" value={ "up:" (i) } disabled[i == 0] aria-label={ "Move action " (i + 1) " up" } { "↑ Up" }
                button.btn type="submit" name="op" value={ "down:" (i) } disabled[i + 1 == count] aria-label={ "Move action " (i + 1) " down" } { "↓ Down" }
                button.btn type="submit" name="op" value={ "remove:" (i) } aria-label={ "Remove action " (i + 1) } { "Remove" }
            } }
        }
    }
}

fn param_help(schema: &Schema) -> Option<String> {
    match schema {
        Schema::Number { .. } => {
            Some("A number, or a template such as {{ fields.count }}.".to_owned())
        }
        Schema::Boolean => Some("true or false, or a template.".to_owned()),
        Schema::Array { .. } => Some("A JSON list; strings in it may be templates.".to_owned()),
        Schema::Object(_) | Schema::Any | Schema::OneOf(_) => {
            Some("JSON; strings in it may be templates.".to_owned())
        }
        Schema::Actions => Some("A JSON list of actions.".to_owned()),
        _ => None,
    }
}

/// The "Vault connection" select: the tenant's connections of the action's app, and "+" to add
/// one without leaving the flow.
fn connection_select(
    name: &str,
    a: &DraftAction,
    connections: &[ConnectionSummary],
    error: Option<&str>,
    may_edit: bool,
) -> Markup {
    let app = a.spec.app();
    let current = a.param("connection_id");
    let options: Vec<&ConnectionSummary> =
        connections.iter().filter(|c| Some(c.app_id) == app).collect();
    let id = format!("f-{name}");
    html! {
        div.field.field-error[error.is_some()] {
            label for=(id) { "Vault connection" }
            div.select-with-add {
                select id=(id) name=(name) required data-connection-select {
                    option value="" { "Choose a connection…" }
                    @if !current.is_empty() && !options.iter().any(|c| c.id.as_str() == current) {
                        option value=(current) selected { (current) " (not found)" }
                    }
                    @for c in &options {
                        option value=(c.id) selected[c.id.as_str() == current] {
                            (c.name) @if c.status == ConnectionStatus::Empty { " — missing credentials" }
                        }
                    }
                }
                @if let Some(app) = app.filter(|_| may_edit) {
                    a.btn.btn-icon href={ "/vault/new/" (app.as_str()) }
                        target="_blank" rel="noopener"
                        data-new-connection=(app.as_str()) data-target=(id)
                        aria-label={ "Add a " (app.spec().name) " connection" } title="Add a connection" { "+" }
                }
            }
            @if let Some(e) = error { p.error { (e) } }
        }
    }
}

/// `POST /flows/{id}`: an edit of the draft (add, move, remove: shown, not saved) or a save.
pub(crate) async fn update(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Posted>,
) -> Response {
    let id = match flow_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let Some(version) = super::posted_version(&form) else {
        return super::missing_version();
    };
    let mut draft = Draft::from_form(&form);
    let op = posted(&form, "op").unwrap_or("save");
    let edited = |draft: Draft, notice: Option<(&'static str, String)>| EditorView {
        id: &id,
        version,
        draft,
        errors: Vec::new(),
        notice,
        status: StatusCode::OK,
        may_edit: true,
    };
    if op != "save" {
        let unsaved =
            Some(("alert-warn", "Not saved yet: Save flow keeps these changes.".to_owned()));
        match op.split_once(':') {
            None if op == "add" => {
                let spec = posted(&form, "new_action")
                    .and_then(|s| s.split_once(' '))
                    .and_then(|(kind, action)| ActionSpec::find(kind, action));
                if let Some(spec) = spec {
                    let new = DraftAction::new(spec, &draft.actions);
                    draft.actions.push(new);
                }
            }
            Some((verb, n)) => {
                let n = n.parse::<usize>().unwrap_or(usize::MAX);
                let len = draft.actions.len();
                match verb {
                    "up" if n > 0 && n < len => draft.actions.swap(n - 1, n),
                    "down" if n + 1 < len => draft.actions.swap(n, n + 1),
                    "remove" if n < len => {
                        draft.actions.remove(n);
                    }
                    _ => {}
                }
            }
            None => {}
        }
        return render_editor(&who, &state, edited(draft, unsaved)).await;
    }
    let tenant = who.tenant();
    let refused = |errors: Vec<(String, String)>, draft: Draft| EditorView {
        id: &id,
        version,
        draft,
        errors,
        notice: Some(("alert-error", "Not saved: see the problems below.".to_owned())),
        status: StatusCode::BAD_REQUEST,
        may_edit: true,
    };
    let body = match draft.to_json() {
        Ok(b) => b,
        Err(errors) => return render_editor(&who, &state, refused(errors, draft)).await,
    };
    let patch = match validate_flow_patch(&body) {
        Ok(p) => p,
        Err(e) => return render_editor(&who, &state, refused(problems(&e), draft)).await,
    };
    match state.vault.update_flow(tenant, &id, patch, version).await {
        Ok(flow) => {
            tracing::info!(flow = %id, user = %who.session().user.id, "flow saved in the dashboard");
            let view = EditorView {
                id: &id,
                version: flow.version,
                draft: Draft::of(&flow),
                errors: Vec::new(),
                notice: Some(("alert-ok", "Saved. The next run uses this version.".to_owned())),
                status: StatusCode::OK,
                may_edit: true,
            };
            render_editor(&who, &state, view).await
        }
        Err(VaultError::Invalid(e)) => {
            render_editor(&who, &state, refused(problems(&e), draft)).await
        }
        Err(VaultError::VersionConflict { .. }) => {
            let mut view = refused(Vec::new(), draft);
            view.notice = Some(("alert-error", "Someone else saved this flow meanwhile; nothing was saved. Reload to see their version (copy your changes first).".to_owned()));
            view.status = StatusCode::CONFLICT;
            render_editor(&who, &state, view).await
        }
        Err(VaultError::NotFound) => not_found(),
        Err(e) => super::internal(&e),
    }
}

fn problems(e: &flowvault_core::ValidationErrors) -> Vec<(String, String)> {
    e.0.iter().map(|f| (f.field.clone(), f.problem.to_string())).collect()
}

/// `POST /flows/{id}/run`: runs the saved flow with test fields, waits for it, and shows the
/// execution.
pub(crate) async fn run(
    who: Signed<Edit>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Posted>,
) -> Response {
    let id = match flow_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let text = posted(&form, "fields").unwrap_or("").trim();
    let fields = if text.is_empty() { Ok(json!({})) } else { serde_json::from_str::<Value>(text) };
    let fields = match fields {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            return ui::error_page(
                StatusCode::BAD_REQUEST,
                "Test fields must be a JSON object, such as {\"phone\": \"+15551234567\"}. Go back and correct them.",
            );
        }
    };
    let input = RunInput { fields, context: json!({}) };
    match state
        .engine
        .execute(who.tenant(), &id, input, Wait::ForEnd, state.config.sync_run_limits)
        .await
    {
        Ok(view) => see_other(&format!("/flows/{id}/executions/{}", view.id)),
        Err(ExecuteError::Vault(VaultError::NotFound)) => not_found(),
        Err(ExecuteError::Busy { .. }) => ui::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many runs of this tenant are in progress; try again in a moment.",
        ),
        Err(ExecuteError::Vault(e)) => super::internal(&e),
        Err(e) => {
            tracing::error!(flow = %id, error = %e, "dashboard run failed");
            ui::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The flow could not be run; the server's log says why.",
            )
        }
    }
}
