//! Refresher benchmarks: `cargo bench -p flowvault-engine --bench refresher`.
//!
//! 1. Throughput: 10,000 client-credentials connections are due at once; the refresher gets
//!    them all a token from the testkit's fake OAuth server over HTTP on 127.0.0.1 (SQLite vault,
//!    the real transport). Prints refreshes per second.
//! 2. Memory: 100,000 connections hold sealed tokens and a refresh scheduled within the next day;
//!    the refresher runs over them. Prints the process's resident memory.
//!
//! `FLOWVAULT_BENCH_DUE` and `FLOWVAULT_BENCH_SCHEDULED` change the counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowvault_core::{Clock, Rules, SystemClock, TenantName, validate_create_with};
use flowvault_crypto::MasterKey;
use flowvault_engine::{Engine, EngineConfig, HttpLimits, HttpTransport, NetPolicy, RefreshPolicy};
use flowvault_store::{MasterKeySource, SqliteStore, Store, TokenWrite, Vault};
use flowvault_testkit::FakeOAuth;
use serde_json::json;

fn main() {
    let due = env_usize("FLOWVAULT_BENCH_DUE", 10_000);
    let scheduled = env_usize("FLOWVAULT_BENCH_SCHEDULED", 100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        throughput(due).await;
        memory(scheduled).await;
    });
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Bench {
    _dir: tempfile::TempDir,
    vault: Arc<Vault>,
    tenant: flowvault_core::TenantId,
    fake: FakeOAuth,
    token_endpoint: String,
}

async fn bench() -> Bench {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db")).await.unwrap_or_else(|e| panic!("{e}")),
    );
    let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let (vault, _) = Vault::open(store, MasterKeySource::Key(key), Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tenant = vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let fake = FakeOAuth::new(Arc::new(SystemClock));
    fake.register_client("service", "service-secret");
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = fake.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Bench {
        _dir: dir,
        vault: Arc::new(vault),
        tenant,
        fake,
        token_endpoint: format!("http://{addr}/token"),
    }
}

async fn create(b: &Bench, n: usize) -> Vec<flowvault_core::ConnectionId> {
    let rules = Rules { allow_private_http: true };
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = json!({"name": format!("svc-{i}"), "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS",
            "token_endpoint": b.token_endpoint, "client_id": "service", "client_secret": "service-secret"}});
        let new = validate_create_with(&body, &rules).unwrap_or_else(|e| panic!("{e}"));
        ids.push(
            b.vault.create_connection(&b.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id,
        );
    }
    ids
}

fn engine(b: &Bench) -> Engine {
    let transport =
        HttpTransport::new(NetPolicy { allow_private_network: true }, HttpLimits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    Engine::new(
        b.vault.clone(),
        Arc::new(transport),
        EngineConfig { policy: RefreshPolicy::default(), ..EngineConfig::default() },
    )
}

async fn throughput(n: usize) {
    let b = bench().await;
    let started = Instant::now();
    create(&b, n).await;
    println!(
        "refresher throughput: {n} client-credentials connections due (created in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let engine = engine(&b);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = engine.clone();
    let task = tokio::spawn(async move {
        runner
            .run_refresher(async move {
                let _ = stopped.await;
            })
            .await;
    });
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if engine.refresh_count("ok") as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {} of {n} refreshed",
            engine.refresh_count("ok")
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = task.await;
    let issued = b.fake.stats().by_grant.get("client_credentials").copied().unwrap_or_default();
    println!(
        "  {n} refreshes in {secs:.2} s: {:.0} refreshes/s ({issued} tokens issued by the fake, {} failures)",
        n as f64 / secs,
        engine.refresh_count("transient_error") + engine.refresh_count("failed")
    );
}

async fn memory(n: usize) {
    let b = bench().await;
    let started = Instant::now();
    let ids = create(&b, n).await;
    // Give each a sealed token and a refresh due some time in the next day.
    let store = b.vault.store();
    let clock = SystemClock;
    for (i, id) in ids.iter().enumerate() {
        let now = clock.now();
        let row = store
            .lease(&b.tenant, id, "loader", now, now)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("lease"));
        let token = format!(
            "{{\"access_token\":\"at-{i:032}\",\"token_type\":\"Bearer\",\"obtained_at\":\"{now}\"}}"
        );
        let sealed = b
            .vault
            .seal_tokens(&b.tenant, id, row.app_id, token.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let later = |secs: i64| {
            flowvault_core::Timestamp::from_datetime(
                now.as_datetime() + chrono::Duration::seconds(secs),
            )
        };
        let write = TokenWrite::Tokens {
            sealed,
            expires_at: Some(later(86_400 + 3600)),
            refresh_at: Some(later(3600 + (i as i64 * 7919) % 82_800)),
            granted_scopes: None,
            account_name: None,
            refreshed_at: now,
            authorized: false,
        };
        store
            .finish_refresh(&b.tenant, id, "loader", row.token.tokens_version, &write)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "refresher memory: {n} connections with tokens scheduled over the next day (loaded in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    println!("  RSS before the refresher: {:.1} MB", rss_mb());
    let engine = engine(&b);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = engine.clone();
    let task = tokio::spawn(async move {
        runner
            .run_refresher(async move {
                let _ = stopped.await;
            })
            .await;
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "  RSS with the refresher running over them: {:.1} MB (peak {:.1} MB)",
        rss_mb(),
        peak_mb()
    );
    let _ = stop.send(());
    let _ = task.await;
    assert_eq!(engine.refresh_count("ok"), 0, "nothing was due");
}

fn status_kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0.0)
}

fn rss_mb() -> f64 {
    status_kb("VmRSS:") / 1024.0
}

fn peak_mb() -> f64 {
    status_kb("VmHWM:") / 1024.0
}
