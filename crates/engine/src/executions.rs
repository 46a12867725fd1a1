//! Executions: running a flow on request (waiting for it or not) and keeping its record —
//! sealed, secrets scrubbed — for the executions API.

use flowvault_core::{ExecutionId, ExecutionStatus, Flow, FlowId, TenantId, Timestamp};
use flowvault_store::{ExecutionRow, StoreError, Vault, VaultError};
use serde::Serialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::run::{ActionRecord, FlowError, RunInput, RunLimits, RunOutcome, RunRecord};
use crate::slots::RunLimit;

/// Why a run could not start (or its execution could not be stored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The flow does not exist, or the store failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Too many runs are in progress, for this tenant or in all.
    #[error("{limit}; try again shortly")]
    Busy {
        /// The limit that is full.
        limit: RunLimit,
    },
    /// The record of the run could not be serialised (nothing is stored in its place).
    #[error("the record of the run can't be serialised: {0}")]
    Record(#[source] serde_json::Error),
}

/// An execution as the API shows it (Auth0's fields, plus `flow_id`, `result` and `error`).
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionView {
    /// `exc_…`.
    pub id: ExecutionId,
    /// The flow.
    pub flow_id: FlowId,
    /// For correlating logs.
    pub trace_id: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// What `RETURN_JSON` returned (finished executions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FlowError>,
    /// Each action's input, output, error and timing (`?hydrate=debug`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<ExecutionDebug>,
}

/// The debug details of an execution: its record's actions.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionDebug {
    /// Each action run, in order.
    pub actions: Vec<ActionRecord>,
}

/// Whether a run's caller waits for its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Answer with the finished execution.
    ForEnd,
    /// Answer at once with the execution `running`; it finishes in the background.
    No,
}

impl Engine {
    /// Runs a flow: with `wait`, to its end, returning the finished execution; without, in the
    /// background, returning it `running`. The execution and its record are stored either way.
    /// Either kind of run holds one of the tenant's run slots until it ends.
    ///
    /// # Errors
    /// [`ExecuteError::Vault`] with [`VaultError::NotFound`] for an unknown flow (or one deleted
    /// while it ran), [`VaultError::Tampered`] for a flow that fails its integrity check, the
    /// store's error; [`ExecuteError::Busy`] when the tenant's runs, or all runs, are at their
    /// limit.
    pub async fn execute(
        &self,
        tenant: &TenantId,
        flow_id: &FlowId,
        input: RunInput,
        wait: Wait,
        limits: RunLimits,
    ) -> Result<ExecutionView, ExecuteError> {
        let vault = self.vault();
        let flow = vault.flow_to_run(tenant, flow_id).await?;
        let slot =
            self.inner.runs.try_take(tenant).map_err(|limit| ExecuteError::Busy { limit })?;
        let now = vault.now();
        let mut trace = [0u8; 12];
        let _ = getrandom::fill(&mut trace);
        let mut row = ExecutionRow {
            id: ExecutionId::generate(),
            flow_id: flow_id.clone(),
            trace_id: trace.iter().fold(String::with_capacity(24), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            }),
            status: ExecutionStatus::Running,
            record_sealed: None,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            ended_at: None,
        };
        if wait == Wait::No {
            vault.insert_execution(tenant, &row).await?;
            let running = view(&row, None, false);
            let (engine, tenant) = (self.clone(), tenant.clone());
            tokio::spawn(async move {
                let _slot = slot;
                let ran = engine.run_into(&tenant, &flow, input, limits, &mut row).await;
                if let Err(e) = &ran {
                    // The record could not be sealed: the execution still ends, as failed and
                    // without a record, rather than showing `running` for ever.
                    tracing::error!(execution = %row.id, flow = %row.flow_id, error = %e, "cannot seal an execution record");
                    let now = engine.vault().now();
                    row.status = ExecutionStatus::Failed;
                    row.record_sealed = None;
                    row.ended_at = Some(now);
                    row.updated_at = now;
                }
                let stored =
                    engine.vault().update_execution(&tenant, &row).await.map_err(Into::into);
                log_end(&row, stored.as_ref().err());
            });
            return Ok(running);
        }
        // The run is a task of its own: if the caller goes away (a client that disconnects, a
        // request timeout), the run still ends, its execution is still stored, and it holds its
        // slot until then.
        let (engine, tenant) = (self.clone(), tenant.clone());
        let task = tokio::spawn(async move {
            let _slot = slot;
            let outcome = engine.run_into(&tenant, &flow, input, limits, &mut row).await?;
            let stored = engine.vault().insert_execution(&tenant, &row).await.map_err(Into::into);
            log_end(&row, stored.as_ref().err());
            stored?;
            Ok(view(&row, Some(&outcome.record), false))
        });
        match task.await {
            Ok(result) => result,
            // Nothing aborts the task; a panic in it is the caller's panic too.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Runs `flow` and puts the finished run into `row`: status, times, sealed record.
    async fn run_into(
        &self,
        tenant: &TenantId,
        flow: &Flow,
        input: RunInput,
        limits: RunLimits,
        row: &mut ExecutionRow,
    ) -> Result<RunOutcome, ExecuteError> {
        let outcome = self.run_flow(tenant, flow, input, limits).await;
        let record = serde_json::to_vec(&outcome.record).map_err(ExecuteError::Record)?;
        row.record_sealed =
            Some(self.vault().seal_execution(tenant, &row.id, &row.flow_id, &record)?);
        row.status = outcome.status;
        row.started_at = Some(outcome.started_at);
        row.ended_at = Some(outcome.ended_at);
        row.updated_at = outcome.ended_at;
        Ok(outcome)
    }

    /// A stored execution, with its record's debug details when `debug`.
    ///
    /// # Errors
    /// [`VaultError::NotFound`], or [`VaultError::Sealed`] for a tampered record.
    pub async fn execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
        debug: bool,
    ) -> Result<ExecutionView, VaultError> {
        stored_execution(self.vault(), tenant, flow, id, debug).await
    }
}

