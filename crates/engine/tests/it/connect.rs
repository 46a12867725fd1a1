//! "Connect": PKCE and state hold against tampered, replayed, late and refused callbacks; and
//! scope changes show as `needs_update` until a reconnect.

use flowvault_core::{AppId, ConnectionStatus, validate_patch};
use flowvault_engine::ConnectError;
use serde_json::json;

use crate::support::{REDIRECT, World, secs};

#[tokio::test(start_paused = true)]
async fn pkce_and_state_hold_against_tampered_callbacks() {
    let w = World::new().await;
    let engine = w.engine("a");
    let id = w.salesforce().await;

    let url =
        engine.begin_connect(&w.tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let q = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(q("code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(q("scope").as_deref(), Some("api refresh_token"));
    assert_eq!(q("redirect_uri").as_deref(), Some(REDIRECT));
    let (code, state) = w.authorize(&url).await.unwrap_or_else(|e| panic!("{e}"));

    // A forged state, and a state from this flight with a code from another one.
    let forged = engine.complete_connect("forged-state", &code, REDIRECT).await;
    assert!(matches!(forged, Err(ConnectError::InvalidState)), "{forged:?}");
    let other =
        engine.begin_connect(&w.tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let (other_code, other_state) = w.authorize(&other).await.unwrap_or_else(|e| panic!("{e}"));
    let swapped = engine.complete_connect(&state, &other_code, REDIRECT).await;
    assert!(
        matches!(&swapped, Err(ConnectError::Provider(m)) if m.contains("invalid_grant")),
        "{swapped:?}: the other flight's verifier must not match"
    );
    assert!(w.row(&id).await.tokens_sealed.is_none(), "tokens were stored from a failed callback");
    // That state is spent now, as is the code it was paired with.
    assert!(matches!(
        engine.complete_connect(&state, &code, REDIRECT).await,
        Err(ConnectError::InvalidState)
    ));

    // The provider spent the other flight's code when it saw the wrong verifier: that flight
    // fails too, and stores nothing.
    assert!(matches!(
        engine.complete_connect(&other_state, &other_code, REDIRECT).await,
        Err(ConnectError::Provider(_))
    ));
    assert!(w.row(&id).await.tokens_sealed.is_none());

    // An untouched flight works, once.
    let third =
        engine.begin_connect(&w.tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let (third_code, third_state) = w.authorize(&third).await.unwrap_or_else(|e| panic!("{e}"));
    let connected = engine
        .complete_connect(&third_state, &third_code, REDIRECT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(connected.status, ConnectionStatus::Ready);
    assert!(connected.ready);
    assert!(matches!(
        engine.complete_connect(&third_state, &third_code, REDIRECT).await,
        Err(ConnectError::InvalidState)
    ));

    // A state older than ten minutes is refused.
    let late =
        engine.begin_connect(&w.tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let (late_code, late_state) = w.authorize(&late).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(secs(11 * 60)).await;
    assert!(matches!(
        engine.complete_connect(&late_state, &late_code, REDIRECT).await,
        Err(ConnectError::ExpiredState)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_refused_authorization_stores_nothing_and_spends_the_state() {
    let w = World::new().await;
    let engine = w.engine("a");
    let id = w.salesforce().await;
    w.fake.set_deny_authorization(true);
    let url =
        engine.begin_connect(&w.tenant, &id, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"));
    let state = url
        .query_pairs()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert_eq!(w.authorize(&url).await.err().as_deref(), Some("access_denied"));
    assert_eq!(engine.abandon_connect(&state).await.ok().flatten(), Some(id.clone()));
    assert!(matches!(
        engine.complete_connect(&state, "any", REDIRECT).await,
        Err(ConnectError::InvalidState)
    ));
    let row = w.row(&id).await;
    assert!(row.tokens_sealed.is_none() && row.setup.is_none());
    assert_eq!(engine.vault().view(&row).status, ConnectionStatus::Empty);
}

#[tokio::test(start_paused = true)]
async fn connect_needs_an_oauth_app_and_a_configured_client() {
    let w = World::new().await;
    let engine = w.engine("a");
    let http = w.client_credentials("service-secret").await;
    assert!(matches!(
        engine.begin_connect(&w.tenant, &http, REDIRECT).await,
        Err(ConnectError::NotOAuthApp(_))
    ));
    let unconfigured = w.engine_with("b", flowvault_engine::Providers::default());
    let id = w.salesforce().await;
    let err = unconfigured
        .begin_connect(&w.tenant, &id, REDIRECT)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("has not configured an OAuth client for SALESFORCE"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn scope_changes_show_as_needs_update_until_reconnected() {
    let w = World::new().await;
    let before = w.engine("a");
    let id = w.salesforce().await;
    w.connect(&before, &id).await;

    // The operator now asks for one more scope: visible before any flow fails.
    let after = w.engine_with("b", World::providers(&["api", "refresh_token", "chatter_api"]));
    assert_eq!(after.check_all_scopes().await.ok(), Some(1));
    let view = after.vault().view(&w.row(&id).await);
    assert_eq!(view.status, ConnectionStatus::NeedsUpdate);
    assert_eq!(view.missing_scopes.as_deref(), Some("chatter_api"));
    // Tokens still work meanwhile (a flow that doesn't need the new scope keeps running).
    assert!(after.credentials(&w.tenant, &id).await.is_ok());

    let reconnected = w.connect(&after, &id).await;
    assert_eq!(reconnected.status, ConnectionStatus::Ready);
    assert_eq!(reconnected.missing_scopes, None);

    // Editing the connection's own `scope` setting works the same way.
    let patch = validate_patch(
        AppId::Salesforce,
        &json!({"setup": {"type": "OAUTH_CODE", "scope": "wave_api"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    after
        .vault()
        .update_connection(&w.tenant, &id, patch, reconnected.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    after.check_scopes(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    let view = after.vault().view(&w.row(&id).await);
    assert_eq!(
        (view.status, view.missing_scopes.as_deref()),
        (ConnectionStatus::NeedsUpdate, Some("wave_api"))
    );
    assert!(view.ready, "the tokens survived the edit");
    let fixed = w.connect(&after, &id).await;
    assert_eq!(fixed.status, ConnectionStatus::Ready);
}
