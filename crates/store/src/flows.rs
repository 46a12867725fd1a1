//! Flows and executions, on the vault: ids, timestamps, and the checks that need the store
//! (the connections a flow names exist in its tenant and belong to the right app).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use flowvault_core::{
    ConnectionRef, ExecutionId, FieldError, Flow, FlowId, FlowPatch, NewFlow, Problem, TenantId,
    ValidationErrors, connection_refs, parse_actions,
};
use flowvault_crypto::{CryptoError, Keyring, SealContext};

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
use crate::records::{ListQuery, Page};
use crate::store::StoreError;
use crate::vault::{Vault, VaultError};

const FLOW_MAC: &str = "flow";

/// The MAC of a flow row: over its tenant, id, version and actions — what decides which
/// credentials its actions use and where they send them.
pub(crate) fn flow_mac(
    keyring: &Keyring,
    tenant: &TenantId,
    id: &FlowId,
    version: u64,
    actions: &str,
) -> Result<Vec<u8>, CryptoError> {
    let version = version.to_string();
    Ok(keyring.mac(FLOW_MAC, &flow_parts(tenant, id, &version, actions))?.to_vec())
}

fn flow_parts<'a>(
    tenant: &'a TenantId,
    id: &'a FlowId,
    version: &'a str,
    actions: &'a str,
) -> [&'a [u8]; 4] {
    [tenant.as_str().as_bytes(), id.as_str().as_bytes(), version.as_bytes(), actions.as_bytes()]
}

/// What an execution's record is sealed for: its tenant, itself and its flow (so a record
/// moved to another flow's executions does not open).
pub(crate) fn execution_context(
    tenant: &TenantId,
    id: &ExecutionId,
    flow: &FlowId,
) -> Result<SealContext, CryptoError> {
    SealContext::new(tenant.as_str(), id.as_str(), &format!("execution.{flow}"))
}

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
        let id = FlowId::generate();
        let actions = actions_json(&new.actions);
        let mac = flow_mac(&self.keyring, tenant, &id, 1, &actions)?;
        let row = FlowRow {
            id,
            name: new.name,
            actions,
            version: 1,
            created_at: now,
            updated_at: now,
            executed_at: None,
            mac: Some(mac),
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
        self.flow_from(tenant, row)
    }

    /// A stored flow about to run: [`Vault::flow`], except that a row read before, unchanged,
    /// is not authenticated and parsed again. The row is read every time, so a change made
    /// anywhere runs at once; its times (`executed_at`) may be those of an earlier read.
    ///
    /// # Errors
    /// As [`Vault::flow`].
    pub async fn flow_to_run(
        &self,
        tenant: &TenantId,
        id: &FlowId,
    ) -> Result<Arc<Flow>, VaultError> {
        let row = self.store.flow(tenant, id).await?.ok_or(VaultError::NotFound)?;
        if let Some(flow) = self.parsed_flows.get(tenant, &row) {
            return Ok(flow);
        }
        let key = ParsedKey::of(&row);
        let flow = Arc::new(self.flow_from(tenant, row)?);
        self.parsed_flows.put(tenant, key, flow.clone());
        Ok(flow)
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
            items: page
                .items
                .into_iter()
                .map(|row| self.flow_from(tenant, row))
                .collect::<Result<_, _>>()?,
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
        let current = self.store.flow(tenant, id).await?.ok_or(VaultError::NotFound)?;
        if current.version != expected_version {
            return Err(VaultError::VersionConflict { current: current.version });
        }
        let actions = match &patch.actions {
            Some(actions) => {
                let refs = connection_refs(actions);
                self.check_flow_connections(tenant, &refs).await?;
                Some((actions_json(actions), refs.into_iter().map(|r| r.connection).collect()))
            }
            None => {
                // The stored actions carry over to the next version: only if they are authentic.
                self.verify_flow(tenant, &current)?;
                None
            }
        };
        let next_actions = actions.as_ref().map_or(current.actions.as_str(), |(a, _)| a.as_str());
        let mac = flow_mac(&self.keyring, tenant, id, expected_version + 1, next_actions)?;
        let change = FlowChange { name: patch.name, actions, mac, updated_at: self.clock.now() };
        let row = self.store.update_flow(tenant, id, expected_version, &change).await?;
        self.flow_from(tenant, row)
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
        flow: &FlowId,
        record: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        Ok(self.keyring.seal(&execution_context(tenant, id, flow)?, record)?)
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
        let Some(sealed) = &row.record_sealed else { return Ok(None) };
        let ctx = execution_context(tenant, &row.id, &row.flow_id)?;
        self.keyring
            .open(&ctx, sealed)
            .map(|p| Some(p.to_vec()))
            .map_err(|source| VaultError::Sealed { object: row.id.to_string(), source })
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

/// What decides a flow's meaning in its row: a row that matches all of it parses to the same
/// flow.
#[derive(PartialEq, Eq)]
struct ParsedKey {
    version: u64,
    name: String,
    actions: String,
    mac: Option<Vec<u8>>,
}

impl ParsedKey {
    fn of(row: &FlowRow) -> Self {
        Self {
            version: row.version,
            name: row.name.to_string(),
            actions: row.actions.clone(),
            mac: row.mac.clone(),
        }
    }

    fn matches(&self, row: &FlowRow) -> bool {
        self.version == row.version
            && self.mac == row.mac
            && self.actions == row.actions
            && self.name == row.name.as_str()
    }
}

/// The most flows kept parsed.
const MAX_PARSED: usize = 10_000;

/// Flows authenticated and parsed recently, by the row they came from.
#[derive(Default)]
pub(crate) struct ParsedFlows(Mutex<HashMap<(TenantId, FlowId), Parsed>>);

/// A flow as parsed, and the row it came from.
type Parsed = (ParsedKey, Arc<Flow>);

impl std::fmt::Debug for ParsedFlows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_tuple("ParsedFlows").field(&n).finish()
    }
}

impl ParsedFlows {
    fn get(&self, tenant: &TenantId, row: &FlowRow) -> Option<Arc<Flow>> {
        let parsed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (key, flow) = parsed.get(&(tenant.clone(), row.id.clone()))?;
        key.matches(row).then(|| flow.clone())
    }

    fn put(&self, tenant: &TenantId, key: ParsedKey, flow: Arc<Flow>) {
        let mut parsed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if parsed.len() >= MAX_PARSED {
            parsed.clear();
        }
        parsed.insert((tenant.clone(), flow.id.clone()), (key, flow));
    }
}

impl Vault {
    /// Checks a flow row's MAC.
    fn verify_flow(&self, tenant: &TenantId, row: &FlowRow) -> Result<(), VaultError> {
        let version = row.version.to_string();
        let parts = flow_parts(tenant, &row.id, &version, &row.actions);
        if row.mac.as_ref().is_some_and(|mac| self.keyring.verify_mac(FLOW_MAC, &parts, mac)) {
            Ok(())
        } else {
            tracing::error!(flow = %row.id, "flow failed its integrity check (the database row was changed outside flowvault): refused");
            Err(VaultError::Tampered { object: format!("flow {}", row.id) })
        }
    }

    /// A stored flow, authenticated and parsed.
    fn flow_from(&self, tenant: &TenantId, row: FlowRow) -> Result<Flow, VaultError> {
        self.verify_flow(tenant, &row)?;
        flow_from(row)
    }
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
