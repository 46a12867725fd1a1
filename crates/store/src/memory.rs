//! A [`Store`] in memory, with the same semantics as the SQLite one: for tests (it never
//! touches a thread or a socket, so tokio's paused clock stays in the test's hands) and
//! benchmarks. Nothing persists.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use flowvault_core::{
    AppId, ClientId, ConnectionId, Email, ExecutionId, FlowId, TenantId, TenantName, Timestamp,
    TokenProblem, UserId,
};
use flowvault_crypto::SealedKey;

use crate::flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
use crate::records::{
    ClientRow, ConnectionChange, ConnectionRow, DeliveryRow, ListQuery, OAuthStateRow, OtpCheck,
    OtpRow, Page, RowUpgrade, SigningKeyRow, SummaryRow, Tenant, TokenMeta, TokenReset, TokenWrite,
    otp_step,
};
use crate::store::{Store, StoreError};
use crate::user_records::{SessionRow, UserRow, UserStore};

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// How many more token writes ([`Store::finish_refresh`]) fail, for tests of what a refresh
    /// does when the database is unavailable.
    failing_token_writes: std::sync::atomic::AtomicU32,
}

#[derive(Debug, Default)]
struct State {
    meta: HashMap<String, String>,
    keyring: Vec<SealedKey>,
    tenants: Vec<Tenant>,
    /// In insertion order, as SQLite's rowid orders them.
    connections: Vec<(TenantId, ConnectionRow)>,
    clients: Vec<ClientRow>,
    signing_keys: Vec<SigningKeyRow>,
    oauth_states: HashMap<Vec<u8>, OAuthStateRow>,
    /// One-time codes by tenant and reference hash, with the attempts made on each.
    otp_codes: HashMap<(TenantId, Vec<u8>), (OtpRow, u32)>,
    /// Delivery settings by tenant.
    delivery: HashMap<TenantId, DeliveryRow>,
    /// Flows with the connections they use, in insertion order.
    flows: Vec<(TenantId, FlowRow, Vec<ConnectionId>)>,
    /// Executions in insertion order.
    executions: Vec<(TenantId, ExecutionRow)>,
    /// Dashboard users in insertion order.
    users: Vec<UserRow>,
    /// Dashboard sessions by id hash.
    sessions: HashMap<Vec<u8>, SessionRow>,
}

impl State {
    fn find(&mut self, tenant: &TenantId, id: &ConnectionId) -> Option<&mut ConnectionRow> {
        self.connections.iter_mut().find(|(t, r)| t == tenant && &r.id == id).map(|(_, r)| r)
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the next `n` token writes fail with a database error (for tests).
    pub fn fail_token_writes(&self, n: u32) {
        self.failing_token_writes.store(n, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().meta.get(key).cloned())
    }

    async fn keyring(&self) -> Result<Vec<SealedKey>, StoreError> {
        Ok(self.state().keyring.clone())
    }

    async fn initialise(
        &self,
        meta: &[(&str, String)],
        keys: &[SealedKey],
        _now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        if !s.keyring.is_empty() {
            return Ok(false);
        }
        for (k, v) in meta {
            s.meta.insert((*k).to_owned(), v.clone());
        }
        s.keyring = keys.to_vec();
        Ok(true)
    }

    async fn upgrade_rows(&self, upgrade: &dyn RowUpgrade) -> Result<bool, StoreError> {
        let mut s = self.state();
        let Some(keys) = upgrade.keyring(&s.keyring) else { return Ok(false) };
        if s.clients.iter().any(|c| c.mac.is_some())
            || s.flows.iter().any(|(_, f, _)| f.mac.is_some())
        {
            return Err(StoreError::Corrupt(crate::upgrade::ALREADY_UPGRADED.to_owned()));
        }
        for (tenant, row) in &mut s.connections {
            if let Some(new) = upgrade.connection(tenant, row) {
                if let (Some(sealed), Some(setup)) = (new.setup_sealed, row.setup.as_mut()) {
                    setup.sealed = sealed;
                }
                if let Some(tokens) = new.tokens_sealed {
                    row.tokens_sealed = Some(tokens);
                }
                row.fingerprint = new.fingerprint;
            }
        }
        for row in &mut s.clients {
            if let Some((hash, mac)) = upgrade.client(row) {
                row.secret_hash = hash;
                row.mac = Some(mac);
            }
        }
        for (tenant, row, _) in &mut s.flows {
            if let Some(mac) = upgrade.flow(tenant, row) {
                row.mac = Some(mac);
            }
        }
        for (tenant, row) in &mut s.executions {
            if let Some(record) = upgrade.execution(tenant, row) {
                row.record_sealed = Some(record);
            }
        }
        s.keyring = keys;
        Ok(true)
    }

    async fn tenant_by_name(&self, name: &TenantName) -> Result<Option<Tenant>, StoreError> {
        Ok(self.state().tenants.iter().find(|t| &t.name == name).cloned())
    }

    async fn ensure_tenant(&self, name: &TenantName, now: Timestamp) -> Result<Tenant, StoreError> {
        let mut s = self.state();
        if let Some(t) = s.tenants.iter().find(|t| &t.name == name) {
            return Ok(t.clone());
        }
        let t = Tenant { id: TenantId::generate(), name: name.clone(), created_at: now };
        s.tenants.push(t.clone());
        Ok(t)
    }

    async fn insert_connection(
        &self,
        tenant: &TenantId,
        row: &ConnectionRow,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if !s.tenants.iter().any(|t| &t.id == tenant) {
            return Err(StoreError::Corrupt("no such tenant".to_owned()));
        }
        if s.find(tenant, &row.id).is_some() {
            return Err(StoreError::AlreadyExists);
        }
        s.connections.push((tenant.clone(), row.clone()));
        Ok(())
    }

    async fn connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        Ok(self.state().find(tenant, id).cloned())
    }

