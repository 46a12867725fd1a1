//! Liveness and readiness probes.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// The process can serve: the database answers and shutdown has not begun.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutting_down.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "shutting down"})))
            .into_response();
    }
    match state.vault.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "database unavailable"})))
                .into_response()
        }
    }
}

/// Prometheus metrics (OpenMetrics text): token refreshes by result, refresh lag.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.engine.metrics_text().into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}
