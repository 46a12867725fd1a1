//! A flow's executions, and the debugger: each action's input, output, error and timing, as the
//! sealed record has them (secrets scrubbed, masked outputs absent).

use axum::extract::{Path, State};
use axum::response::Response;
use flowvault_core::{ExecutionId, FlowId, Timestamp};
use flowvault_engine::ActionStatus;
use flowvault_store::{ExecutionQuery, VaultError};
use maud::{Markup, html};
use serde_json::Value;

use super::flows::not_found;
use super::session::{Signed, View};
use super::ui::{self, Page, Section};
use crate::state::AppState;

/// Executions listed per page of the list.
const SHOWN: u64 = 100;

/// `GET /flows/{id}/executions`.
pub(crate) async fn list(
    who: Signed<View>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<FlowId>() else { return not_found() };
    let tenant = who.tenant();
    let flow = match state.vault.flow(tenant, &id).await {
        Ok(f) => f,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let query = ExecutionQuery { from: None, offset: 0, limit: SHOWN };
    let page = match state.vault.list_executions(tenant, &id, &query).await {
        Ok(p) => p,
        Err(e) => return super::internal(&e),
    };
    let main = html! {
        p { a href={ "/flows/" (id) } { "← " (flow.name) } }
        div.page-head { h1 { "Executions of " (flow.name) } }
        @if page.items.is_empty() {
            div.panel.empty-state { p { "This flow has not run yet." } }
        } @else {
            p.muted { "The newest " (page.items.len()) " of " (page.total) "." }
            table.list {
                thead { tr { th scope="col" { "Execution" } th scope="col" { "Status" } th scope="col" { "Started" } th scope="col" { "Duration" } } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td { a href={ "/flows/" (id) "/executions/" (e.id) } { code { (e.id) } } }
                            td { (run_badge(e.status.as_str())) }
                            td { (ui::time(e.started_at.unwrap_or(e.created_at))) }
                            td { (duration(e.started_at, e.ended_at)) }
                        }
                    }
                }
            }
        }
    };
    Page { title: "Executions", section: Section::Flows, who: who.session(), embed: false }
        .render(main)
}

fn run_badge(status: &str) -> Markup {
    let colour = match status {
        "completed" | "succeeded" => "green",
        "running" => "blue",
        _ => "red",
    };
    html! { span class={ "badge badge-" (colour) } data-run-status=(status) { (status) } }
}

fn duration(start: Option<Timestamp>, end: Option<Timestamp>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{} ms", e.duration_since(s).as_millis()),
        _ => "—".to_owned(),
    }
}

/// `GET /flows/{id}/executions/{execution}`: the debugger.
pub(crate) async fn debugger(
    who: Signed<View>,
    State(state): State<AppState>,
    Path((id, execution)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Ok(execution)) = (id.parse::<FlowId>(), execution.parse::<ExecutionId>()) else {
        return not_found();
    };
    let tenant = who.tenant();
    let view = match state.engine.execution(tenant, &id, &execution, true).await {
        Ok(v) => v,
        Err(VaultError::NotFound) => return not_found(),
        Err(e) => return super::internal(&e),
    };
    let entries = view.debug.as_ref().map_or(&[][..], |d| &d.actions[..]);
    let main = html! {
        p { a href={ "/flows/" (id) "/executions" } { "← Executions" } }
        div.page-head {
            h1 { "Execution " code { (view.id) } }
            div.actions { (run_badge(view.status.as_str())) }
        }
        section.panel {
            dl.facts {
                dt { "Flow" } dd { a href={ "/flows/" (id) } { code { (id) } } }
                dt { "Started" } dd { (ui::time(view.started_at.unwrap_or(view.created_at))) }
                dt { "Duration" } dd { (duration(view.started_at, view.ended_at)) }
                dt { "Trace id" } dd { code { (view.trace_id) } }
                @if let Some(e) = &view.error { dt { "Failed at" } dd { code { (e.action_id) } ": " (e.message) } }
                @if let Some(r) = &view.result { dt { "Result" } dd { pre.json tabindex="0" { (pretty(r)) } } }
            }
        }
        h2 { "Actions" }
        @if entries.is_empty() { p.muted { "No action ran." } }
        ol.debug-list {
            @for a in entries {
                li {
                    details.panel.debug-action open[a.status != ActionStatus::Succeeded || entries.len() <= 3] {
                        summary {
                            strong { (a.alias.as_deref().unwrap_or(&a.id)) }
                            " " span.muted { (a.kind) " " (a.action) }
                            " " (run_badge(a.status.as_str()))
                            " " span.muted { (a.duration_ms) " ms" }
                        }
                        dl.facts {
                            dt { "Action id" } dd { code { (a.id) } }
                            dt { "Started" } dd { (ui::time(a.started_at)) }
                        }
                        h3 { "Input" }
                        pre.json tabindex="0" { (pretty(&a.input)) }
                        h3 { "Output" }
                        @if a.masked {
                            p.masked { "Masked: this action's output is kept out of the record." }
                        } @else if let Some(o) = &a.output {
                            pre.json tabindex="0" { (pretty(o)) }
                        } @else { p.muted { "None." } }
                        @if let Some(e) = &a.error {
                            h3 { "Error" }
                            p.alert.alert-error { (e.message) @if let Some(s) = e.status_code { " (HTTP " (s) ")" } }
                        }
                    }
                }
            }
        }
    };
    Page { title: "Execution", section: Section::Flows, who: who.session(), embed: false }
        .render(main)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}
