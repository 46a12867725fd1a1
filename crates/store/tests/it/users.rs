//! Dashboard users and sessions: who signs in, for how long, and what someone who can write the
//! database file can't do about it (each forgery is written directly in SQLite).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowvault_core::{Clock, Email, Role, SystemClock, TenantName, Timestamp};
use flowvault_crypto::{MasterKey, hash_password};
use flowvault_store::{MasterKeySource, SessionPolicy, SqliteStore, Store, Vault, VaultError};
use secrecy::SecretString;
use sqlx::Connection as _;
use tempfile::TempDir;

/// A clock the test moves.
#[derive(Debug)]
struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *t = t.saturating_add(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Setup {
    dir: TempDir,
    vault: Vault,
    clock: Arc<ManualClock>,
    tenant: flowvault_core::TenantId,
}

async fn setup() -> Setup {
    let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("vault.db")).await.unwrap_or_else(|e| panic!("{e}")),
    );
    let master = MasterKey::from_bytes(&[0x5A; 32]).unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock(Mutex::new(SystemClock.now())));
    let dyn_store: Arc<dyn Store> = store;
    let (vault, _) = Vault::open(dyn_store, MasterKeySource::Key(master), clock.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tenant = vault
        .ensure_tenant(&TenantName::default_tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    Setup { dir, vault, clock, tenant }
}

async fn raw(s: &Setup) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", s.dir.path().join("vault.db").display());
    sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"))
}

