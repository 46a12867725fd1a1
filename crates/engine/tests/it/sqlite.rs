//! The same guarantee on the real database, in real time: two engines sharing one SQLite file
//! (two replicas on one database) never present a rotated refresh token twice.

use std::sync::Arc;
use std::time::Duration;

use flowvault_core::{AppId, TenantName, validate_create};
use flowvault_crypto::MasterKey;
use flowvault_engine::{Engine, EngineConfig, RefreshPolicy, TokioClock};
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault};
use flowvault_testkit::{FakeOAuth, InProcess};
use serde_json::json;

use crate::support::{REDIRECT, World, run_refresher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_sqlite_file_never_reuse_a_refresh_token() {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(TokioClock::new());
    let fake = FakeOAuth::new(clock.clone());
    fake.register_client("fv-app", "fv-app-secret");
    fake.set_token_lifetime(Duration::from_secs(4));
    fake.set_rotation(true);
    let transport = InProcess::new();
    transport.route("idp.test", fake.router());
    transport.set_latency(Duration::from_millis(30));
    let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));

    // Two processes: each its own pool on the same file, its own vault and engine.
    let mut engines = Vec::new();
    for (i, key) in [key.to_base64(), key.to_base64()].into_iter().enumerate() {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("shared.db"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let key = MasterKey::from_base64(&key).unwrap_or_else(|e| panic!("{e}"));
        let (vault, _) = Vault::open(store, MasterKeySource::Key(key), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let policy = RefreshPolicy {
            margin: Duration::from_millis(500),
            min_interval: Duration::from_millis(500),
            ..RefreshPolicy::default()
        };
        let config = EngineConfig {
            policy,
            providers: World::providers(&["api"]),
            owner: Some(format!("replica-{i}")),
            ..EngineConfig::default()
        };
        engines.push(Engine::new(Arc::new(vault), Arc::new(transport.clone()), config));
    }
    let (a, b) = (engines[0].clone(), engines[1].clone());
    let tenant = a
        .vault()
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let new = validate_create(&json!({"name": "CRM", "app_id": "SALESFORCE"}))
        .unwrap_or_else(|e| panic!("{e}"));
    let id = a.vault().create_connection(&tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id;

    let url = a.begin_connect(&tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let response = flowvault_engine::Transport::send(
        &transport,
        flowvault_engine::OutboundRequest::new(http::Method::GET, url),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let location = url::Url::parse(
        response.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let get = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    b.complete_connect(&get("state"), &get("code"), REDIRECT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let _ra = run_refresher(&a);
    let _rb = run_refresher(&b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(9);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Both replicas are asked to refresh at the same moment.
        let (x, y) = tokio::join!(a.refresh(&tenant, &id), b.refresh(&tenant, &id));
        for r in [x, y] {
            if let Err(e) = r {
                assert!(e.to_string().contains("try again"), "{e}");
            }
        }
        let c = b.credentials(&tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(c.token.is_some_and(|t| fake.access_token_valid(t.expose())));
    }
    let stats = fake.stats();
    assert_eq!(stats.refresh_reuse_detected, 0, "a refresh token was presented twice");
    assert!(stats.by_grant.get("refresh_token").copied().unwrap_or_default() >= 20, "{stats:?}");
    let _ = AppId::Salesforce;
}

/// A row whose stored times can't be read (what an earlier build wrote for a provider that said
/// its token lasts 10^12 seconds, or a row edited by hand) sorts before every real time: it is
/// claimed, taken out of the schedule with a clear error, and every other tenant's connection
/// keeps refreshing on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_row_is_marked_and_skipped_and_other_tenants_refresh_on_time() {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("vault.db");
    let clock = Arc::new(TokioClock::new());
    let fake = FakeOAuth::new(clock.clone());
    fake.register_client("service", "service-secret");
    fake.set_token_lifetime(Duration::from_secs(4));
    let transport = InProcess::new();
    transport.route("idp.test", fake.router());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("{e}")));
    let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let (vault, _) = Vault::open(store, MasterKeySource::Key(key), clock.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let policy = RefreshPolicy {
        margin: Duration::from_millis(500),
        min_interval: Duration::from_millis(500),
        ..RefreshPolicy::default()
    };
    let engine = Engine::new(
        Arc::new(vault),
        Arc::new(transport),
        EngineConfig { policy, ..EngineConfig::default() },
    );
    let mut tenants = Vec::new();
    for name in ["wedged", "healthy"] {
        let t = engine.vault().ensure_tenant(&name.parse().unwrap_or_else(|e| panic!("{e}"))).await;
        tenants.push(t.unwrap_or_else(|e| panic!("{e}")).id);
    }
    let body = json!({"name": "Service", "app_id": "HTTP", "setup": {
        "type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.test/token",
        "client_id": "service", "client_secret": "service-secret"}});
    let mut ids = Vec::new();
    for t in &tenants {
        let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
        ids.push(
            engine.vault().create_connection(t, new).await.unwrap_or_else(|e| panic!("{e}")).id,
        );
    }
    // Tenant "wedged" gets a year past 9999, due "now" as text sorts.
    let url = format!("sqlite://{}", path.display());
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE connections SET expires_at = '+33715-01-01T00:00:00.000Z', refresh_at = '+33715-01-01T00:00:00.000Z' WHERE id = ?1")
        .bind(ids[0].as_str())
        .execute(&mut raw)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let _refresher = run_refresher(&engine);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let store = engine.vault().store();
    let healthy = store.connection(&tenants[1], &ids[1]).await.ok().flatten();
    let healthy = healthy.unwrap_or_else(|| panic!("gone"));
    assert!(healthy.token.expires_at.is_some_and(|e| e > engine.vault().now()), "not kept fresh");
    assert!(fake.stats().token_requests >= 3, "{:?}", fake.stats());
    let wedged = store.connection(&tenants[0], &ids[0]).await;
    let wedged =
        wedged.ok().flatten().unwrap_or_else(|| panic!("the wedged row is still unreadable"));
    assert_eq!(wedged.token.refresh_at, None, "out of the schedule");
    let error = wedged.token.last_error.unwrap_or_default();
    assert!(error.contains("can't be read") && error.contains("expires_at"), "{error}");
}
