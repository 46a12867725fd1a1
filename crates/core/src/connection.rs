//! The vault connection as the Management API shows it, and its validated text fields.

use std::fmt;

use serde::Serialize;

use crate::catalog::{AppId, SetupType};
use crate::ids::ConnectionId;
use crate::time::Timestamp;
use crate::validate::Problem;

/// Defines a validated, length-limited, single-line text newtype.
macro_rules! label {
    ($(#[$meta:meta])* $name:ident, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The maximum length in characters.
            pub const MAX_LEN: usize = $max;

            /// Checks `s`: 1 to `MAX_LEN` characters, no control characters.
            ///
            /// # Errors
            /// The [`Problem`] with `s`.
            pub fn parse(s: &str) -> Result<Self, Problem> {
                check_label(s, $max).map(|()| Self(s.to_owned()))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

label!(
    /// A connection's display name: 1–150 characters.
    ConnectionName,
    150
);
label!(
    /// Auth0's environment label of a connection: 1–55 characters.
    Environment,
    55
);
label!(
    /// The account a connection acts as (a Slack workspace, say): 1–150 characters.
    AccountName,
    150
);

fn check_label(s: &str, max: usize) -> Result<(), Problem> {
    if s.is_empty() {
        Err(Problem::Empty)
    } else if s.chars().count() > max {
        Err(Problem::TooLong { max })
    } else if s.chars().any(char::is_control) {
        Err(Problem::ControlCharacter)
    } else {
        Ok(())
    }
}

/// A vault connection's metadata: everything about it but its secrets.
///
/// Serialises as Auth0's `FlowsVaultConnection` response object; `version` travels in the
/// `ETag` header instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `ac_…`.
    pub id: ConnectionId,
    /// The app.
    pub app_id: AppId,
    /// Auth0's optional environment label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// The display name.
    pub name: ConnectionName,
    /// The account the credentials act as, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<AccountName>,
    /// Whether the connection has usable credentials.
    pub ready: bool,
    /// Keyed hash of the credentials: changes exactly when they change.
    pub fingerprint: String,
    /// When the connection was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When its tokens were last refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
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
