//! What the store keeps of flows and executions.

use std::fmt;

use flowvault_core::{
    ConnectionId, ConnectionName, ExecutionId, ExecutionStatus, FlowId, Timestamp,
};

/// A flow as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRow {
    /// `af_…`.
    pub id: FlowId,
    /// Its name.
    pub name: ConnectionName,
    /// Its actions, as JSON.
    pub actions: String,
    /// Bumped by every change.
    pub version: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last run.
    pub executed_at: Option<Timestamp>,
    /// MAC over the tenant, id, version and actions (`None` only before the vault's upgrade).
    pub mac: Option<Vec<u8>>,
}

/// A change to a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowChange {
    /// A new name.
    pub name: Option<ConnectionName>,
    /// New actions (JSON) and the connections they use.
    pub actions: Option<(String, Vec<ConnectionId>)>,
    /// The MAC of the flow as it will be after the change (its next version).
    pub mac: Vec<u8>,
    /// The time of the change.
    pub updated_at: Timestamp,
}

/// One run of a flow, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    /// `exc_…`.
    pub id: ExecutionId,
    /// The flow.
    pub flow_id: FlowId,
    /// For correlating logs.
    pub trace_id: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// The sealed record of what each action got and gave.
    pub record_sealed: Option<Vec<u8>>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
}

impl fmt::Debug for ExecutionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionRow")
            .field("id", &self.id)
            .field("flow_id", &self.flow_id)
            .field("status", &self.status)
            .field("record_sealed", &self.record_sealed.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// Which executions to list: newest first, after the cursor `from` (an execution id) or from an
/// offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// Start after this execution (newest first).
    pub from: Option<ExecutionId>,
    /// Rows to skip (when no cursor is given).
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// A page of executions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionPage {
    /// Newest first.
    pub items: Vec<ExecutionRow>,
    /// The cursor of the next page, if there is one.
    pub next: Option<ExecutionId>,
    /// How many executions the flow has.
    pub total: u64,
}
