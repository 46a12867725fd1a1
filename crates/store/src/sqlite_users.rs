//! SQLite: dashboard users and sessions.

use async_trait::async_trait;
use flowvault_core::{Email, TenantId, Timestamp, UserId};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::{SqliteStore, corrupt, db, db_or_exists, parse};
use crate::store::StoreError;
use crate::user_records::{SessionRow, UserRow, UserStore};

macro_rules! user_columns {
    () => {
        "id, tenant_id, email, role, password_hash, created_at, mac"
    };
}

macro_rules! session_columns {
    () => {
        "id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, mac"
    };
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, row: &UserRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dashboard_users (id, tenant_id, email, role, password_hash, created_at, \
               mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(row.id.as_str())
        .bind(row.tenant_id.as_str())
        .bind(row.email.as_str())
        .bind(row.role.as_str())
        .bind(&row.password_hash)
        .bind(row.created_at.to_string())
        .bind(row.mac.as_slice())
        .execute(self.writer())
        .await
        .map_err(db_or_exists)?;
        Ok(())
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM dashboard_users WHERE tenant_id = ?1 AND email = ?2"
        ))
        .bind(tenant.as_str())
        .bind(email.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM dashboard_users WHERE tenant_id = ?1 AND id = ?2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM dashboard_users WHERE tenant_id = ?1 ORDER BY email"
        ))
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn any_user(&self) -> Result<bool, StoreError> {
        let (any,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM dashboard_users)")
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        Ok(any)
    }

    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM dashboard_users WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(self.writer())
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn insert_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO dashboard_sessions (id_hash, tenant_id, user_id, created_at, \
               last_seen_at, expires_at, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(row.id_hash.as_slice())
        .bind(row.tenant_id.as_str())
        .bind(row.user_id.as_str())
        .bind(row.created_at.to_string())
        .bind(row.last_seen_at.to_string())
        .bind(row.expires_at.to_string())
        .bind(row.mac.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Ended sessions are swept as new ones start (times sort as text). Idle ones are swept
        // when they reach their absolute end; until then they are refused when presented.
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= ?1")
            .bind(row.created_at.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM dashboard_sessions WHERE id_hash = ?1"
        ))
        .bind(id_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, id_hash: &[u8], at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE dashboard_sessions SET last_seen_at = ?2 WHERE id_hash = ?1")
            .bind(id_hash)
            .bind(at.to_string())
            .execute(self.writer())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = ?1")
            .bind(id_hash)
            .execute(self.writer())
            .await
            .map_err(db)?;
        Ok(())
    }
}

fn user_from_row(r: &SqliteRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: parse(r, "id")?,
        tenant_id: parse(r, "tenant_id")?,
        email: parse(r, "email")?,
        role: parse(r, "role")?,
        password_hash: r.try_get("password_hash").map_err(db)?,
        created_at: parse(r, "created_at")?,
        mac: r.try_get("mac").map_err(db)?,
    })
}

fn session_from_row(r: &SqliteRow) -> Result<SessionRow, StoreError> {
    let id_hash: Vec<u8> = r.try_get("id_hash").map_err(db)?;
    if id_hash.is_empty() {
        return Err(corrupt("dashboard_sessions.id_hash"));
    }
    Ok(SessionRow {
        id_hash,
        tenant_id: parse(r, "tenant_id")?,
        user_id: parse(r, "user_id")?,
        created_at: parse(r, "created_at")?,
        last_seen_at: parse(r, "last_seen_at")?,
        expires_at: parse(r, "expires_at")?,
        mac: r.try_get("mac").map_err(db)?,
    })
}
