//! Management API clients and token signing keys, on the vault.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{ClientId, ClientName, Scopes, TenantId, Timestamp};
use flowvault_crypto::{CryptoError, Keyring, SealContext, generate_client_secret};
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use crate::records::{ClientRow, SigningKeyRow};
use crate::vault::{Vault, VaultError};

/// A management API client, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementClient {
    /// `client_id`.
    pub id: ClientId,
    /// The tenant its tokens act in.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: ClientName,
    /// The scopes its tokens may carry.
    pub scopes: Scopes,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A token signing key, opened: only the server's token signer should hold one.
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// The private key (PKCS#8 DER), wiped on drop.
    pub private_der: Zeroizing<Vec<u8>>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

const PURPOSE_SIGNING_KEY: &str = "signing-key";
const VAULT_SCOPE: &str = "vault";
const CLIENT_MAC: &str = "client";

/// The MAC of a management client row: over what decides what its tokens may do.
pub(crate) fn client_mac(
    keyring: &Keyring,
    id: &ClientId,
    tenant: &TenantId,
    scopes: &Scopes,
    secret_hash: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let scopes = scopes.to_string();
    Ok(keyring.mac(CLIENT_MAC, &client_parts(id, tenant, &scopes, secret_hash))?.to_vec())
}

fn client_parts<'a>(
    id: &'a ClientId,
    tenant: &'a TenantId,
    scopes: &'a str,
    secret_hash: &'a [u8],
) -> [&'a [u8]; 4] {
    [id.as_str().as_bytes(), tenant.as_str().as_bytes(), scopes.as_bytes(), secret_hash]
}

impl Vault {
    /// Creates a management client; returns it with its secret, which is not stored and can't
    /// be shown again.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`] if the random generator fails.
    pub async fn create_client(
        &self,
        tenant: &TenantId,
        name: ClientName,
        scopes: Scopes,
    ) -> Result<(ManagementClient, SecretString), VaultError> {
        let secret = generate_client_secret()?;
        let id = ClientId::generate();
        let secret_hash = self.keyring.client_secret_hash(secret.expose_secret())?.to_vec();
        let mac = client_mac(&self.keyring, &id, tenant, &scopes, &secret_hash)?;
        let row = ClientRow {
            id,
            tenant_id: tenant.clone(),
            name,
            secret_hash,
            scopes,
            created_at: self.clock.now(),
            mac: Some(mac),
        };
        self.store.insert_client(&row).await?;
        Ok((client_view(row), secret))
    }

    /// The client `id` if `secret` is its secret; `None` for an unknown client or a wrong secret
    /// (callers must not tell the two apart to the outside).
    ///
    /// # Errors
    /// The store's.
    pub async fn authenticate_client(
        &self,
        id: &ClientId,
        secret: &str,
    ) -> Result<Option<ManagementClient>, VaultError> {
        let Some(row) = self.authentic(self.store.client(id).await?) else {
            // Hash anyway, so an unknown id costs the same as a wrong secret.
            let _ = self.keyring.client_secret_hash(secret);
            return Ok(None);
        };
        Ok(self.keyring.verify_client_secret(secret, &row.secret_hash).then(|| client_view(row)))
    }

    /// A client by id, whatever its tenant (to check that a token's client still exists). A row
    /// that fails its integrity check counts as no client.
    ///
    /// # Errors
    /// The store's.
    pub async fn client(&self, id: &ClientId) -> Result<Option<ManagementClient>, VaultError> {
        Ok(self.authentic(self.store.client(id).await?).map(client_view))
    }

    /// `row` if its MAC holds — its tenant, scopes and secret hash are as flowvault wrote them;
    /// otherwise `None`, and an error in the log (someone wrote the database directly).
    fn authentic(&self, row: Option<ClientRow>) -> Option<ClientRow> {
        let row = row?;
        let scopes = row.scopes.to_string();
        let parts = client_parts(&row.id, &row.tenant_id, &scopes, &row.secret_hash);
        if row.mac.as_ref().is_some_and(|mac| self.keyring.verify_mac(CLIENT_MAC, &parts, mac)) {
            Some(row)
        } else {
            tracing::error!(client = %row.id, "management client failed its integrity check (the database row was changed outside flowvault): refused");
            None
        }
    }

    /// A tenant's clients.
    ///
    /// # Errors
    /// The store's.
    pub async fn list_clients(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ManagementClient>, VaultError> {
        let rows = self.store.list_clients(tenant).await?;
        Ok(rows.into_iter().filter_map(|r| self.authentic(Some(r))).map(client_view).collect())
    }

    /// Deletes a tenant's client; tokens it holds stop working.
    ///
    /// # Errors
    /// [`VaultError::NotFound`] if the tenant has no such client.
    pub async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<(), VaultError> {
        Ok(self.store.delete_client(tenant, id).await?)
    }

    /// The token signing keys, opened, oldest first.
    ///
    /// # Errors
    /// [`VaultError::Crypto`] if a stored key does not open.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>, VaultError> {
        let rows = self.store.signing_keys().await?;
        rows.into_iter()
            .map(|row| {
                let ctx = SealContext::new(VAULT_SCOPE, &row.kid, PURPOSE_SIGNING_KEY)?;
                let private_der = self.keyring.open(&ctx, &row.private_sealed)?;
                Ok(SigningKey {
                    kid: row.kid,
                    alg: row.alg,
                    private_der,
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    /// Stores a first signing key (PKCS#8 DER) under a fresh key id, unless another process
    /// stored one first. Returns whether this one was stored.
    ///
    /// # Errors
    /// The store's, or [`VaultError::Crypto`].
    pub async fn add_first_signing_key(
        &self,
        alg: &str,
        private_der: &[u8],
    ) -> Result<bool, VaultError> {
        let mut kid = [0u8; 12];
        getrandom::fill(&mut kid).map_err(|_| flowvault_crypto::CryptoError::Rng)?;
        let kid = URL_SAFE_NO_PAD.encode(kid);
        let ctx = SealContext::new(VAULT_SCOPE, &kid, PURPOSE_SIGNING_KEY)?;
        let row = SigningKeyRow {
            private_sealed: self.keyring.seal(&ctx, private_der)?,
            kid,
            alg: alg.to_owned(),
            created_at: self.clock.now(),
        };
        Ok(self.store.insert_first_signing_key(&row).await?)
    }

    /// Checks that the store answers (for readiness probes).
    ///
    /// # Errors
    /// The store's.
    pub async fn ping(&self) -> Result<(), VaultError> {
        Ok(self.store.ping().await?)
    }
}

fn client_view(row: ClientRow) -> ManagementClient {
    ManagementClient {
        id: row.id,
        tenant_id: row.tenant_id,
        name: row.name,
        scopes: row.scopes,
        created_at: row.created_at,
    }
}
