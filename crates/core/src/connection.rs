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
    /// The setup type of its credentials, `None` while empty.
    #[serde(skip)]
    pub setup_type: Option<SetupType>,
    /// Incremented by every change; guards updates against lost writes.
    #[serde(skip)]
    pub version: u64,
}

/// A connection's status, as the CLI and dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Credentials are present and usable.
    Ready,
    /// No credentials yet ("missing credentials").
    Empty,
}

impl Connection {
    /// Whether a connection with credentials of `setup_type` (or none) and with or without
    /// tokens from an authorization is ready to use.
    #[must_use]
    pub fn is_ready(setup_type: Option<SetupType>, has_tokens: bool) -> bool {
        setup_type.is_some_and(|t| !t.needs_authorization() || has_tokens)
    }

    /// The connection's status.
    #[must_use]
    pub fn status(&self) -> ConnectionStatus {
        if self.ready { ConnectionStatus::Ready } else { ConnectionStatus::Empty }
    }
}

impl ConnectionStatus {
    /// The status as a word.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Ready => "ready",
            ConnectionStatus::Empty => "empty",
        }
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
