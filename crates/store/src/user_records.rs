//! Dashboard users and sessions as stored, and the part of the store that keeps them.

use std::fmt;

use async_trait::async_trait;
use flowvault_core::{Email, Role, TenantId, Timestamp, UserId};

use crate::store::StoreError;

/// A dashboard user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// `us_…`.
    pub id: UserId,
    /// The tenant they sign in to.
    pub tenant_id: TenantId,
    /// The address they sign in with, lower-cased.
    pub email: Email,
    /// What they may do.
    pub role: Role,
    /// Argon2id PHC string of their password.
    pub password_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// MAC over the id, tenant, e-mail, role and password hash.
    pub mac: Vec<u8>,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A sign-in session as stored: found by the MAC of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// MAC of the cookie's secret under the keyring's integrity key.
    pub id_hash: Vec<u8>,
    /// The tenant of its user.
    pub tenant_id: TenantId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// When the session was last used (to the minute: not every request writes).
    pub last_seen_at: Timestamp,
    /// When it ends, however active it is.
    pub expires_at: Timestamp,
    /// MAC over the id hash, tenant, user, creation and end.
    pub mac: Vec<u8>,
}

/// Dashboard users and sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if the tenant has a user with this e-mail address.
    async fn insert_user(&self, row: &UserRow) -> Result<(), StoreError>;

    /// The tenant's user with this address.
    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<Option<UserRow>, StoreError>;

    /// The tenant's user `id`.
    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<UserRow>, StoreError>;

    /// The tenant's users, by e-mail address.
    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<UserRow>, StoreError>;

    /// Whether any tenant has any user (the first `serve` offers to create one if not).
    async fn any_user(&self) -> Result<bool, StoreError>;

    /// Deletes a user and their sessions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<(), StoreError>;

    /// Stores a new session, and deletes every session, of anyone, that ended by
    /// `row.created_at`.
    async fn insert_session(&self, row: &SessionRow) -> Result<(), StoreError>;

    /// The session found by `id_hash`, ended or not.
    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRow>, StoreError>;

    /// Notes that the session was used at `at`.
    async fn touch_session(&self, id_hash: &[u8], at: Timestamp) -> Result<(), StoreError>;

    /// Deletes a session (sign-out); deleting one that is gone is not an error.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError>;
}