    async fn list_connections(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ConnectionRow>, StoreError> {
        let s = self.state();
        let mut matching: Vec<&ConnectionRow> = s
            .connections
            .iter()
            .filter(|(t, r)| t == tenant && query.app.is_none_or(|a| r.app_id == a))
            .map(|(_, r)| r)
            .collect();
        // Stable: ties keep insertion order.
        matching.sort_by_key(|r| r.created_at);
        Ok(page_of(matching, query))
    }

    async fn connection_summaries(
        &self,
        tenant: &TenantId,
        app: Option<AppId>,
        search: Option<&str>,
    ) -> Result<Vec<SummaryRow>, StoreError> {
        let needle = search.map(str::to_ascii_lowercase);
        let s = self.state();
        let mut rows: Vec<SummaryRow> = s
            .connections
            .iter()
            .filter(|(t, r)| t == tenant && app.is_none_or(|a| r.app_id == a))
            .filter(|(_, r)| {
                needle.as_deref().is_none_or(|n| {
                    r.name.as_str().to_ascii_lowercase().contains(n)
                        || Some(r.id.as_str()) == search
                })
            })
            .map(|(_, r)| SummaryRow {
                id: r.id.clone(),
                app_id: r.app_id,
                name: r.name.clone(),
                setup_type: r.setup.as_ref().map(|s| s.setup_type),
                has_tokens: r.tokens_sealed.is_some(),
                token: TokenMeta {
                    problem: r.token.problem,
                    expires_at: r.token.expires_at,
                    lease_until: r.token.lease_until,
                    last_error: r.token.last_error.clone(),
                    missing_scopes: r.token.missing_scopes.clone(),
                    ..TokenMeta::default()
                },
                updated_at: r.updated_at,
                refreshed_at: r.refreshed_at,
            })
            .collect();
        // Stable: ties keep insertion order, as SQLite's rowid does.
        rows.sort_by_cached_key(|r| (r.app_id.as_str(), r.name.as_str().to_ascii_lowercase()));
        Ok(rows)
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: u64,
        change: &ConnectionChange,
    ) -> Result<ConnectionRow, StoreError> {
        let mut s = self.state();
        let row = s.find(tenant, id).ok_or(StoreError::NotFound)?;
        if row.version != expected_version {
            return Err(StoreError::VersionConflict { current: row.version });
        }
        if let Some(name) = &change.name {
            row.name = name.clone();
        }
        if let Some((setup, fingerprint)) = &change.setup {
            row.setup = Some(setup.clone());
            row.fingerprint = fingerprint.clone();
        }
        row.updated_at = change.updated_at;
        row.version += 1;
        let t = &mut row.token;
        let (reset, refresh_at) = match change.tokens {
            TokenReset::Keep => (0, None),
            TokenReset::Reschedule(at) => (1, at),
            TokenReset::Clear(at) => (2, at),
        };
        if reset == 2 {
            row.tokens_sealed = None;
            t.tokens_version += 1;
            t.expires_at = None;
            t.granted_scopes = None;
        }
        if reset > 0 {
            if t.problem != Some(TokenProblem::NeedsUpdate) {
                t.problem = None;
            }
            t.last_error = None;
            t.attempts = 0;
            t.refresh_at = refresh_at;
        }
        Ok(row.clone())
    }

    async fn delete_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let at = s
            .connections
            .iter()
            .position(|(t, r)| t == tenant && &r.id == id)
            .ok_or(StoreError::NotFound)?;
        let current = s.connections[at].1.version;
        if expected_version.is_some_and(|v| v != current) {
            return Err(StoreError::VersionConflict { current });
        }
        s.connections.remove(at);
        Ok(())
    }

    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.clients.iter().any(|c| c.id == row.id) {
            return Err(StoreError::AlreadyExists);
        }
        s.clients.push(row.clone());
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError> {
        Ok(self.state().clients.iter().find(|c| &c.id == id).cloned())
    }

    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<ClientRow>, StoreError> {
        Ok(self.state().clients.iter().filter(|c| &c.tenant_id == tenant).cloned().collect())
    }

