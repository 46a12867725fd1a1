//! Someone who can write the database file must not be able to decide who uses a credential or
//! where it goes: each test here edits rows directly in SQLite, as such an attacker would, and
//! shows the forgery refused. And a vault written by an earlier build (no row MACs, contexts
//! without the app) is upgraded once, keeping every secret and client working.

use std::sync::Arc;

use flowvault_core::{ClientName, FlowId, Scopes, SystemClock, TenantId, validate_flow_create};
use flowvault_crypto::{KeyKind, Keyring, MasterKey, SealContext, SealedKey, UnlockError};
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault, VaultError};
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::{Fixture, KEY_A, new_connection, open};

async fn raw(f: &Fixture) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", f.db_path().display());
    sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn exec(conn: &mut sqlx::SqliteConnection, sql: &'static str, binds: &[&str]) -> u64 {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}")).rows_affected()
}

fn all_scopes() -> Scopes {
    flowvault_core::Scope::ALL.iter().copied().collect()
}

#[tokio::test]
async fn a_forged_management_client_gets_no_token() {
    let f = Fixture::new().await;
    let read_only: Scopes = "read:flows".parse().unwrap_or_else(|e| panic!("{e}"));
    let (client, secret) = f
        .vault
        .create_client(
            &f.tenant,
            ClientName::parse("ci").unwrap_or_else(|e| panic!("{e}")),
            read_only,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = secrecy::ExposeSecret::expose_secret(&secret).to_owned();
    let mut db = raw(&f).await;

    // 1. A new row with the unkeyed hash an earlier build would have stored, every scope, and
    //    no MAC — or a made-up one.
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(b"flowvault:v1:client-secret\0fvs_forged").to_vec();
    for (id, mac) in
        [("mc_forged0000000000000000", None), ("mc_forged1111111111111111", Some(vec![0u8; 36]))]
    {
        sqlx::query(
            "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at, mac) \
             VALUES (?1, ?2, 'evil', ?3, ?4, '2026-01-01T00:00:00.000Z', ?5)",
        )
        .bind(id)
        .bind(f.tenant.as_str())
        .bind(&digest)
        .bind(all_scopes().to_string())
        .bind(mac)
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let id = id.parse().unwrap_or_else(|e| panic!("{e}"));
        let auth = f.vault.authenticate_client(&id, "fvs_forged").await;
        assert!(auth.is_ok_and(|c| c.is_none()), "a forged client authenticated");
        assert!(f.vault.client(&id).await.is_ok_and(|c| c.is_none()));
    }
    // 2. The same secret hash and MAC copied onto a row of another id.
    exec(
        &mut db,
        "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at, mac) \
         SELECT 'mc_copied2222222222222222', tenant_id, name, secret_hash, scopes, created_at, mac \
         FROM management_clients WHERE id = ?1",
        &[client.id.as_str()],
    )
    .await;
    let copied = "mc_copied2222222222222222".parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(f.vault.authenticate_client(&copied, &secret).await.is_ok_and(|c| c.is_none()));

    // The real client works until its scopes or tenant are changed in place.
    assert!(f.vault.authenticate_client(&client.id, &secret).await.is_ok_and(|c| c.is_some()));
    exec(
        &mut db,
        "UPDATE management_clients SET scopes = ?2 WHERE id = ?1",
        &[client.id.as_str(), &all_scopes().to_string()],
    )
    .await;
    assert!(f.vault.authenticate_client(&client.id, &secret).await.is_ok_and(|c| c.is_none()));
    assert!(f.vault.client(&client.id).await.is_ok_and(|c| c.is_none()));
    assert!(f.vault.list_clients(&f.tenant).await.is_ok_and(|l| l.is_empty()));
    exec(
        &mut db,
        "UPDATE management_clients SET scopes = 'read:flows' WHERE id = ?1",
        &[client.id.as_str()],
    )
    .await;
    assert!(f.vault.authenticate_client(&client.id, &secret).await.is_ok_and(|c| c.is_some()));

    let other = f.vault.ensure_tenant(&"victim".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    exec(
        &mut db,
        "UPDATE management_clients SET tenant_id = ?2 WHERE id = ?1",
        &[client.id.as_str(), other.as_str()],
    )
    .await;
    assert!(f.vault.authenticate_client(&client.id, &secret).await.is_ok_and(|c| c.is_none()));
}

fn http_flow(url: &str, connection: &str) -> Value {
    json!({"name": "Notify", "actions": [{
        "id": "call", "type": "HTTP", "action": "SEND_REQUEST",
        "params": {"connection_id": connection, "url": url, "method": "POST"}
    }]})
}

#[tokio::test]
async fn an_edited_flow_is_refused() {
    let f = Fixture::new().await;
    let bearer = json!({"name": "API", "app_id": "HTTP", "setup": {"type": "BEARER", "token": "t0ken-of-the-victim"}});
    let conn = f.vault.create_connection(&f.tenant, new_connection(bearer)).await;
    let conn = conn.unwrap_or_else(|e| panic!("{e}"));
    let new = validate_flow_create(&http_flow("https://api.example.com/notify", conn.id.as_str()));
    let flow = f.vault.create_flow(&f.tenant, new.unwrap_or_else(|e| panic!("{e}"))).await;
    let flow = flow.unwrap_or_else(|e| panic!("{e}"));
    assert!(f.vault.flow(&f.tenant, &flow.id).await.is_ok());

    // The attacker points the credentialed request at their own host.
    let mut db = raw(&f).await;
    let evil = http_flow("https://evil.example/collect", conn.id.as_str())["actions"].to_string();
    exec(&mut db, "UPDATE flows SET actions = ?2 WHERE id = ?1", &[flow.id.as_str(), &evil]).await;
    let err = f.vault.flow(&f.tenant, &flow.id).await.err();
    assert!(matches!(&err, Some(VaultError::Tampered { .. })), "{err:?}");
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(flow.id.as_str()) && message.contains("integrity"), "{message}");
    assert!(
        f.vault
            .list_flows(&f.tenant, &flowvault_store::ListQuery { app: None, offset: 0, limit: 10 })
            .await
            .is_err()
    );
    // Renaming can't bless the edited actions; saving new actions through the API can.
    let rename = flowvault_core::validate_flow_patch(&json!({"name": "Renamed"}));
    let renamed =
        f.vault.update_flow(&f.tenant, &flow.id, rename.unwrap_or_else(|e| panic!("{e}")), 1).await;
    assert!(matches!(renamed, Err(VaultError::Tampered { .. })), "{renamed:?}");
    let fix = flowvault_core::validate_flow_patch(&http_flow(
        "https://api.example.com/notify",
        conn.id.as_str(),
    ));
    let fixed =
        f.vault.update_flow(&f.tenant, &flow.id, fix.unwrap_or_else(|e| panic!("{e}")), 1).await;
    let fixed = fixed.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fixed.version, 2);

    // Nor can a flow be moved to another tenant, or rolled back to another version's MAC.
    let other = f.vault.ensure_tenant(&"victim".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    exec(&mut db, "UPDATE flows SET version = 1 WHERE id = ?1", &[flow.id.as_str()]).await;
    assert!(matches!(f.vault.flow(&f.tenant, &flow.id).await, Err(VaultError::Tampered { .. })));
    exec(&mut db, "PRAGMA foreign_keys = OFF", &[]).await;
    exec(
        &mut db,
        "UPDATE flows SET version = 2, tenant_id = ?2 WHERE id = ?1",
        &[flow.id.as_str(), other.as_str()],
    )
    .await;
    assert!(matches!(f.vault.flow(&other, &flow.id).await, Err(VaultError::Tampered { .. })));
}

#[tokio::test]
async fn a_connection_moved_to_another_app_does_not_open() {
    let f = Fixture::new().await;
    // A Slack webhook URL is a credential; as an HTTP BEARER connection it could be sent
    // anywhere. The setup is bound to its app.
    let body = json!({"name": "Alerts", "app_id": "SLACK", "setup": {"type": "WEBHOOK", "url": "https://hooks.slack.com/services/T0/B0/s3cret"}});
    let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert!(f.vault.open_setup(&f.tenant, &c.id).await.is_ok_and(|s| s.is_some()));
    let mut db = raw(&f).await;
    exec(&mut db, "UPDATE connections SET app_id = 'ZAPIER' WHERE id = ?1", &[c.id.as_str()]).await;
    let err = f.vault.open_setup(&f.tenant, &c.id).await.err();
    assert!(matches!(err, Some(VaultError::Sealed { .. })), "{err:?}");
}

#[tokio::test]
async fn an_execution_moved_to_another_flow_does_not_open() {
    let f = Fixture::new().await;
    let mk = |name: &str| {
        validate_flow_create(&json!({"name": name, "actions": []}))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let a = f.vault.create_flow(&f.tenant, mk("a")).await.unwrap_or_else(|e| panic!("{e}"));
    let b = f.vault.create_flow(&f.tenant, mk("b")).await.unwrap_or_else(|e| panic!("{e}"));
    let id = flowvault_core::ExecutionId::generate();
    let now = f.vault.now();
    let row = flowvault_store::ExecutionRow {
        id: id.clone(),
        flow_id: a.id.clone(),
        trace_id: "t".to_owned(),
        status: flowvault_core::ExecutionStatus::Completed,
        record_sealed: Some(
            f.vault
                .seal_execution(&f.tenant, &id, &a.id, b"{\"result\":1}")
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        created_at: now,
        updated_at: now,
        started_at: Some(now),
        ended_at: Some(now),
    };
    f.vault.insert_execution(&f.tenant, &row).await.unwrap_or_else(|e| panic!("{e}"));
    let stored = f.vault.execution(&f.tenant, &a.id, &id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(f.vault.open_execution(&f.tenant, &stored).is_ok_and(|r| r.is_some()));
    let mut db = raw(&f).await;
    exec(
        &mut db,
        "UPDATE executions SET flow_id = ?2 WHERE id = ?1",
        &[id.as_str(), b.id.as_str()],
    )
    .await;
    let moved = f.vault.execution(&f.tenant, &b.id, &id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(f.vault.open_execution(&f.tenant, &moved), Err(VaultError::Sealed { .. })));
}

#[tokio::test]
async fn removing_the_integrity_key_does_not_reopen_the_vault_unauthenticated() {
    let f = Fixture::new().await;
    let mut db = raw(&f).await;
    assert_eq!(exec(&mut db, "DELETE FROM keyring WHERE kind = 'integrity'", &[]).await, 1);
    drop(db);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&f.db_path()).await.unwrap_or_else(|e| panic!("{e}")));
    let master = MasterKey::from_bytes(&KEY_A).unwrap_or_else(|e| panic!("{e}"));
    let opened = Vault::open(store, MasterKeySource::Key(master), Arc::new(SystemClock)).await;
    assert!(
        matches!(opened, Err(VaultError::Unlock(UnlockError::Incomplete("no integrity key")))),
        "{:?}",
        opened.err()
    );
}

/// The known-answer file of the crypto crate holds a keyring and envelopes as an earlier build
/// wrote them (a known master key, format-1 seals, no integrity key).
fn legacy_vectors() -> Value {
    serde_json::from_str(include_str!("../../../crypto/tests/vectors/envelope.json"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_vault_from_an_earlier_build_is_upgraded_once() {
    let v = legacy_vectors();
    let master_bytes = unhex(&v["master_key"]);
    let master = || MasterKey::from_bytes(&master_bytes).unwrap_or_else(|e| panic!("{e}"));
    let legacy_keys: Vec<SealedKey> = v["legacy_stored_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| SealedKey {
            kind: KeyKind::from_name(k["kind"].as_str().unwrap_or_default())
                .unwrap_or(KeyKind::Kek),
            term: u32::try_from(k["term"].as_u64().unwrap_or(1)).unwrap_or(1),
            sealed: unhex(&k["sealed"]),
        })
        .collect();
    // What an earlier build would have sealed, with its contexts (no app, no flow).
    let ring = Keyring::unlock(&master(), &legacy_keys).unwrap_or_else(|e| panic!("{e}"));
    assert!(ring.needs_upgrade());
    let tenant = "tn_0123456789ABCDEFGHIJKL";
    let setup_case = &v["open"][2];
    assert_eq!(setup_case["format"], "1");
    let connection = setup_case["object"].as_str().unwrap_or_default();
    let setup_sealed = unhex(&setup_case["ciphertext"]);
    let seal = |object: &str, purpose: &str, plain: &[u8]| {
        let ctx = SealContext::new(tenant, object, purpose).unwrap_or_else(|e| panic!("{e}"));
        ring.seal(&ctx, plain).unwrap_or_else(|e| panic!("{e}"))
    };
    let oauth = "ac_oauth00000000000000000";
    let tokens = seal(oauth, "tokens", b"{\"opaque\":\"token state\"}");
    let oauth_setup = seal(oauth, "setup", b"{\"type\":\"OAUTH_CODE\"}");
    let flow = "af_legacy0000000000000000";
    let execution = "exc_legacy0000000000000000";
    let record = seal(execution, "execution", b"{\"result\":\"kept\"}");

    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("vault.db");
    let store = SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
    let url = format!("sqlite://{}", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let at = "2026-01-01T00:00:00.000Z";
    for k in &legacy_keys {
        sqlx::query("INSERT INTO keyring (kind, term, sealed, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(k.kind.as_str())
            .bind(i64::from(k.term))
            .bind(&k.sealed)
            .bind(at)
            .execute(&mut db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    exec(&mut db, "INSERT INTO vault_meta (key, value) VALUES ('master_key_kind', 'key')", &[])
        .await;
    exec(
        &mut db,
        "INSERT INTO tenants (id, name, created_at) VALUES (?1, 'default', ?2)",
        &[tenant, at],
    )
    .await;
    for (id, app, setup_type, setup, tokens) in [
        (connection, "TWILIO", "API_KEY", setup_sealed.clone(), None),
        (oauth, "SLACK", "OAUTH_CODE", oauth_setup, Some(tokens)),
    ] {
        sqlx::query(
            "INSERT INTO connections (tenant_id, id, app_id, name, setup_type, setup_sealed, tokens_sealed, \
             fingerprint, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?2, ?4, ?5, ?6, 'old', 1, ?7, ?7)",
        )
        .bind(tenant)
        .bind(id)
        .bind(app)
        .bind(setup_type)
        .bind(setup)
        .bind(tokens)
        .bind(at)
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let client = &v["client_secret"];
    sqlx::query(
        "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at) \
         VALUES ('mc_legacy0000000000000000', ?1, 'ci', ?2, 'read:flows', ?3)",
    )
    .bind(tenant)
    .bind(unhex(&client["legacy_digest"]))
    .bind(at)
    .execute(&mut db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    exec(
        &mut db,
        "INSERT INTO flows (tenant_id, id, name, actions, version, created_at, updated_at) VALUES (?1, ?2, 'old', '[]', 1, ?3, ?3)",
        &[tenant, flow, at],
    )
    .await;
    sqlx::query(
        "INSERT INTO executions (tenant_id, flow_id, id, trace_id, status, record_sealed, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 't', 'completed', ?4, ?5, ?5)",
    )
    .bind(tenant)
    .bind(flow)
    .bind(execution)
    .bind(&record)
    .bind(at)
    .execute(&mut db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    drop(db);

    // The first open upgrades; everything still reads.
    let (store, vault) = open(&path, &master_bytes.clone().try_into().unwrap_or([0; 32])).await;
    let tenant: TenantId = tenant.parse().unwrap_or_else(|e| panic!("{e}"));
    let setup =
        vault.open_setup(&tenant, &connection.parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let setup = setup.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no setup"));
    assert_eq!(setup.expose("api_key"), Some("kat-secret"));
    let twilio =
        vault.connection(&tenant, &connection.parse().unwrap_or_else(|e| panic!("{e}"))).await;
    assert_ne!(twilio.unwrap_or_else(|e| panic!("{e}")).fingerprint, "old");
    let row = store.connection(&tenant, &oauth.parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let row = row.ok().flatten().unwrap_or_else(|| panic!("gone"));
    let opened = vault.open_row_tokens(&tenant, &row).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened.as_deref().map(|t| t.as_slice()), Some(&b"{\"opaque\":\"token state\"}"[..]));
    let id = "mc_legacy0000000000000000".parse().unwrap_or_else(|e| panic!("{e}"));
    let secret = client["secret"].as_str().unwrap_or_default();
    assert!(vault.authenticate_client(&id, secret).await.is_ok_and(|c| c.is_some()));
    assert!(vault.authenticate_client(&id, "fvs_wrong").await.is_ok_and(|c| c.is_none()));
    let flow_id: FlowId = flow.parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(vault.flow(&tenant, &flow_id).await.is_ok());
    let exec_row = vault
        .execution(&tenant, &flow_id, &execution.parse().unwrap_or_else(|e| panic!("{e}")))
        .await;
    let record = vault.open_execution(&tenant, &exec_row.unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(record.ok().flatten().as_deref(), Some(&b"{\"result\":\"kept\"}"[..]));
    let keyring = store.keyring().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keyring.len(), 3);
    assert!(keyring.iter().all(|k| k.sealed[0] == 2));

    // A row added the way an earlier build wrote them is not blessed by a later open.
    let url = format!("sqlite://{}", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(
        "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at) \
         VALUES ('mc_later00000000000000000', ?1, 'late', ?2, 'read:flows', ?3)",
    )
    .bind(tenant.as_str())
    .bind(unhex(&client["legacy_digest"]))
    .bind(at)
    .execute(&mut db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    drop(db);
    store.close().await;
    let (_store, again) = open(&path, &master_bytes.clone().try_into().unwrap_or([0; 32])).await;
    let late = "mc_later00000000000000000".parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(again.authenticate_client(&late, secret).await.is_ok_and(|c| c.is_none()));
    assert!(again.authenticate_client(&id, secret).await.is_ok_and(|c| c.is_some()));
    drop(again);
    _store.close().await;

    // The keyring rows put back from before the upgrade (an old backup of one table): the
    // upgrade is refused rather than re-keying secret hashes a second time, and nothing changes.
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let replace = async |db: &mut sqlx::SqliteConnection, keys: &[SealedKey]| {
        exec(db, "DELETE FROM keyring", &[]).await;
        for k in keys {
            sqlx::query(
                "INSERT INTO keyring (kind, term, sealed, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(k.kind.as_str())
            .bind(i64::from(k.term))
            .bind(&k.sealed)
            .bind(at)
            .execute(&mut *db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
    };
    replace(&mut db, &legacy_keys).await;
    drop(db);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("{e}")));
    let refused =
        Vault::open(Arc::clone(&store), MasterKeySource::Key(master()), Arc::new(SystemClock))
            .await;
    let Err(VaultError::Store(flowvault_store::StoreError::Corrupt(why))) = refused else {
        panic!("a legacy keyring beside upgraded rows opened: {:?}", refused.map(|_| ()));
    };
    assert!(why.contains("keyring rows were replaced"), "{why}");
    assert_eq!(store.keyring().await.unwrap_or_else(|e| panic!("{e}")).len(), 2, "unchanged");
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    replace(&mut db, &keyring).await;
    drop(db);
    let (_store, restored) = open(&path, &master_bytes.clone().try_into().unwrap_or([0; 32])).await;
    assert!(restored.authenticate_client(&id, secret).await.is_ok_and(|c| c.is_some()));
}
