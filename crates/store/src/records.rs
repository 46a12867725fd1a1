//! What the store keeps: rows in their stored form (secrets already sealed).

use std::fmt;

use flowvault_core::{
    AccountName, AppId, ClientId, ClientName, ConnectionId, ConnectionName, Environment, Scopes,
    SetupType, TenantId, TenantName, Timestamp, TokenProblem,
};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `tn_…`.
    pub id: TenantId,
    /// The name operators use.
    pub name: TenantName,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A vault connection as stored: metadata in clear, credentials and tokens sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    /// `ac_…`.
    pub id: ConnectionId,
    /// The app.
    pub app_id: AppId,
    /// The display name.
    pub name: ConnectionName,
    /// Auth0's environment label.
    pub environment: Option<Environment>,
    /// The account the credentials act as.
    pub account_name: Option<AccountName>,
    /// The setup's type and its envelope, or `None` for an empty connection.
    pub setup: Option<SealedSetup>,
    /// The envelope of the token state (OAuth apps), if any.
    pub tokens_sealed: Option<Vec<u8>>,
    /// The clear-text state of the tokens: schedule, errors, lease.
    pub token: TokenMeta,
    /// Keyed hash of the canonical setup.
    pub fingerprint: String,
    /// Starts at 1; every update adds 1.
    pub version: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last token refresh.
    pub refreshed_at: Option<Timestamp>,
}

/// What the refresher and the API need to know about a connection's tokens, in clear. The tokens
/// themselves are in `tokens_sealed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenMeta {
    /// Bumped by every write of the tokens; token writes compare-and-set on it.
    pub tokens_version: u64,
    /// A problem with the tokens, if any.
    pub problem: Option<TokenProblem>,
    /// When the access token expires.
    pub expires_at: Option<Timestamp>,
    /// When the refresher should act next.
    pub refresh_at: Option<Timestamp>,
    /// Scopes the provider granted (space-separated).
    pub granted_scopes: Option<String>,
    /// Scopes asked for but not granted (space-separated), when `problem` is `NeedsUpdate`.
    pub missing_scopes: Option<String>,
    /// Why the last attempt failed (no secret in it).
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// Who holds the refresh lease.
    pub lease_owner: Option<String>,
    /// Until when.
    pub lease_until: Option<Timestamp>,
}

/// The outcome of a refresh (or of a "Connect"), written under the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenWrite {
    /// New tokens.
    Tokens {
        /// Envelope of the new token state.
        sealed: Vec<u8>,
        /// Expiry of the new access token.
        expires_at: Option<Timestamp>,
        /// When to refresh next.
        refresh_at: Option<Timestamp>,
        /// Granted scopes, if the provider said (otherwise the old ones stay).
        granted_scopes: Option<String>,
        /// The account the provider says the tokens act as.
        account_name: Option<AccountName>,
        /// Now.
        refreshed_at: Timestamp,
        /// Whether this was a new authorization (which clears `needs_update`).
        authorized: bool,
    },
    /// A failure worth retrying at `retry_at`.
    Retry {
        /// Why (no secret in it).
        last_error: String,
        /// When to try again.
        retry_at: Timestamp,
    },
    /// A failure that retrying won't fix: stop until the connection changes.
    NeedsReauth {
        /// Why (no secret in it).
        last_error: String,
    },
}

/// What a change to a connection's setup does to its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenReset {
    /// Nothing.
    #[default]
    Keep,
    /// Keep the tokens, forget past errors, and try again at this time (or not at all).
    Reschedule(Option<Timestamp>),
    /// Drop the tokens (they came from the old credentials), and get new ones at this time.
    Clear(Option<Timestamp>),
}

/// A "Connect" in progress, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthStateRow {
    /// SHA-256 of the `state` parameter (the state itself is never stored).
    pub state_hash: Vec<u8>,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The connection being connected.
    pub connection_id: ConnectionId,
    /// The PKCE verifier, sealed.
    pub verifier_sealed: Vec<u8>,
    /// The scopes asked for.
    pub scopes: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl fmt::Debug for OAuthStateRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthStateRow")
            .field("tenant_id", &self.tenant_id)
            .field("connection_id", &self.connection_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A one-time code as stored: neither the code nor its reference, only their MACs.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpRow {
    /// MAC of the tenant and the reference (an e-mail address or phone number, often).
    pub reference_hash: Vec<u8>,
    /// MAC of the tenant, the reference and the code.
    pub code_hash: Vec<u8>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl fmt::Debug for OtpRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpRow")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A tenant's delivery settings as stored: the settings' JSON and its MAC (see
/// `flowvault_store::Vault::set_delivery_settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// The settings, as [`flowvault_core::DeliverySettings::to_json`] wrote them.
    pub settings: String,
    /// When they were last set.
    pub updated_at: Timestamp,
    /// MAC of the tenant and `settings` under the keyring's integrity key.
    pub mac: Vec<u8>,
}

/// What checking a one-time code found. Every outcome but [`OtpCheck::Wrong`] leaves no code
/// behind for the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// It matched: the code is used up.
    Valid,
    /// It did not match: the attempt was counted, and the code stays for another.
    Wrong,
    /// It did not match and no attempt is left: the code is burned.
    TooManyAttempts,
    /// The code had expired: it is gone.
    Expired,
    /// No code for this reference: never made, used, burned, expired, or made in another
    /// tenant.
    NotFound,
}

