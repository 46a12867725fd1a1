//! Credentials as an action receives them: the opened setup and, for setups that use tokens,
//! a valid access token. A leaf: everything that resolves or uses credentials depends on it,
//! and it on nothing of the engine's but the token set it is made from.

use std::sync::Arc;
use std::time::Duration;

use flowvault_core::{Setup, Timestamp};
use secrecy::{ExposeSecret as _, SecretString};

use crate::tokens::TokenSet;

/// Credentials ready for one action: the setup, and a valid access token where the setup uses
/// tokens. Resolved when the action starts, from the connection as it is stored then.
#[derive(Debug)]
pub struct Credentials {
    /// The connection's credentials.
    pub setup: Arc<Setup>,
    /// A valid access token, for token-based setups.
    pub token: Option<Arc<Fresh>>,
    /// The scopes granted to the connection, if known.
    pub granted_scopes: Option<String>,
}

/// An access token just obtained or checked, for the request about to use it.
pub struct Fresh {
    /// The token.
    pub access_token: SecretString,
    /// Its type (`Bearer`).
    pub token_type: String,
    /// Its expiry, if known.
    pub expires_at: Option<Timestamp>,
    /// The connection's own API host, if the provider named one (Salesforce's `instance_url`).
    pub api_base: Option<url::Url>,
}

impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fresh")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Fresh {
    pub(crate) fn from_set(set: &TokenSet) -> Arc<Self> {
        Arc::new(Self {
            access_token: SecretString::from(set.access_token().to_owned()),
            token_type: set.token_type().to_owned(),
            expires_at: set.expires_at(),
            api_base: set.api_base().cloned(),
        })
    }
}

/// Keeps `ExposeSecret` in use for the token's owner-facing accessors.
impl Fresh {
    /// The access token, exposed for the request about to use it.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.access_token.expose_secret()
    }

    /// Whether it has at least `margin` of validity left at `now`.
    pub(crate) fn valid_for(&self, now: Timestamp, margin: Duration) -> bool {
        crate::tokens::valid_for(self.expires_at, now, margin)
    }
}
