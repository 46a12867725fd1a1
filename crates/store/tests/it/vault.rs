//! The vault's guarantees: readiness, sealing at rest, binding of ciphertexts to their row,
//! optimistic concurrency, tenant isolation, and master-key checks.

use std::sync::Arc;

use flowvault_core::{
    AppId, ConnectionId, SystemClock, TenantName, validate_patch, validate_setup,
};
use flowvault_crypto::{MasterKey, UnlockError};
use flowvault_store::{ListQuery, MasterKeySource, Opened, SqliteStore, Store, Vault, VaultError};
use secrecy::SecretString;
use serde_json::json;
use sqlx::Connection as _;

use crate::support::{Fixture, KEY_A, new_connection, open, twilio_setup};

#[tokio::test]
async fn a_twilio_connection_with_setup_is_ready() {
    let f = Fixture::new().await;
    let body = json!({"name": "SMS", "app_id": "TWILIO", "setup": twilio_setup("tok-1")});
    let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert!(c.ready);
    assert_eq!(c.version, 1);
    assert!(c.id.as_str().starts_with("ac_"));
    let setup = f.vault.open_setup(&f.tenant, &c.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        setup.and_then(|s| s.expose("api_key").map(str::to_owned)).as_deref(),
        Some("tok-1")
    );
}

#[tokio::test]
async fn an_empty_connection_becomes_ready_when_its_setup_is_added() {
    let f = Fixture::new().await;
    let body = json!({"name": "Later", "app_id": "TWILIO"});
    let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.ready);
    assert!(f.vault.open_setup(&f.tenant, &c.id).await.is_ok_and(|s| s.is_none()));

    let patch = validate_patch(AppId::Twilio, &json!({"setup": twilio_setup("tok-2")}));
    let patch = patch.unwrap_or_else(|e| panic!("{e}"));
    let updated = f.vault.update_connection(&f.tenant, &c.id, patch, c.version).await;
    let updated = updated.unwrap_or_else(|e| panic!("{e}"));
    assert!(updated.ready);
    assert_eq!(updated.version, 2);
    assert_ne!(updated.fingerprint, c.fingerprint);
    assert_eq!(updated.name.as_str(), "Later");
}

#[tokio::test]
async fn an_oauth_code_setup_is_not_ready_until_authorized() {
    let f = Fixture::new().await;
    let body = json!({"name": "Slack", "app_id": "SLACK", "setup": {"type": "OAUTH_CODE"}});
    let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
    assert!(c.is_ok_and(|c| !c.ready));
}

