//! Group commit of execution records.
//!
//! Every flow run stores one execution. Committed one by one through the writer, each insert is
//! a transaction of its own — the WAL frames of every page it touches, and two thread hops —
//! and runs queue behind one another for the one writer (a one-action flow's throughput was
//! bound by it; docs/benchmarks.md). Inserts are instead handed to a thread of their own,
//! which commits whatever has queued meanwhile as one transaction and then answers each
//! insert. An insert is answered only after the transaction holding it committed, so what was
//! acknowledged survives a crash of the process exactly as before.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use flowvault_core::TenantId;
use rusqlite::{OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::flow_records::ExecutionRow;
use crate::store::StoreError;

/// The most inserts one transaction holds.
const MAX_BATCH: usize = 512;

struct Insert {
    tenant: TenantId,
    row: ExecutionRow,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The thread that commits execution inserts in groups.
pub(crate) struct ExecutionWriter {
    /// `None` once closed.
    queue: Mutex<Option<mpsc::Sender<Insert>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for ExecutionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionWriter").finish_non_exhaustive()
    }
}

impl ExecutionWriter {
    /// Starts the thread, with a connection of its own to the (migrated) database at `path`.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            // As the pool's connections: other writers (this process's, other processes') are
            // waited for.
            c.busy_timeout(Duration::from_secs(5))?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "foreign_keys", true)?;
            Ok(c)
        })
        .map_err(database)?;
        let (queue, inserts) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowvault-executions".to_owned())
            .spawn(move || commit_in_groups(connection, &inserts))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(Self { queue: Mutex::new(Some(queue)), thread: Mutex::new(Some(thread)) })
    }

    /// Inserts an execution (only while its flow exists: [`StoreError::NotFound`] otherwise),
    /// once the transaction holding it has committed.
    pub(crate) async fn insert(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let insert = Insert { tenant: tenant.clone(), row: row.clone(), done };
        {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let sent = queue.as_ref().is_some_and(|q| q.send(insert).is_ok());
            if !sent {
                return Err(closed());
            }
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Commits what is queued and stops the thread.
    pub(crate) fn close(&self) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = thread.join();
        }
    }
}

fn closed() -> StoreError {
    StoreError::Database("the execution writer has stopped".into())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn database(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// One statement: only for a flow that (still) exists — a run that outlived its flow leaves
/// nothing behind; the `executions_touch_flow` trigger sets `executed_at`.
const INSERT: &str = "INSERT INTO executions (tenant_id, id, flow_id, trace_id, status, \
     record_sealed, created_at, updated_at, started_at, ended_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
     WHERE EXISTS (SELECT 1 FROM flows WHERE tenant_id = ?1 AND id = ?3)";

fn commit_in_groups(mut connection: rusqlite::Connection, inserts: &mpsc::Receiver<Insert>) {
    while let Ok(first) = inserts.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inserts.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match commit(&mut connection, &batch) {
            Ok(outcomes) => {
                for (insert, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = insert.done.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, inserts = batch.len(), "cannot store executions");
                let message = e.to_string();
                for insert in batch {
                    let _ = insert.done.send(Err(StoreError::Database(message.clone().into())));
                }
            }
        }
    }
}

/// One transaction for `batch`; each insert's own outcome (a statement that fails is rolled
/// back alone).
fn commit(
    connection: &mut rusqlite::Connection,
    batch: &[Insert],
) -> Result<Vec<Result<(), StoreError>>, rusqlite::Error> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut statement = tx.prepare_cached(INSERT)?;
        for Insert { tenant, row, .. } in batch {
            let inserted = statement.execute(rusqlite::params![
                tenant.as_str(),
                row.id.as_str(),
                row.flow_id.as_str(),
                row.trace_id,
                row.status.as_str(),
                row.record_sealed,
                row.created_at.to_string(),
                row.updated_at.to_string(),
                row.started_at.map(|t| t.to_string()),
                row.ended_at.map(|t| t.to_string()),
            ]);
            outcomes.push(match inserted {
                Ok(0) => Err(StoreError::NotFound),
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
                Err(e) => Err(database(e)),
            });
        }
    }
    tx.commit()?;
    Ok(outcomes)
}