/// What a check does to a stored code: the one rule of [`crate::Store::check_otp`], which each
/// store applies inside its write transaction. `matches` is asked only when the code may still
/// be used, so an expired or burned code is never compared.
pub(crate) fn otp_step(
    expires_at: Timestamp,
    attempts: u32,
    now: Timestamp,
    max_attempts: u32,
    matches: impl FnOnce() -> bool,
) -> OtpCheck {
    if expires_at <= now {
        OtpCheck::Expired
    } else if attempts >= max_attempts {
        OtpCheck::TooManyAttempts
    } else if matches() {
        OtpCheck::Valid
    } else if attempts.saturating_add(1) >= max_attempts {
        OtpCheck::TooManyAttempts
    } else {
        OtpCheck::Wrong
    }
}

/// A sealed setup and its (clear) type.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSetup {
    /// `setup.type`, kept in clear so lists can show it without opening anything.
    pub setup_type: SetupType,
    /// The envelope of the canonical setup JSON.
    pub sealed: Vec<u8>,
}

/// A connection's secrets sealed anew, and its fingerprint, by [`RowUpgrade::connection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealedConnection {
    /// The setup's new envelope (`None`: leave it as it is).
    pub setup_sealed: Option<Vec<u8>>,
    /// The tokens' new envelope (`None`: leave them as they are).
    pub tokens_sealed: Option<Vec<u8>>,
    /// The new fingerprint.
    pub fingerprint: String,
}

/// How the rows of a vault written by an earlier build are brought up to date, row by row, in
/// the one write transaction of [`crate::Store::upgrade_rows`]. Each method says what to write
/// instead, or `None` to leave a row as it is (one that does not open, say: it stays refused).
pub trait RowUpgrade: Send + Sync {
    /// The keyring to store in place of `stored`, or `None` if `stored` is not the keyring this
    /// upgrade was planned for (another process upgraded it first): nothing is written then.
    fn keyring(
        &self,
        stored: &[flowvault_crypto::SealedKey],
    ) -> Option<Vec<flowvault_crypto::SealedKey>>;
    /// A connection's secrets, re-sealed, and its fingerprint.
    fn connection(&self, tenant: &TenantId, row: &ConnectionRow) -> Option<ResealedConnection>;
    /// A management client's `(secret_hash, mac)`.
    fn client(&self, row: &ClientRow) -> Option<(Vec<u8>, Vec<u8>)>;
    /// A flow's MAC.
    fn flow(&self, tenant: &TenantId, row: &crate::FlowRow) -> Option<Vec<u8>>;
    /// An execution's record, re-sealed.
    fn execution(&self, tenant: &TenantId, row: &crate::ExecutionRow) -> Option<Vec<u8>>;
}

/// A change to a connection, applied only if its version is still the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionChange {
    /// A new name.
    pub name: Option<ConnectionName>,
    /// New credentials, with their new fingerprint.
    pub setup: Option<(SealedSetup, String)>,
    /// What becomes of the tokens.
    pub tokens: TokenReset,
    /// The time of the change.
    pub updated_at: Timestamp,
}

/// A connection as a list of many reads it: no envelopes (see [`crate::Vault::connection_summaries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// `ac_…`.
    pub id: ConnectionId,
    /// The app.
    pub app_id: AppId,
    /// The display name.
    pub name: ConnectionName,
    /// The setup's type; `None` for an empty connection.
    pub setup_type: Option<SetupType>,
    /// Whether it holds tokens.
    pub has_tokens: bool,
    /// The token state the status depends on (problem, expiry, lease, last error, missing
    /// scopes); the other fields are left at their defaults.
    pub token: TokenMeta,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last token refresh.
    pub refreshed_at: Option<Timestamp>,
}

/// Which connections to list, and which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only connections of this app.
    pub app: Option<AppId>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// One page of a list, with the number of rows in all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page, oldest first.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
}

/// A management API client as stored (its secret only as a hash).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// `mc_…`, the OAuth `client_id`.
    pub id: ClientId,
    /// The tenant its tokens act in.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: ClientName,
    /// Keyed hash of the client secret.
    pub secret_hash: Vec<u8>,
    /// The scopes its tokens may carry.
    pub scopes: Scopes,
    /// Creation time.
    pub created_at: Timestamp,
    /// MAC over the id, tenant, scopes and secret hash (`None` only before the vault's upgrade).
    pub mac: Option<Vec<u8>>,
}

/// A token signing key as stored: the private key sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// Key id (`kid` in JWT headers and the JWKS).
    pub kid: String,
    /// JWS algorithm, e.g. `RS256`.
    pub alg: String,
    /// The envelope of the private key.
    pub private_sealed: Vec<u8>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRow")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_sealed", &SealedLen(self.private_sealed.len()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ConnectionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionRow")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("setup", &self.setup)
            .field("tokens_sealed", &self.tokens_sealed.as_ref().map(|t| SealedLen(t.len())))
            .field("token", &self.token)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SealedSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSetup({}, {:?})", self.setup_type, SealedLen(self.sealed.len()))
    }
}

struct SealedLen(usize);

impl fmt::Debug for SealedLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes sealed>", self.0)
    }
}
