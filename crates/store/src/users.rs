//! Dashboard users and their sessions, on the vault.
//!
//! A user row is authenticated like a management client's: a MAC under the keyring's integrity
//! key over everything that decides what the user may do, so someone who can write the database
//! file can't add an admin or promote a viewer. A session is found by the MAC of the secret in
//! its cookie, so a session row written by hand matches no cookie. The CSRF token of a session is
//! a MAC of that secret too: nothing more to store, and it can't be computed without the key.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{Email, Role, TenantId, Timestamp, UserId};
use flowvault_crypto::{CryptoError, hash_password, verify_nothing, verify_password};
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use crate::user_records::{SessionRow, UserRow};
use crate::vault::{Vault, VaultError};

const USER_MAC: &str = "dashboard-user";
const SESSION_MAC: &str = "dashboard-session";
const CSRF_MAC: &str = "dashboard-csrf";
const SESSION_ROW_MAC: &str = "dashboard-session-row";

/// Bytes of randomness in a session's secret.
const SESSION_SECRET_LEN: usize = 32;

/// How often a session in use has its last use written: more often would write on every page.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A dashboard user, as the server and the CLI see them (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardUser {
    /// `us_…`.
    pub id: UserId,
    /// Their tenant.
    pub tenant_id: TenantId,
    /// The address they sign in with.
    pub email: Email,
    /// What they may do.
    pub role: Role,
    /// When they were created.
    pub created_at: Timestamp,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// A session this old has ended, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours in all: a working day, and a laptop left open over lunch
    /// signs in again.
    fn default() -> Self {
        Self { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(12 * 60 * 60) }
    }
}

/// The secret a session cookie carries. Shown once, to be set as the cookie; never stored.
pub struct SessionSecret(SecretString);

