//! Flows and executions, on the vault: ids, timestamps, and the checks that need the store
//! (the connections a flow names exist in its tenant and belong to the right app).

use flowvault_core::{
    ConnectionRef, ExecutionId, FieldError, Flow, FlowId, FlowPatch, NewFlow, Problem, TenantId,
    ValidationErrors, connection_refs, parse_actions,
};

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
use crate::records::{ListQuery, Page};
use crate::store::StoreError;
use crate::vault::{Vault, VaultError};

const PURPOSE_EXECUTION: &str = "execution";

impl Vault {
    /// Checks that every connection the actions name exists in the tenant and belongs to the app
    /// its action needs.
    ///
    /// # Errors
    /// [`VaultError::Invalid`] naming each action at fault; or the store's error.
    pub async fn check_flow_connections(
        &self,
        tenant: &TenantId,
        refs: &[ConnectionRef],
    ) -> Result<(), VaultError> {
        let mut errors = Vec::new();
        for r in refs {
            match self.store.connection(tenant, &r.connection).await? {
                None => errors.push(FieldError {
                    field: r.path.clone(),
                    problem: Problem::Rule(format!(
                        "names vault connection {}, which does not exist",
                        r.connection
                    )),
                }),
                Some(c) if c.app_id != r.app => errors.push(FieldError {
                    field: r.path.clone(),
                    problem: Problem::Rule(format!(
                        "names a {} connection; this action needs a {} connection",
                        c.app_id, r.app
                    )),
                }),
                Some(_) => {}
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(VaultError::Invalid(ValidationErrors(errors))) }
    }

    /// Creates a flow (its connections checked).
    ///
    /// # Errors
    /// [`VaultError::Invalid`] if a connection is missing or of the wrong app.
    pub async fn create_flow(&self, tenant: &TenantId, new: NewFlow) -> Result<Flow, VaultError> {
        let refs = connection_refs(&new.actions);
        self.check_flow_connections(tenant, &refs).await?;
        let now = self.clock.now();
        let row = FlowRow {
            id: FlowId::generate(),
            name: new.name,
            actions: actions_json(&new.actions),
            version: 1,
            created_at: now,
            updated_at: now,
            executed_at: None,
        };
        let used: Vec<_> = refs.into_iter().map(|r| r.connection).collect();
        self.store.insert_flow(tenant, &row, &used).await?;
        Ok(Flow {
            id: row.id,
            name: row.name,
            actions: new.actions,
            created_at: row.created_at,
            updated_at: row.updated_at,
            executed_at: None,
            version: 1,
        })
    }

    /// One flow.
    ///
    /// # Errors
    /// [`VaultError::NotFound`].
    pub async fn flow(&self, tenant: &TenantId, id: &FlowId) -> Result<Flow, VaultError> {
        let row = self.store.flow(tenant, id).await?.ok_or(VaultError::NotFound)?;
        flow_from(row)
    }

    /// A page of flows.
    ///
    /// # Errors
    /// The store's.
    pub async fn list_flows(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Flow>, VaultError> {
        let page = self.store.list_flows(tenant, query).await?;
        Ok(Page {
            items: page.items.into_iter().map(flow_from).collect::<Result<_, _>>()?,
            total: page.total,
        })
    }

    /// Applies `patch` if the flow is still at `expected_version`.
    ///
    /// # Errors
    /// [`VaultError::NotFound`], [`VaultError::VersionConflict`], [`VaultError::Invalid`].
    pub async fn update_flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        patch: FlowPatch,
        expected_version: u64,
    ) -> Result<Flow, VaultError> {
        let actions = match &patch.actions {
            Some(actions) => {
                let refs = connection_refs(actions);
                self.check_flow_connections(tenant, &refs).await?;
                Some((actions_json(actions), refs.into_iter().map(|r| r.connection).collect()))
            }
            None => None,
        };
        let change = FlowChange { name: patch.name, actions, updated_at: self.clock.now() };
        let row = self.store.update_flow(tenant, id, expected_version, &change).await?;
        flow_from(row)
    }

    /// Deletes a flow and its executions.
    ///
    /// # Errors
    /// [`VaultError::NotFound`].
    pub async fn delete_flow(&self, tenant: &TenantId, id: &FlowId) -> Result<(), VaultError> {
        Ok(self.store.delete_flow(tenant, id).await?)
    }

    /// Seals an execution's record.
    ///
    /// # Errors
    /// [`VaultError::Crypto`].
    pub fn seal_execution(
        &self,
        tenant: &TenantId,
        id: &ExecutionId,
        record: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        self.seal_for(tenant, id.as_str(), PURPOSE_EXECUTION, record)
    }

    /// Opens an execution's record.
    ///
    /// # Errors
    /// [`VaultError::Sealed`] if it was altered or moved.
    pub fn open_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<Option<Vec<u8>>, VaultError> {
        row.record_sealed
            .as_ref()
            .map(|s| {
                self.open_for(tenant, row.id.as_str(), PURPOSE_EXECUTION, s).map(|p| p.to_vec())
            })
            .transpose()
    }

    /// Stores a new execution.
    ///
    /// # Errors
    /// The store's.
    pub async fn insert_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), VaultError> {
        Ok(self.store.insert_execution(tenant, row).await?)
    }

    /// Updates an execution.
    ///
    /// # Errors
    /// The store's.
    pub async fn update_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), VaultError> {
        Ok(self.store.update_execution(tenant, row).await?)
    }

    /// One execution.
    ///
    /// # Errors
    /// [`VaultError::NotFound`].
    pub async fn execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<ExecutionRow, VaultError> {
        self.store.execution(tenant, flow, id).await?.ok_or(VaultError::NotFound)
    }

    /// A page of executions, newest first.
    ///
    /// # Errors
    /// [`VaultError::NotFound`] for an unknown cursor.
    pub async fn list_executions(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        query: &ExecutionQuery,
    ) -> Result<ExecutionPage, VaultError> {
        Ok(self.store.list_executions(tenant, flow, query).await?)
    }

    /// Deletes an execution.
    ///
    /// # Errors
    /// [`VaultError::NotFound`].
    pub async fn delete_execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<(), VaultError> {
        Ok(self.store.delete_execution(tenant, flow, id).await?)
    }
}

fn actions_json(actions: &[flowvault_core::FlowAction]) -> String {
    serde_json::Value::Array(actions.iter().map(flowvault_core::FlowAction::to_json).collect())
        .to_string()
}

fn flow_from(row: FlowRow) -> Result<Flow, VaultError> {
    let value: serde_json::Value = serde_json::from_str(&row.actions)
        .map_err(|_| StoreError::Corrupt(format!("unreadable actions of flow {}", row.id)))?;
    let actions = parse_actions(&value).map_err(|e| {
        StoreError::Corrupt(format!("the actions of flow {} no longer validate: {e}", row.id))
    })?;
    Ok(Flow {
        id: row.id,
        name: row.name,
        actions,
        created_at: row.created_at,
        updated_at: row.updated_at,
        executed_at: row.executed_at,
        version: row.version,
    })
}