    async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<(), StoreError> {
        let mut s = self.state();
        let before = s.clients.len();
        s.clients.retain(|c| !(&c.tenant_id == tenant && &c.id == id));
        if s.clients.len() < before { Ok(()) } else { Err(StoreError::NotFound) }
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(self.state().signing_keys.clone())
    }

    async fn insert_first_signing_key(&self, row: &SigningKeyRow) -> Result<bool, StoreError> {
        let mut s = self.state();
        if !s.signing_keys.is_empty() {
            return Ok(false);
        }
        s.signing_keys.push(row.clone());
        Ok(true)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(TenantId, ConnectionId)>, StoreError> {
        let mut s = self.state();
        let mut due: Vec<(Timestamp, usize)> = s
            .connections
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| {
                let at = r.token.refresh_at?;
                let free =
                    r.token.lease_owner.is_none() || r.token.lease_until.is_some_and(|u| u < now);
                (at <= now && free).then_some((at, i))
            })
            .collect();
        due.sort();
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(due
            .into_iter()
            .map(|(_, i)| {
                let (t, r) = &mut s.connections[i];
                r.token.lease_owner = Some(owner.to_owned());
                r.token.lease_until = Some(until);
                (t.clone(), r.id.clone())
            })
            .collect())
    }

    async fn mark_unreadable(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        message: &str,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if let Some(row) = s.find(tenant, id) {
            let t = &mut row.token;
            t.problem = Some(TokenProblem::Error);
            t.last_error = Some(message.to_owned());
            t.refresh_at = None;
            t.expires_at = None;
            t.lease_owner = None;
            t.lease_until = None;
        }
        Ok(())
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let mut s = self.state();
        let row = s.find(tenant, id).ok_or(StoreError::NotFound)?;
        // Free, expired, or already ours.
        let available = row.token.lease_owner.is_none()
            || row.token.lease_until.is_some_and(|u| u < now)
            || row.token.lease_owner.as_deref() == Some(owner);
        if !available {
            return Ok(None);
        }
        row.token.lease_owner = Some(owner.to_owned());
        row.token.lease_until = Some(until);
        Ok(Some(row.clone()))
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if let Some(row) = s.find(tenant, id)
            && row.token.lease_owner.as_deref() == Some(owner)
        {
            row.token.lease_owner = None;
            row.token.lease_until = None;
        }
        Ok(())
    }

