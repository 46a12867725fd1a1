//! SQLite: delivery settings.

use flowvault_core::TenantId;
use sqlx::Row;

use crate::records::DeliveryRow;
use crate::sqlite::{SqliteStore, db, parse};
use crate::store::StoreError;

impl SqliteStore {
    pub(crate) async fn delivery_(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let row = sqlx::query(
            "SELECT settings, updated_at, mac FROM delivery_settings WHERE tenant_id = ?1",
        )
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(DeliveryRow {
                settings: r.try_get("settings").map_err(db)?,
                updated_at: parse(&r, "updated_at")?,
                mac: r.try_get("mac").map_err(db)?,
            })
        })
        .transpose()
    }

    pub(crate) async fn put_delivery_(
        &self,
        tenant: &TenantId,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO delivery_settings (tenant_id, settings, updated_at, mac) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, \
               updated_at = excluded.updated_at, mac = excluded.mac",
        )
        .bind(tenant.as_str())
        .bind(&row.settings)
        .bind(row.updated_at.to_string())
        .bind(row.mac.as_slice())
        .execute(self.writer())
        .await
        .map_err(db)
        .map(drop)
    }

    pub(crate) async fn delete_delivery_(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM delivery_settings WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .execute(self.writer())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
