//! The embedded SQLite store: one file in the data directory, WAL journal, migrations at open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use flowvault_core::{
    AccountName, ClientId, ClientName, ConnectionId, ConnectionName, Environment, TenantId,
    TenantName, Timestamp,
};
use flowvault_crypto::{KeyKind, SealedKey};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::records::{
    ClientRow, ConnectionChange, ConnectionRow, ListQuery, Page, SealedSetup, SigningKeyRow, Tenant,
};
use crate::store::{Store, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The columns of a connection row, in the order [`connection_from_row`] reads them.
macro_rules! connection_columns {
    () => {
        "id, app_id, name, environment, account_name, setup_type, setup_sealed, tokens_sealed, \
         fingerprint, version, created_at, updated_at, refreshed_at"
    };
}

/// A [`Store`] in one SQLite file.
///
/// WAL journal with `synchronous = NORMAL`: a write is durable once acknowledged, across a crash
/// of the process (`kill -9`); an operating-system crash or power cut may lose the last
/// transactions but never corrupts the file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the file can't be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4);
        let pool = SqlitePoolOptions::new()
            .max_connections(u32::try_from(readers).unwrap_or(8))
            .connect_with(options)
            .await
            .map_err(db)?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(Self { pool, path: path.to_owned() })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction that takes the write lock up front, so it never fails half-way
    /// because another connection started writing first.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
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
        let rows = sqlx::query("SELECT kind, term, sealed FROM keyring ORDER BY kind, term")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(db)?;
                let term: i64 = r.try_get("term").map_err(db)?;
                Ok(SealedKey {
                    kind: KeyKind::from_name(&kind).ok_or_else(|| corrupt("keyring kind"))?,
                    term: u32::try_from(term).map_err(|_| corrupt("keyring term"))?,
                    sealed: r.try_get("sealed").map_err(db)?,
                })
            })
            .collect()
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
        .execute(&self.pool)
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
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
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
        .execute(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => StoreError::AlreadyExists,
            _ => db(e),
        })?;
        Ok(())
    }

    async fn connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE tenant_id = ?1 AND id = ?2"
        ))
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
        let row = sqlx::query(concat!(
            "UPDATE connections SET \
               name = COALESCE(?4, name), \
               setup_type = COALESCE(?5, setup_type), \
               setup_sealed = COALESCE(?6, setup_sealed), \
               fingerprint = COALESCE(?7, fingerprint), \
               updated_at = ?8, \
               version = version + 1 \
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
        .fetch_optional(&self.pool)
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
        .execute(&self.pool)
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
            "INSERT INTO management_clients (id, tenant_id, name, secret_hash, scopes, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(row.id.as_str())
        .bind(row.tenant_id.as_str())
        .bind(row.name.as_str())
        .bind(&row.secret_hash)
        .bind(row.scopes.to_string())
        .bind(row.created_at.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => StoreError::AlreadyExists,
            _ => db(e),
        })?;
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError> {
        sqlx::query(
            "SELECT id, tenant_id, name, secret_hash, scopes, created_at FROM management_clients WHERE id = ?1",
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
            "SELECT id, tenant_id, name, secret_hash, scopes, created_at FROM management_clients \
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
            .execute(&self.pool)
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
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db).map(drop)
    }
}

fn connection_from_row(r: &SqliteRow) -> Result<ConnectionRow, StoreError> {
    let setup_type: Option<String> = r.try_get("setup_type").map_err(db)?;
    let setup_sealed: Option<Vec<u8>> = r.try_get("setup_sealed").map_err(db)?;
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
        name: ConnectionName::parse(&r.try_get::<String, _>("name").map_err(db)?)
            .map_err(|_| corrupt("connections.name"))?,
        environment: r
            .try_get::<Option<String>, _>("environment")
            .map_err(db)?
            .map(|s| Environment::parse(&s).map_err(|_| corrupt("connections.environment")))
            .transpose()?,
        account_name: r
            .try_get::<Option<String>, _>("account_name")
            .map_err(db)?
            .map(|s| AccountName::parse(&s).map_err(|_| corrupt("connections.account_name")))
            .transpose()?,
        setup,
        tokens_sealed: r.try_get("tokens_sealed").map_err(db)?,
        fingerprint: r.try_get("fingerprint").map_err(db)?,
        version: to_u64(r.try_get("version").map_err(db)?)?,
        created_at: parse(r, "created_at")?,
        updated_at: parse(r, "updated_at")?,
        refreshed_at: r
            .try_get::<Option<String>, _>("refreshed_at")
            .map_err(db)?
            .map(|s| s.parse().map_err(|_| corrupt("connections.refreshed_at")))
            .transpose()?,
    })
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
    })
}

/// Reads a text column into any type that parses from it.
fn parse<T: FromStr>(r: &SqliteRow, column: &'static str) -> Result<T, StoreError> {
    let text: String = r.try_get(column).map_err(db)?;
    text.parse().map_err(|_| corrupt(column))
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} is out of range")))
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} is out of range")))
}
