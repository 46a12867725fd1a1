//! The vault page: every connection of the tenant, grouped by app, with its status; searched,
//! filtered and paged.

use axum::extract::{Query, State};
use axum::response::Response;
use flowvault_core::{AppId, CATALOG, ConnectionStatus, ConnectionSummary};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::{Signed, View, urlencode};
use super::ui::{self, Page, Section};
use crate::state::AppState;

/// Connections per page.
pub(crate) const PER_PAGE: usize = 50;

/// The status filter: what people look for, not every status the API has.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StatusFilter {
    Ready,
    Empty,
    Attention,
}

impl StatusFilter {
    const ALL: [StatusFilter; 3] =
        [StatusFilter::Ready, StatusFilter::Empty, StatusFilter::Attention];

    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Ready => "ready",
            StatusFilter::Empty => "empty",
            StatusFilter::Attention => "attention",
        }
    }

    fn label(self) -> &'static str {
        match self {
            StatusFilter::Ready => "Ready",
            StatusFilter::Empty => "Missing credentials",
            StatusFilter::Attention => "Needs attention",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn matches(self, status: ConnectionStatus) -> bool {
        match self {
            StatusFilter::Ready => {
                matches!(status, ConnectionStatus::Ready | ConnectionStatus::Refreshing)
            }
            StatusFilter::Empty => status == ConnectionStatus::Empty,
            StatusFilter::Attention => !matches!(
                status,
                ConnectionStatus::Ready | ConnectionStatus::Refreshing | ConnectionStatus::Empty
            ),
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct VaultQuery {
    q: Option<String>,
    app: Option<String>,
    status: Option<String>,
    /// Text, so that `?page=x` is ignored like other unknown values, not an error.
    page: Option<String>,
    /// A notice after a change: `deleted`.
    done: Option<String>,
}

/// What the page was asked for, parsed: unknown values are ignored, not errors.
struct Filter {
    text: String,
    app: Option<AppId>,
    status: Option<StatusFilter>,
    page: usize,
}

impl Filter {
    fn from(q: &VaultQuery) -> Self {
        Self {
            text: q.q.as_deref().unwrap_or("").trim().chars().take(200).collect(),
            app: q.app.as_deref().and_then(|a| a.parse().ok()),
            status: q.status.as_deref().and_then(StatusFilter::parse),
            page: q.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    }

    fn keeps(&self, c: &ConnectionSummary) -> bool {
        self.status.is_none_or(|s| s.matches(c.status))
    }

    /// The query string of this filter at page `page`.
    fn at(&self, page: usize) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("q={}", urlencode(&self.text)));
        }
        if let Some(a) = self.app {
            parts.push(format!("app={}", a.as_str()));
        }
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        parts.push(format!("page={page}"));
        format!("/vault?{}", parts.join("&"))
    }
}

/// `GET /vault`.
pub(crate) async fn page(
    who: Signed<View>,
    State(state): State<AppState>,
    Query(q): Query<VaultQuery>,
) -> Response {
    let filter = Filter::from(&q);
    let search = (!filter.text.is_empty()).then_some(filter.text.as_str());
    let all = match state.vault.connection_summaries(who.tenant(), filter.app, search).await {
        Ok(all) => all,
        Err(e) => return super::internal(&e),
    };
    let matching: Vec<&ConnectionSummary> = all.iter().filter(|c| filter.keeps(c)).collect();
    let pages = matching.len().div_ceil(PER_PAGE).max(1);
    let page = filter.page.min(pages);
    let shown = &matching[(page - 1) * PER_PAGE..(page * PER_PAGE).min(matching.len())];
    let may_edit = who.session().user.role.may_edit();

    let main = html! {
        div.page-head {
            h1 { "Vault" }
            @if may_edit {
                div.actions { a.btn.btn-primary href="/vault/new" { "+ Add Vault Connection" } }
            }
        }
        @if q.done.as_deref() == Some("deleted") {
            p.alert.alert-ok role="status" { "The connection was deleted." }
        }
        (filters(&filter))
        @if all.is_empty() && filter.text.is_empty() && filter.status.is_none() && filter.app.is_none() {
            div.panel.empty-state {
                h2 { "No vault connections yet" }
                p.muted { "Store a third-party credential once; every flow that uses it picks up changes at once." }
                @if may_edit { a.btn.btn-primary href="/vault/new" { "+ Add Vault Connection" } }
            }
        } @else if matching.is_empty() {
            div.panel.empty-state { p { "No connection matches." } a href="/vault" { "Clear the filters" } }
        } @else {
            (groups(shown))
            nav.pager aria-label="Pages" {
                span.muted {
                    ((page - 1) * PER_PAGE + 1) "–" ((page - 1) * PER_PAGE + shown.len())
                    " of " (matching.len())
                }
                span {
                    @if page > 1 { a.btn href=(filter.at(page - 1)) rel="prev" { "← Previous" } }
                    " "
                    @if page < pages { a.btn href=(filter.at(page + 1)) rel="next" { "Next →" } }
                }
            }
        }
    };
    Page { title: "Vault", section: Section::Vault, who: who.session(), embed: false }.render(main)
}

fn filters(filter: &Filter) -> Markup {
    html! {
        form.filters method="get" action="/vault" role="search" {
            div {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(filter.text) placeholder="Connection name or id";
            }
            div {
                label for="app" { "App" }
                select #app name="app" {
                    option value="" { "All apps" }
                    @for app in &CATALOG {
                        option value=(app.id.as_str()) selected[filter.app == Some(app.id)] { (app.name) }
                    }
                }
            }
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" { "Any status" }
                    @for s in StatusFilter::ALL {
                        option value=(s.as_str()) selected[filter.status == Some(s)] { (s.label()) }
                    }
                }
            }
            div { button.btn type="submit" { "Filter" } }
        }
    }
}

/// The connections of one page, under a heading per app.
fn groups(shown: &[&ConnectionSummary]) -> Markup {
    let mut runs: Vec<(AppId, Vec<&ConnectionSummary>)> = Vec::new();
    for c in shown {
        match runs.last_mut() {
            Some((app, list)) if *app == c.app_id => list.push(c),
            _ => runs.push((c.app_id, vec![c])),
        }
    }
    html! {
        @for (app, list) in &runs {
            section.group aria-labelledby={ "g-" (app.as_str()) } {
                h2.group-head id={ "g-" (app.as_str()) } {
                    (ui::app_icon(*app, 28)) (app.spec().name)
                    span.count { "(" (list.len()) ")" }
                }
                ul.conn-list {
                    @for c in list { (row(c)) }
                }
            }
        }
    }
}

fn row(c: &ConnectionSummary) -> Markup {
    let uses_tokens = c.expires_at.is_some() || c.refreshed_at.is_some();
    html! {
        li data-connection=(c.id) {
            div {
                a.conn-name href={ "/vault/" (c.id) } { (c.name) }
                div.conn-meta { code { (c.id) } }
            }
            div { (ui::badge(c.status)) }
            div.conn-meta {
                @if uses_tokens {
                    @if let Some(t) = c.expires_at { "Token expires " (ui::time(t)) br; }
                    @if let Some(t) = c.refreshed_at { "Refreshed " (ui::time(t)) }
                } @else {
                    "Updated " (ui::time(c.updated_at))
                }
            }
            @if let Some(scopes) = &c.missing_scopes {
                div.conn-reason { "Not granted scopes the app now asks for (" (scopes) "): reconnect." }
            } @else if let Some(reason) = c.last_error.as_ref().filter(|_| c.status != ConnectionStatus::Ready) {
                div.conn-reason { (reason) }
            }
        }
    }
}
