//! The embedded SQLite store: one file in the data directory, WAL journal, migrations at open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowvault_core::{
    AccountName, AppId, ClientId, ClientName, ConnectionId, ConnectionName, Environment,
    ExecutionId, FlowId, TenantId, TenantName, Timestamp,
};

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};

use flowvault_crypto::{KeyKind, SealedKey};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::records::{
    ClientRow, ConnectionChange, ConnectionRow, DeliveryRow, ListQuery, OAuthStateRow, OtpCheck,
    OtpRow, Page, RowUpgrade, SealedSetup, SigningKeyRow, SummaryRow, Tenant, TokenMeta,
    TokenReset, TokenWrite,
};
use crate::sqlite_batch::ExecutionWriter;
use crate::sqlite_read::{Columns, Read, Readers};
use crate::store::{Store, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The columns of a connection row, in the order [`connection_from_row`] reads them.
macro_rules! connection_columns {
    () => {
        "id, app_id, name, environment, account_name, setup_type, setup_sealed, tokens_sealed, \
         fingerprint, version, created_at, updated_at, refreshed_at, tokens_version, token_status, \
         expires_at, refresh_at, granted_scopes, missing_scopes, last_error, attempts, lease_owner, \
         lease_until"
    };
}

/// A [`Store`] in one SQLite file.
///
/// WAL journal with `synchronous = NORMAL`: a write is durable once acknowledged, across a crash
/// of the process (`kill -9`); an operating-system crash or power cut may lose the last
/// transactions but never corrupts the file.
///
/// Point reads of one connection or flow run on the calling thread (`sqlite_read.rs`);
/// other reads share a pool of connections. Writes go through one connection of their own, so
/// the writers of this process queue for it instead of contending for SQLite's lock (whose busy
/// handler sleeps) — except execution inserts, which a thread of their own commits in groups
/// (`sqlite_batch.rs`) and which meet the other writes at the lock. Other processes on
/// the same file meet the lock too, and wait for it.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// Point reads on the calling thread (see [`crate::sqlite_read`]).
    readers: Arc<Readers>,
    /// Execution inserts, committed in groups (see [`crate::sqlite_batch`]).
    executions: Arc<ExecutionWriter>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the file can't be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Database(Box::new(e)))?;
        // SQLite gives the journal files the database's mode; files left by an earlier build
        // with a wider one are narrowed too.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            narrow(Path::new(&side))?;
        }
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4);
        let pool = SqlitePoolOptions::new()
            .max_connections(u32::try_from(readers).unwrap_or(8))
            .connect_with(options)
            .await
            .map_err(db)?;
        let readers = Arc::new(Readers::open(path, readers)?);
        let executions = Arc::new(ExecutionWriter::start(path)?);
        Ok(Self { pool, writer, readers, executions, path: path.to_owned() })
    }

    /// The readers.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Point reads on the calling thread.
    pub(crate) fn readers(&self) -> &Readers {
        &self.readers
    }

    /// The one writer.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.readers.close();
        let executions = self.executions.clone();
        let _ = tokio::task::spawn_blocking(move || executions.close()).await;
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A write transaction that takes the write lock up front, so it never fails half-way
    /// because another connection started writing first.
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    async fn current_version(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT version FROM connections WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound)?;
        to_u64(row.try_get("version").map_err(db)?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM vault_meta WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| r.try_get("value").map_err(db)).transpose()
    }

    async fn keyring(&self) -> Result<Vec<SealedKey>, StoreError> {
        let rows = sqlx::query(KEYRING_QUERY).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(sealed_key_from_row).collect()
    }

    async fn upgrade_rows(&self, upgrade: &dyn RowUpgrade) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let stored: Vec<SealedKey> = sqlx::query(KEYRING_QUERY)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .iter()
            .map(sealed_key_from_row)
            .collect::<Result<_, _>>()?;
        let Some(keys) = upgrade.keyring(&stored) else { return Ok(false) };
        let (already,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM management_clients WHERE mac IS NOT NULL) \
                  + (SELECT COUNT(*) FROM flows WHERE mac IS NOT NULL)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if already > 0 {
            return Err(StoreError::Corrupt(crate::upgrade::ALREADY_UPGRADED.to_owned()));
        }

        let rows =
            sqlx::query(concat!("SELECT tenant_id, ", connection_columns!(), " FROM connections"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        for r in &rows {
            // A row that does not even parse is left as it is: it stays refused.
            let (Ok(tenant), Ok(row)) = (parse::<TenantId>(r, "tenant_id"), connection_from_row(r))
            else {
                continue;
            };
            let Some(new) = upgrade.connection(&tenant, &row) else { continue };
            sqlx::query(
                "UPDATE connections SET setup_sealed = COALESCE(?3, setup_sealed), \
                   tokens_sealed = COALESCE(?4, tokens_sealed), fingerprint = ?5 \
                 WHERE tenant_id = ?1 AND id = ?2",
            )
            .bind(tenant.as_str())
            .bind(row.id.as_str())
            .bind(new.setup_sealed.as_deref())
            .bind(new.tokens_sealed.as_deref())
            .bind(&new.fingerprint)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }

        let rows = sqlx::query(
            "SELECT id, tenant_id, name, secret_hash, scopes, created_at, mac FROM management_clients",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &rows {
            let Some((hash, mac)) = client_from_row(r).ok().and_then(|c| upgrade.client(&c)) else {
                continue;
            };
            sqlx::query("UPDATE management_clients SET secret_hash = ?2, mac = ?3 WHERE id = ?1")
                .bind(r.try_get::<String, _>("id").map_err(db)?)
                .bind(hash)
                .bind(mac)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }

        self.upgrade_flow_rows(&mut tx, upgrade).await?;

        sqlx::query("DELETE FROM keyring").execute(&mut *tx).await.map_err(db)?;
        for k in &keys {
            sqlx::query(
                "INSERT INTO keyring (kind, term, sealed, created_at) \
                 VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )
            .bind(k.kind.as_str())
            .bind(i64::from(k.term))
            .bind(&k.sealed)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn initialise(
        &self,
        meta: &[(&str, String)],
        keys: &[SealedKey],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM keyring")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .try_get("n")
            .map_err(db)?;
        if existing > 0 {
            return Ok(false);
        }
        for (key, value) in meta {
            sqlx::query("INSERT INTO vault_meta (key, value) VALUES (?1, ?2)")
                .bind(*key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for k in keys {
            sqlx::query(
                "INSERT INTO keyring (kind, term, sealed, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(k.kind.as_str())
            .bind(i64::from(k.term))
            .bind(&k.sealed)
            .bind(now.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn tenant_by_name(&self, name: &TenantName) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE name = ?1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok(Tenant {
                id: parse(&r, "id")?,
                name: parse(&r, "name")?,
                created_at: parse(&r, "created_at")?,
            })
        })
        .transpose()
    }

    async fn ensure_tenant(&self, name: &TenantName, now: Timestamp) -> Result<Tenant, StoreError> {
        if let Some(t) = self.tenant_by_name(name).await? {
            return Ok(t);
        }
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(TenantId::generate().as_str())
        .bind(name.as_str())
        .bind(now.to_string())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        self.tenant_by_name(name).await?.ok_or(StoreError::NotFound)
    }

    async fn insert_connection(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO connections (tenant_id, ",
            connection_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20, ?21, ?22, ?23, ?24)"
        ))
        .bind(tenant.as_str())
        .bind(row.id.as_str())
        .bind(row.app_id.as_str())
        .bind(row.name.as_str())
        .bind(row.environment.as_ref().map(Environment::as_str))
        .bind(row.account_name.as_ref().map(AccountName::as_str))
        .bind(row.setup.as_ref().map(|s| s.setup_type.as_str()))
        .bind(row.setup.as_ref().map(|s| s.sealed.as_slice()))
        .bind(row.tokens_sealed.as_deref())
        .bind(&row.fingerprint)
        .bind(to_i64(row.version)?)
        .bind(row.created_at.to_string())
        .bind(row.updated_at.to_string())
        .bind(row.refreshed_at.map(|t| t.to_string()))
        .bind(to_i64(row.token.tokens_version)?)
        .bind(row.token.problem.map(|p| p.as_str()))
        .bind(text(row.token.expires_at))
        .bind(text(row.token.refresh_at))
        .bind(row.token.granted_scopes.as_deref())
        .bind(row.token.missing_scopes.as_deref())
        .bind(row.token.last_error.as_deref())
        .bind(i64::from(row.token.attempts))
        .bind(row.token.lease_owner.as_deref())
        .bind(text(row.token.lease_until))
        .execute(&self.writer)
        .await
        .map_err(db_or_exists)?;
        Ok(())
    }

    async fn connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE tenant_id = ?1 AND id = ?2"
        );
        let params = (tenant.as_str(), id.as_str());
        if let Read::Done(row) = self.readers.row(SQL, params, |r| connection_from_row(r)) {
            return row;
        }
        sqlx::query(SQL)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| connection_from_row(&r))
            .transpose()
    }

    async fn list_connections(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ConnectionRow>, StoreError> {
        let app = query.app.map(|a| a.as_str());
        // `rowid` breaks ties between rows created in the same millisecond, in insertion order.
        let rows = sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE tenant_id = ?1 AND (?2 IS NULL OR app_id = ?2) \
              ORDER BY created_at, rowid LIMIT ?3 OFFSET ?4"
        ))
        .bind(tenant.as_str())
        .bind(app)
        .bind(to_i64(query.limit)?)
        .bind(to_i64(query.offset)?)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM connections WHERE tenant_id = ?1 AND (?2 IS NULL OR app_id = ?2)",
        )
        .bind(tenant.as_str())
        .bind(app)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .try_get("n")
        .map_err(db)?;
        Ok(Page {
            items: rows.iter().map(connection_from_row).collect::<Result<_, _>>()?,
            total: to_u64(total)?,
        })
    }

    async fn connection_summaries(
        &self,
        tenant: &TenantId,
        app: Option<AppId>,
        search: Option<&str>,
    ) -> Result<Vec<SummaryRow>, StoreError> {
        let needle = search.map(str::to_ascii_lowercase);
        // No envelopes and no parsing of what a list does not show: one light row each.
        let rows = sqlx::query(
            "SELECT id, app_id, name, setup_type, tokens_sealed IS NOT NULL AS has_tokens, \
               token_status, expires_at, lease_until, last_error, missing_scopes, updated_at, \
               refreshed_at \
             FROM connections WHERE tenant_id = ?1 AND (?2 IS NULL OR app_id = ?2) \
               AND (?3 IS NULL OR instr(lower(name), ?3) > 0 OR id = ?4) \
             ORDER BY app_id, lower(name), rowid",
        )
        .bind(tenant.as_str())
        .bind(app.map(AppId::as_str))
        .bind(needle.as_deref())
        .bind(search)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: u64,
        change: &ConnectionChange,
    ) -> Result<ConnectionRow, StoreError> {
        let (setup, fingerprint) = match &change.setup {
            Some((s, f)) => (Some(s), Some(f.as_str())),
            None => (None, None),
        };
        // ?9: 0 keep, 1 reschedule, 2 clear; ?10: the new refresh_at.
        let (reset, refresh_at) = match change.tokens {
            TokenReset::Keep => (0, None),
            TokenReset::Reschedule(at) => (1, at),
            TokenReset::Clear(at) => (2, at),
        };
        let row = sqlx::query(concat!(
            "UPDATE connections SET \
               name = COALESCE(?4, name), \
               setup_type = COALESCE(?5, setup_type), \
               setup_sealed = COALESCE(?6, setup_sealed), \
               fingerprint = COALESCE(?7, fingerprint), \
               updated_at = ?8, \
               version = version + 1, \
               tokens_sealed = CASE WHEN ?9 = 2 THEN NULL ELSE tokens_sealed END, \
               tokens_version = CASE WHEN ?9 = 2 THEN tokens_version + 1 ELSE tokens_version END, \
               expires_at = CASE WHEN ?9 = 2 THEN NULL ELSE expires_at END, \
               granted_scopes = CASE WHEN ?9 = 2 THEN NULL ELSE granted_scopes END, \
               token_status = CASE WHEN ?9 > 0 AND token_status IS NOT 'needs_update' THEN NULL \
                                   ELSE token_status END, \
               last_error = CASE WHEN ?9 > 0 THEN NULL ELSE last_error END, \
               attempts = CASE WHEN ?9 > 0 THEN 0 ELSE attempts END, \
               refresh_at = CASE WHEN ?9 > 0 THEN ?10 ELSE refresh_at END \
             WHERE tenant_id = ?1 AND id = ?2 AND version = ?3 \
             RETURNING ",
            connection_columns!()
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(to_i64(expected_version)?)
        .bind(change.name.as_ref().map(ConnectionName::as_str))
        .bind(setup.map(|s| s.setup_type.as_str()))
        .bind(setup.map(|s| s.sealed.as_slice()))
        .bind(fingerprint)
        .bind(change.updated_at.to_string())
        .bind(reset)
        .bind(text(refresh_at))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        match row {
            Some(r) => connection_from_row(&r),
            None => Err(StoreError::VersionConflict {
                current: self.current_version(tenant, id).await?,
            }),
        }
    }

    async fn delete_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "DELETE FROM connections WHERE tenant_id = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3)",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(expected_version.map(to_i64).transpose()?)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::VersionConflict { current: self.current_version(tenant, id).await? })
        }
    }

    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at, mac) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(row.id.as_str())
        .bind(row.tenant_id.as_str())
        .bind(row.name.as_str())
        .bind(&row.secret_hash)
        .bind(row.scopes.to_string())
        .bind(row.created_at.to_string())
        .bind(row.mac.as_deref())
        .execute(&self.writer)
        .await
        .map_err(db_or_exists)?;
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError> {
        sqlx::query(
            "SELECT id, tenant_id, name, secret_hash, scopes, created_at, mac FROM management_clients WHERE id = ?1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| client_from_row(&r))
        .transpose()
    }

    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<ClientRow>, StoreError> {
        sqlx::query(
            "SELECT id, tenant_id, name, secret_hash, scopes, created_at, mac FROM management_clients \
             WHERE tenant_id = ?1 ORDER BY created_at, rowid",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(client_from_row)
        .collect()
    }

    async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM management_clients WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db)?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        sqlx::query("SELECT kid, alg, private_sealed, created_at FROM signing_keys ORDER BY created_at, rowid")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    kid: r.try_get("kid").map_err(db)?,
                    alg: r.try_get("alg").map_err(db)?,
                    private_sealed: r.try_get("private_sealed").map_err(db)?,
                    created_at: parse(r, "created_at")?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, row: &SigningKeyRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_sealed, created_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(&row.kid)
        .bind(&row.alg)
        .bind(&row.private_sealed)
        .bind(row.created_at.to_string())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(TenantId, ConnectionId)>, StoreError> {
        let rows = sqlx::query(
            "UPDATE connections SET lease_owner = ?1, lease_until = ?2 \
             WHERE rowid IN (SELECT rowid FROM connections \
                             WHERE refresh_at IS NOT NULL AND refresh_at <= ?3 \
                               AND (lease_owner IS NULL OR lease_until < ?3) \
                             ORDER BY refresh_at LIMIT ?4) \
             RETURNING tenant_id, id",
        )
        .bind(owner)
        .bind(until.to_string())
        .bind(now.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db)?;
        rows.iter().map(|r| Ok((parse(r, "tenant_id")?, parse(r, "id")?))).collect()
    }

    async fn mark_unreadable(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        message: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE connections SET token_status = 'error', last_error = ?3, refresh_at = NULL, \
               expires_at = NULL, lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = ?1 AND id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(message)
        .execute(&self.writer)
        .await
        .map_err(db)
        .map(drop)
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE connections SET lease_owner = ?3, lease_until = ?5 \
             WHERE tenant_id = ?1 AND id = ?2 \
               AND (lease_owner IS NULL OR lease_until < ?4 OR lease_owner = ?3) \
             RETURNING ",
            connection_columns!()
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(owner)
        .bind(now.to_string())
        .bind(until.to_string())
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        match row {
            Some(r) => connection_from_row(&r).map(Some),
            None => self.current_version(tenant, id).await.map(|_| None),
        }
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE connections SET lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = ?1 AND id = ?2 AND lease_owner = ?3",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)
        .map(drop)
    }

    async fn finish_refresh(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        tokens_version: u64,
        write: &TokenWrite,
    ) -> Result<ConnectionRow, StoreError> {
        let query = match write {
            TokenWrite::Tokens { sealed, expires_at, refresh_at, granted_scopes, account_name, refreshed_at, authorized } => {
                sqlx::query(concat!(
                    "UPDATE connections SET tokens_sealed = ?5, tokens_version = tokens_version + 1, \
                       expires_at = ?6, refresh_at = ?7, granted_scopes = COALESCE(?8, granted_scopes), \
                       account_name = COALESCE(?9, account_name), refreshed_at = ?10, \
                       token_status = CASE WHEN ?11 = 0 AND token_status = 'needs_update' \
                                           THEN token_status ELSE NULL END, \
                       missing_scopes = CASE WHEN ?11 = 0 THEN missing_scopes ELSE NULL END, \
                       last_error = NULL, attempts = 0, \
                       lease_until = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_until END, \
                       lease_owner = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_owner END \
                     WHERE tenant_id = ?1 AND id = ?2 AND tokens_version = ?4 \
                     RETURNING ",
                    connection_columns!()
                ))
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(owner)
                .bind(to_i64(tokens_version)?)
                .bind(sealed.as_slice())
                .bind(text(*expires_at))
                .bind(text(*refresh_at))
                .bind(granted_scopes.as_deref())
                .bind(account_name.as_ref().map(AccountName::as_str))
                .bind(refreshed_at.to_string())
                .bind(i64::from(*authorized))
            }
            TokenWrite::Retry { last_error, retry_at } => sqlx::query(concat!(
                "UPDATE connections SET token_status = CASE WHEN token_status = 'needs_update' \
                   THEN token_status ELSE 'error' END, last_error = ?5, attempts = attempts + 1, \
                   refresh_at = ?6, \
                   lease_until = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_until END, \
                   lease_owner = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_owner END \
                 WHERE tenant_id = ?1 AND id = ?2 AND tokens_version = ?4 \
                 RETURNING ",
                connection_columns!()
            ))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(owner)
            .bind(to_i64(tokens_version)?)
            .bind(last_error.as_str())
            .bind(retry_at.to_string()),
            TokenWrite::NeedsReauth { last_error } => sqlx::query(concat!(
                "UPDATE connections SET token_status = 'needs_reauth', last_error = ?5, \
                   attempts = attempts + 1, refresh_at = NULL, \
                   lease_until = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_until END, \
                   lease_owner = CASE WHEN lease_owner = ?3 THEN NULL ELSE lease_owner END \
                 WHERE tenant_id = ?1 AND id = ?2 AND tokens_version = ?4 \
                 RETURNING ",
                connection_columns!()
            ))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(owner)
            .bind(to_i64(tokens_version)?)
            .bind(last_error.as_str()),
        };
        match query.fetch_optional(&self.writer).await.map_err(db)? {
            Some(r) => connection_from_row(&r),
            None => {
                let row = self.connection(tenant, id).await?.ok_or(StoreError::NotFound)?;
                Err(StoreError::VersionConflict { current: row.token.tokens_version })
            }
        }
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        // A time not in the fixed-width form (a row written by hand) is claimed by `claim_due`
        // and taken out of the schedule there; it must not hide every real time from here.
        let row = sqlx::query(
            "SELECT MIN(refresh_at) AS due FROM connections WHERE refresh_at IS NOT NULL \
               AND refresh_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        opt_time(&row, "due")
    }

    async fn set_missing_scopes(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        missing: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE connections SET missing_scopes = ?3, \
               token_status = CASE WHEN ?3 IS NOT NULL THEN 'needs_update' \
                                   WHEN token_status = 'needs_update' THEN NULL \
                                   ELSE token_status END \
             WHERE tenant_id = ?1 AND id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(missing)
        .execute(&self.writer)
        .await
        .map_err(db)
        .map(drop)
    }

    async fn oauth_code_connections(&self) -> Result<Vec<(TenantId, ConnectionRow)>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT tenant_id, ",
            connection_columns!(),
            " FROM connections WHERE setup_type = 'OAUTH_CODE'"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| Ok((parse(r, "tenant_id")?, connection_from_row(r)?))).collect()
    }

    async fn insert_oauth_state(&self, row: &OAuthStateRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, tenant_id, connection_id, verifier_sealed, scopes, \
               created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(row.state_hash.as_slice())
        .bind(row.tenant_id.as_str())
        .bind(row.connection_id.as_str())
        .bind(row.verifier_sealed.as_slice())
        .bind(&row.scopes)
        .bind(row.created_at.to_string())
        .bind(row.expires_at.to_string())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        // Abandoned authorizations are swept as new ones start.
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < ?1")
            .bind(row.created_at.to_string())
            .execute(&self.writer)
            .await
            .map_err(db)
            .map(drop)
    }

    async fn take_oauth_state(
        &self,
        state_hash: &[u8],
    ) -> Result<Option<OAuthStateRow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash = ?1 RETURNING state_hash, tenant_id, \
               connection_id, verifier_sealed, scopes, created_at, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(OAuthStateRow {
                state_hash: r.try_get("state_hash").map_err(db)?,
                tenant_id: parse(&r, "tenant_id")?,
                connection_id: parse(&r, "connection_id")?,
                verifier_sealed: r.try_get("verifier_sealed").map_err(db)?,
                scopes: r.try_get("scopes").map_err(db)?,
                created_at: parse(&r, "created_at")?,
                expires_at: parse(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn put_otp(&self, tenant: &TenantId, row: &OtpRow) -> Result<(), StoreError> {
        self.put_otp_(tenant, row).await
    }

    async fn check_otp(
        &self,
        tenant: &TenantId,
        reference_hash: &[u8],
        now: Timestamp,
        max_attempts: u32,
        matches: &(dyn for<'h> Fn(&'h [u8]) -> bool + Sync),
    ) -> Result<OtpCheck, StoreError> {
        self.check_otp_(tenant, reference_hash, now, max_attempts, matches).await
    }

    async fn delivery(&self, tenant: &TenantId) -> Result<Option<DeliveryRow>, StoreError> {
        self.delivery_(tenant).await
    }

    async fn put_delivery(&self, tenant: &TenantId, row: &DeliveryRow) -> Result<(), StoreError> {
        self.put_delivery_(tenant, row).await
    }

    async fn delete_delivery(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        self.delete_delivery_(tenant).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db).map(drop)
    }

    async fn insert_flow(
        &self,
        tenant: &TenantId,
        row: &FlowRow,
        connections: &[ConnectionId],
    ) -> Result<(), StoreError> {
        self.insert_flow_(tenant, row, connections).await
    }

    async fn flow(&self, tenant: &TenantId, id: &FlowId) -> Result<Option<FlowRow>, StoreError> {
        self.flow_(tenant, id).await
    }

    async fn list_flows(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<FlowRow>, StoreError> {
        self.list_flows_(tenant, query).await
    }

    async fn update_flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected_version: u64,
        change: &FlowChange,
    ) -> Result<FlowRow, StoreError> {
        self.update_flow_(tenant, id, expected_version, change).await
    }

    async fn delete_flow(&self, tenant: &TenantId, id: &FlowId) -> Result<(), StoreError> {
        self.delete_flow_(tenant, id).await
    }

    async fn flows_using(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<(FlowId, String)>, StoreError> {
        self.flows_using_(tenant, connection).await
    }

    async fn insert_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        self.executions.insert(tenant, row).await
    }

    async fn update_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        self.update_execution_(tenant, row).await
    }

    async fn execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionRow>, StoreError> {
        self.execution_(tenant, flow, id).await
    }

    async fn list_executions(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        query: &ExecutionQuery,
    ) -> Result<ExecutionPage, StoreError> {
        self.list_executions_(tenant, flow, query).await
    }

    async fn delete_execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<(), StoreError> {
        self.delete_execution_(tenant, flow, id).await
    }

    async fn delete_executions_before(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.delete_executions_before_(before).await
    }
}

