//! The `Store` trait: everything flowvault persists, whatever the database.

use async_trait::async_trait;
use flowvault_core::{
    AppId, ClientId, ConnectionId, ExecutionId, FlowId, TenantId, TenantName, Timestamp,
};
use flowvault_crypto::SealedKey;

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
use crate::records::{
    ClientRow, ConnectionChange, ConnectionRow, DeliveryRow, ListQuery, OAuthStateRow, OtpCheck,
    OtpRow, Page, RowUpgrade, SigningKeyRow, SummaryRow, Tenant, TokenWrite,
};
use crate::user_records::UserStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such row in this tenant (rows of other tenants are never visible).
    #[error("not found")]
    NotFound,
    /// The row changed since it was read: its version is now `current`.
    #[error("the row was changed by someone else (now at version {current})")]
    VersionConflict {
        /// The version now stored.
        current: u64,
    },
    /// A row with this key already exists.
    #[error("already exists")]
    AlreadyExists,
    /// A stored value does not parse: the database was edited by hand or is damaged.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether the database was locked by another process for longer than the wait allowed
    /// (SQLite's `SQLITE_BUSY`): trying again later may succeed.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        let StoreError::Database(e) = self else { return false };
        match e.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(d)) => {
                // SQLite's primary result code is the low byte of the extended one.
                d.code().and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| c & 0xff == 5)
            }
            Some(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }
}

/// Everything flowvault persists. Split by subject as subjects are added: [`UserStore`] holds
/// dashboard users and sessions.
///
/// Every method that touches tenant data takes the tenant, and implementations scope every query
/// by it. Updates are compare-and-set on the row's `version`, so several flowvault processes can
/// share one database without losing writes; nothing here relies on a single process or on
/// database-specific semantics beyond transactions.
#[async_trait]
pub trait Store: UserStore + Send + Sync + std::fmt::Debug {
    /// A vault-wide setting.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// The stored keyring, empty for a vault that was never initialised.
    async fn keyring(&self) -> Result<Vec<SealedKey>, StoreError>;

