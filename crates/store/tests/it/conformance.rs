//! The store contract, run against every implementation: what one backend does, the others do.

use std::sync::Arc;

use flowvault_core::{
    AppId, DeliverySettings, SystemClock, TenantName, Timestamp, TokenProblem, validate_patch,
};
use flowvault_crypto::MasterKey;
use flowvault_store::{
    ListQuery, MasterKeySource, MemoryStore, OAuthStateRow, OtpCheck, OtpRow, SqliteStore, Store,
    StoreError, TokenWrite, Vault, VaultError,
};
use serde_json::json;

use crate::support::{KEY_A, new_connection};

/// A vault over `store` with one tenant; keeps the temporary directory alive.
struct Case {
    store: Arc<dyn Store>,
    vault: Vault,
    tenant: flowvault_core::TenantId,
    _dir: Option<tempfile::TempDir>,
}

async fn case(backend: &str) -> Case {
    let (store, dir): (Arc<dyn Store>, _) = match backend {
        "sqlite" => {
            let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
            let s =
                SqliteStore::open(&dir.path().join("v.db")).await.unwrap_or_else(|e| panic!("{e}"));
            (Arc::new(s), Some(dir))
        }
        _ => (Arc::new(MemoryStore::new()), None),
    };
    let key = MasterKey::from_bytes(&KEY_A).unwrap_or_else(|e| panic!("{e}"));
    let (vault, _) = Vault::open(store.clone(), MasterKeySource::Key(key), Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tenant = vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    Case { store, vault, tenant, _dir: dir }
}

fn ts(offset_secs: i64) -> Timestamp {
    let base: Timestamp = "2030-01-01T00:00:00.000Z".parse().unwrap_or_else(|_| unreachable!());
    Timestamp::from_datetime(base.as_datetime() + chrono::Duration::seconds(offset_secs))
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name("sqlite").await } )+
        }
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name("memory").await } )+
        }
    };
}

both!(
    connections_list_by_app_and_count_only_matches,
    leases_are_exclusive_until_they_expire,
    refresh_outcomes_are_guarded,
    setup_changes_reset_tokens,
    oauth_states_are_single_use,
    missing_scopes_mark_and_clear,
    claims_take_due_rows_soonest_first,
    executions_page_newest_first_and_outlive_nothing,
    concurrent_execution_inserts_each_get_their_own_answer,
    otp_codes_are_single_use_and_burned_by_too_many_attempts,
    otp_codes_expire_are_swept_and_belong_to_their_tenant,
    concurrent_otp_checks_find_a_code_valid_once_and_count_every_attempt,
    the_vault_keeps_otp_codes_keyed_to_tenant_and_reference,
    delivery_settings_are_checked_stored_and_cleared,
    forged_delivery_settings_are_refused,
    summaries_are_ordered_searched_and_carry_the_status
);

/// Creates a client-credentials connection (due for a token at once).
async fn oauth_connection(c: &Case, name: &str) -> flowvault_core::ConnectionId {
    let body = json!({"name": name, "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.example/token", "client_id": "c", "client_secret": "s"}});
    c.vault
        .create_connection(&c.tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id
}

