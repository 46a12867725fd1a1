//! The dashboard's static files, compiled into the binary, and the app icons, drawn here.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flowvault_core::{AppId, CATALOG};

pub(crate) const CSS_PATH: &str = "/assets/dashboard.css";
pub(crate) const JS_PATH: &str = "/assets/dashboard.js";
pub(crate) const FAVICON_PATH: &str = "/assets/flowvault.svg";

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");
const FAVICON: &str = include_str!("assets/flowvault.svg");

/// `GET /assets/{file}`.
pub(crate) async fn file(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "dashboard.css" => (CSS, "text/css; charset=utf-8"),
        "dashboard.js" => (JS, "text/javascript; charset=utf-8"),
        "flowvault.svg" => (FAVICON, "image/svg+xml"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    asset(body.to_owned(), kind)
}

/// Where an app's icon is served.
pub(crate) fn icon_path(app: AppId) -> String {
    format!("/assets/apps/{}.svg", app.as_str())
}

/// `GET /assets/apps/{APP_ID}.svg`: the app's icon — its initials on a colour of its own. Drawn,
/// not the provider's logo: logos are their owners' to hand out.
pub(crate) async fn icon(Path(icon): Path<String>) -> Response {
    let app = icon.strip_suffix(".svg").and_then(|id| id.parse::<AppId>().ok());
    let Some(app) = app else { return StatusCode::NOT_FOUND.into_response() };
    asset(icon_svg(app), "image/svg+xml")
}

fn asset(body: String, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    // Short: a new binary's assets reach browsers within minutes, without versioned names.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// Colours dark enough for white text (WCAG AA at this size).
const PALETTE: [&str; 8] =
    ["#3949ab", "#00796b", "#c2185b", "#5d4037", "#6a1b9a", "#2e7d32", "#ad1457", "#0d47a1"];

fn icon_svg(app: AppId) -> String {
    let spec = app.spec();
    let index = CATALOG.iter().position(|a| a.id == app).unwrap_or(0);
    let colour = PALETTE[index % PALETTE.len()];
    let initials: String = spec
        .name
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    let initials =
        if initials.chars().count() < 2 { spec.name.chars().take(2).collect() } else { initials };
    // Names come from the catalog (letters and digits); escaped anyway.
    let initials = initials.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 40 40\" role=\"img\">\
         <rect width=\"40\" height=\"40\" rx=\"9\" fill=\"{colour}\"/>\
         <text x=\"20\" y=\"26\" text-anchor=\"middle\" font-family=\"system-ui,sans-serif\" \
         font-size=\"16\" font-weight=\"600\" fill=\"#fff\">{initials}</text></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_has_an_icon_with_its_initials() {
        for app in AppId::ALL {
            let svg = icon_svg(*app);
            assert!(svg.starts_with("<svg"), "{app:?}");
        }
        assert!(
            icon_svg("GOOGLE_SHEETS".parse().unwrap_or_else(|e| panic!("{e:?}"))).contains(">GS<")
        );
        assert!(icon_svg("TWILIO".parse().unwrap_or_else(|e| panic!("{e:?}"))).contains(">Tw<"));
    }
}