/// Creates the database file readable by its owner only (SQLite creates its `-wal` and `-shm`
/// files with the same mode), or narrows an existing one to that.
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => narrow(path),
        Err(e) => Err(StoreError::Database(Box::new(e))),
    }
}

/// Takes group and other permissions off an existing file.
fn narrow(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Database(Box::new(e)))
        }
        _ => Ok(()),
    }
}

const KEYRING_QUERY: &str = "SELECT kind, term, sealed FROM keyring ORDER BY kind, term";

fn sealed_key_from_row(r: &SqliteRow) -> Result<SealedKey, StoreError> {
    let kind: String = r.try_get("kind").map_err(db)?;
    let term: i64 = r.try_get("term").map_err(db)?;
    Ok(SealedKey {
        kind: KeyKind::from_name(&kind).ok_or_else(|| corrupt("keyring kind"))?,
        term: u32::try_from(term).map_err(|_| corrupt("keyring term"))?,
        sealed: r.try_get("sealed").map_err(db)?,
    })
}

pub(crate) fn connection_from_row(r: &impl Columns) -> Result<ConnectionRow, StoreError> {
    let setup_type = r.text("setup_type")?;
    let setup_sealed = r.blob("setup_sealed")?;
    let setup = match (setup_type, setup_sealed) {
        (Some(t), Some(sealed)) => Some(SealedSetup {
            setup_type: t.parse().map_err(|_| corrupt("connections.setup_type"))?,
            sealed,
        }),
        (None, None) => None,
        _ => return Err(corrupt("connections.setup_type without setup_sealed")),
    };
    Ok(ConnectionRow {
        id: parse(r, "id")?,
        app_id: parse(r, "app_id")?,
        name: connection_name(r)?,
        environment: r
            .text("environment")?
            .map(|s| Environment::parse(&s).map_err(|_| corrupt("connections.environment")))
            .transpose()?,
        account_name: r
            .text("account_name")?
            .map(|s| AccountName::parse(&s).map_err(|_| corrupt("connections.account_name")))
            .transpose()?,
        setup,
        tokens_sealed: r.blob("tokens_sealed")?,
        fingerprint: r.required_text("fingerprint")?,
        version: to_u64(r.required_int("version")?)?,
        created_at: parse(r, "created_at")?,
        updated_at: parse(r, "updated_at")?,
        refreshed_at: opt_time(r, "refreshed_at")?,
        token: TokenMeta {
            tokens_version: to_u64(r.required_int("tokens_version")?)?,
            problem: token_problem(r)?,
            expires_at: opt_time(r, "expires_at")?,
            refresh_at: opt_time(r, "refresh_at")?,
            granted_scopes: r.text("granted_scopes")?,
            missing_scopes: r.text("missing_scopes")?,
            last_error: r.text("last_error")?,
            attempts: u32::try_from(r.required_int("attempts")?)
                .map_err(|_| corrupt("connections.attempts"))?,
            lease_owner: r.text("lease_owner")?,
            lease_until: opt_time(r, "lease_until")?,
        },
    })
}

