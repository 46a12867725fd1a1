//! Refresh before expiry, single flight in a process, and no refresh token spent twice across
//! processes.

use std::collections::HashSet;

use flowvault_core::ConnectionStatus;

use crate::support::{World, run_refresher, secs};

#[tokio::test(start_paused = true)]
async fn a_ten_minute_token_is_refreshed_before_it_expires_and_never_served_expired() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    let engine = w.engine("a");
    let id = w.client_credentials("service-secret").await;
    let _refresher = run_refresher(&engine);

    let mut tokens = HashSet::new();
    // Three hours, a caller every 15 seconds.
    for step in 0..720 {
        tokio::time::sleep(secs(15)).await;
        let c =
            engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("step {step}: {e}"));
        let token = c.token.unwrap_or_else(|| panic!("no token"));
        assert!(
            w.fake.access_token_valid(token.expose()),
            "step {step}: an expired token was handed out"
        );
        let left =
            token.expires_at.map(|e| (e.as_datetime() - w.now().as_datetime()).num_seconds());
        assert!(left.is_some_and(|s| s >= 60), "step {step}: only {left:?} s of validity left");
        tokens.insert(token.expose().to_owned());
    }
    let issued = w.fake.stats().by_grant.get("client_credentials").copied().unwrap_or_default();
    // Refreshed every 5 minutes (half of a 10-minute lifetime): 36 in 3 hours, plus the first.
    assert!((35..=40).contains(&issued), "{issued} tokens issued");
    assert_eq!(tokens.len() as u64, issued, "every issued token was used, none twice");
    // The refresher kept ahead: no caller ever had to refresh.
    assert_eq!(engine.refresh_count("ok"), issued);
    let view = engine.vault().view(&w.row(&id).await);
    assert_eq!(view.status, ConnectionStatus::Ready);
    assert!(view.refreshed_at.is_some() && view.expires_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_hundred_concurrent_callers_cause_one_refresh() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    let engine = w.engine("a");
    let id = w.client_credentials("service-secret").await;
    let first = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    let first = first.token.map(|t| t.expose().to_owned()).unwrap_or_default();
    assert_eq!(w.fake.stats().by_grant.get("client_credentials"), Some(&1));

    tokio::time::sleep(secs(601)).await; // expired, and no refresher ran
    w.transport.set_latency(std::time::Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (engine, tenant, id) = (engine.clone(), w.tenant.clone(), id.clone());
            tokio::spawn(async move {
                engine
                    .credentials(&tenant, &id)
                    .await
                    .map(|c| c.token.map(|t| t.expose().to_owned()))
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for c in callers {
        let token = c
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        assert!(w.fake.access_token_valid(&token));
        seen.insert(token);
    }
    assert_eq!(
        w.fake.stats().by_grant.get("client_credentials"),
        Some(&2),
        "one refresh for a hundred callers"
    );
    assert_eq!(seen.len(), 1, "every caller got the one new token");
    assert!(!seen.contains(&first));
    // They shared one in-process future: nobody had to wait for a lease and poll the store.
    assert_eq!(
        started.elapsed(),
        std::time::Duration::from_millis(300),
        "callers waited on more than the one request"
    );
    assert_eq!(engine.refresh_count("reused"), 0);
}

/// Two engines on one store stand for two replicas on one database: both run refreshers, and
/// callers on both force refreshes at the same moments. With rotation, presenting a refresh token
/// twice would be caught by the fake's reuse detection.
#[tokio::test(start_paused = true)]
async fn two_replicas_never_present_a_refresh_token_twice() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(120));
    w.fake.set_rotation(true);
    // Requests take a while, so refreshes of the two replicas really overlap.
    w.transport.set_latency(std::time::Duration::from_millis(400));
    let a = w.engine("replica-a");
    let b = w.engine("replica-b");
    let id = w.salesforce().await;
    let connected = w.connect(&a, &id).await;
    assert_eq!(connected.status, ConnectionStatus::Ready);
    let _ra = run_refresher(&a);
    let _rb = run_refresher(&b);

    for round in 0..120 {
        tokio::time::sleep(secs(29)).await;
        // Both replicas refresh at the same instant, as two API calls racing would.
        let (x, y) = tokio::join!(a.refresh(&w.tenant, &id), b.refresh(&w.tenant, &id));
        for r in [x, y] {
            if let Err(e) = r {
                // The loser of a race may be told to retry, never anything worse.
                assert!(e.to_string().contains("try again"), "round {round}: {e}");
            }
        }
        let (x, y) = tokio::join!(a.credentials(&w.tenant, &id), b.credentials(&w.tenant, &id));
        for c in [x, y] {
            let c = c.unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(
                c.token.is_some_and(|t| w.fake.access_token_valid(t.expose())),
                "round {round}"
            );
        }
    }
    let stats = w.fake.stats();
    assert_eq!(stats.refresh_reuse_detected, 0, "a rotated refresh token was presented twice");
    let refreshed = stats.by_grant.get("refresh_token").copied().unwrap_or_default();
    assert!(refreshed >= 120, "only {refreshed} refreshes");
    assert_eq!(engine_status(&w, &a, &id).await, ConnectionStatus::Ready);
}

async fn engine_status(
    w: &World,
    e: &flowvault_engine::Engine,
    id: &flowvault_core::ConnectionId,
) -> ConnectionStatus {
    e.vault().view(&w.row(id).await).status
}
