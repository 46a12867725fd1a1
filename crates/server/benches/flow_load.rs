//! Load driver for running flows: `cargo bench -p flowvault-server --bench flow_load`.
//!
//! A flow with one HTTP `SEND_REQUEST` action that uses a `BEARER` vault connection calls an
//! upstream on 127.0.0.1 (which checks the token); 32 clients run it through the synchronous
//! run API (`POST /api/v2/flows/{id}/executions?wait=true`), each execution stored (sealed) in
//! the SQLite vault. Prints executions per second and latency percentiles. Server, upstream
//! and load share this machine's cores. `FLOWVAULT_BENCH_SECS` (default 10) and
//! `FLOWVAULT_BENCH_CONCURRENCY` (default 32) change the run.

mod load;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use flowvault_core::{validate_create, validate_flow_create};
use hyper::body::Bytes;
use serde_json::json;

const TOKEN: &str = "upstream-bench-token-5f2c";

fn main() {
    let (duration, concurrency) = load::settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let upstream = upstream().await;
        let server = load::start(true).await;
        let body = json!({"name": "Upstream", "app_id": "HTTP", "setup": {"type": "BEARER", "token": TOKEN}});
        let connection = server
            .vault
            .create_connection(&server.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let flow = json!({"name": "Notify", "actions": [
            {"id": "notify", "type": "HTTP", "action": "SEND_REQUEST", "params": {
                "connection_id": connection.id.to_string(),
                "url": format!("{upstream}/notify"),
                "method": "POST",
                "payload": {"user": "{{fields.user}}", "event": "signup"}
            }}
        ]});
        let flow = server
            .vault
            .create_flow(&server.tenant, validate_flow_create(&flow).unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let path = format!("/api/v2/flows/{}/executions?wait=true", flow.id);
        let request = load::Load {
            method: hyper::Method::POST,
            path: path.clone(),
            token: server.token.clone(),
            cookie: None,
            body: Some(Bytes::from(json!({"fields": {"user": "ada@example.com"}}).to_string())),
            expect: 200,
            expect_text: Some("\"completed\""),
        };
        load::measure(
            &format!("POST {path} (one HTTP SEND_REQUEST with a BEARER connection)"),
            server.addr,
            &request,
            concurrency,
            duration,
        )
        .await;
        let executions = server
            .vault
            .list_executions(
                &server.tenant,
                &flow.id,
                &flowvault_store::ExecutionQuery { from: None, offset: 0, limit: 1 },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        println!("  stored      {} executions", executions.total);
    });
}

/// The upstream: `POST /notify` with the right bearer token gets `{"ok": true}`.
async fn upstream() -> String {
    let router = axum::Router::new().route(
        "/notify",
        post(|headers: HeaderMap| async move {
            let expected = format!("Bearer {TOKEN}");
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
            {
                (StatusCode::OK, axum::Json(json!({"ok": true})))
            } else {
                (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "bad token"})))
            }
        }),
    );
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}
