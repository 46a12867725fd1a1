//! What the load benches share: a real server in-process (plain HTTP, SQLite vault in a temporary
//! directory), a token for it, and a driver that keeps HTTP/1.1 keep-alive connections busy and
//! records each request's latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowvault_core::{ClientName, Scopes, SystemClock, TenantId, TenantName};
use flowvault_crypto::MasterKey;
use flowvault_server::{App, Config};
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use secrecy::ExposeSecret as _;

/// A running server and what a load needs to call it.
pub(crate) struct Running {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) vault: Arc<Vault>,
    pub(crate) tenant: TenantId,
    pub(crate) token: String,
    _dir: tempfile::TempDir,
}

/// `FLOWVAULT_BENCH_SECS` (default 10) and `FLOWVAULT_BENCH_CONCURRENCY` (default 32).
pub(crate) fn settings() -> (Duration, usize) {
    let get = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    (
        Duration::from_secs(get("FLOWVAULT_BENCH_SECS", 10)),
        get("FLOWVAULT_BENCH_CONCURRENCY", 32) as usize,
    )
}

/// Starts the server; `allow_private_network` lets its flows call an upstream on 127.0.0.1.
pub(crate) async fn start(allow_private_network: bool) -> Running {
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

    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let config =
        Config::new(url::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}")));
    let transport = flowvault_engine::HttpTransport::new(
        flowvault_engine::NetPolicy { allow_private_network },
        flowvault_engine::HttpLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The benches drive up to 64 runs of one tenant at once; the default cap of 32 per tenant
    // (an operator setting) would turn the rest away with 429.
    let engine_config = flowvault_engine::EngineConfig {
        runs: flowvault_engine::RunCapacity { total: 256, per_tenant: 128 },
        ..flowvault_engine::EngineConfig::default()
    };
    let engine = flowvault_engine::Engine::new(vault.clone(), Arc::new(transport), engine_config);
    let app = App::new(engine, config).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(flowvault_server::run(listener, app, std::future::pending()));
    let token = token(addr, &client.id.to_string(), secret.expose_secret()).await;
    Running { addr, vault, tenant, token, _dir: dir }
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

/// One kind of request the driver sends, again and again.
#[derive(Clone)]
pub(crate) struct Load {
    pub(crate) method: hyper::Method,
    pub(crate) path: String,
    pub(crate) token: String,
    /// A `Cookie` header (dashboard pages), sent besides the token.
    pub(crate) cookie: Option<String>,
    pub(crate) body: Option<Bytes>,
    /// Every answer must have this status.
    pub(crate) expect: u16,
    /// And, if given, contain this text.
    pub(crate) expect_text: Option<&'static str>,
}

/// What one measured run gave.
#[allow(dead_code, reason = "each bench reads the figures it prints")]
pub(crate) struct Figures {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Figures {
    pub(crate) fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Warms up for 2 s, then drives `load` over `concurrency` connections for `duration`.
pub(crate) async fn run(
    addr: std::net::SocketAddr,
    load: &Load,
    concurrency: usize,
    duration: Duration,
) -> Figures {
    drive(addr, load, concurrency, Duration::from_secs(2)).await;
    let started = Instant::now();
    let histogram = drive(addr, load, concurrency, duration).await;
    let seconds = started.elapsed().as_secs_f64();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Figures {
        requests: histogram.len(),
        seconds,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        max_ms: histogram.max() as f64 / 1000.0,
    }
}

/// [`run`], printing throughput and latency percentiles under `title`.
#[allow(dead_code, reason = "the ratio bench prints a table of its own")]
pub(crate) async fn measure(
    title: &str,
    addr: std::net::SocketAddr,
    load: &Load,
    concurrency: usize,
    duration: Duration,
) {
    let f = run(addr, load, concurrency, duration).await;
    println!("{title}");
    println!("  concurrency {concurrency}, {:.1} s, {} requests", f.seconds, f.requests);
    println!("  throughput  {:.0} req/s", f.per_second());
    println!(
        "  latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms
    );
}

/// Runs `concurrency` keep-alive connections for `duration`; latencies in microseconds.
async fn drive(
    addr: std::net::SocketAddr,
    load: &Load,
    concurrency: usize,
    duration: Duration,
) -> Histogram<u64> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let load = load.clone();
            tokio::spawn(async move {
                let auth = format!("Bearer {}", load.token);
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
                    let mut req = hyper::Request::builder()
                        .method(load.method.clone())
                        .uri(load.path.as_str())
                        .header("host", "127.0.0.1")
                        .header("authorization", auth.as_str());
                    if load.body.is_some() {
                        req = req.header("content-type", "application/json");
                    }
                    if let Some(cookie) = &load.cookie {
                        req = req.header("cookie", cookie.as_str());
                    }
                    let req = req
                        .body(Full::new(load.body.clone().unwrap_or_default()))
                        .unwrap_or_else(|e| panic!("{e}"));
                    let t0 = Instant::now();
                    let res = sender.send_request(req).await.unwrap_or_else(|e| panic!("{e}"));
                    let status = res.status().as_u16();
                    let body = res.into_body().collect().await.map(|b| b.to_bytes());
                    let _ = h.record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
                    let body = body.unwrap_or_default();
                    let text = String::from_utf8_lossy(&body);
                    assert_eq!(status, load.expect, "{text}");
                    if let Some(needle) = load.expect_text {
                        assert!(text.contains(needle), "{text}");
                    }
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

/// The flow the flow benches run: one HTTP `SEND_REQUEST` action that POSTs to
/// `{upstream}/notify` with a `BEARER` vault connection holding `token`. Returns the
/// connection's id and the flow's.
#[allow(dead_code, reason = "only the flow benches run a flow")]
pub(crate) async fn notify_flow(
    server: &Running,
    upstream: &str,
    token: &str,
) -> (flowvault_core::ConnectionId, flowvault_core::FlowId) {
    let body = serde_json::json!({"name": "Upstream", "app_id": "HTTP", "setup": {"type": "BEARER", "token": token}});
    let new = flowvault_core::validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    let connection =
        server.vault.create_connection(&server.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let flow = serde_json::json!({"name": "Notify", "actions": [
        {"id": "notify", "type": "HTTP", "action": "SEND_REQUEST", "params": {
            "connection_id": connection.id.to_string(),
            "url": format!("{upstream}/notify"),
            "method": "POST",
            "payload": {"user": "{{fields.user}}", "event": "signup"}
        }}
    ]});
    let new = flowvault_core::validate_flow_create(&flow).unwrap_or_else(|e| panic!("{e}"));
    let flow =
        server.vault.create_flow(&server.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    (connection.id, flow.id)
}

/// The upstream the flow benches call: `POST /notify` with `Bearer {token}` and a JSON body gets
/// `{"ok": true}`, anything else 401.
#[allow(dead_code, reason = "only the flow benches call an upstream")]
pub(crate) fn upstream_router(token: &'static str) -> axum::Router {
    axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| async move {
            let expected = format!("Bearer {token}");
            let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(expected.as_str());
            if authorized && serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                (axum::http::StatusCode::OK, axum::Json(serde_json::json!({"ok": true})))
            } else {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(serde_json::json!({"message": "bad token or body"})),
                )
            }
        }),
    )
}
