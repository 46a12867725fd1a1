//! Management API clients and token signing keys, on the vault.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{ClientId, ClientName, Scopes, TenantId, Timestamp};
use flowvault_crypto::{
    SealContext, generate_client_secret, hash_client_secret, verify_client_secret,
};
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
        let row = ClientRow {
            id: ClientId::generate(),
            tenant_id: tenant.clone(),
            name,
            secret_hash: hash_client_secret(secret.expose_secret()).to_vec(),
            scopes,
            created_at: self.clock.now(),
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
        let Some(row) = self.store.client(id).await? else {
            // Hash anyway, so an unknown id costs the same as a wrong secret.
            let _ = hash_client_secret(secret);
            return Ok(None);
        };
        Ok(verify_client_secret(secret, &row.secret_hash).then(|| client_view(row)))
    }

    /// A client by id, whatever its tenant (to check that a token's client still exists).
    ///
    /// # Errors
    /// The store's.
    pub async fn client(&self, id: &ClientId) -> Result<Option<ManagementClient>, VaultError> {
        Ok(self.store.client(id).await?.map(client_view))
    }

    /// A tenant's clients.
    ///
    /// # Errors
    /// The store's.
    pub async fn list_clients(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ManagementClient>, VaultError> {
        Ok(self.store.list_clients(tenant).await?.into_iter().map(client_view).collect())
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