fn connection_name(r: &impl Columns) -> Result<ConnectionName, StoreError> {
    ConnectionName::parse(&r.required_text("name")?).map_err(|_| corrupt("connections.name"))
}

fn token_problem(r: &impl Columns) -> Result<Option<flowvault_core::TokenProblem>, StoreError> {
    r.text("token_status")?
        .map(|s| s.parse().map_err(|()| corrupt("connections.token_status")))
        .transpose()
}

fn summary_from_row(r: &SqliteRow) -> Result<SummaryRow, StoreError> {
    Ok(SummaryRow {
        id: parse(r, "id")?,
        app_id: parse(r, "app_id")?,
        name: connection_name(r)?,
        setup_type: r
            .try_get::<Option<String>, _>("setup_type")
            .map_err(db)?
            .map(|t| t.parse().map_err(|_| corrupt("connections.setup_type")))
            .transpose()?,
        has_tokens: r.try_get("has_tokens").map_err(db)?,
        token: TokenMeta {
            problem: token_problem(r)?,
            expires_at: opt_time(r, "expires_at")?,
            lease_until: opt_time(r, "lease_until")?,
            last_error: r.try_get("last_error").map_err(db)?,
            missing_scopes: r.try_get("missing_scopes").map_err(db)?,
            ..TokenMeta::default()
        },
        updated_at: parse(r, "updated_at")?,
        refreshed_at: opt_time(r, "refreshed_at")?,
    })
}

