//! SQLite: one-time codes.

use flowvault_core::{TenantId, Timestamp};
use sqlx::Row;

use crate::records::{OtpCheck, OtpRow, otp_step};
use crate::sqlite::{SqliteStore, corrupt, db, parse};
use crate::store::StoreError;

impl SqliteStore {
    pub(crate) async fn put_otp_(&self, tenant: &TenantId, row: &OtpRow) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO otp_codes (tenant_id, reference_hash, code_hash, expires_at, attempts, \
               created_at) VALUES (?1, ?2, ?3, ?4, 0, ?5) \
             ON CONFLICT (tenant_id, reference_hash) DO UPDATE SET code_hash = excluded.code_hash, \
               expires_at = excluded.expires_at, attempts = 0, created_at = excluded.created_at",
        )
        .bind(tenant.as_str())
        .bind(row.reference_hash.as_slice())
        .bind(row.code_hash.as_slice())
        .bind(row.expires_at.to_string())
        .bind(row.created_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Codes nobody verified are swept as new ones are made (times sort as text). Across
        // tenants: an expired code is nobody's data any more, and a tenant that stops making
        // codes would otherwise keep its last ones forever.
        sqlx::query("DELETE FROM otp_codes WHERE expires_at <= ?1")
            .bind(row.created_at.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn check_otp_(
        &self,
        tenant: &TenantId,
        reference_hash: &[u8],
        now: Timestamp,
        max_attempts: u32,
        matches: &(dyn for<'h> Fn(&'h [u8]) -> bool + Sync),
    ) -> Result<OtpCheck, StoreError> {
        // `BEGIN IMMEDIATE`: the row is read under the write lock, so a concurrent check waits
        // for this one's outcome instead of reading the same attempts or the same live code.
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT code_hash, expires_at, attempts FROM otp_codes \
             WHERE tenant_id = ?1 AND reference_hash = ?2",
        )
        .bind(tenant.as_str())
        .bind(reference_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(OtpCheck::NotFound) };
        let code_hash: Vec<u8> = row.try_get("code_hash").map_err(db)?;
        let expires_at: Timestamp = parse(&row, "expires_at")?;
        let attempts = u32::try_from(row.try_get::<i64, _>("attempts").map_err(db)?)
            .map_err(|_| corrupt("otp_codes.attempts"))?;
        let check = otp_step(expires_at, attempts, now, max_attempts, || matches(&code_hash));
        let statement = if check == OtpCheck::Wrong {
            "UPDATE otp_codes SET attempts = attempts + 1 \
             WHERE tenant_id = ?1 AND reference_hash = ?2"
        } else {
            "DELETE FROM otp_codes WHERE tenant_id = ?1 AND reference_hash = ?2"
        };
        sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(reference_hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(check)
    }
}
