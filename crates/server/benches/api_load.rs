//! Load driver for the Management API: `cargo bench -p flowvault-server --bench api_load`.
//!
//! Starts the real server in-process (plain HTTP, SQLite vault in a temporary directory), then
//! keeps 32 HTTP/1.1 keep-alive connections busy with `GET /api/v2/flows/vault/connections/{id}`
//! and prints requests per second and latency percentiles. Server and load share this machine's
//! cores, as they would with wrk. `FLOWVAULT_BENCH_SECS` (default 10) and
//! `FLOWVAULT_BENCH_CONCURRENCY` (default 32) change the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowvault_core::{ClientName, Scopes, SystemClock, TenantName, validate_create};
use flowvault_crypto::MasterKey;
use flowvault_server::{App, Config};
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use secrecy::ExposeSecret as _;
use serde_json::json;

fn main() {
    let secs = env_u64("FLOWVAULT_BENCH_SECS", 10);
    let concurrency = env_u64("FLOWVAULT_BENCH_CONCURRENCY", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(run(Duration::from_secs(secs), concurrency as usize));
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run(duration: Duration, concurrency: usize) {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("vault.db")).await.unwrap_or_else(|e| panic!("{e}")),
    );
    let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let (vault, _) = Vault::open(store, MasterKeySource::Key(key), Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let vault = Arc::new(vault);
    let tenant = vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let name = ClientName::parse("bench").unwrap_or_else(|e| panic!("{e:?}"));
    let (client, secret) =
        vault.create_client(&tenant, name, Scopes::all()).await.unwrap_or_else(|e| panic!("{e}"));
    let body = json!({"name": "SMS", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": "k"}});
    let connection = vault
        .create_connection(&tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let config =
        Config::new(url::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}")));
    let transport = flowvault_engine::HttpTransport::new(
        flowvault_engine::NetPolicy::default(),
        flowvault_engine::HttpLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let engine = flowvault_engine::Engine::new(
        vault.clone(),
        Arc::new(transport),
        flowvault_engine::EngineConfig::default(),
    );
    let app = App::new(engine, config).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(flowvault_server::run(listener, app, std::future::pending()));

    let token = token(addr, &client.id.to_string(), secret.expose_secret()).await;
    let path = format!("/api/v2/flows/vault/connections/{}", connection.id);

    // Warm up: connections, caches, the allocator.
    drive(addr, &path, &token, concurrency, Duration::from_secs(2)).await;
    let started = Instant::now();
    let histogram = drive(addr, &path, &token, concurrency, duration).await;
    let elapsed = started.elapsed().as_secs_f64();
    let n = histogram.len();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!("GET {path}");
    println!("  concurrency {concurrency}, {:.1} s, {n} requests", elapsed);
    println!("  throughput  {:.0} req/s", n as f64 / elapsed);
    println!(
        "  latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.50),
        ms(0.90),
        ms(0.99),
        histogram.max() as f64 / 1000.0
    );
}

/// Runs `concurrency` keep-alive connections for `duration`; latencies in microseconds.
async fn drive(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    concurrency: usize,
    duration: Duration,
) -> Histogram<u64> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (path, auth) = (path.to_owned(), format!("Bearer {token}"));
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"));
                let stream =
                    tokio::net::TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("{e}"));
                stream.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                tokio::spawn(conn);
                while Instant::now() < deadline {
                    let req = hyper::Request::get(path.as_str())
                        .header("host", "127.0.0.1")
                        .header("authorization", auth.as_str())
                        .body(Empty::<Bytes>::new())
                        .unwrap_or_else(|e| panic!("{e}"));
                    let t0 = Instant::now();
                    let res = sender.send_request(req).await.unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(res.status(), 200);
                    let _ = res.into_body().collect().await;
                    let _ = h.record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                h
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"));
    for t in tasks {
        let h = t.await.unwrap_or_else(|e| panic!("{e}"));
        all.add(h).unwrap_or_else(|e| panic!("{e}"));
    }
    all
}

async fn token(addr: std::net::SocketAddr, id: &str, secret: &str) -> String {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("http://{addr}/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body: serde_json::Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
    body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {body}")).to_owned()
}