    async fn finish_refresh(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        owner: &str,
        tokens_version: u64,
        write: &TokenWrite,
    ) -> Result<ConnectionRow, StoreError> {
        use std::sync::atomic::Ordering;
        let failing = &self.failing_token_writes;
        if failing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Database(
                "injected failure: the database is unavailable".into(),
            ));
        }
        let mut s = self.state();
        let row = s.find(tenant, id).ok_or(StoreError::NotFound)?;
        if row.token.tokens_version != tokens_version {
            return Err(StoreError::VersionConflict { current: row.token.tokens_version });
        }
        let ours = row.token.lease_owner.as_deref() == Some(owner);
        let t = &mut row.token;
        match write {
            TokenWrite::Tokens {
                sealed,
                expires_at,
                refresh_at,
                granted_scopes,
                account_name,
                refreshed_at,
                authorized,
            } => {
                row.tokens_sealed = Some(sealed.clone());
                t.tokens_version += 1;
                t.expires_at = *expires_at;
                t.refresh_at = *refresh_at;
                if granted_scopes.is_some() {
                    t.granted_scopes.clone_from(granted_scopes);
                }
                if account_name.is_some() {
                    row.account_name.clone_from(account_name);
                }
                row.refreshed_at = Some(*refreshed_at);
                if *authorized || t.problem != Some(TokenProblem::NeedsUpdate) {
                    t.problem = None;
                }
                if *authorized {
                    t.missing_scopes = None;
                }
                t.last_error = None;
                t.attempts = 0;
            }
            TokenWrite::Retry { last_error, retry_at } => {
                if t.problem != Some(TokenProblem::NeedsUpdate) {
                    t.problem = Some(TokenProblem::Error);
                }
                t.last_error = Some(last_error.clone());
                t.attempts += 1;
                t.refresh_at = Some(*retry_at);
            }
            TokenWrite::NeedsReauth { last_error } => {
                t.problem = Some(TokenProblem::NeedsReauth);
                t.last_error = Some(last_error.clone());
                t.attempts += 1;
                t.refresh_at = None;
            }
        }
        if ours {
            t.lease_owner = None;
            t.lease_until = None;
        }
        Ok(row.clone())
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.state().connections.iter().filter_map(|(_, r)| r.token.refresh_at).min())
    }

    async fn set_missing_scopes(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        missing: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if let Some(row) = s.find(tenant, id) {
            row.token.missing_scopes = missing.map(str::to_owned);
            if missing.is_some() {
                row.token.problem = Some(TokenProblem::NeedsUpdate);
            } else if row.token.problem == Some(TokenProblem::NeedsUpdate) {
                row.token.problem = None;
            }
        }
        Ok(())
    }

    async fn oauth_code_connections(&self) -> Result<Vec<(TenantId, ConnectionRow)>, StoreError> {
        Ok(self
            .state()
            .connections
            .iter()
            .filter(|(_, r)| {
                r.setup
                    .as_ref()
                    .is_some_and(|s| s.setup_type == flowvault_core::SetupType::OauthCode)
            })
            .cloned()
            .collect())
    }

    async fn insert_oauth_state(&self, row: &OAuthStateRow) -> Result<(), StoreError> {
        let mut s = self.state();
        s.oauth_states.insert(row.state_hash.clone(), row.clone());
        let now = row.created_at;
        s.oauth_states.retain(|_, r| r.expires_at >= now);
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state_hash: &[u8],
    ) -> Result<Option<OAuthStateRow>, StoreError> {
        Ok(self.state().oauth_states.remove(state_hash))
    }

    async fn put_otp(&self, tenant: &TenantId, row: &OtpRow) -> Result<(), StoreError> {
        let mut s = self.state();
        s.otp_codes.insert((tenant.clone(), row.reference_hash.clone()), (row.clone(), 0));
        let now = row.created_at;
        s.otp_codes.retain(|_, (r, _)| r.expires_at > now);
        Ok(())
    }

    async fn check_otp(
        &self,
        tenant: &TenantId,
        reference_hash: &[u8],
        now: Timestamp,
        max_attempts: u32,
        matches: &(dyn for<'h> Fn(&'h [u8]) -> bool + Sync),
    ) -> Result<OtpCheck, StoreError> {
        // One lock held from the read to the write, as SQLite's write transaction.
        let mut s = self.state();
        let key = (tenant.clone(), reference_hash.to_vec());
        let Some((row, attempts)) = s.otp_codes.get_mut(&key) else {
            return Ok(OtpCheck::NotFound);
        };
        let check =
            otp_step(row.expires_at, *attempts, now, max_attempts, || matches(&row.code_hash));
        if check == OtpCheck::Wrong {
            *attempts += 1;
        } else {
            s.otp_codes.remove(&key);
        }
        Ok(check)
    }

    async fn delivery(&self, tenant: &TenantId) -> Result<Option<DeliveryRow>, StoreError> {
        Ok(self.state().delivery.get(tenant).cloned())
    }

    async fn put_delivery(&self, tenant: &TenantId, row: &DeliveryRow) -> Result<(), StoreError> {
        self.state().delivery.insert(tenant.clone(), row.clone());
        Ok(())
    }

    async fn delete_delivery(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        Ok(self.state().delivery.remove(tenant).is_some())
    }

    async fn insert_flow(
        &self,
        tenant: &TenantId,
        row: &FlowRow,
        connections: &[ConnectionId],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.flows.iter().any(|(t, f, _)| t == tenant && f.id == row.id) {
            return Err(StoreError::AlreadyExists);
        }
        s.flows.push((tenant.clone(), row.clone(), connections.to_vec()));
        Ok(())
    }

    async fn flow(&self, tenant: &TenantId, id: &FlowId) -> Result<Option<FlowRow>, StoreError> {
        Ok(self
            .state()
            .flows
            .iter()
            .find(|(t, f, _)| t == tenant && &f.id == id)
            .map(|(_, f, _)| f.clone()))
    }

    async fn list_flows(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<FlowRow>, StoreError> {
        let s = self.state();
        let mut all: Vec<&FlowRow> =
            s.flows.iter().filter(|(t, _, _)| t == tenant).map(|(_, f, _)| f).collect();
        all.sort_by_key(|f| f.created_at);
        Ok(page_of(all, query))
    }

    async fn update_flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected_version: u64,
        change: &FlowChange,
    ) -> Result<FlowRow, StoreError> {
        let mut s = self.state();
        let (_, row, connections) = s
            .flows
            .iter_mut()
            .find(|(t, f, _)| t == tenant && &f.id == id)
            .ok_or(StoreError::NotFound)?;
        if row.version != expected_version {
            return Err(StoreError::VersionConflict { current: row.version });
        }
        if let Some(name) = &change.name {
            row.name = name.clone();
        }
        if let Some((actions, used)) = &change.actions {
            row.actions.clone_from(actions);
            *connections = used.clone();
        }
        row.updated_at = change.updated_at;
        row.version += 1;
        row.mac = Some(change.mac.clone());
        Ok(row.clone())
    }

    async fn delete_flow(&self, tenant: &TenantId, id: &FlowId) -> Result<(), StoreError> {
        let mut s = self.state();
        let before = s.flows.len();
        s.flows.retain(|(t, f, _)| !(t == tenant && &f.id == id));
        if s.flows.len() == before {
            return Err(StoreError::NotFound);
        }
        s.executions.retain(|(t, e)| !(t == tenant && &e.flow_id == id));
        Ok(())
    }

    async fn flows_using(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<(FlowId, String)>, StoreError> {
        let s = self.state();
        let mut using: Vec<&FlowRow> = s
            .flows
            .iter()
            .filter(|(t, _, c)| t == tenant && c.contains(connection))
            .map(|(_, f, _)| f)
            .collect();
        using.sort_by_key(|f| f.created_at);
        Ok(using.into_iter().map(|f| (f.id.clone(), f.name.to_string())).collect())
    }

    async fn insert_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.executions.iter().any(|(_, e)| e.id == row.id) {
            return Err(StoreError::AlreadyExists);
        }
        // Only for a flow that (still) exists.
        let (_, f, _) = s
            .flows
            .iter_mut()
            .find(|(t, f, _)| t == tenant && f.id == row.flow_id)
            .ok_or(StoreError::NotFound)?;
        f.executed_at = f.executed_at.max(Some(row.created_at));
        s.executions.push((tenant.clone(), row.clone()));
        Ok(())
    }

    async fn update_execution(
        &self,
        tenant: &TenantId,
        row: &ExecutionRow,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let (_, e) = s
            .executions
            .iter_mut()
            .find(|(t, e)| t == tenant && e.flow_id == row.flow_id && e.id == row.id)
            .ok_or(StoreError::NotFound)?;
        e.status = row.status;
        e.record_sealed.clone_from(&row.record_sealed);
        e.updated_at = row.updated_at;
        e.started_at = row.started_at;
        e.ended_at = row.ended_at;
        Ok(())
    }

    async fn execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionRow>, StoreError> {
        Ok(self
            .state()
            .executions
            .iter()
            .find(|(t, e)| t == tenant && &e.flow_id == flow && &e.id == id)
            .map(|(_, e)| e.clone()))
    }

    async fn list_executions(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        q: &ExecutionQuery,
    ) -> Result<ExecutionPage, StoreError> {
        let s = self.state();
        let newest_first: Vec<&ExecutionRow> = s
            .executions
            .iter()
            .rev()
            .filter(|(t, e)| t == tenant && &e.flow_id == flow)
            .map(|(_, e)| e)
            .collect();
        let total = newest_first.len() as u64;
        let start = match &q.from {
            Some(from) => {
                newest_first.iter().position(|e| &e.id == from).ok_or(StoreError::NotFound)? + 1
            }
            None => usize::try_from(q.offset).unwrap_or(usize::MAX),
        };
        let limit = usize::try_from(q.limit).unwrap_or(usize::MAX);
        let items: Vec<ExecutionRow> =
            newest_first.iter().skip(start).take(limit).map(|e| (*e).clone()).collect();
        let next = if newest_first.len() > start.saturating_add(limit) {
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(ExecutionPage { items, next, total })
    }

    async fn delete_execution(
        &self,
        tenant: &TenantId,
        flow: &FlowId,
        id: &ExecutionId,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let before = s.executions.len();
        s.executions.retain(|(t, e)| !(t == tenant && &e.flow_id == flow && &e.id == id));
        if s.executions.len() < before { Ok(()) } else { Err(StoreError::NotFound) }
    }

    async fn delete_executions_before(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut s = self.state();
        let n = s.executions.len();
        s.executions.retain(|(_, e)| e.created_at >= before);
        Ok((n - s.executions.len()) as u64)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, row: &UserRow) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.users.iter().any(|u| u.tenant_id == row.tenant_id && u.email == row.email) {
            return Err(StoreError::AlreadyExists);
        }
        s.users.push(row.clone());
        Ok(())
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<Option<UserRow>, StoreError> {
        Ok(self.state().users.iter().find(|u| &u.tenant_id == tenant && &u.email == email).cloned())
    }

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<UserRow>, StoreError> {
        Ok(self.state().users.iter().find(|u| &u.tenant_id == tenant && &u.id == id).cloned())
    }

    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<UserRow>, StoreError> {
        let mut users: Vec<UserRow> =
            self.state().users.iter().filter(|u| &u.tenant_id == tenant).cloned().collect();
        users.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        Ok(users)
    }

    async fn any_user(&self) -> Result<bool, StoreError> {
        Ok(!self.state().users.is_empty())
    }

    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<(), StoreError> {
        let mut s = self.state();
        let before = s.users.len();
        s.users.retain(|u| !(&u.tenant_id == tenant && &u.id == id));
        if s.users.len() == before {
            return Err(StoreError::NotFound);
        }
        s.sessions.retain(|_, row| &row.user_id != id);
        Ok(())
    }

    async fn insert_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        let mut s = self.state();
        s.sessions.retain(|_, r| r.expires_at > row.created_at);
        s.sessions.insert(row.id_hash.clone(), row.clone());
        Ok(())
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.state().sessions.get(id_hash).cloned())
    }

    async fn touch_session(&self, id_hash: &[u8], at: Timestamp) -> Result<(), StoreError> {
        if let Some(row) = self.state().sessions.get_mut(id_hash) {
            row.last_seen_at = at;
        }
        Ok(())
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        self.state().sessions.remove(id_hash);
        Ok(())
    }
}

/// The page `query` asks for of `sorted`.
fn page_of<T: Clone>(sorted: Vec<&T>, query: &ListQuery) -> Page<T> {
    let total = sorted.len() as u64;
    let items = sorted
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    Page { items, total }
}
