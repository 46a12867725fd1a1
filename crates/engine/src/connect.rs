//! "Connect": the authorization code grant with PKCE (S256) and a single-use, expiring `state`
//! bound to the tenant and the connection; and the scope checks that mark a connection
//! `needs_update` when the app asks for more than it was granted.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{
    AccountName, Connection, ConnectionId, ConnectionPatch, Setup, SetupType, TenantId,
    validate_setup,
};
use flowvault_store::{ConnectionRow, OAuthStateRow, StoreError, TokenWrite};
use sha2::{Digest as _, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::clock::after;
use crate::engine::{Engine, open_tokens};
use crate::grants::{self, GrantContext};

/// How long a started "Connect" waits for the user.
const STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
const PURPOSE_VERIFIER: &str = "oauth-verifier";

/// Why "Connect" could not start or finish. Messages are meant for the person connecting.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No such connection.
    #[error("the vault connection does not exist")]
    NotFound,
    /// The app has no OAuth authorization.
    #[error("{0} connections do not connect with OAuth")]
    NotOAuthApp(String),
    /// The connection uses another setup type.
    #[error(
        "this connection uses {0} credentials; change its setup to OAUTH_CODE to connect it with OAuth"
    )]
    WrongSetupType(String),
    /// The operator has not configured the OAuth client.
    #[error("the operator has not configured an OAuth client for {0}")]
    NotConfigured(String),
    /// The `state` is unknown or was already used.
    #[error(
        "this authorization link is not valid or was already used: start again from the connection"
    )]
    InvalidState,
    /// The `state` has expired.
    #[error("this authorization took too long: start again from the connection")]
    ExpiredState,
    /// The provider refused or failed the code exchange.
    #[error("the provider did not accept the authorization: {0}")]
    Provider(String),
    /// The connection was being refreshed for too long.
    #[error("the connection is busy; try again")]
    Busy,
    /// Something failed on flowvault's side (details are logged).
    #[error("internal error")]
    Internal,
}

fn internal(e: impl std::fmt::Display) -> ConnectError {
    tracing::error!(error = %e, "connect: internal error");
    ConnectError::Internal
}

fn random_token() -> Result<String, ConnectError> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::fill(b.as_mut()).map_err(internal)?;
    Ok(URL_SAFE_NO_PAD.encode(*b))
}