#[tokio::test]
async fn fingerprints_follow_the_credentials() {
    let f = Fixture::new().await;
    let mk = |name: &str, key: &str| {
        new_connection(json!({"name": name, "app_id": "TWILIO", "setup": twilio_setup(key)}))
    };
    let a = f.vault.create_connection(&f.tenant, mk("a", "same")).await;
    let b = f.vault.create_connection(&f.tenant, mk("b", "same")).await;
    let (a, b) = (a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}")));
    // Equal credentials in two connections fingerprint differently: a fingerprint is no oracle
    // for "does this connection hold the same key as that one".
    assert_ne!(a.fingerprint, b.fingerprint);
    // The same credentials again leave a connection's fingerprint as it was; others change it.
    let patch = |key: &str| {
        flowvault_core::validate_patch(
            flowvault_core::AppId::Twilio,
            &json!({"setup": twilio_setup(key)}),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let same = f.vault.update_connection(&f.tenant, &a.id, patch("same"), a.version).await;
    let same = same.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.fingerprint, a.fingerprint);
    let other = f.vault.update_connection(&f.tenant, &a.id, patch("other"), same.version).await;
    assert_ne!(other.unwrap_or_else(|e| panic!("{e}")).fingerprint, a.fingerprint);
}

#[tokio::test]
async fn the_database_files_hold_no_plaintext_secret() {
    let f = Fixture::new().await;
    let canary = "CANARY-5ecr3t-d0-n0t-l3ak";
    for app in ["TWILIO", "HTTP"] {
        let setup = match app {
            "TWILIO" => twilio_setup(canary),
            _ => json!({"type": "BEARER", "token": canary}),
        };
        let body = json!({"name": format!("{app} conn"), "app_id": app, "setup": setup});
        let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        // Updates too: the old value must not linger in clear anywhere either.
        let patch =
            validate_patch(c.app_id, &json!({"name": "renamed"})).unwrap_or_else(|e| panic!("{e}"));
        f.vault
            .update_connection(&f.tenant, &c.id, patch, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // While the WAL is live, and after it is checkpointed into the main file.
    let scan = |label: &str| {
        let mut scanned = 0;
        for entry in std::fs::read_dir(f.dir.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            scanned += bytes.len();
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{label}: {} holds the secret in clear",
                entry.path().display()
            );
        }
        assert!(scanned > 4096, "{label}: nothing scanned");
    };
    scan("live");
    f.store.close().await;
    scan("closed");
}

#[tokio::test]
async fn the_database_files_hold_no_one_time_code_or_its_reference() {
    use sha2::{Digest as _, Sha256};
    let f = Fixture::new().await;
    let reference = "canary.person@example.com";
    let code = "8675309142";
    f.vault.store_otp(&f.tenant, reference, code).await.unwrap_or_else(|e| panic!("{e}"));
    // A wrong attempt rewrites the row: nothing in clear there either.
    let wrong = f.vault.verify_otp(&f.tenant, reference, &["0000000000"]).await;
    assert!(matches!(wrong, Ok(flowvault_store::OtpCheck::Wrong)), "{wrong:?}");
    // Neither in clear nor as an unkeyed hash (which a 10-digit code would not survive).
    let needles: Vec<Vec<u8>> = [reference, code]
        .iter()
        .flat_map(|s| [s.as_bytes().to_vec(), Sha256::digest(s.as_bytes()).to_vec()])
        .collect();
    let scan = |label: &str| {
        let mut scanned = 0;
        for entry in std::fs::read_dir(f.dir.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            scanned += bytes.len();
            for needle in &needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{label}: {} holds a code or reference",
                    entry.path().display()
                );
            }
        }
        assert!(scanned > 4096, "{label}: nothing scanned");
    };
    scan("live");
    f.store.close().await;
    scan("closed");
}

#[tokio::test]
async fn a_one_time_code_hash_copied_to_another_reference_does_not_verify() {
    let f = Fixture::new().await;
    f.vault
        .store_otp(&f.tenant, "attacker@example.com", "111111")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    f.vault
        .store_otp(&f.tenant, "victim@example.com", "222222")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Someone who can write the database gives the victim's row the code they received.
    let url = format!("sqlite://{}", f.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let moved = sqlx::query(
        "UPDATE otp_codes SET code_hash = (SELECT code_hash FROM otp_codes WHERE rowid = \
           (SELECT MIN(rowid) FROM otp_codes)) WHERE rowid = (SELECT MAX(rowid) FROM otp_codes)",
    )
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.rows_affected(), 1);
    let check = f.vault.verify_otp(&f.tenant, "victim@example.com", &["111111"]).await;
    assert!(matches!(check, Ok(flowvault_store::OtpCheck::Wrong)), "{check:?}");
}

