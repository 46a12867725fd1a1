//! The pieces every page is made of: the layout, form fields, badges, times.

use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use flowvault_core::{AppId, ConnectionStatus, Timestamp};
use flowvault_store::SignedIn;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::guard::CSRF_FIELD;

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Vault,
    Flows,
}

/// A page inside the signed-in layout.
pub(crate) struct Page<'a> {
    pub(crate) title: &'a str,
    pub(crate) section: Section,
    pub(crate) who: &'a SignedIn,
    /// Shown inside the flow editor's dialog: no navigation around it.
    pub(crate) embed: bool,
}

impl Page<'_> {
    /// The whole page, with `main` as its content.
    pub(crate) fn render(&self, main: Markup) -> Response {
        self.render_with(StatusCode::OK, main)
    }

    /// The whole page with another status.
    pub(crate) fn render_with(&self, status: StatusCode, main: Markup) -> Response {
        let nav = |section: Section, href: &str, label: &str| {
            html! {
                @if self.section == section {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        };
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                (head(self.title))
                body.embedded[self.embed] {
                    @if !self.embed {
                    a.skip href="#main" { "Skip to content" }
                    header.topbar {
                        a.brand href="/vault" { (logo()) span { "flowvault" } }
                        nav aria-label="Main" {
                            (nav(Section::Vault, "/vault", "Vault"))
                            (nav(Section::Flows, "/flows", "Flows"))
                        }
                        div.who {
                            span.who-email { (self.who.user.email) }
                            span.role-tag { (self.who.user.role) }
                            form method="post" action="/signout" {
                                (csrf(self.who))
                                button.btn.btn-link type="submit" { "Sign out" }
                            }
                        }
                    }
                    }
                    main #main { (main) }
                }
            }
        };
        html_response(status, markup)
    }
}

/// A page outside the signed-in layout (sign-in, errors).
pub(crate) fn bare_page(status: StatusCode, title: &str, main: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main { (main) }
            }
        }
    };
    html_response(status, markup)
}

/// A request the dashboard turns down: the status and what to tell the person. Small, so that
/// helpers can return it in a `Result`; it becomes an [`error_page`].
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: std::borrow::Cow<'static, str>,
}

impl Refusal {
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Self { status, message: message.into() }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_page(self.status, &self.message)
    }
}

/// A page that says what went wrong, with a way back.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    bare_page(
        status,
        status.canonical_reason().unwrap_or("Error"),
        html! {
            div.auth-card {
                h1 { (status.canonical_reason().unwrap_or("Error")) }
                p role="alert" { (message) }
                p { a href="/vault" { "Back to the vault" } }
            }
        },
    )
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · flowvault" }
            link rel="stylesheet" href=(assets::CSS_PATH);
            link rel="icon" href=(assets::FAVICON_PATH) type="image/svg+xml";
            script src=(assets::JS_PATH) defer {}
        }
    }
}

fn logo() -> Markup {
    html! { img.logo src=(assets::FAVICON_PATH) alt="" width="24" height="24"; }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

/// The hidden CSRF field every state-changing form carries.
pub(crate) fn csrf(who: &SignedIn) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(who.csrf); }
}

/// A labelled input with optional help and error text, tied to it for screen readers.
pub(crate) fn text_field(
    name: &str,
    label: &str,
    value: &str,
    kind: &str,
    required: bool,
    autocomplete: Option<&str>,
    help: Option<&str>,
) -> Markup {
    field(&FieldView { name, label, value, kind, required, autocomplete, help, error: None })
}

/// Everything a form field shows.
pub(crate) struct FieldView<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: &'a str,
    pub(crate) value: &'a str,
    /// `text`, `password`, `email`, `url`, `number`, or `textarea`.
    pub(crate) kind: &'a str,
    pub(crate) required: bool,
    pub(crate) autocomplete: Option<&'a str>,
    pub(crate) help: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
}

/// A form field from a [`FieldView`].
pub(crate) fn field(f: &FieldView<'_>) -> Markup {
    let id = format!("f-{}", f.name);
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let described = match (f.help.is_some(), f.error.is_some()) {
        (true, true) => Some(format!("{help_id} {error_id}")),
        (true, false) => Some(help_id.clone()),
        (false, true) => Some(error_id.clone()),
        (false, false) => None,
    };
    html! {
        div.field.field-error[f.error.is_some()] {
            label for=(id) {
                (f.label)
                @if !f.required { span.optional { " (optional)" } }
            }
            @if f.kind == "textarea" {
                textarea id=(id) name=(f.name) rows="5" required[f.required]
                    aria-describedby=[described.as_deref()] aria-invalid=[f.error.map(|_| "true")]
                    autocomplete=[f.autocomplete] spellcheck="false" { (f.value) }
            } @else {
                input id=(id) name=(f.name) type=(f.kind) value=(f.value) required[f.required]
                    aria-describedby=[described.as_deref()] aria-invalid=[f.error.map(|_| "true")]
                    autocomplete=[f.autocomplete] spellcheck="false";
            }
            @if let Some(h) = f.help { p.help id=(help_id) { (h) } }
            @if let Some(e) = f.error { p.error id=(error_id) { (e) } }
        }
    }
}

/// How a status is shown: its words and its colour.
pub(crate) fn status_label(status: ConnectionStatus) -> (&'static str, &'static str) {
    match status {
        ConnectionStatus::Ready => ("Ready", "green"),
        ConnectionStatus::Empty => ("Missing credentials", "orange"),
        ConnectionStatus::Refreshing => ("Refreshing", "blue"),
        ConnectionStatus::NeedsReauth => ("Needs re-authorization", "red"),
        ConnectionStatus::NeedsUpdate => ("Needs update", "red"),
        ConnectionStatus::Error => ("Refresh failing", "red"),
        _ => ("Unknown", "red"),
    }
}

/// A status badge: colour, an icon for those who don't see colour, and words.
pub(crate) fn badge(status: ConnectionStatus) -> Markup {
    let (words, colour) = status_label(status);
    let icon = match colour {
        "green" => "✓",
        "orange" => "!",
        "blue" => "↻",
        _ => "✕",
    };
    html! {
        span class={ "badge badge-" (colour) } data-status=(status.as_str()) {
            span.badge-icon aria-hidden="true" { (icon) } (words)
        }
    }
}

/// An app's icon.
pub(crate) fn app_icon(app: AppId, size: u32) -> Markup {
    html! {
        img.app-icon src=(assets::icon_path(app)) alt="" width=(size) height=(size);
    }
}

/// A message as a sentence: `is required` → `Is required.`
pub(crate) fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text: String =
        chars.next().map(|f| f.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// A time for people: `2026-12-03 16:52 UTC`, with the exact instant in `datetime`.
pub(crate) fn time(t: Timestamp) -> Markup {
    let dt = t.as_datetime();
    html! {
        time datetime=(t.to_string()) { (dt.format("%Y-%m-%d %H:%M UTC").to_string()) }
    }
}