/// A stored execution, opened, with its record's debug details when `debug` (the executions API
/// and `flowvault executions show`).
///
/// # Errors
/// [`VaultError::NotFound`], or [`VaultError::Sealed`] for a tampered record.
pub async fn stored_execution(
    vault: &Vault,
    tenant: &TenantId,
    flow: &FlowId,
    id: &ExecutionId,
    debug: bool,
) -> Result<ExecutionView, VaultError> {
    let row = vault.execution(tenant, flow, id).await?;
    let record = match vault.open_execution(tenant, &row)? {
        Some(bytes) => Some(serde_json::from_slice::<RunRecord>(&bytes).map_err(|e| {
            StoreError::Corrupt(format!("the record of execution {id} does not read: {e}"))
        })?),
        None => None,
    };
    Ok(view(&row, record.as_ref(), debug))
}

/// One log line per finished run: ids and status, never data.
fn log_end(row: &ExecutionRow, failed_to_store: Option<&ExecuteError>) {
    match failed_to_store {
        None => {
            tracing::info!(execution = %row.id, flow = %row.flow_id, status = %row.status, "flow ran")
        }
        Some(e) => {
            tracing::error!(execution = %row.id, flow = %row.flow_id, error = %e, "cannot store an execution")
        }
    }
}

/// The API's view of a row and (for finished runs) its record.
pub fn view(row: &ExecutionRow, record: Option<&RunRecord>, debug: bool) -> ExecutionView {
    ExecutionView {
        id: row.id.clone(),
        flow_id: row.flow_id.clone(),
        trace_id: row.trace_id.clone(),
        status: row.status,
        created_at: row.created_at,
        updated_at: row.updated_at,
        started_at: row.started_at,
        ended_at: row.ended_at,
        result: record.and_then(|r| r.result.clone()).filter(|v| !v.is_null()),
        error: record.and_then(|r| r.error.clone()),
        debug: record.filter(|_| debug).map(|r| ExecutionDebug { actions: r.actions.clone() }),
    }
}
