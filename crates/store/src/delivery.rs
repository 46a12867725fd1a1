//! A tenant's delivery settings, on the vault: the connections `AUTH0 SEND_EMAIL`, `SEND_SMS`
//! and `MAKE_CALL` send through (see [`flowvault_core::DeliverySettings`]).
//!
//! The row decides where a credential is used, so, like a flow, it carries a MAC under the
//! keyring's integrity key, over the tenant and the settings' JSON: someone who can write the
//! database can't point a tenant's e-mail at their own connection (or at another tenant's),
//! and a row copied from another tenant does not verify. A row that fails is refused with
//! [`VaultError::Tampered`]; deleting it is all such a writer can do unnoticed.

use flowvault_core::{Channel, DeliverySettings, FieldError, Problem, TenantId, ValidationErrors};
use flowvault_crypto::Keyring;

use crate::records::DeliveryRow;
use crate::store::StoreError;
use crate::vault::{Vault, VaultError};

const DELIVERY_MAC: &str = "delivery";

fn delivery_parts<'a>(tenant: &'a TenantId, settings: &'a str) -> [&'a [u8]; 2] {
    [tenant.as_str().as_bytes(), settings.as_bytes()]
}

/// The MAC of a delivery row.
fn delivery_mac(
    keyring: &Keyring,
    tenant: &TenantId,
    settings: &str,
) -> Result<Vec<u8>, VaultError> {
    Ok(keyring.mac(DELIVERY_MAC, &delivery_parts(tenant, settings))?.to_vec())
}

impl Vault {
    /// The tenant's delivery settings, authenticated; empty if none were set.
    ///
    /// # Errors
    /// [`VaultError::Tampered`] for a row written outside flowvault; the store's error.
    pub async fn delivery_settings(
        &self,
        tenant: &TenantId,
    ) -> Result<DeliverySettings, VaultError> {
        let Some(row) = self.store.delivery(tenant).await? else {
            return Ok(DeliverySettings::default());
        };
        let parts = delivery_parts(tenant, &row.settings);
        if !self.keyring.verify_mac(DELIVERY_MAC, &parts, &row.mac) {
            tracing::error!(%tenant, "delivery settings failed their integrity check (the database row was changed outside flowvault): refused");
            return Err(VaultError::Tampered {
                object: format!("the delivery settings of {tenant}"),
            });
        }
        let value: serde_json::Value = serde_json::from_str(&row.settings).map_err(|_| {
            StoreError::Corrupt(format!("unreadable delivery settings of {tenant}"))
        })?;
        Ok(DeliverySettings::parse(&value).map_err(|e| {
            StoreError::Corrupt(format!(
                "the delivery settings of {tenant} no longer validate: {e}"
            ))
        })?)
    }

    /// Replaces the tenant's delivery settings, after checking that each connection they name
    /// exists in the tenant and belongs to an app of its channel. Settings with no channel
    /// configured clear them.
    ///
    /// # Errors
    /// [`VaultError::Invalid`] naming each channel at fault; the store's error.
    pub async fn set_delivery_settings(
        &self,
        tenant: &TenantId,
        settings: &DeliverySettings,
    ) -> Result<(), VaultError> {
        let mut errors = Vec::new();
        for channel in Channel::ALL {
            let Some(id) = settings.connection(channel) else { continue };
            let field = format!("{channel}.connection_id");
            let problem = match self.store.connection(tenant, id).await? {
                None => format!("names vault connection {id}, which does not exist"),
                Some(c) if !channel.apps().contains(&c.app_id) => format!(
                    "names a {} connection; {channel} needs a {} connection",
                    c.app_id,
                    channel.app_names()
                ),
                Some(_) => continue,
            };
            errors.push(FieldError { field, problem: Problem::Rule(problem) });
        }
        if !errors.is_empty() {
            return Err(VaultError::Invalid(ValidationErrors(errors)));
        }
        if settings.is_empty() {
            self.store.delete_delivery(tenant).await?;
            return Ok(());
        }
        let json = settings.to_json().map_err(|e| {
            StoreError::Corrupt(format!("the delivery settings could not be written: {e}"))
        })?;
        let row = DeliveryRow {
            mac: delivery_mac(&self.keyring, tenant, &json)?,
            settings: json,
            updated_at: self.clock.now(),
        };
        Ok(self.store.put_delivery(tenant, &row).await?)
    }

    /// Deletes the tenant's delivery settings; returns whether it had any.
    ///
    /// # Errors
    /// The store's.
    pub async fn clear_delivery_settings(&self, tenant: &TenantId) -> Result<bool, VaultError> {
        Ok(self.store.delete_delivery(tenant).await?)
    }
}
