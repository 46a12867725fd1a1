//! Load driver for running flows: `cargo bench -p flowvault-server --bench flow_load`.
//!
//! A flow with one HTTP `SEND_REQUEST` action that uses a `BEARER` vault connection calls an
//! upstream on 127.0.0.1 (which checks the token); 32 clients run it through the synchronous
//! run API (`POST /api/v2/flows/{id}/executions?wait=true`), each execution stored (sealed) in
//! the SQLite vault. Prints executions per second and latency percentiles. Server, upstream
//! and load share this machine's cores. `FLOWVAULT_BENCH_SECS` (default 10) and
//! `FLOWVAULT_BENCH_CONCURRENCY` (default 32) change the run.

mod load;

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
        let (_, flow) = load::notify_flow(&server, &upstream, TOKEN).await;
        let path = format!("/api/v2/flows/{}/executions?wait=true", flow);
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
                &flow,
                &flowvault_store::ExecutionQuery { from: None, offset: 0, limit: 1 },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        println!("  stored      {} executions", executions.total);
    });
}

/// Serves the benches' upstream on 127.0.0.1; returns its base URL.
async fn upstream() -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, load::upstream_router(TOKEN)).await });
    format!("http://{addr}")
}