async fn connections_list_by_app_and_count_only_matches(backend: &str) {
    let c = case(backend).await;
    let other = c
        .vault
        .ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    for (tenant, app, name) in [
        (&c.tenant, "TWILIO", "t1"),
        (&c.tenant, "SENDGRID", "s1"),
        (&c.tenant, "TWILIO", "t2"),
        (&other, "TWILIO", "theirs"),
        (&c.tenant, "TWILIO", "t3"),
    ] {
        let body = json!({"name": name, "app_id": app});
        c.vault
            .create_connection(tenant, new_connection(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let list = |app, offset, limit| {
        let query = ListQuery { app, offset, limit };
        let vault = &c.vault;
        let tenant = &c.tenant;
        async move {
            let page =
                vault.list_connections(tenant, &query).await.unwrap_or_else(|e| panic!("{e}"));
            let names: Vec<String> = page.items.iter().map(|x| x.name.to_string()).collect();
            (names, page.total)
        }
    };
    assert_eq!(
        list(Some(AppId::Twilio), 0, 10).await,
        (vec!["t1".into(), "t2".into(), "t3".into()], 3)
    );
    // `total` counts the matching rows of all pages, not the page nor the tenant.
    assert_eq!(list(Some(AppId::Twilio), 1, 1).await, (vec!["t2".into()], 3));
    assert_eq!(list(Some(AppId::Sendgrid), 0, 10).await, (vec!["s1".into()], 1));
    assert_eq!(list(Some(AppId::Slack), 0, 10).await, (vec![], 0));
    assert_eq!(list(None, 3, 10).await, (vec!["t3".into()], 4));
}

async fn leases_are_exclusive_until_they_expire(backend: &str) {
    let c = case(backend).await;
    let id = oauth_connection(&c, "x").await;
    let a =
        c.store.lease(&c.tenant, &id, "a", ts(0), ts(60)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(a.is_some_and(|r| r.token.lease_owner.as_deref() == Some("a")));
    assert!(
        c.store.lease(&c.tenant, &id, "b", ts(30), ts(90)).await.is_ok_and(|r| r.is_none()),
        "b took a live lease"
    );
    assert!(
        c.store.lease(&c.tenant, &id, "a", ts(30), ts(90)).await.is_ok_and(|r| r.is_some()),
        "a can renew its own"
    );
    assert!(
        c.store.lease(&c.tenant, &id, "b", ts(91), ts(151)).await.is_ok_and(|r| r.is_some()),
        "an expired lease is free"
    );
    c.store.release_lease(&c.tenant, &id, "a").await.unwrap_or_else(|e| panic!("{e}"));
    let row = c.store.connection(&c.tenant, &id).await.ok().flatten();
    assert_eq!(row.and_then(|r| r.token.lease_owner), Some("b".to_owned()), "a released b's lease");
    c.store.release_lease(&c.tenant, &id, "b").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(c.store.lease(&c.tenant, &id, "a", ts(100), ts(160)).await.is_ok_and(|r| r.is_some()));
    let missing = flowvault_core::ConnectionId::generate();
    assert!(matches!(
        c.store.lease(&c.tenant, &missing, "a", ts(0), ts(1)).await,
        Err(StoreError::NotFound)
    ));
}

async fn refresh_outcomes_are_guarded(backend: &str) {
    let c = case(backend).await;
    let id = oauth_connection(&c, "x").await;
    let row = c
        .store
        .lease(&c.tenant, &id, "a", ts(0), ts(60))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no lease"));
    let v = row.token.tokens_version;
    let tokens = TokenWrite::Tokens {
        sealed: vec![1, 2, 3],
        expires_at: Some(ts(600)),
        refresh_at: Some(ts(300)),
        granted_scopes: Some("a b".to_owned()),
        account_name: None,
        refreshed_at: ts(1),
        authorized: false,
    };
    assert!(
        matches!(
            c.store.finish_refresh(&c.tenant, &id, "a", v + 7, &tokens).await,
            Err(StoreError::VersionConflict { .. })
        ),
        "a write on stale tokens"
    );
    let done = c
        .store
        .finish_refresh(&c.tenant, &id, "a", v, &tokens)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.token.tokens_version, v + 1);
    assert_eq!(
        (done.token.lease_owner.clone(), done.token.refresh_at, done.token.expires_at),
        (None, Some(ts(300)), Some(ts(600)))
    );
    assert_eq!(done.tokens_sealed.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(done.refreshed_at, Some(ts(1)));
    assert_eq!(done.version, row.version, "token writes leave the user-facing version alone");
    // The same version can't be written twice.
    assert!(c.store.finish_refresh(&c.tenant, &id, "a", v, &tokens).await.is_err());

    // A refresh whose lease ran out (and was taken by another process) still stores what it
    // got while nobody else stored tokens — a rotated refresh token must not be lost — and
    // leaves the other process's lease alone.
    c.store.lease(&c.tenant, &id, "a", ts(100), ts(160)).await.unwrap_or_else(|e| panic!("{e}"));
    let taken = c.store.lease(&c.tenant, &id, "b", ts(170), ts(230)).await;
    assert!(taken.is_ok_and(|r| r.is_some()), "an expired lease is free");
    let late = c
        .store
        .finish_refresh(&c.tenant, &id, "a", v + 1, &tokens)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(late.token.tokens_version, v + 2);
    assert_eq!(late.token.lease_owner.as_deref(), Some("b"));
    c.store.release_lease(&c.tenant, &id, "b").await.unwrap_or_else(|e| panic!("{e}"));
    let v = v + 1;

    c.store.lease(&c.tenant, &id, "a", ts(300), ts(360)).await.unwrap_or_else(|e| panic!("{e}"));
    let retry = TokenWrite::Retry { last_error: "503".to_owned(), retry_at: ts(310) };
    let r = c
        .store
        .finish_refresh(&c.tenant, &id, "a", v + 1, &retry)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (r.token.problem, r.token.attempts, r.token.refresh_at),
        (Some(TokenProblem::Error), 1, Some(ts(310)))
    );
    assert_eq!(r.tokens_sealed.as_deref(), Some(&[1u8, 2, 3][..]), "a failure keeps the tokens");

    c.store.lease(&c.tenant, &id, "a", ts(310), ts(370)).await.unwrap_or_else(|e| panic!("{e}"));
    let dead = TokenWrite::NeedsReauth { last_error: "invalid_grant".to_owned() };
    let r = c
        .store
        .finish_refresh(&c.tenant, &id, "a", v + 1, &dead)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (r.token.problem, r.token.attempts, r.token.refresh_at),
        (Some(TokenProblem::NeedsReauth), 2, None)
    );
    assert_eq!(r.token.last_error.as_deref(), Some("invalid_grant"));
    assert!(
        c.store.claim_due("a", ts(10_000), ts(10_060), 10).await.is_ok_and(|v| v.is_empty()),
        "needs_reauth is not retried"
    );
}

async fn setup_changes_reset_tokens(backend: &str) {
    let c = case(backend).await;
    let id = oauth_connection(&c, "x").await;
    let row = c
        .store
        .lease(&c.tenant, &id, "a", ts(0), ts(60))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no lease"));
    let dead = TokenWrite::NeedsReauth { last_error: "invalid_client".to_owned() };
    c.store
        .finish_refresh(&c.tenant, &id, "a", row.token.tokens_version, &dead)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A rename changes nothing of the tokens.
    let renamed = c
        .vault
        .update_connection(
            &c.tenant,
            &id,
            validate_patch(flowvault_core::AppId::Http, &json!({"name": "y"}))
                .unwrap_or_else(|e| panic!("{e}")),
            row.version,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after_rename =
        c.store.connection(&c.tenant, &id).await.ok().flatten().unwrap_or_else(|| panic!("gone"));
    assert_eq!(after_rename.token.problem, Some(TokenProblem::NeedsReauth));
    // New credentials forget the failure and schedule a token.
    let setup = json!({"setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.example/token", "client_id": "c", "client_secret": "s2"}});
    let patch =
        validate_patch(flowvault_core::AppId::Http, &setup).unwrap_or_else(|e| panic!("{e}"));
    c.vault
        .update_connection(&c.tenant, &id, patch, renamed.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fresh =
        c.store.connection(&c.tenant, &id).await.ok().flatten().unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        (fresh.token.problem, fresh.token.attempts, fresh.token.last_error.clone()),
        (None, 0, None)
    );
    assert!(fresh.token.refresh_at.is_some());
    assert!(
        fresh.token.tokens_version > row.token.tokens_version,
        "tokens from the old credentials are dropped"
    );
    assert!(fresh.tokens_sealed.is_none());
    // Switching to a static setup drops the schedule.
    let patch = validate_patch(
        flowvault_core::AppId::Http,
        &json!({"setup": {"type": "BEARER", "token": "t"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c.vault
        .update_connection(&c.tenant, &id, patch, fresh.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bearer =
        c.store.connection(&c.tenant, &id).await.ok().flatten().unwrap_or_else(|| panic!("gone"));
    assert_eq!(bearer.token.refresh_at, None);
}

async fn oauth_states_are_single_use(backend: &str) {
    let c = case(backend).await;
    let id = flowvault_core::ConnectionId::generate();
    let state = |hash: u8, expires: i64| OAuthStateRow {
        state_hash: vec![hash; 32],
        tenant_id: c.tenant.clone(),
        connection_id: id.clone(),
        verifier_sealed: vec![9],
        scopes: "a".to_owned(),
        created_at: ts(0),
        expires_at: ts(expires),
    };
    c.store.insert_oauth_state(&state(1, 600)).await.unwrap_or_else(|e| panic!("{e}"));
    let taken = c.store.take_oauth_state(&[1; 32]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(taken.is_some_and(|s| s.connection_id == id && s.expires_at == ts(600)));
    assert!(
        c.store.take_oauth_state(&[1; 32]).await.is_ok_and(|s| s.is_none()),
        "a state was used twice"
    );
    assert!(c.store.take_oauth_state(&[2; 32]).await.is_ok_and(|s| s.is_none()));
}

async fn missing_scopes_mark_and_clear(backend: &str) {
    let c = case(backend).await;
    let id = oauth_connection(&c, "x").await;
    c.store
        .set_missing_scopes(&c.tenant, &id, Some("chat:write"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r =
        c.store.connection(&c.tenant, &id).await.ok().flatten().unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        (r.token.problem, r.token.missing_scopes.as_deref()),
        (Some(TokenProblem::NeedsUpdate), Some("chat:write"))
    );
    // A plain refresh keeps the mark; a failure does not overwrite it.
    let row = c
        .store
        .lease(&c.tenant, &id, "a", ts(0), ts(60))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no lease"));
    let retry = TokenWrite::Retry { last_error: "x".to_owned(), retry_at: ts(5) };
    let r = c
        .store
        .finish_refresh(&c.tenant, &id, "a", row.token.tokens_version, &retry)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.token.problem, Some(TokenProblem::NeedsUpdate));
    c.store.set_missing_scopes(&c.tenant, &id, None).await.unwrap_or_else(|e| panic!("{e}"));
    let r =
        c.store.connection(&c.tenant, &id).await.ok().flatten().unwrap_or_else(|| panic!("gone"));
    assert_eq!((r.token.problem, r.token.missing_scopes), (None, None));
}

async fn claims_take_due_rows_soonest_first(backend: &str) {
    let c = case(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(oauth_connection(&c, &format!("c{i}")).await);
    }
    // Schedule: c0 at +50, c1 at +10, c2 at +30, c3 at +500 (not due at +100), c4 none.
    for (i, at) in [(0, Some(50)), (1, Some(10)), (2, Some(30)), (3, Some(500)), (4, None)] {
        let row = c
            .store
            .lease(&c.tenant, &ids[i], "setup", ts(0), ts(1))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("lease"));
        let w = match at {
            Some(at) => TokenWrite::Retry { last_error: "x".to_owned(), retry_at: ts(at) },
            None => TokenWrite::NeedsReauth { last_error: "x".to_owned() },
        };
        c.store
            .finish_refresh(&c.tenant, &ids[i], "setup", row.token.tokens_version, &w)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(c.store.next_due().await.ok().flatten(), Some(ts(10)));
    let first = c.store.claim_due("a", ts(100), ts(160), 2).await.unwrap_or_else(|e| panic!("{e}"));
    let claimed = |ids_: &[(flowvault_core::TenantId, flowvault_core::ConnectionId)]| {
        ids_.iter()
            .map(|(_, id)| ids.iter().position(|i| i == id).map_or(99, |i| i))
            .collect::<Vec<usize>>()
    };
    assert_eq!(claimed(&first), [1, 2]);
    let second =
        c.store.claim_due("b", ts(100), ts(160), 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claimed(&second), [0], "leased rows are not claimed twice");
    // After the leases expire, they can be claimed again.
    let third =
        c.store.claim_due("b", ts(200), ts(260), 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(third.len(), 3);
}

/// An execution row of `flow` created at `at` seconds.
fn execution(flow: &flowvault_core::FlowId, at: i64) -> flowvault_store::ExecutionRow {
    flowvault_store::ExecutionRow {
        id: flowvault_core::ExecutionId::generate(),
        flow_id: flow.clone(),
        trace_id: format!("t{at}"),
        status: flowvault_core::ExecutionStatus::Completed,
        record_sealed: None,
        created_at: ts(at),
        updated_at: ts(at),
        started_at: Some(ts(at)),
        ended_at: Some(ts(at)),
    }
}

async fn executions_page_newest_first_and_outlive_nothing(backend: &str) {
    use flowvault_store::ExecutionQuery;
    let c = case(backend).await;
    let new = flowvault_core::validate_flow_create(&json!({"name": "F", "actions": []}))
        .unwrap_or_else(|e| panic!("{e}"));
    let flow = c.vault.create_flow(&c.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<_> = (0..5).map(|i| execution(&flow.id, i)).collect();
    for r in &rows {
        c.store.insert_execution(&c.tenant, r).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let stored = c.store.flow(&c.tenant, &flow.id).await.ok().flatten();
    assert_eq!(stored.and_then(|f| f.executed_at), Some(ts(4)), "executed_at follows the newest");

    // Checkpoint pages: newest first, each execution once.
    let q = |from, offset, limit| ExecutionQuery { from, offset, limit };
    let first = c.store.list_executions(&c.tenant, &flow.id, &q(None, 0, 2)).await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.total, 5);
    let ids = |p: &flowvault_store::ExecutionPage| {
        p.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), vec![rows[4].id.clone(), rows[3].id.clone()]);
    let next = c.store.list_executions(&c.tenant, &flow.id, &q(first.next.clone(), 0, 10)).await;
    let next = next.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&next), vec![rows[2].id.clone(), rows[1].id.clone(), rows[0].id.clone()]);
    assert_eq!(next.next, None);
    let offset = c.store.list_executions(&c.tenant, &flow.id, &q(None, 3, 2)).await;
    assert_eq!(
        ids(&offset.unwrap_or_else(|e| panic!("{e}"))),
        vec![rows[1].id.clone(), rows[0].id.clone()]
    );

    // Another tenant sees none of it.
    let other = c.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    assert!(c.store.execution(&other, &flow.id, &rows[0].id).await.ok().flatten().is_none());
    assert!(matches!(
        c.store.insert_execution(&other, &execution(&flow.id, 9)).await,
        Err(StoreError::NotFound)
    ));

    // Retention.
    assert_eq!(c.store.delete_executions_before(ts(2)).await.unwrap_or_else(|e| panic!("{e}")), 2);
    let left = c.store.list_executions(&c.tenant, &flow.id, &q(None, 0, 10)).await;
    assert_eq!(left.unwrap_or_else(|e| panic!("{e}")).total, 3);

    // A deleted flow takes its executions along, and a run that outlived it stores nothing.
    c.store.delete_flow(&c.tenant, &flow.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(c.store.execution(&c.tenant, &flow.id, &rows[4].id).await.ok().flatten().is_none());
    let late = c.store.insert_execution(&c.tenant, &execution(&flow.id, 10)).await;
    assert!(matches!(late, Err(StoreError::NotFound)), "{late:?}");
}

/// Inserts arriving together (which the SQLite store commits as one transaction) are each
/// stored or refused on their own: one for a flow of another tenant and one that repeats an id
/// fail alone, every other is stored once answered.
async fn concurrent_execution_inserts_each_get_their_own_answer(backend: &str) {
    let c = case(backend).await;
    let new = flowvault_core::validate_flow_create(&json!({"name": "F", "actions": []}))
        .unwrap_or_else(|e| panic!("{e}"));
    let flow = c.vault.create_flow(&c.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let other = c.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let rows: Vec<_> = (0..200).map(|i| execution(&flow.id, i)).collect();
    let mut inserts: Vec<_> = rows
        .iter()
        .map(|r| (c.tenant.clone(), r.clone()))
        .chain([(other, execution(&flow.id, 7)), (c.tenant.clone(), rows[3].clone())])
        .collect();
    // The repeated id goes last, after the row it repeats.
    let repeat = inserts.pop().unwrap_or_else(|| unreachable!());
    let tasks: Vec<_> = inserts
        .into_iter()
        .chain([repeat])
        .map(|(tenant, row)| {
            let store = c.store.clone();
            tokio::spawn(async move { store.insert_execution(&tenant, &row).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(answers[..200].iter().all(Result::is_ok), "{answers:?}");
    assert!(matches!(answers[200], Err(StoreError::NotFound)), "{:?}", answers[200]);
    assert!(matches!(answers[201], Err(StoreError::AlreadyExists)), "{:?}", answers[201]);
    let q = flowvault_store::ExecutionQuery { from: None, offset: 0, limit: 10 };
    let page = c.store.list_executions(&c.tenant, &flow.id, &q).await;
    assert_eq!(page.unwrap_or_else(|e| panic!("{e}")).total, 200);
}

/// A code row for reference `r`, code `code`, made at `at` and living 600 s.
fn otp(r: u8, code: u8, at: i64) -> OtpRow {
    OtpRow {
        reference_hash: vec![r; 36],
        code_hash: vec![code; 36],
        created_at: ts(at),
        expires_at: ts(at + 600),
    }
}

/// Checks reference `r` at `at` (at most 3 attempts) with a code hash of `code` bytes.
async fn check(c: &Case, tenant: &flowvault_core::TenantId, r: u8, code: u8, at: i64) -> OtpCheck {
    let matches = |stored: &[u8]| stored == [code; 36].as_slice();
    c.store.check_otp(tenant, &[r; 36], ts(at), 3, &matches).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn otp_codes_are_single_use_and_burned_by_too_many_attempts(backend: &str) {
    let c = case(backend).await;
    let put = |row: OtpRow| {
        let (store, tenant) = (c.store.clone(), c.tenant.clone());
        async move { store.put_otp(&tenant, &row).await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let t = &c.tenant;
    put(otp(1, 7, 0)).await;
    assert_eq!(check(&c, t, 1, 7, 1).await, OtpCheck::Valid);
    assert_eq!(check(&c, t, 1, 7, 2).await, OtpCheck::NotFound, "a code was used twice");

    // Three attempts: two wrong ones are counted, the third burns the code.
    put(otp(1, 7, 0)).await;
    assert_eq!(check(&c, t, 1, 8, 1).await, OtpCheck::Wrong);
    assert_eq!(check(&c, t, 1, 8, 2).await, OtpCheck::Wrong);
    assert_eq!(check(&c, t, 1, 8, 3).await, OtpCheck::TooManyAttempts);
    assert_eq!(check(&c, t, 1, 7, 4).await, OtpCheck::NotFound, "a burned code still worked");

    // A new code replaces the old one, and its attempts start again.
    put(otp(1, 7, 0)).await;
    assert_eq!(check(&c, t, 1, 8, 1).await, OtpCheck::Wrong);
    assert_eq!(check(&c, t, 1, 8, 2).await, OtpCheck::Wrong);
    put(otp(1, 9, 10)).await;
    assert_eq!(check(&c, t, 1, 7, 11).await, OtpCheck::Wrong, "the replaced code still worked");
    assert_eq!(check(&c, t, 1, 9, 12).await, OtpCheck::Valid, "attempts outlived their code");

    // A code already tried as often as allowed (the limit lowered since, say) is not compared.
    put(otp(2, 7, 0)).await;
    assert_eq!(check(&c, t, 2, 8, 1).await, OtpCheck::Wrong);
    let compared = std::sync::atomic::AtomicBool::new(false);
    let matches = |_: &[u8]| {
        compared.store(true, std::sync::atomic::Ordering::SeqCst);
        true
    };
    let burned = c.store.check_otp(t, &[2; 36], ts(2), 1, &matches).await;
    assert!(matches!(burned, Ok(OtpCheck::TooManyAttempts)), "{burned:?}");
    assert!(!compared.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(check(&c, t, 2, 7, 3).await, OtpCheck::NotFound);
}

async fn otp_codes_expire_are_swept_and_belong_to_their_tenant(backend: &str) {
    let c = case(backend).await;
    let t = &c.tenant;
    let put = |row: OtpRow| {
        let (store, tenant) = (c.store.clone(), c.tenant.clone());
        async move { store.put_otp(&tenant, &row).await.unwrap_or_else(|e| panic!("{e}")) }
    };
    // Accepted until its expiry, not at it; an expired code is gone after the check that found
    // it so.
    put(otp(1, 7, 0)).await;
    assert_eq!(check(&c, t, 1, 8, 599).await, OtpCheck::Wrong);
    assert_eq!(check(&c, t, 1, 7, 600).await, OtpCheck::Expired);
    assert_eq!(check(&c, t, 1, 7, 1).await, OtpCheck::NotFound);

    // Storing a code sweeps every expired one (of any tenant); live ones stay.
    let other = c.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    put(otp(2, 7, 0)).await;
    c.store.put_otp(&other, &otp(3, 7, 0)).await.unwrap_or_else(|e| panic!("{e}"));
    put(otp(4, 7, 500)).await;
    put(otp(5, 7, 700)).await;
    assert_eq!(check(&c, t, 2, 7, 1).await, OtpCheck::NotFound, "an expired code was kept");
    assert_eq!(check(&c, &other, 3, 7, 1).await, OtpCheck::NotFound, "an expired code was kept");
    assert_eq!(check(&c, t, 4, 7, 701).await, OtpCheck::Valid, "a live code was swept");

    // The same reference in two tenants: two codes, neither seen from the other tenant.
    put(otp(6, 7, 0)).await;
    c.store.put_otp(&other, &otp(6, 9, 0)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&c, &other, 6, 7, 1).await, OtpCheck::Wrong, "tenant A's code worked in B");
    assert_eq!(check(&c, t, 6, 7, 2).await, OtpCheck::Valid);
    assert_eq!(check(&c, &other, 6, 9, 3).await, OtpCheck::Valid);
    assert_eq!(check(&c, &other, 1, 7, 4).await, OtpCheck::NotFound);
}

async fn concurrent_otp_checks_find_a_code_valid_once_and_count_every_attempt(backend: &str) {
    let c = case(backend).await;
    let race = |code: u8| {
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (store, tenant) = (c.store.clone(), c.tenant.clone());
                tokio::spawn(async move {
                    let matches = move |stored: &[u8]| stored == [code; 36].as_slice();
                    store.check_otp(&tenant, &[1; 36], ts(1), 5, &matches).await
                })
            })
            .collect();
        async move {
            let mut seen = Vec::new();
            for t in tasks {
                seen.push(
                    t.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")),
                );
            }
            seen
        }
    };
    let count = |seen: &[OtpCheck], which: OtpCheck| seen.iter().filter(|s| **s == which).count();

    c.store.put_otp(&c.tenant, &otp(1, 7, 0)).await.unwrap_or_else(|e| panic!("{e}"));
    let seen = race(7).await;
    assert_eq!(count(&seen, OtpCheck::Valid), 1, "{seen:?}");
    assert_eq!(count(&seen, OtpCheck::NotFound), 11, "{seen:?}");

    c.store.put_otp(&c.tenant, &otp(1, 7, 0)).await.unwrap_or_else(|e| panic!("{e}"));
    let seen = race(8).await;
    assert_eq!(count(&seen, OtpCheck::Wrong), 4, "{seen:?}");
    assert_eq!(count(&seen, OtpCheck::TooManyAttempts), 1, "{seen:?}");
    assert_eq!(count(&seen, OtpCheck::NotFound), 7, "{seen:?}");
}

async fn the_vault_keeps_otp_codes_keyed_to_tenant_and_reference(backend: &str) {
    let c = case(backend).await;
    let v = &c.vault;
    let t = &c.tenant;
    let other = v.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let store = |tenant, reference, code| async move {
        v.store_otp(tenant, reference, code).await.unwrap_or_else(|e| panic!("{e}"))
    };
    let verify = |tenant, reference, spellings: &'static [&'static str]| async move {
        v.verify_otp(tenant, reference, spellings).await.unwrap_or_else(|e| panic!("{e}"))
    };

    let before = v.now();
    let expires = store(t, "ada@example.com", "042917").await;
    let lifetime = flowvault_store::OTP_LIFETIME;
    assert!(expires >= before.saturating_add(lifetime));
    assert!(expires <= v.now().saturating_add(lifetime));
    assert_eq!(verify(&other, "ada@example.com", &["042917"]).await, OtpCheck::NotFound);
    assert_eq!(verify(t, "ADA@example.com", &["042917"]).await, OtpCheck::NotFound);
    assert_eq!(verify(t, "ada@example.com", &["42917"]).await, OtpCheck::Wrong);
    // One of several spellings of one guess: one attempt, valid.
    assert_eq!(verify(t, "ada@example.com", &["42917", "042917"]).await, OtpCheck::Valid);
    assert_eq!(verify(t, "ada@example.com", &["042917"]).await, OtpCheck::NotFound);

    // The limit is the vault's: the fifth wrong code burns it.
    store(t, "+15005550006", "1234").await;
    for _ in 1..flowvault_store::OTP_MAX_ATTEMPTS {
        assert_eq!(verify(t, "+15005550006", &["0000"]).await, OtpCheck::Wrong);
    }
    assert_eq!(verify(t, "+15005550006", &["0000"]).await, OtpCheck::TooManyAttempts);
    assert_eq!(verify(t, "+15005550006", &["1234"]).await, OtpCheck::NotFound);

    // Equal codes for two references, or two tenants, are stored apart.
    store(t, "a", "555").await;
    store(t, "b", "555").await;
    store(&other, "a", "555").await;
    assert_eq!(verify(t, "a", &["555"]).await, OtpCheck::Valid);
    assert_eq!(verify(t, "b", &["555"]).await, OtpCheck::Valid);
    assert_eq!(verify(&other, "a", &["555"]).await, OtpCheck::Valid);
}

/// Creates a connection of `app` with `setup`.
async fn connection_of(
    c: &Case,
    tenant: &flowvault_core::TenantId,
    app: &str,
    setup: serde_json::Value,
) -> String {
    let body = json!({"name": format!("{app} delivery"), "app_id": app, "setup": setup});
    c.vault
        .create_connection(tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id
        .to_string()
}

fn settings(doc: serde_json::Value) -> DeliverySettings {
    DeliverySettings::parse(&doc).unwrap_or_else(|e| panic!("{e}"))
}

async fn delivery_settings_are_checked_stored_and_cleared(backend: &str) {
    let c = case(backend).await;
    let (v, t) = (&c.vault, &c.tenant);
    let twilio = connection_of(&c, t, "TWILIO", crate::support::twilio_setup("secret-token")).await;
    let sendgrid =
        connection_of(&c, t, "SENDGRID", json!({"type": "API_KEY", "api_key": "SG.key"})).await;
    assert!(v.delivery_settings(t).await.unwrap_or_else(|e| panic!("{e}")).is_empty());

    let wanted = settings(json!({
        "email": {"connection_id": sendgrid, "from": {"email": "no-reply@example.com", "name": "Ex"}},
        "sms": {"connection_id": twilio, "from": "+15005550006"},
    }));
    v.set_delivery_settings(t, &wanted).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.delivery_settings(t).await.ok(), Some(wanted.clone()));

    // A connection of the wrong app, or one that does not exist, or another tenant's, is
    // refused naming the channel; nothing changes.
    let other = v.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let theirs =
        connection_of(&c, &other, "TWILIO", crate::support::twilio_setup("their-token")).await;
    let missing = flowvault_core::ConnectionId::generate().to_string();
    let wrong = settings(json!({
        "email": {"connection_id": twilio, "from": {"email": "a@example.com"}},
        "sms": {"connection_id": missing, "from": "+15005550006"},
        "voice": {"connection_id": theirs, "from": "+15005550006"},
    }));
    match v.set_delivery_settings(t, &wrong).await {
        Err(VaultError::Invalid(e)) => {
            let text = e.to_string();
            assert!(text.contains("email.connection_id"), "{text}");
            assert!(text.contains("SENDGRID or MAILJET"), "{text}");
            assert!(text.contains("sms.connection_id"), "{text}");
            assert!(text.contains("voice.connection_id"), "{text}");
        }
        other => panic!("accepted: {other:?}"),
    }
    assert_eq!(v.delivery_settings(t).await.ok(), Some(wanted.clone()));
    // Settings are the tenant's own.
    assert!(v.delivery_settings(&other).await.is_ok_and(|s| s.is_empty()));

    // Empty settings clear them, as does clearing.
    v.set_delivery_settings(t, &DeliverySettings::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.store.delivery(t).await.is_ok_and(|r| r.is_none()));
    v.set_delivery_settings(t, &wanted).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(v.clear_delivery_settings(t).await.unwrap_or_else(|e| panic!("{e}")));
    assert!(!v.clear_delivery_settings(t).await.unwrap_or_else(|e| panic!("{e}")));
    assert!(v.delivery_settings(t).await.is_ok_and(|s| s.is_empty()));
}

async fn forged_delivery_settings_are_refused(backend: &str) {
    let c = case(backend).await;
    let (v, t) = (&c.vault, &c.tenant);
    let mine = connection_of(&c, t, "TWILIO", crate::support::twilio_setup("secret-token")).await;
    let evil = connection_of(&c, t, "TWILIO", crate::support::twilio_setup("evil-token")).await;
    let doc = settings(json!({"sms": {"connection_id": mine, "from": "+15005550006"}}));
    v.set_delivery_settings(t, &doc).await.unwrap_or_else(|e| panic!("{e}"));
    let row = c.store.delivery(t).await.unwrap_or_else(|e| panic!("{e}"));
    let row = row.unwrap_or_else(|| panic!("no row"));

    // Someone who can write the database points SMS at another connection, keeping the MAC.
    let mut forged = row.clone();
    forged.settings = row.settings.replace(&mine, &evil);
    assert_ne!(forged.settings, row.settings);
    c.store.put_delivery(t, &forged).await.unwrap_or_else(|e| panic!("{e}"));
    match v.delivery_settings(t).await {
        Err(e @ VaultError::Tampered { .. }) => {
            let text = e.to_string();
            assert!(text.contains("delivery settings"), "{text}");
            assert!(text.contains("integrity check"), "{text}");
        }
        other => panic!("a forged row was accepted: {other:?}"),
    }

    // The row as it was, copied to another tenant: its MAC names the first tenant.
    let other = v.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    c.store.put_delivery(&other, &row).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(v.delivery_settings(&other).await, Err(VaultError::Tampered { .. })));

    // A row with no valid MAC at all.
    let mut bare = row.clone();
    bare.mac = vec![0; 36];
    c.store.put_delivery(t, &bare).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(v.delivery_settings(t).await, Err(VaultError::Tampered { .. })));

    // Saving the settings again through the vault repairs it.
    v.set_delivery_settings(t, &doc).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.delivery_settings(t).await.ok(), Some(doc));
}

async fn summaries_are_ordered_searched_and_carry_the_status(backend: &str) {
    let c = case(backend).await;
    let other = c
        .vault
        .ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let twilio = json!({"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": "k"});
    for (tenant, app, name, setup) in [
        (&c.tenant, "TWILIO", "zeta SMS", Some(twilio.clone())),
        (&c.tenant, "SLACK", "Alerts", None),
        (&c.tenant, "TWILIO", "Alpha sms", None),
        (&other, "TWILIO", "theirs sms", Some(twilio.clone())),
    ] {
        let mut body = json!({"name": name, "app_id": app});
        if let Some(s) = setup {
            body["setup"] = s;
        }
        c.vault
            .create_connection(tenant, new_connection(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let list = |app, search: Option<String>| {
        let (vault, tenant) = (&c.vault, &c.tenant);
        async move {
            let rows = vault
                .connection_summaries(tenant, app, search.as_deref())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            rows.iter().map(|r| (r.name.to_string(), r.status.as_str())).collect::<Vec<_>>()
        }
    };
    // By app id, then name in any case; the status is the one a read of the whole row gives.
    assert_eq!(
        list(None, None).await,
        vec![
            ("Alerts".into(), "empty"),
            ("Alpha sms".into(), "empty"),
            ("zeta SMS".into(), "ready")
        ]
    );
    assert_eq!(list(Some(AppId::Twilio), Some("sms".into())).await.len(), 2);
    assert_eq!(list(None, Some("alerts".into())).await, vec![("Alerts".into(), "empty")]);
    let all =
        c.vault.connection_summaries(&c.tenant, None, None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list(None, Some(all[2].id.to_string())).await, vec![("zeta SMS".into(), "ready")]);
    let whole = c.vault.connection(&c.tenant, &all[2].id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(whole.status, all[2].status);
}
