//! Failures: transient ones back off and recover; a refused grant stops retries until the
//! connection changes.

use flowvault_core::{AppId, ConnectionStatus, TokenProblem, validate_patch};
use flowvault_engine::RefreshError;
use flowvault_testkit::Fault;
use serde_json::json;

use crate::support::{World, run_refresher, secs};

#[tokio::test(start_paused = true)]
async fn a_storm_of_500s_backs_off_exponentially_then_recovers() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(3600));
    let engine = w.engine("a");
    let id = w.client_credentials("service-secret").await;
    let _refresher = run_refresher(&engine);
    tokio::time::sleep(secs(1)).await;
    let first = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    let first = first.token.map(|t| t.expose().to_owned()).unwrap_or_default();
    assert_eq!(w.fake.stats().token_requests, 1);

    w.fake.inject(Fault::ServerError, 6);
    // The refresh is due at 45 minutes; watch the attempts second by second from there.
    tokio::time::sleep(secs(2690)).await;
    let mut failures_at = Vec::new();
    let mut last_attempts = 0;
    for _ in 0..900 {
        tokio::time::sleep(secs(1)).await;
        let row = w.row(&id).await;
        if row.token.attempts > last_attempts {
            failures_at.push(w.now());
            last_attempts = row.token.attempts;
            assert_eq!(row.token.problem, Some(TokenProblem::Error));
            assert!(
                row.token.last_error.as_deref().is_some_and(|e| e.contains("500")),
                "{:?}",
                row.token.last_error
            );
            // While the old token is valid, callers still get it.
            let c = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.token.map(|t| t.expose().to_owned()).as_deref(), Some(first.as_str()));
            assert_eq!(
                engine.vault().view(&row).status,
                ConnectionStatus::Ready,
                "a valid token is still ready"
            );
        }
        if last_attempts == 6 && row.token.attempts == 0 {
            break;
        }
        if row.token.attempts == 0 && w.fake.stats().token_requests == 8 {
            break;
        }
    }
    assert_eq!(failures_at.len(), 6, "six failed attempts");
    let gaps: Vec<i64> = failures_at
        .windows(2)
        .map(|p| (p[1].as_datetime() - p[0].as_datetime()).num_seconds())
        .collect();
    for pair in gaps.windows(2) {
        assert!(pair[1] >= pair[0], "backoff did not grow: {gaps:?}");
    }
    assert!(gaps.last().is_some_and(|g| *g >= 40), "{gaps:?}");
    // Then it recovered: a new token, errors forgotten, before the old one expired.
    let row = w.row(&id).await;
    assert_eq!(
        (row.token.attempts, row.token.problem, row.token.last_error.clone()),
        (0, None, None)
    );
    let c = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(c.token.map(|t| t.expose().to_owned()).as_deref(), Some(first.as_str()));
    assert_eq!(w.fake.stats().token_requests, 8);
    assert_eq!(engine.refresh_count("transient_error"), 6);
}

#[tokio::test(start_paused = true)]
async fn when_the_storm_outlasts_the_token_callers_get_a_clear_error() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    let engine = w.engine("a");
    let id = w.client_credentials("service-secret").await;
    engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    w.fake.inject(Fault::ServerError, 1000);
    tokio::time::sleep(secs(601)).await;
    let err = engine.credentials(&w.tenant, &id).await.err();
    assert!(matches!(err, Some(RefreshError::Transient { .. })), "{err:?}");
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("\"Service\"")
            && message.contains("500")
            && message.contains("will retry"),
        "{message}"
    );
    assert_eq!(engine.vault().view(&w.row(&id).await).status, ConnectionStatus::Error);
    // 429 with Retry-After is honoured as the least wait.
    w.fake.clear_faults();
    w.fake.inject(Fault::TooManyRequests { retry_after_secs: 120 }, 1);
    tokio::time::sleep(secs(700)).await;
    let _ = engine.refresh(&w.tenant, &id).await;
    let row = w.row(&id).await;
    let wait =
        row.token.refresh_at.map(|at| (at.as_datetime() - w.now().as_datetime()).num_seconds());
    assert!(wait.is_some_and(|s| s >= 119), "retry in {wait:?} s despite Retry-After: 120");
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_ends_in_needs_reauth_and_no_more_attempts() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    w.fake.set_rotation(true);
    let engine = w.engine("a");
    let id = w.salesforce().await;
    w.connect(&engine, &id).await;
    let _refresher = run_refresher(&engine);
    w.fake.revoke_refresh_tokens();

    tokio::time::sleep(secs(400)).await; // the refresh at 5 minutes meets invalid_grant
    let row = w.row(&id).await;
    assert_eq!(row.token.problem, Some(TokenProblem::NeedsReauth));
    assert!(
        row.token.last_error.as_deref().is_some_and(|e| e.contains("invalid_grant")),
        "{:?}",
        row.token.last_error
    );
    assert_eq!(engine.vault().view(&row).status, ConnectionStatus::NeedsReauth);
    let requests = w.fake.stats().token_requests;

    // Hours later: not one more attempt, and callers are told what to do.
    tokio::time::sleep(secs(5 * 3600)).await;
    let err =
        engine.credentials(&w.tenant, &id).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("\"CRM\"") && err.contains("reconnected") && err.contains("invalid_grant"),
        "{err}"
    );
    assert_eq!(w.fake.stats().token_requests, requests, "a refused grant was retried");
    assert_eq!(engine.refresh_count("needs_reauth"), 1);

    // Connecting again recovers.
    let again = w.connect(&engine, &id).await;
    assert_eq!(again.status, ConnectionStatus::Ready);
    assert!(engine.credentials(&w.tenant, &id).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn invalid_client_stops_until_new_credentials_arrive() {
    let w = World::new().await;
    let engine = w.engine("a");
    let id = w.client_credentials("wrong-secret").await;
    let _refresher = run_refresher(&engine);
    tokio::time::sleep(secs(5)).await;
    let row = w.row(&id).await;
    assert_eq!(row.token.problem, Some(TokenProblem::NeedsReauth), "{:?}", row.token.last_error);
    assert!(
        row.token
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("invalid_client") && !e.contains("wrong-secret"))
    );
    let requests = w.fake.stats().token_requests;
    tokio::time::sleep(secs(3600)).await;
    assert_eq!(w.fake.stats().token_requests, requests);

    // The operator fixes the secret: the update schedules one new attempt, which works.
    let fixed = json!({"setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.test/token", "client_id": "service", "client_secret": "service-secret"}});
    let patch = validate_patch(AppId::Http, &fixed).unwrap_or_else(|e| panic!("{e}"));
    engine
        .vault()
        .update_connection(&w.tenant, &id, patch, row.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine.wake();
    tokio::time::sleep(secs(2)).await;
    let row = w.row(&id).await;
    assert_eq!((row.token.problem, row.token.attempts), (None, 0));
    assert!(row.tokens_sealed.is_some());
}
