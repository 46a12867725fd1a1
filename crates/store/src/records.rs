//! What the store keeps: rows in their stored form (secrets already sealed).

use std::fmt;

use flowvault_core::{
    AccountName, AppId, ClientId, ClientName, ConnectionId, ConnectionName, Environment, Scopes,
    SetupType, TenantId, TenantName, Timestamp,
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

/// A sealed setup and its (clear) type.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSetup {
    /// `setup.type`, kept in clear so lists can show it without opening anything.
    pub setup_type: SetupType,
    /// The envelope of the canonical setup JSON.
    pub sealed: Vec<u8>,
}

/// A change to a connection, applied only if its version is still the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionChange {
    /// A new name.
    pub name: Option<ConnectionName>,
    /// New credentials, with their new fingerprint.
    pub setup: Option<(SealedSetup, String)>,
    /// The time of the change.
    pub updated_at: Timestamp,
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
    /// Hash of the client secret.
    pub secret_hash: Vec<u8>,
    /// The scopes its tokens may carry.
    pub scopes: Scopes,
    /// Creation time.
    pub created_at: Timestamp,
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