fn email(s: &str) -> Email {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_user_signs_in_with_their_own_password_only() {
    let s = setup().await;
    let ada = s
        .vault
        .create_user(&s.tenant, email("Ada@Example.com"), Role::Editor, pw(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ada.email.as_str(), "ada@example.com");
    let found = s.vault.authenticate_user(&s.tenant, &email("ada@example.com"), pw(PASSWORD)).await;
    assert_eq!(found.unwrap_or_else(|e| panic!("{e}")).map(|u| u.id), Some(ada.id.clone()));
    for (who, password) in
        [("ada@example.com", "correct horse battery"), ("bob@example.com", PASSWORD)]
    {
        let found = s.vault.authenticate_user(&s.tenant, &email(who), pw(password)).await;
        assert!(found.unwrap_or_else(|e| panic!("{e}")).is_none(), "{who} signed in");
    }
    let again =
        s.vault.create_user(&s.tenant, email("ada@example.com"), Role::Viewer, pw(PASSWORD)).await;
    assert!(matches!(again, Err(VaultError::UserExists(_))), "{again:?}");
    // Another tenant may have its own Ada.
    let other = s.vault.ensure_tenant(&"acme".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let twin =
        s.vault.create_user(&other, email("ada@example.com"), Role::Viewer, pw(PASSWORD)).await;
    assert!(twin.is_ok(), "{twin:?}");
    let found = s.vault.authenticate_user(&other, &email("ada@example.com"), pw(PASSWORD)).await;
    assert_eq!(found.unwrap_or_else(|e| panic!("{e}")).map(|u| u.role), Some(Role::Viewer));
}

#[tokio::test]
async fn a_promoted_or_inserted_user_row_is_refused() {
    let s = setup().await;
    let viewer = s
        .vault
        .create_user(&s.tenant, email("viewer@example.com"), Role::Viewer, pw(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut db = raw(&s).await;
    // A viewer promoted to admin in the file.
    sqlx::query("UPDATE dashboard_users SET role = 'admin' WHERE id = ?1")
        .bind(viewer.id.as_str())
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let found =
        s.vault.authenticate_user(&s.tenant, &email("viewer@example.com"), pw(PASSWORD)).await;
    assert!(found.unwrap_or_else(|e| panic!("{e}")).is_none(), "a promoted row signs in");
    // An admin added by hand, with a password hash the attacker made and any MAC.
    let hash = hash_password(PASSWORD).unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(
        "INSERT INTO dashboard_users (id, tenant_id, email, role, password_hash, created_at, mac) \
         VALUES ('us_forgedforgedforgedforg', ?1, 'evil@example.com', 'admin', ?2, \
                 '2026-01-01T00:00:00.000Z', ?3)",
    )
    .bind(s.tenant.as_str())
    .bind(&hash)
    .bind(vec![0u8; 36])
    .execute(&mut db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let found =
        s.vault.authenticate_user(&s.tenant, &email("evil@example.com"), pw(PASSWORD)).await;
    assert!(found.unwrap_or_else(|e| panic!("{e}")).is_none(), "an inserted admin signs in");
    let listed = s.vault.users(&s.tenant).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.is_empty(), "forged rows are listed: {listed:?}");
}

#[tokio::test]
async fn a_session_row_written_by_hand_opens_nothing() {
    let s = setup().await;
    let admin = s
        .vault
        .create_user(&s.tenant, email("admin@example.com"), Role::Admin, pw(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = "attacker-chosen-session-secret";
    use sha2::Digest as _;
    let mut db = raw(&s).await;
    for id_hash in [sha2::Sha256::digest(secret.as_bytes()).to_vec(), secret.as_bytes().to_vec()] {
        sqlx::query(
            "INSERT INTO dashboard_sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, \
               expires_at, mac) VALUES (?1, ?2, ?3, '2026-01-01T00:00:00.000Z', \
               '9999-01-01T00:00:00.000Z', '9999-12-31T00:00:00.000Z', zeroblob(36))",
        )
        .bind(id_hash)
        .bind(s.tenant.as_str())
        .bind(admin.id.as_str())
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let opened = s.vault.session(secret, SessionPolicy::default()).await;
    assert!(opened.unwrap_or_else(|e| panic!("{e}")).is_none(), "a hand-written session opens");

    // A viewer's real session moved to the admin, or made to last longer, opens nothing either.
    let viewer = s
        .vault
        .create_user(&s.tenant, email("viewer@example.com"), Role::Viewer, pw(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let policy = SessionPolicy::default();
    for edit in [
        "UPDATE dashboard_sessions SET user_id = ?1 WHERE user_id = ?2",
        "UPDATE dashboard_sessions SET expires_at = '9999-12-31T00:00:00.000Z' WHERE user_id = ?2 AND ?1 = ?1",
    ] {
        let (secret, _) =
            s.vault.start_session(viewer.clone(), policy).await.unwrap_or_else(|e| panic!("{e}"));
        let live = s.vault.session(secret.expose(), policy).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(live.is_some());
        sqlx::query(edit)
            .bind(admin.id.as_str())
            .bind(viewer.id.as_str())
            .execute(&mut db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let opened =
            s.vault.session(secret.expose(), policy).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(opened.is_none(), "an edited session opens: {edit}");
        sqlx::query("DELETE FROM dashboard_sessions")
            .execute(&mut db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn sessions_end_when_idle_when_old_at_sign_out_and_with_their_user() {
    let s = setup().await;
    let policy = SessionPolicy::default();
    let user = s
        .vault
        .create_user(&s.tenant, email("ada@example.com"), Role::Editor, pw(PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open = |secret: String| {
        let vault = &s.vault;
        async move { vault.session(&secret, policy).await.unwrap_or_else(|e| panic!("{e}")) }
    };

    // Idle: used every 29 minutes it lives on; left 31 minutes it has ended.
    let (secret, started) =
        s.vault.start_session(user.clone(), policy).await.unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.expose().to_owned();
    for _ in 0..3 {
        s.clock.advance(Duration::from_secs(29 * 60));
        let live = open(secret.clone()).await;
        assert_eq!(live.map(|l| l.csrf), Some(started.csrf.clone()), "the session ended early");
    }
    s.clock.advance(Duration::from_secs(31 * 60));
    assert!(open(secret.clone()).await.is_none(), "an idle session lives on");

    // Absolute: used every 20 minutes, it still ends 12 hours after sign-in.
    let (secret, _) =
        s.vault.start_session(user.clone(), policy).await.unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.expose().to_owned();
    for _ in 0..(12 * 3 - 1) {
        s.clock.advance(Duration::from_secs(20 * 60));
        assert!(open(secret.clone()).await.is_some(), "an active session ended early");
    }
    s.clock.advance(Duration::from_secs(20 * 60));
    assert!(open(secret.clone()).await.is_none(), "a session outlives its absolute end");

    // Sign-out, and deleting the user, end sessions at once; CSRF tokens differ per session.
    let (a, sa) =
        s.vault.start_session(user.clone(), policy).await.unwrap_or_else(|e| panic!("{e}"));
    let (b, sb) =
        s.vault.start_session(user.clone(), policy).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(sa.csrf, sb.csrf);
    assert!(sa.csrf_matches(&sa.csrf) && !sa.csrf_matches(&sb.csrf));
    s.vault.end_session(a.expose()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(open(a.expose().to_owned()).await.is_none(), "a signed-out session opens");
    assert!(open(b.expose().to_owned()).await.is_some());
    s.vault.delete_user(&s.tenant, &user.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(open(b.expose().to_owned()).await.is_none(), "a deleted user's session opens");
}