impl SessionSecret {
    /// The cookie value.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for SessionSecret {
    fn from(s: String) -> Self {
        Self(SecretString::from(s))
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

/// A live session: who is signed in, and the token their forms must carry.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: DashboardUser,
    /// The CSRF token of this session (a MAC of its secret).
    pub csrf: String,
    /// When the session ends at the latest.
    pub expires_at: Timestamp,
}

impl SignedIn {
    /// Whether `given` is this session's CSRF token (compared in constant time).
    #[must_use]
    pub fn csrf_matches(&self, given: &str) -> bool {
        given.len() == self.csrf.len() && bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

impl Vault {
    /// Creates a dashboard user of `tenant`. The password must pass
    /// [`flowvault_core::check_new_password`] (the caller checks, to word the error its way).
    ///
    /// # Errors
    /// [`VaultError::UserExists`] if the tenant has a user with this address, the store's, or
    /// [`VaultError::Crypto`].
    pub async fn create_user(
        &self,
        tenant: &TenantId,
        email: Email,
        role: Role,
        password: SecretString,
    ) -> Result<DashboardUser, VaultError> {
        let password_hash = blocking(move || hash_password(password.expose_secret())).await??;
        let id = UserId::generate();
        let mac =
            self.keyring.mac(USER_MAC, &user_parts(&id, tenant, &email, role, &password_hash))?;
        let row = UserRow {
            id,
            tenant_id: tenant.clone(),
            email,
            role,
            password_hash,
            created_at: self.clock.now(),
            mac: mac.to_vec(),
        };
        match self.store.insert_user(&row).await {
            Ok(()) => Ok(user_view(row)),
            Err(crate::StoreError::AlreadyExists) => Err(VaultError::UserExists(row.email)),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's user with this address if `password` is theirs; `None` for an unknown
    /// address, a wrong password, or a row that fails its integrity check (not told apart, and
    /// all taking the time of one password check).
    ///
    /// # Errors
    /// The store's.
    pub async fn authenticate_user(
        &self,
        tenant: &TenantId,
        email: &Email,
        password: SecretString,
    ) -> Result<Option<DashboardUser>, VaultError> {
        let row = self.authentic_user(self.store.user_by_email(tenant, email).await?);
        let Some(row) = row else {
            blocking(move || verify_nothing(password.expose_secret())).await?;
            return Ok(None);
        };
        let hash = row.password_hash.clone();
        let ok = blocking(move || verify_password(password.expose_secret(), &hash)).await?;
        Ok(ok.then(|| user_view(row)))
    }

    /// Spends the time of one password check and matches nothing: for a sign-in that names no
    /// tenant or no address, so it takes as long as a wrong password does.
    ///
    /// # Errors
    /// [`VaultError::Crypto`] if the check could not run.
    pub async fn decoy_password_check(password: SecretString) -> Result<(), VaultError> {
        blocking(move || verify_nothing(password.expose_secret())).await
    }

    /// The tenant's users, by address. Rows that fail their integrity check are left out.
    ///
    /// # Errors
    /// The store's.
    pub async fn users(&self, tenant: &TenantId) -> Result<Vec<DashboardUser>, VaultError> {
        let rows = self.store.list_users(tenant).await?;
        Ok(rows.into_iter().filter_map(|r| self.authentic_user(Some(r))).map(user_view).collect())
    }

    /// Whether any tenant has a dashboard user.
    ///
    /// # Errors
    /// The store's.
    pub async fn any_user(&self) -> Result<bool, VaultError> {
        Ok(self.store.any_user().await?)
    }

    /// Deletes a user; their sessions end at once.
    ///
    /// # Errors
    /// [`VaultError::NotFound`] if the tenant has no such user.
    pub async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<(), VaultError> {
        Ok(self.store.delete_user(tenant, id).await?)
    }

    /// Starts a session for `user`; returns the secret for its cookie and the session.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`].
    pub async fn start_session(
        &self,
        user: DashboardUser,
        policy: SessionPolicy,
    ) -> Result<(SessionSecret, SignedIn), VaultError> {
        let mut bytes = zeroize::Zeroizing::new([0u8; SESSION_SECRET_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Rng)?;
        let secret = SessionSecret::from(URL_SAFE_NO_PAD.encode(bytes.as_slice()));
        let now = self.clock.now();
        let id_hash = self.keyring.mac(SESSION_MAC, &[secret.expose().as_bytes()])?.to_vec();
        let expires_at = now.saturating_add(policy.absolute);
        let parts = session_parts(&id_hash, &user.tenant_id, &user.id, now, expires_at);
        let mac = self.keyring.mac(SESSION_ROW_MAC, &parts.each_ref().map(Vec::as_slice))?;
        let row = SessionRow {
            id_hash,
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at,
            mac: mac.to_vec(),
        };
        self.store.insert_session(&row).await?;
        let csrf = self.csrf_token(&secret)?;
        Ok((secret, SignedIn { user, csrf, expires_at: row.expires_at }))
    }

    /// The session a cookie's secret opens, if it is live: not idle longer than the policy
    /// allows, not past its end, and its user still there and intact. Notes its use.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`].
    pub async fn session(
        &self,
        secret: &str,
        policy: SessionPolicy,
    ) -> Result<Option<SignedIn>, VaultError> {
        let id_hash = self.keyring.mac(SESSION_MAC, &[secret.as_bytes()])?;
        let Some(row) = self.store.session(&id_hash).await? else { return Ok(None) };
        let parts = session_parts(
            &row.id_hash,
            &row.tenant_id,
            &row.user_id,
            row.created_at,
            row.expires_at,
        );
        if !self.keyring.verify_mac(SESSION_ROW_MAC, &parts.each_ref().map(Vec::as_slice), &row.mac)
        {
            tracing::error!(user = %row.user_id, "dashboard session failed its integrity check (the database row was changed outside flowvault): refused");
            return Ok(None);
        }
        let now = self.clock.now();
        let idle_until = row.last_seen_at.saturating_add(policy.idle);
        if now >= row.expires_at || now >= idle_until {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let user = self.authentic_user(self.store.user(&row.tenant_id, &row.user_id).await?);
        let Some(user) = user else { return Ok(None) };
        if now.duration_since(row.last_seen_at) >= TOUCH_EVERY {
            self.store.touch_session(&id_hash, now).await?;
        }
        let csrf = self.csrf_token(&SessionSecret::from(secret.to_owned()))?;
        Ok(Some(SignedIn { user: user_view(user), csrf, expires_at: row.expires_at }))
    }

    /// Ends the session a cookie's secret opens (sign-out). Ending one that is gone is fine.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`].
    pub async fn end_session(&self, secret: &str) -> Result<(), VaultError> {
        let id_hash = self.keyring.mac(SESSION_MAC, &[secret.as_bytes()])?;
        Ok(self.store.delete_session(&id_hash).await?)
    }

    fn csrf_token(&self, secret: &SessionSecret) -> Result<String, VaultError> {
        Ok(URL_SAFE_NO_PAD.encode(self.keyring.mac(CSRF_MAC, &[secret.expose().as_bytes()])?))
    }

    /// `row` if its MAC holds; otherwise `None`, and an error in the log.
    fn authentic_user(&self, row: Option<UserRow>) -> Option<UserRow> {
        let row = row?;
        let parts = user_parts(&row.id, &row.tenant_id, &row.email, row.role, &row.password_hash);
        if self.keyring.verify_mac(USER_MAC, &parts, &row.mac) {
            Some(row)
        } else {
            tracing::error!(user = %row.id, "dashboard user failed its integrity check (the database row was changed outside flowvault): refused");
            None
        }
    }
}

fn user_parts<'a>(
    id: &'a UserId,
    tenant: &'a TenantId,
    email: &'a Email,
    role: Role,
    password_hash: &'a str,
) -> [&'a [u8]; 5] {
    [
        id.as_str().as_bytes(),
        tenant.as_str().as_bytes(),
        email.as_str().as_bytes(),
        role.as_str().as_bytes(),
        password_hash.as_bytes(),
    ]
}

/// What a session row's MAC covers: its key, whose it is, and when it starts and ends.
fn session_parts(
    id_hash: &[u8],
    tenant: &TenantId,
    user: &UserId,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> [Vec<u8>; 5] {
    [
        id_hash.to_vec(),
        tenant.as_str().as_bytes().to_vec(),
        user.as_str().as_bytes().to_vec(),
        created_at.to_string().into_bytes(),
        expires_at.to_string().into_bytes(),
    ]
}

fn user_view(row: UserRow) -> DashboardUser {
    DashboardUser {
        id: row.id,
        tenant_id: row.tenant_id,
        email: row.email,
        role: row.role,
        created_at: row.created_at,
    }
}

/// Password hashes computed at once, at most: each takes 19 MiB and a core for tens of
/// milliseconds, so a flood of sign-ins (each with another address, past any throttle) queues
/// here instead of taking every blocking thread and gigabytes of memory.
fn hashing() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores)
    })
}

/// Runs password hashing off the async workers, a few at a time (see [`hashing`]).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, VaultError> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit =
        hashing().acquire().await.map_err(|_| VaultError::Crypto(CryptoError::KdfParams))?;
    tokio::task::spawn_blocking(f).await.map_err(|_| VaultError::Crypto(CryptoError::KdfParams))
}
