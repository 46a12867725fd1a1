//! A hostile or broken provider, a panicking refresh, a failing database and a lease that runs
//! out mid-call: none of them wedges the refresher, blocks another tenant, or loses a rotated
//! refresh token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use flowvault_core::{ConnectionStatus, validate_create};
use flowvault_engine::{
    EngineConfig, MAX_RETRY_AFTER, MAX_TOKEN_LIFETIME, OutboundRequest, OutboundResponse,
    RefreshError, RefreshPolicy, Transport, TransportError,
};
use flowvault_testkit::{FakeOAuth, Fault, InProcess};
use serde_json::{Value, json};

use crate::support::{World, run_refresher, secs};

/// A second token endpoint at `hostile.test`, with its own fault queue.
fn hostile(w: &World) -> FakeOAuth {
    let fake = FakeOAuth::new(w.clock.clone());
    fake.register_client("service", "service-secret");
    w.transport.route("hostile.test", fake.router());
    fake
}

async fn hostile_connection(
    w: &World,
    tenant: &flowvault_core::TenantId,
) -> flowvault_core::ConnectionId {
    let body = json!({"name": "Hostile", "app_id": "HTTP", "setup": {
        "type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://hostile.test/token",
        "client_id": "service", "client_secret": "service-secret"}});
    let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    w.vault.create_connection(tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id
}

#[tokio::test(start_paused = true)]
async fn unbounded_provider_times_are_clamped_or_refused_and_other_tenants_refresh_on_time() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    let provider = hostile(&w);
    let engine = w.engine("a");
    let other = w.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    // Tenant B's ordinary connection, refreshed every 5 minutes (600 s tokens).
    let body = json!({"name": "Service", "app_id": "HTTP", "setup": {
        "type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.test/token",
        "client_id": "service", "client_secret": "service-secret"}});
    let steady = w
        .vault
        .create_connection(&other, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let _refresher = run_refresher(&engine);

    let cases: [(Value, bool); 6] = [
        (json!(1_000_000_000_000u64), true),
        (json!(1e14), true),
        (json!(100_000_000_000_000u64), true),
        (json!(u64::MAX), true),
        (json!(-5), false),
        (json!("abc"), false),
    ];
    for (value, clamped) in cases {
        provider.inject(Fault::ExpiresIn(value.clone()), 1);
        let id = hostile_connection(&w, &w.tenant).await;
        engine.wake();
        tokio::time::sleep(secs(2)).await;
        let row = w.row(&id).await;
        let view = engine.vault().view(&row);
        if clamped {
            let expires = row.token.expires_at.unwrap_or_else(|| panic!("{value}: no expiry"));
            let limit = w.now().saturating_add(MAX_TOKEN_LIFETIME);
            assert!(expires <= limit && expires > w.now(), "{value}: expires {expires:?}");
            assert_eq!(view.status, ConnectionStatus::Ready, "{value}");
            assert!(row.token.refresh_at.is_some_and(|at| at < expires), "{value}");
        } else {
            assert_eq!(view.status, ConnectionStatus::Error, "{value}");
            let error = row.token.last_error.unwrap_or_default();
            assert!(error.contains("invalid expires_in"), "{value}: {error}");
        }
    }
    // A 429 with a Retry-After of centuries parks a connection for an hour at most.
    provider.inject(Fault::TooManyRequests { retry_after_secs: u64::MAX }, 1);
    let parked = hostile_connection(&w, &w.tenant).await;
    engine.wake();
    tokio::time::sleep(secs(2)).await;
    let row = w.row(&parked).await;
    let retry = row.token.refresh_at.unwrap_or_else(|| panic!("no retry scheduled"));
    assert!(retry <= w.now().saturating_add(MAX_RETRY_AFTER), "retry at {retry:?}");

    // Meanwhile tenant B's connection was refreshed before each of its tokens expired.
    let before = w.fake.stats().token_requests;
    for _ in 0..6 {
        tokio::time::sleep(secs(300)).await;
        let row = w.vault.store().connection(&other, &steady).await.ok().flatten();
        let row = row.unwrap_or_else(|| panic!("gone"));
        assert!(row.token.expires_at.is_some_and(|e| e > w.now()), "tenant B's token expired");
    }
    assert!(w.fake.stats().token_requests >= before + 5, "tenant B kept refreshing");
}

/// A transport that panics on its first `panics` requests, then passes them on.
#[derive(Debug)]
struct Panicking {
    inner: InProcess,
    panics: AtomicUsize,
}

#[async_trait]
impl Transport for Panicking {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let left =
            self.panics.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if left.is_ok() {
            panic!("a provider answer nobody foresaw");
        }
        self.inner.send(request).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_refresh_that_panics_clears_its_single_flight_and_its_lease() {
    let w = World::new().await;
    let transport = Panicking { inner: w.transport.clone(), panics: AtomicUsize::new(1) };
    let engine = flowvault_engine::Engine::new(
        w.vault.clone(),
        Arc::new(transport),
        EngineConfig { owner: Some("a".to_owned()), ..EngineConfig::default() },
    );
    let id = w.client_credentials("service-secret").await;
    let first = engine.credentials(&w.tenant, &id).await;
    assert!(matches!(first, Err(RefreshError::Internal)), "{first:?}");
    assert_eq!(w.row(&id).await.token.lease_owner, None, "the lease was given back");
    // The next caller gets a new refresh at once, not the failed flight (nor a 60 s wait).
    let started = tokio::time::Instant::now();
    let second = engine.credentials(&w.tenant, &id).await;
    assert!(second.is_ok_and(|c| c.token.is_some()));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(w.fake.stats().token_requests, 1);
}

#[tokio::test(start_paused = true)]
async fn a_rotated_refresh_token_is_stored_through_failing_writes() {
    let w = World::new().await;
    let engine = w.engine("a");
    let id = w.salesforce().await;
    w.connect(&engine, &id).await;
    // The database fails the next writes; the refresh retries until one lands.
    w.store.fail_token_writes(3);
    let refreshed = engine.refresh(&w.tenant, &id).await;
    assert!(refreshed.is_ok_and(|c| c.status == ConnectionStatus::Ready));
    // The rotated refresh token was kept: the next refresh presents it, not the spent one.
    let again = engine.refresh(&w.tenant, &id).await;
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(w.fake.stats().refresh_reuse_detected, 0);
    assert_eq!(engine.refresh_count("unsaved"), 0);

    // A database that stays down: the access token still reaches its caller, and the loss is
    // counted (and logged) rather than dropped in silence.
    w.store.fail_token_writes(1000);
    let lost = engine.refresh(&w.tenant, &id).await;
    assert!(lost.is_ok(), "{lost:?}");
    assert_eq!(engine.refresh_count("unsaved"), 1);
    assert!(engine.metrics_text().contains("result=\"unsaved\""));
    w.store.fail_token_writes(0);
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_would_run_out_mid_call_is_renewed_so_no_refresh_token_is_spent_twice() {
    let w = World::new().await;
    let policy =
        RefreshPolicy { lease: secs(60), request_timeout: secs(300), ..RefreshPolicy::default() };
    let config = |owner: &str| EngineConfig {
        policy,
        providers: World::providers(&["api", "refresh_token"]),
        owner: Some(owner.to_owned()),
        ..EngineConfig::default()
    };
    let a = w.engine_from(config("replica-a"));
    let b = w.engine_from(config("replica-b"));
    let id = w.salesforce().await;
    w.connect(&a, &id).await;
    let requests = w.fake.stats().token_requests;

    // Replica A's refresh meets a provider that takes 90 s: longer than its 60 s lease.
    w.fake.inject(Fault::Slow(secs(90)), 1);
    let slow = {
        let (a, tenant, id) = (a.clone(), w.tenant.clone(), id.clone());
        tokio::spawn(async move { a.refresh(&tenant, &id).await })
    };
    // At 65 s replica B wants to refresh too. A still holds the lease (renewed), so B waits
    // for A's outcome instead of presenting the same refresh token.
    tokio::time::sleep(secs(65)).await;
    let from_b = b.refresh(&w.tenant, &id).await;
    let from_a = slow.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(from_a.is_ok(), "{from_a:?}");
    assert!(from_b.is_ok() || matches!(from_b, Err(RefreshError::Busy { .. })), "{from_b:?}");
    assert_eq!(w.fake.stats().refresh_reuse_detected, 0, "a refresh token was presented twice");
    assert!(w.fake.stats().token_requests <= requests + 2);
    // And the connection keeps working.
    assert!(a.refresh(&w.tenant, &id).await.is_ok());
    assert_eq!(w.fake.stats().refresh_reuse_detected, 0);
}