fn hash_state(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

impl Engine {
    /// Starts "Connect" for an `OAUTH_CODE` connection (or an empty one of an app that has an
    /// `OAUTH_CODE` setup): returns the provider URL to send the user to.
    ///
    /// # Errors
    /// [`ConnectError`].
    pub async fn begin_connect(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        redirect_uri: &str,
    ) -> Result<Url, ConnectError> {
        let vault = self.vault();
        let row = vault
            .store()
            .connection(tenant, id)
            .await
            .map_err(internal)?
            .ok_or(ConnectError::NotFound)?;
        let setup = vault.open_row_setup(tenant, &row).map_err(internal)?;
        check_connectable(&row, setup.as_ref())?;
        let provider = self.providers().get(row.app_id);
        let (Some(authorize), Some(client_id)) =
            (provider.authorize_url.clone(), provider.client_id.clone())
        else {
            return Err(ConnectError::NotConfigured(row.app_id.to_string()));
        };
        let scopes = required_scopes(&provider.scopes, setup.as_ref());
        let state = random_token()?;
        let verifier = random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let now = vault.now();
        vault
            .store()
            .insert_oauth_state(&OAuthStateRow {
                state_hash: hash_state(&state),
                tenant_id: tenant.clone(),
                connection_id: id.clone(),
                verifier_sealed: vault
                    .seal_for(tenant, id.as_str(), PURPOSE_VERIFIER, verifier.as_bytes())
                    .map_err(internal)?,
                scopes: scopes.iter().cloned().collect::<Vec<_>>().join(" "),
                created_at: now,
                expires_at: after(now, STATE_LIFETIME),
            })
            .await
            .map_err(internal)?;
        let mut url = authorize;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", &state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if !scopes.is_empty() {
                q.append_pair(
                    "scope",
                    &scopes.iter().cloned().collect::<Vec<_>>().join(provider.scope_separator),
                );
            }
            for (k, v) in &provider.authorize_params {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Finishes "Connect": takes the `state` (once), exchanges the code with its PKCE verifier,
    /// and stores the tokens, the granted scopes and the account name.
    ///
    /// # Errors
    /// [`ConnectError`]; nothing is stored on any error.
    pub async fn complete_connect(
        &self,
        state: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Connection, ConnectError> {
        let vault = self.vault();
        let pending = vault
            .store()
            .take_oauth_state(&hash_state(state))
            .await
            .map_err(internal)?
            .ok_or(ConnectError::InvalidState)?;
        let now = vault.now();
        if pending.expires_at < now {
            return Err(ConnectError::ExpiredState);
        }
        let (tenant, id) = (&pending.tenant_id, &pending.connection_id);
        let verifier = vault
            .open_for(tenant, id.as_str(), PURPOSE_VERIFIER, &pending.verifier_sealed)
            .map_err(internal)?;
        let verifier = std::str::from_utf8(&verifier).map_err(internal)?.to_owned();
        let mut row = vault
            .store()
            .connection(tenant, id)
            .await
            .map_err(internal)?
            .ok_or(ConnectError::NotFound)?;
        let setup = vault.open_row_setup(tenant, &row).map_err(internal)?;
        check_connectable(&row, setup.as_ref())?;

        let provider = self.providers().get(row.app_id);
        let ctx = GrantContext {
            transport: self.inner.transport.as_ref(),
            provider: &provider,
            app: row.app_id,
            now,
            timeout: self.inner.policy.request_timeout,
        };
        let obtained = grants::exchange_code(&ctx, code, &verifier, redirect_uri)
            .await
            .map_err(|e| ConnectError::Provider(e.to_string()))?;

        // An empty connection becomes an OAUTH_CODE one.
        if setup.is_none() {
            let new = validate_setup(row.app_id, &serde_json::json!({"type": "OAUTH_CODE"}))
                .map_err(internal)?;
            let patch = ConnectionPatch { name: None, setup: Some(new) };
            vault.update_connection(tenant, id, patch, row.version).await.map_err(internal)?;
            row = vault
                .store()
                .connection(tenant, id)
                .await
                .map_err(internal)?
                .ok_or(ConnectError::NotFound)?;
        }
        let leased = self.lease_for_write(tenant, id).await?;
        let asked: BTreeSet<String> =
            pending.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let granted = obtained.granted_scopes.clone().unwrap_or_else(|| pending.scopes.clone());
        let write = TokenWrite::Tokens {
            sealed: vault
                .seal_tokens(
                    tenant,
                    id,
                    row.app_id,
                    &obtained.tokens.seal_bytes().map_err(internal)?,
                )
                .map_err(internal)?,
            expires_at: obtained.tokens.expires_at(),
            refresh_at: obtained.tokens.expires_at().map(|e| self.inner.policy.refresh_at(now, e)),
            granted_scopes: Some(granted.clone()),
            account_name: obtained.account_name.as_deref().and_then(|a| AccountName::parse(a).ok()),
            refreshed_at: now,
            authorized: true,
        };
        let written = vault
            .store()
            .finish_refresh(tenant, id, self.owner(), leased.token.tokens_version, &write)
            .await;
        let written = match written {
            Ok(r) => r,
            Err(e) => {
                let _ = vault.store().release_lease(tenant, id, self.owner()).await;
                return Err(internal(e));
            }
        };
        let missing = missing_scopes(&asked, &granted);
        vault.store().set_missing_scopes(tenant, id, missing.as_deref()).await.map_err(internal)?;
        let _ = row;
        let row = vault.store().connection(tenant, id).await.map_err(internal)?.unwrap_or(written);
        self.wake();
        Ok(vault.view(&row))
    }

    /// Forgets a "Connect" the provider ended with an error (the user said no): the `state`
    /// can't be used afterwards. Returns the connection it was for, if the state was valid.
    ///
    /// # Errors
    /// [`ConnectError::Internal`].
    pub async fn abandon_connect(&self, state: &str) -> Result<Option<ConnectionId>, ConnectError> {
        let pending =
            self.vault().store().take_oauth_state(&hash_state(state)).await.map_err(internal)?;
        Ok(pending.map(|p| p.connection_id))
    }

    /// Re-checks the scopes of one `OAUTH_CODE` connection against what its app now asks for,
    /// marking it `needs_update` (or clearing that) in the store.
    ///
    /// # Errors
    /// [`ConnectError::Internal`].
    pub async fn check_scopes(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<(), ConnectError> {
        let vault = self.vault();
        let Some(row) = vault.store().connection(tenant, id).await.map_err(internal)? else {
            return Ok(());
        };
        self.check_row_scopes(tenant, &row).await
    }

    /// [`Engine::check_scopes`] for every `OAUTH_CODE` connection (at start-up: the configured
    /// scopes may have changed since the connections were authorized).
    ///
    /// # Errors
    /// [`ConnectError::Internal`].
    pub async fn check_all_scopes(&self) -> Result<usize, ConnectError> {
        let rows = self.vault().store().oauth_code_connections().await.map_err(internal)?;
        let mut flagged = 0;
        for (tenant, row) in rows {
            self.check_row_scopes(&tenant, &row).await?;
            if self
                .vault()
                .store()
                .connection(&tenant, &row.id)
                .await
                .map_err(internal)?
                .is_some_and(|r| r.token.missing_scopes.is_some())
            {
                flagged += 1;
            }
        }
        Ok(flagged)
    }

    async fn check_row_scopes(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<(), ConnectError> {
        let vault = self.vault();
        if row.tokens_sealed.is_none()
            || row.setup.as_ref().is_none_or(|s| s.setup_type != SetupType::OauthCode)
        {
            return Ok(());
        }
        let setup = vault.open_row_setup(tenant, row).map_err(internal)?;
        let provider = self.providers().get(row.app_id);
        let required = required_scopes(&provider.scopes, setup.as_ref());
        let granted = match &row.token.granted_scopes {
            Some(g) => g.clone(),
            // Unknown grants: the scopes of the token itself, if it says.
            None => open_tokens(vault, tenant, row)
                .ok()
                .flatten()
                .and_then(|t| t.scope.clone())
                .unwrap_or_default(),
        };
        let missing = missing_scopes(&required, &granted);
        if missing != row.token.missing_scopes {
            vault
                .store()
                .set_missing_scopes(tenant, &row.id, missing.as_deref())
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// Leases a connection for a write, waiting out another holder's lease.
    async fn lease_for_write(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<ConnectionRow, ConnectError> {
        let store = self.vault().store();
        let give_up =
            tokio::time::Instant::now() + self.inner.policy.lease + Duration::from_secs(5);
        loop {
            let now = self.vault().now();
            match store
                .lease(tenant, id, self.owner(), now, after(now, self.inner.policy.lease))
                .await
            {
                Ok(Some(row)) => return Ok(row),
                Ok(None) if tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(250)).await
                }
                Ok(None) => return Err(ConnectError::Busy),
                Err(StoreError::NotFound) => return Err(ConnectError::NotFound),
                Err(e) => return Err(internal(e)),
            }
        }
    }
}

/// A connection can be connected if its app has an `OAUTH_CODE` setup and it is empty or
/// already uses it.
fn check_connectable(row: &ConnectionRow, setup: Option<&Setup>) -> Result<(), ConnectError> {
    if row.app_id.spec().setup(SetupType::OauthCode).is_none() {
        return Err(ConnectError::NotOAuthApp(row.app_id.to_string()));
    }
    match setup.map(Setup::setup_type) {
        None | Some(SetupType::OauthCode) => Ok(()),
        Some(other) => Err(ConnectError::WrongSetupType(other.to_string())),
    }
}

/// The app's configured scopes plus the connection's own `scope` setting.
fn required_scopes(configured: &[String], setup: Option<&Setup>) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = configured.iter().cloned().collect();
    if let Some(extra) = setup.and_then(|s| s.expose("scope")) {
        all.extend(extra.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned));
    }
    all
}

/// The scopes of `required` not in `granted` (space- or comma-separated), if any.
fn missing_scopes(required: &BTreeSet<String>, granted: &str) -> Option<String> {
    let granted: BTreeSet<&str> = granted.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    let missing: Vec<&str> =
        required.iter().map(String::as_str).filter(|s| !granted.contains(s)).collect();
    (!missing.is_empty()).then(|| missing.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_are_the_difference() {
        let required: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(missing_scopes(&required, "a,c"), Some("b".to_owned()));
        assert_eq!(missing_scopes(&required, "c b a d"), None);
    }
}