/// Two processes on one file: each check reads and writes the row under SQLite's write lock, so
/// a code is valid for one of them only and every wrong attempt counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_from_two_processes_on_one_file_are_atomic() {
    use flowvault_store::OtpCheck;
    let f = Fixture::new().await;
    let second = Arc::new(SqliteStore::open(&f.db_path()).await.unwrap_or_else(|e| panic!("{e}")));
    let stores: [Arc<dyn Store>; 2] = [f.store.clone(), second];
    let row = |at: &str| flowvault_store::OtpRow {
        reference_hash: vec![1; 36],
        code_hash: vec![7; 36],
        created_at: at.parse().unwrap_or_else(|_| panic!()),
        expires_at: "2099-01-01T00:00:00.000Z".parse().unwrap_or_else(|_| panic!()),
    };
    let race = |code: u8| {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (store, tenant) = (stores[i % 2].clone(), f.tenant.clone());
                tokio::spawn(async move {
                    let matches = move |stored: &[u8]| stored == [code; 36].as_slice();
                    let now = "2030-01-01T00:00:00.000Z".parse().unwrap_or_else(|_| panic!());
                    store.check_otp(&tenant, &[1; 36], now, 5, &matches).await
                })
            })
            .collect();
        async move {
            let mut seen = Vec::new();
            for t in tasks {
                let check = t.await.unwrap_or_else(|e| panic!("{e}"));
                seen.push(check.unwrap_or_else(|e| panic!("{e}")));
            }
            seen
        }
    };
    let count = |seen: &[OtpCheck], which| seen.iter().filter(|s| **s == which).count();
    stores[1]
        .put_otp(&f.tenant, &row("2030-01-01T00:00:00.000Z"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = race(7).await;
    assert_eq!(
        (count(&seen, OtpCheck::Valid), count(&seen, OtpCheck::NotFound)),
        (1, 15),
        "{seen:?}"
    );
    stores[0]
        .put_otp(&f.tenant, &row("2030-01-01T00:00:00.000Z"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = race(8).await;
    assert_eq!(
        (count(&seen, OtpCheck::Wrong), count(&seen, OtpCheck::TooManyAttempts)),
        (4, 1),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_sealed_setup_copied_to_another_row_does_not_open() {
    let f = Fixture::new().await;
    let mk = |name: &str, key: &str| {
        new_connection(json!({"name": name, "app_id": "TWILIO", "setup": twilio_setup(key)}))
    };
    let a = f.vault.create_connection(&f.tenant, mk("victim", "victim-key")).await;
    let b = f.vault.create_connection(&f.tenant, mk("attacker", "attacker-key")).await;
    let (a, b) = (a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}")));

    // Someone with write access to the database moves A's envelope into B's row.
    let url = format!("sqlite://{}", f.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let moved = sqlx::query(
        "UPDATE connections SET setup_sealed = (SELECT setup_sealed FROM connections WHERE id = ?1) WHERE id = ?2",
    )
    .bind(a.id.as_str())
    .bind(b.id.as_str())
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.rows_affected(), 1);

    let err = f.vault.open_setup(&f.tenant, &b.id).await.err();
    assert!(
        matches!(&err, Some(VaultError::Sealed { object, .. }) if object == b.id.as_str()),
        "{err:?}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(b.id.as_str()) && message.contains("do not decrypt"), "{message}");
    assert!(!message.contains("victim-key"));
    // A itself still opens.
    assert!(f.vault.open_setup(&f.tenant, &a.id).await.is_ok_and(|s| s.is_some()));
}

#[tokio::test]
async fn a_stale_version_is_refused_and_nothing_is_lost() {
    let f = Fixture::new().await;
    let body = json!({"name": "v1", "app_id": "TWILIO", "setup": twilio_setup("k1")});
    let c = f
        .vault
        .create_connection(&f.tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Two editors read version 1; the first one's write lands.
    let rename = |n: &str| {
        validate_patch(AppId::Twilio, &json!({"name": n})).unwrap_or_else(|e| panic!("{e}"))
    };
    let first = f.vault.update_connection(&f.tenant, &c.id, rename("first"), c.version).await;
    assert!(first.is_ok_and(|u| u.version == 2));

    // The second one's write, based on version 1, is refused…
    let setup =
        validate_setup(AppId::Twilio, &twilio_setup("k2")).unwrap_or_else(|e| panic!("{e}"));
    let patch = flowvault_core::ConnectionPatch { name: None, setup: Some(setup) };
    let second = f.vault.update_connection(&f.tenant, &c.id, patch, c.version).await;
    assert!(matches!(second, Err(VaultError::VersionConflict { current: 2 })), "{second:?}");

    // …and the first one's is intact: name and credentials.
    let now = f.vault.connection(&f.tenant, &c.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((now.name.as_str(), now.version), ("first", 2));
    let setup = f.vault.open_setup(&f.tenant, &c.id).await.ok().flatten();
    assert_eq!(setup.and_then(|s| s.expose("api_key").map(str::to_owned)).as_deref(), Some("k1"));

    // The store's compare-and-set refuses it too, whoever calls it.
    let dyn_store: &dyn Store = f.store.as_ref();
    let change = flowvault_store::ConnectionChange {
        name: Some(flowvault_core::ConnectionName::parse("x").unwrap_or_else(|e| panic!("{e}"))),
        setup: None,
        tokens: flowvault_store::TokenReset::Keep,
        updated_at: now.updated_at,
    };
    let raced = dyn_store.update_connection(&f.tenant, &c.id, 1, &change).await;
    assert!(matches!(raced, Err(flowvault_store::StoreError::VersionConflict { current: 2 })));

    // Deletes honour the version too.
    let del = f.vault.delete_connection(&f.tenant, &c.id, Some(1)).await;
    assert!(matches!(del, Err(VaultError::VersionConflict { current: 2 })));
    assert!(f.vault.delete_connection(&f.tenant, &c.id, Some(2)).await.is_ok());
    assert!(matches!(f.vault.connection(&f.tenant, &c.id).await, Err(VaultError::NotFound)));
    assert!(matches!(
        f.vault.delete_connection(&f.tenant, &c.id, None).await,
        Err(VaultError::NotFound)
    ));
}

#[tokio::test]
async fn tenants_do_not_see_each_other() {
    let f = Fixture::new().await;
    let other_name: TenantName = "other".parse().unwrap_or_else(|e| panic!("{e}"));
    let other = f.vault.ensure_tenant(&other_name).await.unwrap_or_else(|e| panic!("{e}")).id;
    let body = json!({"name": "mine", "app_id": "TWILIO", "setup": twilio_setup("k")});
    let c = f
        .vault
        .create_connection(&f.tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert!(matches!(f.vault.connection(&other, &c.id).await, Err(VaultError::NotFound)));
    assert!(matches!(f.vault.open_setup(&other, &c.id).await, Err(VaultError::NotFound)));
    let rename =
        validate_patch(AppId::Twilio, &json!({"name": "stolen"})).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        f.vault.update_connection(&other, &c.id, rename, 1).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.vault.delete_connection(&other, &c.id, None).await,
        Err(VaultError::NotFound)
    ));
    let all = ListQuery { app: None, offset: 0, limit: 100 };
    assert!(
        f.vault
            .list_connections(&other, &all)
            .await
            .is_ok_and(|p| p.total == 0 && p.items.is_empty())
    );
    assert!(f.vault.connection(&f.tenant, &c.id).await.is_ok_and(|c| c.name.as_str() == "mine"));
}

#[tokio::test]
async fn lists_page_and_filter() {
    let f = Fixture::new().await;
    for i in 0..5 {
        let app = if i % 2 == 0 { "TWILIO" } else { "SENDGRID" };
        let body = json!({"name": format!("c{i}"), "app_id": app});
        f.vault
            .create_connection(&f.tenant, new_connection(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let q = |app, offset, limit| ListQuery { app, offset, limit };
    let page =
        f.vault.list_connections(&f.tenant, &q(None, 1, 2)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.total, 5);
    assert_eq!(page.items.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c1", "c2"]);
    let page = f.vault.list_connections(&f.tenant, &q(Some(AppId::Twilio), 0, 10)).await;
    let names: Vec<String> =
        page.map(|p| p.items.iter().map(|c| c.name.to_string()).collect()).unwrap_or_default();
    assert_eq!(names, ["c0", "c2", "c4"]);
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_and_writes_nothing() {
    let f = Fixture::new().await;
    let body = json!({"name": "x", "app_id": "TWILIO", "setup": twilio_setup("k")});
    f.vault
        .create_connection(&f.tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    f.store.close().await;
    let before = std::fs::read(f.db_path()).unwrap_or_default();

    let store = Arc::new(SqliteStore::open(&f.db_path()).await.unwrap_or_else(|e| panic!("{e}")));
    let wrong = MasterKey::from_bytes(&[0x5A; 32]).unwrap_or_else(|e| panic!("{e}"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let err =
        Vault::open(dyn_store, MasterKeySource::Key(wrong), Arc::new(SystemClock)).await.err();
    assert!(matches!(err, Some(VaultError::Unlock(UnlockError::WrongMasterKey))), "{err:?}");
    store.close().await;
    assert_eq!(std::fs::read(f.db_path()).unwrap_or_default(), before, "the database changed");

    // The right key still opens it, with the data intact.
    let (_, vault) = open(&f.db_path(), &KEY_A).await;
    let tenant = vault.tenant(&TenantName::default_tenant()).await.ok().flatten();
    assert!(tenant.is_some());
}

#[tokio::test]
async fn a_passphrase_vault_opens_only_with_its_passphrase() {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("vault.db");
    let open_with = |source: MasterKeySource| {
        let path = path.clone();
        async move {
            let store: Arc<dyn Store> =
                Arc::new(SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("{e}")));
            Vault::open(store, source, Arc::new(SystemClock)).await.map(|(_, opened)| opened)
        }
    };
    let pass = |s: &str| MasterKeySource::Passphrase(SecretString::from(s.to_owned()));
    assert!(matches!(open_with(pass("correct horse")).await, Ok(Opened::Created)));
    assert!(matches!(open_with(pass("correct horse")).await, Ok(Opened::Existing)));
    assert!(matches!(
        open_with(pass("battery staple")).await,
        Err(VaultError::Unlock(UnlockError::WrongMasterKey))
    ));
    let key = MasterKeySource::Key(MasterKey::from_bytes(&KEY_A).unwrap_or_else(|e| panic!("{e}")));
    assert!(matches!(
        open_with(key).await,
        Err(VaultError::KeyKindMismatch { vault: "passphrase", given: "key" })
    ));
}

#[tokio::test]
async fn concurrent_first_opens_agree_on_one_keyring() {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("vault.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("{e}")));
    let opens = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = MasterKey::from_bytes(&KEY_A).unwrap_or_else(|e| panic!("{e}"));
            Vault::open(store, MasterKeySource::Key(key), Arc::new(SystemClock)).await
        })
    });
    let mut created = 0;
    let mut vaults = Vec::new();
    for handle in opens {
        let (vault, opened) =
            handle.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
        created += usize::from(opened == Opened::Created);
        vaults.push(vault);
    }
    assert_eq!(created, 1);
    // What one sealed, every other opens.
    let tenant = vaults[0]
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let body = json!({"name": "x", "app_id": "TWILIO", "setup": twilio_setup("k")});
    let c = vaults[0]
        .create_connection(&tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for v in &vaults[1..] {
        assert!(v.open_setup(&tenant, &c.id).await.is_ok_and(|s| s.is_some()));
    }
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let f = Fixture::new().await;
    let id = ConnectionId::generate();
    assert!(matches!(f.vault.connection(&f.tenant, &id).await, Err(VaultError::NotFound)));
}

#[tokio::test]
async fn the_database_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = Fixture::new().await;
    let body = json!({"name": "SMS", "app_id": "TWILIO", "setup": twilio_setup("tok-perm")});
    f.vault
        .create_connection(&f.tenant, new_connection(body))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", f.db_path().display());
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "{path}");
    }
    // A file an earlier build left readable by others is narrowed at the next open.
    f.store.close().await;
    std::fs::set_permissions(f.db_path(), std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let _reopened = SqliteStore::open(&f.db_path()).await.unwrap_or_else(|e| panic!("{e}"));
    let mode = std::fs::metadata(f.db_path()).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
}

/// What an earlier build stored for a provider that answered `expires_in: 1e12`: a year past
/// 9999, which sorted before every real time and wedged the refresher. The migration that
/// bounds times marks such rows in error and schedules them now; rows of other tenants are
/// untouched and still claimed on time.
#[tokio::test]
async fn out_of_range_token_times_are_repaired() {
    let f = Fixture::new().await;
    let other = f.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let mk = |name: &str| {
        new_connection(
            json!({"name": name, "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS",
            "token_endpoint": "https://idp.example.com/token", "client_id": "c", "client_secret": "s3cret-value"}}),
        )
    };
    let wedged =
        f.vault.create_connection(&f.tenant, mk("wedged")).await.unwrap_or_else(|e| panic!("{e}"));
    let fine =
        f.vault.create_connection(&other, mk("fine")).await.unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", f.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE connections SET expires_at = '+33715-06-01T00:00:00.000Z', refresh_at = '+33715-01-01T00:00:00.000Z' WHERE id = ?1")
        .bind(wedged.id.as_str())
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE connections SET refresh_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1")
        .bind(fine.id.as_str())
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The wedged row sorts first and does not parse; the claim still takes the other row.
    let now: flowvault_core::Timestamp =
        "2026-12-03T00:00:00Z".parse().unwrap_or_else(|_| panic!());
    let later: flowvault_core::Timestamp =
        "2026-12-03T00:01:00Z".parse().unwrap_or_else(|_| panic!());
    let claimed = f.store.claim_due("r", now, later, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(claimed.iter().any(|(t, id)| t == &other && id == &fine.id), "{claimed:?}");

    let migration = include_str!("../../migrations/sqlite/0006_integrity.sql");
    let repair =
        &migration[migration.find("UPDATE connections").unwrap_or_else(|| panic!("no repair"))..];
    sqlx::raw_sql(sqlx::AssertSqlSafe(repair.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let row = f.store.connection(&f.tenant, &wedged.id).await.unwrap_or_else(|e| panic!("{e}"));
    let row = row.unwrap_or_else(|| panic!("gone"));
    assert_eq!(row.token.expires_at, None);
    assert!(row.token.refresh_at.is_some_and(|at| at.to_string().starts_with("20")));
    assert!(row.token.last_error.is_some_and(|e| e.contains("out of range")));
    let untouched = f.store.connection(&other, &fine.id).await.ok().flatten();
    assert!(untouched.is_some_and(|r| r.token.last_error.is_none()));
}

/// A change made by another process on the same file (the CLI beside a running server) is
/// what this process reads next — a connection's credentials, and a flow about to run — however
/// recently it read the row before.
#[tokio::test]
async fn changes_from_another_process_are_read_at_once() {
    let f = Fixture::new().await;
    let (_other_store, other) = open(&f.db_path(), &KEY_A).await;
    let body = json!({"name": "Twilio", "app_id": "TWILIO", "setup": twilio_setup("tok-1")});
    let c = f.vault.create_connection(&f.tenant, new_connection(body)).await;
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    let new = flowvault_core::validate_flow_create(&json!({"name": "F", "actions": []}))
        .unwrap_or_else(|e| panic!("{e}"));
    let flow = f.vault.create_flow(&f.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..3 {
        let read = f.vault.open_setup(&f.tenant, &c.id).await.ok().flatten();
        assert_eq!(
            read.and_then(|s| s.expose("api_key").map(str::to_owned)).as_deref(),
            Some("tok-1")
        );
        let to_run = f.vault.flow_to_run(&f.tenant, &flow.id).await;
        assert_eq!(to_run.unwrap_or_else(|e| panic!("{e}")).name.as_str(), "F");
    }

    let patch = validate_patch(AppId::Twilio, &json!({"setup": twilio_setup("tok-2")}));
    let patch = patch.unwrap_or_else(|e| panic!("{e}"));
    other
        .update_connection(&f.tenant, &c.id, patch, c.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let patch = flowvault_core::validate_flow_patch(&json!({"name": "G"}))
        .unwrap_or_else(|e| panic!("{e}"));
    other
        .update_flow(&f.tenant, &flow.id, patch, flow.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let read = f.vault.open_setup(&f.tenant, &c.id).await.ok().flatten();
    assert_eq!(read.and_then(|s| s.expose("api_key").map(str::to_owned)).as_deref(), Some("tok-2"));
    let to_run = f.vault.flow_to_run(&f.tenant, &flow.id).await;
    assert_eq!(to_run.unwrap_or_else(|e| panic!("{e}")).name.as_str(), "G");

    other.delete_flow(&f.tenant, &flow.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(f.vault.flow_to_run(&f.tenant, &flow.id).await, Err(VaultError::NotFound)));
}
