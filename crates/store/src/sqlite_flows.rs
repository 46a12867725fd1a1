//! SQLite: flows and executions.

use flowvault_core::{ConnectionId, ConnectionName, ExecutionId, FlowId, TenantId, Timestamp};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
use crate::records::{ListQuery, Page, RowUpgrade};
use crate::sqlite::{SqliteStore, corrupt, db, db_or_exists, opt_time, parse, to_i64, to_u64};
use crate::sqlite_read::{Columns, Read};
use crate::store::StoreError;

macro_rules! flow_columns {
    () => {
        "id, name, actions, version, created_at, updated_at, executed_at, mac"
    };
}

macro_rules! execution_columns {
    () => {
        "id, flow_id, trace_id, status, record_sealed, created_at, updated_at, started_at, ended_at"
    };
}

impl SqliteStore {
    pub(crate) async fn insert_flow_(
        &self,
        tenant: &TenantId,
        row: &FlowRow,
        connections: &[ConnectionId],
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO flows (tenant_id, ",
            flow_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))
        .bind(tenant.as_str())
        .bind(row.id.as_str())
        .bind(row.name.as_str())
        .bind(&row.actions)
        .bind(to_i64(row.version)?)
        .bind(row.created_at.to_string())
        .bind(row.updated_at.to_string())
        .bind(row.executed_at.map(|t| t.to_string()))
        .bind(row.mac.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_or_exists)?;
        set_connections(&mut tx, tenant, &row.id, connections).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn flow_(
        &self,
        tenant: &TenantId,
        id: &FlowId,
    ) -> Result<Option<FlowRow>, StoreError> {
        const SQL: &str =
            concat!("SELECT ", flow_columns!(), " FROM flows WHERE tenant_id = ?1 AND id = ?2");
        let params = (tenant.as_str(), id.as_str());
        if let Read::Done(row) = self.readers().row(SQL, params, |r| flow_from_row(r)) {
            return row;
        }
        sqlx::query(SQL)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| flow_from_row(&r))
            .transpose()
    }

    pub(crate) async fn list_flows_(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<FlowRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            flow_columns!(),
            " FROM flows WHERE tenant_id = ?1 ORDER BY created_at, rowid LIMIT ?2 OFFSET ?3"
        ))
        .bind(tenant.as_str())
        .bind(to_i64(query.limit)?)
        .bind(to_i64(query.offset)?)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM flows WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .fetch_one(self.pool())
            .await
            .map_err(db)?
            .try_get("n")
            .map_err(db)?;
        Ok(Page {
            items: rows.iter().map(flow_from_row).collect::<Result<_, _>>()?,
            total: to_u64(total)?,
        })
    }

    pub(crate) async fn update_flow_(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected: u64,
        change: &FlowChange,
    ) -> Result<FlowRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE flows SET name = COALESCE(?4, name), actions = COALESCE(?5, actions), \
               updated_at = ?6, version = version + 1, mac = ?7 \
             WHERE tenant_id = ?1 AND id = ?2 AND version = ?3 RETURNING ",
            flow_columns!()
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(to_i64(expected)?)
        .bind(change.name.as_ref().map(ConnectionName::as_str))
        .bind(change.actions.as_ref().map(|(a, _)| a.as_str()))
        .bind(change.updated_at.to_string())
        .bind(change.mac.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            drop(tx);
            let current = self.flow_(tenant, id).await?.ok_or(StoreError::NotFound)?;
            return Err(StoreError::VersionConflict { current: current.version });
        };
        if let Some((_, connections)) = &change.actions {
            set_connections(&mut tx, tenant, id, connections).await?;
        }
        tx.commit().await.map_err(db)?;
        flow_from_row(&row)
    }

    pub(crate) async fn delete_flow_(
        &self,
        tenant: &TenantId,
        id: &FlowId,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM flows WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM executions WHERE tenant_id = ?1 AND flow_id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn flows_using_(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<(FlowId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.id, f.name FROM flow_connections c JOIN flows f ON f.tenant_id = c.tenant_id AND f.id = c.flow_id \
             WHERE c.tenant_id = ?1 AND c.connection_id = ?2 ORDER BY f.created_at, f.rowid",
        )
        .bind(tenant.as_str())
        .bind(connection.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(|r| Ok((parse(r, "id")?, r.try_get("name").map_err(db)?))).collect()
    }

    pub(crate) async fn update_execution_(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE executions SET status = ?4, record_sealed = ?5, updated_at = ?6, started_at = ?7, ended_at = ?8 \
             WHERE tenant_id = ?1 AND flow_id = ?2 AND id = ?3",
        )
        .bind(tenant.as_str())
        .bind(row.flow_id.as_str())
        .bind(row.id.as_str())
        .bind(row.status.as_str())
        .bind(row.record_sealed.as_deref())
        .bind(row.updated_at.to_string())
        .bind(row.started_at.map(|t| t.to_string()))
        .bind(row.ended_at.map(|t| t.to_string()))
        .execute(self.writer())
        .await
        .map_err(db)?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    pub(crate) async fn execution_(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            execution_columns!(),
            " FROM executions WHERE tenant_id = ?1 AND flow_id = ?2 AND id = ?3"
        ))
        .bind(tenant.as_str())
        .bind(flow.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| execution_from_row(&r))
        .transpose()
    }

    pub(crate) async fn list_executions_(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        q: &ExecutionQuery,
    ) -> Result<ExecutionPage, StoreError> {
        // Newest first; a cursor is the id of the last execution already seen.
        let cursor: Option<i64> = match &q.from {
            None => None,
            Some(from) => Some(
                sqlx::query(
                    "SELECT seq FROM executions WHERE tenant_id = ?1 AND flow_id = ?2 AND id = ?3",
                )
                .bind(tenant.as_str())
                .bind(flow.as_str())
                .bind(from.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(db)?
                .ok_or(StoreError::NotFound)?
                .try_get("seq")
                .map_err(db)?,
            ),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            execution_columns!(),
            " FROM executions WHERE tenant_id = ?1 AND flow_id = ?2 AND (?3 IS NULL OR seq < ?3) \
              ORDER BY seq DESC LIMIT ?4 OFFSET ?5"
        ))
        .bind(tenant.as_str())
        .bind(flow.as_str())
        .bind(cursor)
        .bind(to_i64(q.limit.saturating_add(1))?)
        .bind(to_i64(if cursor.is_some() { 0 } else { q.offset })?)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM executions WHERE tenant_id = ?1 AND flow_id = ?2",
        )
        .bind(tenant.as_str())
        .bind(flow.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(db)?
        .try_get("n")
        .map_err(db)?;
        let mut items: Vec<ExecutionRow> =
            rows.iter().map(execution_from_row).collect::<Result<_, _>>()?;
        let more = items.len() as u64 > q.limit;
        items.truncate(usize::try_from(q.limit).unwrap_or(usize::MAX));
        let next = if more { items.last().map(|e| e.id.clone()) } else { None };
        Ok(ExecutionPage { items, next, total: to_u64(total)? })
    }

    pub(crate) async fn delete_execution_(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("DELETE FROM executions WHERE tenant_id = ?1 AND flow_id = ?2 AND id = ?3")
                .bind(tenant.as_str())
                .bind(flow.as_str())
                .bind(id.as_str())
                .execute(self.writer())
                .await
                .map_err(db)?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    pub(crate) async fn delete_executions_before_(
        &self,
        before: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM executions WHERE created_at < ?1")
            .bind(before.to_string())
            .execute(self.writer())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

impl SqliteStore {
    /// The flows and executions part of [`crate::Store::upgrade_rows`], in its transaction.
    /// Executions are read a page at a time: there may be many.
    pub(crate) async fn upgrade_flow_rows(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        upgrade: &dyn RowUpgrade,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(concat!("SELECT tenant_id, ", flow_columns!(), " FROM flows"))
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
        for r in &rows {
            let (Ok(tenant), Ok(flow)) = (parse::<TenantId>(r, "tenant_id"), flow_from_row(r))
            else {
                continue;
            };
            let Some(mac) = upgrade.flow(&tenant, &flow) else { continue };
            sqlx::query("UPDATE flows SET mac = ?3 WHERE tenant_id = ?1 AND id = ?2")
                .bind(tenant.as_str())
                .bind(flow.id.as_str())
                .bind(mac)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(concat!(
                "SELECT seq, tenant_id, ",
                execution_columns!(),
                " FROM executions WHERE seq > ?1 ORDER BY seq LIMIT 500"
            ))
            .bind(after)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.try_get("seq").map_err(db)?;
            for r in &rows {
                let (Ok(tenant), Ok(e)) =
                    (parse::<TenantId>(r, "tenant_id"), execution_from_row(r))
                else {
                    continue;
                };
                let Some(record) = upgrade.execution(&tenant, &e) else { continue };
                sqlx::query("UPDATE executions SET record_sealed = ?2 WHERE seq = ?1")
                    .bind(r.try_get::<i64, _>("seq").map_err(db)?)
                    .bind(record)
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
            }
        }
    }
}

async fn set_connections(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    tenant: &TenantId,
    flow: &FlowId,
    connections: &[ConnectionId],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_connections WHERE tenant_id = ?1 AND flow_id = ?2")
        .bind(tenant.as_str())
        .bind(flow.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    for c in connections {
        sqlx::query("INSERT OR IGNORE INTO flow_connections (tenant_id, connection_id, flow_id) VALUES (?1, ?2, ?3)")
            .bind(tenant.as_str())
            .bind(c.as_str())
            .bind(flow.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

fn flow_from_row(r: &impl Columns) -> Result<FlowRow, StoreError> {
    Ok(FlowRow {
        id: parse(r, "id")?,
        name: ConnectionName::parse(&r.required_text("name")?)
            .map_err(|_| corrupt("flows.name"))?,
        actions: r.required_text("actions")?,
        version: to_u64(r.required_int("version")?)?,
        created_at: parse(r, "created_at")?,
        updated_at: parse(r, "updated_at")?,
        executed_at: opt_time(r, "executed_at")?,
        mac: r.blob("mac")?,
    })
}

fn execution_from_row(r: &SqliteRow) -> Result<ExecutionRow, StoreError> {
    Ok(ExecutionRow {
        id: parse(r, "id")?,
        flow_id: parse(r, "flow_id")?,
        trace_id: r.try_get("trace_id").map_err(db)?,
        status: parse(r, "status")?,
        record_sealed: r.try_get("record_sealed").map_err(db)?,
        created_at: parse(r, "created_at")?,
        updated_at: parse(r, "updated_at")?,
        started_at: opt_time(r, "started_at")?,
        ended_at: opt_time(r, "ended_at")?,
    })
}