pub(crate) fn opt_time(
    r: &impl Columns,
    column: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    r.text(column)?.map(|s| s.parse().map_err(|_| corrupt(column))).transpose()
}

fn text(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

fn client_from_row(r: &SqliteRow) -> Result<ClientRow, StoreError> {
    Ok(ClientRow {
        id: parse(r, "id")?,
        tenant_id: parse(r, "tenant_id")?,
        name: ClientName::parse(&r.try_get::<String, _>("name").map_err(db)?)
            .map_err(|_| corrupt("management_clients.name"))?,
        secret_hash: r.try_get("secret_hash").map_err(db)?,
        scopes: parse(r, "scopes")?,
        created_at: parse(r, "created_at")?,
        mac: r.try_get("mac").map_err(db)?,
    })
}

/// Reads a text column into any type that parses from it.
pub(crate) fn parse<T: FromStr>(r: &impl Columns, column: &'static str) -> Result<T, StoreError> {
    r.required_text(column)?.parse().map_err(|_| corrupt(column))
}

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// [`db`], except that a unique-key violation is [`StoreError::AlreadyExists`].
pub(crate) fn db_or_exists(e: sqlx::Error) -> StoreError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StoreError::AlreadyExists,
        _ => db(e),
    }
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

pub(crate) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} is out of range")))
}

pub(crate) fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} is out of range")))
}
