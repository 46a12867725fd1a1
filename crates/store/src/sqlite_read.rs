//! Point reads on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: every query is a message to that
//! thread and a wake-up back, and on a busy server those two context switches cost more than
//! the read (a third of an API read's CPU in the profile; docs/benchmarks.md). The reads on the
//! hot paths — one connection, one flow, by key — are answered here instead, by a few
//! connections of this process's own, on the thread that asks: a WAL read of one row takes a
//! few microseconds and never waits for a writer. When every connection is in use or SQLite is
//! busy (a checkpoint, another process recovering the WAL), the caller reads through the pool
//! as before.
//!
//! [`Columns`] lets one mapping function read a row of either driver.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{OpenFlags, ffi::ErrorCode};
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::{corrupt, db};
use crate::store::StoreError;

/// A row of either driver, read by column name.
pub(crate) trait Columns {
    /// A text column; `None` for NULL.
    fn text(&self, column: &'static str) -> Result<Option<String>, StoreError>;
    /// An integer column; `None` for NULL.
    fn int(&self, column: &'static str) -> Result<Option<i64>, StoreError>;
    /// A blob column; `None` for NULL.
    fn blob(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A text column that must not be NULL.
    fn required_text(&self, column: &'static str) -> Result<String, StoreError> {
        self.text(column)?.ok_or_else(|| corrupt(column))
    }

    /// An integer column that must not be NULL.
    fn required_int(&self, column: &'static str) -> Result<i64, StoreError> {
        self.int(column)?.ok_or_else(|| corrupt(column))
    }
}

impl Columns for SqliteRow {
    fn text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(db)
    }

    fn int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        self.try_get(column).map_err(db)
    }

    fn blob(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(column).map_err(db)
    }
}

/// A row read here, with the names of its columns as its `SELECT` lists them: looking a name
/// up in that list is a few comparisons, where asking SQLite for each column's name (as
/// `rusqlite` does for a name) was a tenth of an API read's CPU.
pub(crate) struct Named<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r [&'static str],
}

impl Named<'_, '_> {
    fn index(&self, column: &'static str) -> Result<usize, StoreError> {
        self.names.iter().position(|n| *n == column).ok_or_else(|| corrupt(column))
    }
}

impl Columns for Named<'_, '_> {
    fn text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        self.row.get(self.index(column)?).map_err(sqlite)
    }

    fn int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        self.row.get(self.index(column)?).map_err(sqlite)
    }

    fn blob(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.row.get(self.index(column)?).map_err(sqlite)
    }
}

/// The column names of `SELECT a, b AS c, … FROM …`: each item's last word.
fn select_list(sql: &'static str) -> Vec<&'static str> {
    let list = sql.strip_prefix("SELECT ").and_then(|rest| rest.split(" FROM ").next());
    list.unwrap_or_default()
        .split(',')
        .map(|item| item.split_whitespace().last().unwrap_or_default())
        .collect()
}

fn sqlite(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// Connections for point reads on the calling thread.
pub(crate) struct Readers {
    /// `None` once closed.
    connections: Box<[Mutex<Option<rusqlite::Connection>>]>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("connections", &self.connections.len()).finish()
    }
}

/// What a read on the calling thread gave.
pub(crate) enum Read<T> {
    /// The answer (`None`: no such row).
    Done(Result<Option<T>, StoreError>),
    /// No connection was free, or SQLite was busy: read through the pool.
    Elsewhere,
}

impl Readers {
    /// `count` read-only connections to the (existing, migrated) database at `path`.
    pub(crate) fn open(path: &Path, count: usize) -> Result<Self, StoreError> {
        let connections = (0..count)
            .map(|_| {
                let c = rusqlite::Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(sqlite)?;
                // Never waits: a busy database sends the read to the pool, whose connections
                // wait on a thread of their own.
                c.busy_timeout(Duration::ZERO).map_err(sqlite)?;
                c.pragma_update(None, "query_only", true).map_err(sqlite)?;
                Ok(Mutex::new(Some(c)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self { connections: connections.into(), next: AtomicUsize::new(0) })
    }

    /// The one row `sql` selects with `params`, read by `map`, on this thread.
    pub(crate) fn row<T>(
        &self,
        sql: &'static str,
        params: impl rusqlite::Params,
        map: impl FnOnce(&Named<'_, '_>) -> Result<T, StoreError>,
    ) -> Read<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        for i in 0..n {
            let guard = match self.connections[(start + i) % n].try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            let Some(connection) = guard.as_ref() else { return Read::Elsewhere };
            return match query(connection, sql, params, map) {
                Err(Failure::Busy) => Read::Elsewhere,
                Err(Failure::Store(e)) => Read::Done(Err(e)),
                Ok(row) => Read::Done(Ok(row)),
            };
        }
        Read::Elsewhere
    }

    /// Closes every connection; later reads go to the pool.
    pub(crate) fn close(&self) {
        for c in &*self.connections {
            c.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
    }
}

enum Failure {
    Busy,
    Store(StoreError),
}

fn query<T>(
    connection: &rusqlite::Connection,
    sql: &'static str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Named<'_, '_>) -> Result<T, StoreError>,
) -> Result<Option<T>, Failure> {
    let failure = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Failure::Busy,
        _ => Failure::Store(sqlite(e)),
    };
    let mut statement = connection.prepare_cached(sql).map_err(failure)?;
    let mut rows = statement.query(params).map_err(failure)?;
    match rows.next().map_err(failure)? {
        Some(row) => {
            let names = select_list(sql);
            map(&Named { row, names: &names }).map(Some).map_err(Failure::Store)
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::select_list;

    #[test]
    fn the_select_list_names_each_column() {
        assert_eq!(
            select_list("SELECT id, name AS n,\n  version FROM t WHERE a = ?1"),
            ["id", "n", "version"]
        );
    }
}
