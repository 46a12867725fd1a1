//! Server time of the dashboard's vault page over a large vault:
//! `cargo bench -p flowvault-server --bench dashboard_page`.
//!
//! Fills a vault with 5,000 connections (`FLOWVAULT_BENCH_CONNECTIONS`) of several apps, a tenth
//! of them empty, signs a dashboard user in, and requests pages of `/vault` one at a time over a
//! keep-alive connection (no concurrency: the time is one page's, not a queue's): the first
//! page, a late page, and a search with a status filter. Prints latency percentiles for each;
//! the target is under 50 ms. `FLOWVAULT_BENCH_SECS` (default 10) sets each run's length.

mod load;

use flowvault_core::{Email, Role, validate_create};
use flowvault_store::SessionPolicy;
use secrecy::SecretString;
use serde_json::json;

fn main() {
    let (duration, _) = load::settings();
    let count: usize = std::env::var("FLOWVAULT_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let server = load::start(false).await;
        let started = std::time::Instant::now();
        for i in 0..count {
            let body = match i % 10 {
                0 => json!({"name": format!("Slack {i}"), "app_id": "SLACK"}),
                1..=4 => json!({"name": format!("Twilio {i}"), "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": format!("key-{i}")}}),
                5..=7 => json!({"name": format!("HTTP {i}"), "app_id": "HTTP", "setup": {"type": "BEARER", "token": format!("token-{i}")}}),
                _ => json!({"name": format!("Airtable {i}"), "app_id": "AIRTABLE", "setup": {"type": "API_KEY", "api_key": format!("key-{i}")}}),
            };
            let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
            server.vault.create_connection(&server.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
        }
        println!("{count} connections stored in {:.1} s", started.elapsed().as_secs_f64());

        let email: Email = "bench@example.com".parse().unwrap_or_else(|e| panic!("{e}"));
        let password = SecretString::from("bench password 0123".to_owned());
        let user = server
            .vault
            .create_user(&server.tenant, email, Role::Viewer, password)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (secret, _) = server
            .vault
            .start_session(user, SessionPolicy::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let cookie = format!("fv_session={}", secret.expose());
        for (title, path, needle) in [
            ("GET /vault (first page)", "/vault", "Airtable"),
            ("GET /vault?page=80 (a late page)", "/vault?page=80", "Twilio"),
            ("GET /vault?q=slack 4&status=empty (search and filter)", "/vault?q=slack%204&status=empty", "Slack 4"),
        ] {
            let request = load::Load {
                method: hyper::Method::GET,
                path: path.to_owned(),
                // The dashboard ignores it: pages are read with the session cookie.
                token: server.token.clone(),
                cookie: Some(cookie.clone()),
                body: None,
                expect: 200,
                expect_text: Some(needle),
            };
            load::measure(&format!("{title}, {count} connections"), server.addr, &request, 1, duration).await;
        }
    });
}