    /// Initialises the vault in one transaction: writes `meta` and `keys` unless a keyring is
    /// already stored. Returns `false` (writing nothing) if another process got there first.
    async fn initialise(
        &self,
        meta: &[(&str, String)],
        keys: &[SealedKey],
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Brings a vault written by an earlier build up to date in one write transaction: reads
    /// the keyring and asks `upgrade` for the new one (returning `false`, writing nothing, if it
    /// declines), then rewrites every connection, client, flow and execution as `upgrade` says,
    /// and stores the new keyring last.
    async fn upgrade_rows(&self, upgrade: &dyn RowUpgrade) -> Result<bool, StoreError>;

    /// The tenant called `name`, if it exists.
    async fn tenant_by_name(&self, name: &TenantName) -> Result<Option<Tenant>, StoreError>;

    /// The tenant called `name`, created (with a fresh id) if it does not exist yet.
    async fn ensure_tenant(&self, name: &TenantName, now: Timestamp) -> Result<Tenant, StoreError>;

    /// Stores a new connection.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if the id is taken.
    async fn insert_connection(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<(), StoreError>;

    /// One connection.
    async fn connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRow>, StoreError>;

    /// A page of connections, oldest first.
    async fn list_connections(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ConnectionRow>, StoreError>;

    /// Every connection of the tenant (of `app`, if given; whose name contains `search`, if
    /// given, compared in ASCII lower case, or whose id is `search`), without envelopes, by app
    /// id and then name.
    async fn connection_summaries(
        &self,
        tenant: &TenantId,
        app: Option<AppId>,
        search: Option<&str>,
    ) -> Result<Vec<SummaryRow>, StoreError>;

    /// Applies `change` if the row is still at `expected_version`, and returns the new row.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError::VersionConflict`] if the row moved on.
    async fn update_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: u64,
        change: &ConnectionChange,
    ) -> Result<ConnectionRow, StoreError>;

    /// Deletes a connection, if it is at `expected_version` when one is given.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError::VersionConflict`].
    async fn delete_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Stores a new management client.
    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError>;

    /// A management client by id, whatever its tenant: the token endpoint knows only the id.
    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError>;

    /// A tenant's management clients, oldest first.
    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<ClientRow>, StoreError>;

    /// Deletes a tenant's management client.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the tenant has no such client.
    async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<(), StoreError>;

    /// The token signing keys, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError>;

    /// Stores the first signing key, unless one exists already (another process may have made
    /// it first): returns whether this one was stored.
    async fn insert_first_signing_key(&self, row: &SigningKeyRow) -> Result<bool, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Leases up to `limit` connections whose `refresh_at` has come (and that nobody else holds)
    /// to `owner` until `until`, soonest first. Only their keys are read here, so a row whose
    /// other columns do not parse can't stop the claim (see [`Store::mark_unreadable`]).
    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(TenantId, ConnectionId)>, StoreError>;

    /// Takes a connection whose stored token state can't be read out of the schedule: marks it
    /// in error with `message`, drops its schedule and token times, and releases any lease. The
    /// row stays until someone updates the connection; no other row waits on it.
    async fn mark_unreadable(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        message: &str,
    ) -> Result<(), StoreError>;

    /// Leases one connection to `owner` until `until`, if nobody else holds it (an expired lease
    /// counts as free). `None` if someone else does.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ConnectionRow>, StoreError>;

    /// Gives up `owner`'s lease without writing anything else.
    async fn release_lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
    ) -> Result<(), StoreError>;

    /// Writes the outcome of a refresh if the tokens are still at `tokens_version` (even if
    /// `owner`'s lease ran out meanwhile: nobody else stored tokens, so what this refresh got —
    /// a rotated refresh token, say — is the newest there is), and releases `owner`'s lease.
    ///
    /// # Errors
    /// [`StoreError::VersionConflict`] (with the current tokens version) if the tokens moved on.
    async fn finish_refresh(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        tokens_version: u64,
        write: &TokenWrite,
    ) -> Result<ConnectionRow, StoreError>;

    /// The earliest `refresh_at` of any connection.
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Marks (or, with `None`, unmarks) a connection as lacking scopes.
    async fn set_missing_scopes(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        missing: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Every connection with an `OAUTH_CODE` setup, across tenants (for scope checks).
    async fn oauth_code_connections(&self) -> Result<Vec<(TenantId, ConnectionRow)>, StoreError>;

    /// Stores a pending authorization.
    async fn insert_oauth_state(&self, row: &OAuthStateRow) -> Result<(), StoreError>;

    /// Takes (and deletes: states are single-use) a pending authorization.
    async fn take_oauth_state(
        &self,
        state_hash: &[u8],
    ) -> Result<Option<OAuthStateRow>, StoreError>;

    /// Stores a tenant's one-time code for `row.reference_hash`, in place of any earlier code
    /// for it (whose attempts go with it), and deletes every code, of any tenant, expired by
    /// `row.created_at`: abandoned codes are swept as new ones are made.
    async fn put_otp(&self, tenant: &TenantId, row: &OtpRow) -> Result<(), StoreError>;

    /// Checks the tenant's code for `reference_hash` at `now` as [`OtpCheck`] says, in one write
    /// transaction: two checks of one code can't both find it valid, and no attempt goes
    /// uncounted. `matches` is given the stored code hash (the store never sees a key). A code
    /// that matches, has expired, or has used up `max_attempts` is deleted; a code that does
    /// not match counts one more attempt.
    async fn check_otp(
        &self,
        tenant: &TenantId,
        reference_hash: &[u8],
        now: Timestamp,
        max_attempts: u32,
        matches: &(dyn for<'h> Fn(&'h [u8]) -> bool + Sync),
    ) -> Result<OtpCheck, StoreError>;

    /// The tenant's delivery settings, if it has any.
    async fn delivery(&self, tenant: &TenantId) -> Result<Option<DeliveryRow>, StoreError>;

    /// Stores the tenant's delivery settings, in place of any earlier ones.
    async fn put_delivery(&self, tenant: &TenantId, row: &DeliveryRow) -> Result<(), StoreError>;

    /// Deletes the tenant's delivery settings; returns whether it had any.
    async fn delete_delivery(&self, tenant: &TenantId) -> Result<bool, StoreError>;

    /// Stores a new flow and the connections its actions use.
    async fn insert_flow(
        &self,
        tenant: &TenantId,
        row: &FlowRow,
        connections: &[ConnectionId],
    ) -> Result<(), StoreError>;

    /// One flow.
    async fn flow(&self, tenant: &TenantId, id: &FlowId) -> Result<Option<FlowRow>, StoreError>;

    /// A page of flows, oldest first.
    async fn list_flows(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<FlowRow>, StoreError>;

    /// Applies `change` if the flow is still at `expected_version`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or [`StoreError::VersionConflict`].
    async fn update_flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected_version: u64,
        change: &FlowChange,
    ) -> Result<FlowRow, StoreError>;

    /// Deletes a flow and its executions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn delete_flow(&self, tenant: &TenantId, id: &FlowId) -> Result<(), StoreError>;

    /// The flows whose actions use `connection`: `(id, name)`.
    async fn flows_using(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<(FlowId, String)>, StoreError>;

    /// Stores an execution, and notes on its flow when it last ran.
    async fn insert_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError>;

    /// Updates an execution (status, record, times).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn update_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError>;

    /// One execution of a flow.
    async fn execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionRow>, StoreError>;

    /// A page of a flow's executions, newest first.
    async fn list_executions(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        query: &ExecutionQuery,
    ) -> Result<ExecutionPage, StoreError>;

    /// Deletes one execution.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn delete_execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<(), StoreError>;

    /// Deletes every execution created before `before` (retention); returns how many.
    async fn delete_executions_before(&self, before: Timestamp) -> Result<u64, StoreError>;
}
