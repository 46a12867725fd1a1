//! The vault connection as the Management API shows it.

use std::fmt;

use serde::Serialize;

use crate::catalog::{AppId, SetupType};
use crate::ids::ConnectionId;
use crate::labels::{AccountName, ConnectionName, Environment};
use crate::time::Timestamp;

/// A vault connection's metadata: everything about it but its secrets.
///
/// Serialises as Auth0's `FlowsVaultConnection` response object; `version` travels in the
/// `ETag` header instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Connection {
    /// Flows Vault Connection identifier (`ac_…`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, max_length = 30))]
    pub id: ConnectionId,
    /// Flows Vault Connection app identifier.
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 55))]
    pub app_id: AppId,
    /// Flows Vault Connection environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 55))]
    pub environment: Option<Environment>,
    /// Flows Vault Connection name.
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 150))]
    pub name: ConnectionName,
    /// Flows Vault Connection custom account name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 150))]
    pub account_name: Option<AccountName>,
    /// Whether the Flows Vault Connection is configured.
    pub ready: bool,
    /// Keyed hash of the credentials: changes exactly when they change.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub fingerprint: String,
    /// The ISO 8601 formatted date when this Flows Vault Connection was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// The ISO 8601 formatted date when this Flows Vault Connection was updated.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// The ISO 8601 formatted date when this Flows Vault Connection was refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub refreshed_at: Option<Timestamp>,
    /// flowvault extension: what the connection can do right now.
    pub status: ConnectionStatus,
    /// flowvault extension: when the current access token expires (OAuth connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Timestamp>,
    /// flowvault extension: why the last token refresh failed (never contains a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// flowvault extension: failed refresh attempts since the last success.
    #[serde(skip_serializing_if = "is_zero")]
    pub refresh_attempts: u32,
    /// flowvault extension: scopes the app asks for that the connection was not granted
    /// (`status` is `needs_update`: reconnect to grant them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_scopes: Option<String>,
    /// The setup type of its credentials, `None` while empty.
    #[serde(skip)]
    pub setup_type: Option<SetupType>,
    /// Incremented by every change; guards updates against lost writes.
    #[serde(skip)]
    pub version: u64,
}

/// A connection's status (a flowvault extension of Auth0's object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Credentials are present and usable.
    Ready,
    /// No credentials yet ("missing credentials").
    Empty,
    /// A token refresh is in progress.
    Refreshing,
    /// The provider refused the stored grant (`invalid_grant`, …): reconnect or update the
    /// credentials; flowvault stops retrying until then.
    NeedsReauth,
    /// The app now asks for scopes this connection was not granted: reconnect.
    NeedsUpdate,
    /// Obtaining a token failed and no valid token is left; flowvault retries with backoff.
    Error,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Connection {
    /// Every field a response may hold, as serialised: what a client that read a connection
    /// (`auth0-deploy-cli` exports, say) may send back. Create and update ignore the ones they
    /// don't take. A test serialises a connection with every field set and compares, so a new
    /// response field can't be left out.
    pub const RESPONSE_FIELDS: &'static [&'static str] = &[
        "id",
        "app_id",
        "environment",
        "name",
        "account_name",
        "ready",
        "fingerprint",
        "created_at",
        "updated_at",
        "refreshed_at",
        "status",
        "expires_at",
        "last_error",
        "refresh_attempts",
        "missing_scopes",
    ];

    /// Whether a connection with credentials of `setup_type` (or none) and with or without
    /// tokens from an authorization is ready to use.
    #[must_use]
    pub fn is_ready(setup_type: Option<SetupType>, has_tokens: bool) -> bool {
        setup_type.is_some_and(|t| !t.needs_authorization() || has_tokens)
    }
}

/// A connection as a list of many shows it: what it is and the state it is in (the dashboard's
/// vault page). Read without the credentials' envelopes, so a list of thousands stays cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSummary {
    /// `ac_…`.
    pub id: ConnectionId,
    /// The app.
    pub app_id: AppId,
    /// The display name.
    pub name: ConnectionName,
    /// What it can do right now.
    pub status: ConnectionStatus,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last token refresh.
    pub refreshed_at: Option<Timestamp>,
    /// When the current access token expires.
    pub expires_at: Option<Timestamp>,
    /// Why the last token refresh failed.
    pub last_error: Option<String>,
    /// Scopes the app asks for that the connection was not granted.
    pub missing_scopes: Option<String>,
}

impl ConnectionStatus {
    /// The status as a word.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Ready => "ready",
            ConnectionStatus::Empty => "empty",
            ConnectionStatus::Refreshing => "refreshing",
            ConnectionStatus::NeedsReauth => "needs_reauth",
            ConnectionStatus::NeedsUpdate => "needs_update",
            ConnectionStatus::Error => "error",
        }
    }
}

/// What went wrong with a connection's tokens, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenProblem {
    /// The provider refused the grant; no retries until the connection changes.
    NeedsReauth,
    /// Granted scopes no longer cover what is asked.
    NeedsUpdate,
    /// The last attempt failed; a retry is scheduled.
    Error,
}

impl TokenProblem {
    /// The stored word.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TokenProblem::NeedsReauth => "needs_reauth",
            TokenProblem::NeedsUpdate => "needs_update",
            TokenProblem::Error => "error",
        }
    }
}

impl std::str::FromStr for TokenProblem {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "needs_reauth" => Ok(TokenProblem::NeedsReauth),
            "needs_update" => Ok(TokenProblem::NeedsUpdate),
            "error" => Ok(TokenProblem::Error),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection with every field set, for tests of what a response holds.
#[cfg(test)]
pub(crate) fn every_field_set() -> Connection {
    let t = Timestamp::MIN;
    Connection {
        id: ConnectionId::generate(),
        app_id: AppId::Slack,
        environment: Environment::parse("prod").ok(),
        name: ConnectionName::parse("n").unwrap_or_else(|p| panic!("{p}")),
        account_name: AccountName::parse("a").ok(),
        ready: true,
        fingerprint: "f".to_owned(),
        created_at: t,
        updated_at: t,
        refreshed_at: Some(t),
        status: ConnectionStatus::NeedsUpdate,
        expires_at: Some(t),
        last_error: Some("e".to_owned()),
        refresh_attempts: 1,
        missing_scopes: Some("s".to_owned()),
        setup_type: Some(SetupType::OauthCode),
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_fields_are_every_serialised_field() {
        let json = serde_json::to_value(every_field_set()).unwrap_or_default();
        let mut keys: Vec<&str> =
            json.as_object().map_or_else(Vec::new, |o| o.keys().map(String::as_str).collect());
        let mut expected = Connection::RESPONSE_FIELDS.to_vec();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}
