//! Load driver for the Management API: `cargo bench -p flowvault-server --bench api_load`.
//!
//! Starts the real server in-process (plain HTTP, SQLite vault in a temporary directory), then
//! keeps 32 HTTP/1.1 keep-alive connections busy with `GET /api/v2/flows/vault/connections/{id}`
//! and prints requests per second and latency percentiles. Server and load share this machine's
//! cores, as they would with wrk. `FLOWVAULT_BENCH_SECS` (default 10) and
//! `FLOWVAULT_BENCH_CONCURRENCY` (default 32) change the run.

mod load;

use flowvault_core::validate_create;
use serde_json::json;

fn main() {
    let (duration, concurrency) = load::settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let server = load::start(false).await;
        let body = json!({"name": "SMS", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": "k"}});
        let connection = server
            .vault
            .create_connection(&server.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let path = format!("/api/v2/flows/vault/connections/{}", connection.id);
        let request = load::Load {
            method: hyper::Method::GET,
            path: path.clone(),
            token: server.token.clone(),
            cookie: None,
            body: None,
            expect: 200,
            expect_text: None,
        };
        load::measure(&format!("GET {path}"), server.addr, &request, concurrency, duration).await;
    });
}
