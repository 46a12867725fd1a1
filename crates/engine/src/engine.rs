//! The engine's token side: refreshes with a single flight per connection (one shared future in
//! this process, a lease in the store across processes), and credentials for the action about to
//! use them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flowvault_core::{AccountName, Connection, ConnectionId, KnownSecrets, TenantId, TokenProblem};
use flowvault_store::{ConnectionRow, StoreError, TokenWrite, Vault, VaultError};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::Notify;

use crate::clock::{after, between};
use crate::credentials::{Credentials, Fresh};
use crate::grants::{self, GrantContext, GrantError};
use crate::metrics::{Metrics, RefreshResult};
use crate::opened::{Opened, OpenedCache};
use crate::providers::Providers;
use crate::tokens::{RefreshPolicy, TokenSet};
use crate::transport::Transport;

/// How often a refresh waiting on another process's lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(250);

/// What the engine is configured with.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Refresh schedule, retries, concurrency.
    pub policy: RefreshPolicy,
    /// Provider endpoints and OAuth clients.
    pub providers: Providers,
    /// This process's name in leases (default: a random one).
    pub owner: Option<String>,
    /// How many flow runs may be in progress, in total and per tenant.
    pub runs: crate::slots::RunCapacity,
}

/// Why a refresh did not produce a token. Messages name the connection and never hold a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// No such connection.
    #[error("vault connection not found")]
    NotFound,
    /// The connection has no credentials.
    #[error("vault connection \"{name}\" ({id}) has missing credentials: add them to use it")]
    Empty {
        /// Its name.
        name: String,
        /// Its id.
        id: ConnectionId,
    },
    /// The connection's credentials do not use tokens.
    #[error("vault connection \"{name}\" does not use tokens")]
    NotTokenBased {
        /// Its name.
        name: String,
    },
    /// The provider refused the stored grant.
    #[error("vault connection \"{name}\" needs to be reconnected or updated: {message}")]
    NeedsReauth {
        /// Its name.
        name: String,
        /// What the provider said.
        message: String,
    },
    /// A transient failure; a retry is scheduled.
    #[error("vault connection \"{name}\" could not refresh its token (will retry): {message}")]
    Transient {
        /// Its name.
        name: String,
        /// What happened.
        message: String,
    },
    /// Another failure.
    #[error("vault connection \"{name}\" could not get a token: {message}")]
    Failed {
        /// Its name.
        name: String,
        /// What happened.
        message: String,
    },
    /// Another process held the refresh lease for too long.
    #[error("vault connection \"{name}\" is being refreshed elsewhere; try again")]
    Busy {
        /// Its name.
        name: String,
    },
    /// The connection changed during the refresh (its tokens were replaced).
    #[error("vault connection \"{name}\" changed while refreshing; try again")]
    Conflict {
        /// Its name.
        name: String,
    },
    /// The vault or the store failed (details are logged).
    #[error("internal error")]
    Internal,
}

/// Why a refresh runs: a caller needs a token, the schedule says so, or someone asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Use,
    Scheduled,
    Forced,
}

type Key = (TenantId, ConnectionId);
type Flight = Shared<BoxFuture<'static, Result<Arc<Fresh>, RefreshError>>>;

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) vault: Arc<Vault>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) providers: Providers,
    /// MX lookups for `EMAIL VERIFY_EMAIL`.
    pub(crate) mx: Arc<dyn crate::mx::MxResolver>,
    pub(crate) policy: RefreshPolicy,
    pub(crate) owner: String,
    inflight: Mutex<HashMap<Key, (u64, Flight)>>,
    next_flight: std::sync::atomic::AtomicU64,
    pub(crate) metrics: Metrics,
    pub(crate) wake: Notify,
    /// Runs in progress, in total and per tenant.
    pub(crate) runs: Arc<crate::slots::RunSlots>,
    /// Credentials opened recently.
    opened: OpenedCache,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("owner", &self.inner.owner).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `vault`, calling out through `transport`.
    #[must_use]
    pub fn new(vault: Arc<Vault>, transport: Arc<dyn Transport>, config: EngineConfig) -> Self {
        let owner = config.owner.unwrap_or_else(|| {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            format!("fv-{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        });
        Self {
            inner: Arc::new(Inner {
                vault,
                transport,
                providers: config.providers,
                mx: Arc::new(crate::mx::SystemMx::default()),
                policy: config.policy,
                owner,
                inflight: Mutex::new(HashMap::new()),
                next_flight: std::sync::atomic::AtomicU64::new(0),
                metrics: Metrics::new(),
                wake: Notify::new(),
                runs: crate::slots::RunSlots::new(config.runs),
                opened: OpenedCache::default(),
            }),
        }
    }

    /// The vault.
    #[must_use]
    pub fn vault(&self) -> &Arc<Vault> {
        &self.inner.vault
    }

    /// The provider settings.
    #[must_use]
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    /// This process's lease owner name.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Tells the refresher that something may have become due (a connection was created or
    /// updated).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// The token metrics, as OpenMetrics text.
    #[must_use]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.encode()
    }

    /// How many refreshes ended with `result` (`ok`, `reused`, `transient_error`,
    /// `needs_reauth`, `failed`, `unsaved`).
    #[must_use]
    pub fn refresh_count(&self, result: &'static str) -> u64 {
        self.inner.metrics.count(result)
    }

    /// Refreshes a connection's token now, whatever its schedule (`POST …/refresh`).
    ///
    /// # Errors
    /// [`RefreshError`].
    pub async fn refresh(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Connection, RefreshError> {
        self.refresh_shared(tenant, id, Reason::Forced).await?;
        let row = self
            .inner
            .vault
            .store()
            .connection(tenant, id)
            .await
            .map_err(internal)?
            .ok_or(RefreshError::NotFound)?;
        Ok(self.inner.vault.view(&row))
    }

    /// The credentials an action needs, resolved now: the setup, decrypted, and for token-based
    /// setups an access token with at least the safety margin of validity left — refreshed
    /// (once, shared with every concurrent caller) if the stored one is too close to expiry.
    ///
    /// # Errors
    /// [`RefreshError::Empty`] for a connection without credentials, `NeedsReauth` if the
    /// provider refused its grant, or the refresh's error.
    pub async fn credentials(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Credentials, RefreshError> {
        self.credentials_and_secrets(tenant, id).await.map(|(credentials, _)| credentials)
    }

    /// [`Engine::credentials`], and their secrets ready to scrub from what a run records.
    ///
    /// The row is read every time; what it opens to is kept for a moment ([`OpenedCache`]) and
    /// used again only for the same sealed bytes.
    pub(crate) async fn credentials_and_secrets(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<(Credentials, Arc<KnownSecrets>), RefreshError> {
        let vault = &self.inner.vault;
        let row = vault
            .store()
            .connection(tenant, id)
            .await
            .map_err(internal)?
            .ok_or(RefreshError::NotFound)?;
        let empty = || RefreshError::Empty { name: row.name.to_string(), id: row.id.clone() };
        let granted_scopes = row.token.granted_scopes.clone();
        let now = vault.now();
        let margin = self.inner.policy.margin;
        if let Some(opened) = self.inner.opened.get(tenant, &row) {
            let uses_tokens = opened.setup.setup_type().grant().is_some();
            if uses_tokens && row.token.problem == Some(TokenProblem::NeedsReauth) {
                return Err(needs_reauth(&row));
            }
            match &opened.token {
                _ if !uses_tokens => {
                    let credentials =
                        Credentials { setup: opened.setup.clone(), token: None, granted_scopes };
                    return Ok((credentials, opened.secrets.clone()));
                }
                Some(token) if token.valid_for(now, margin) => {
                    let credentials = Credentials {
                        setup: opened.setup.clone(),
                        token: Some(token.clone()),
                        granted_scopes,
                    };
                    return Ok((credentials, opened.secrets.clone()));
                }
                // Due for a refresh: the slow way below.
                _ => {}
            }
        }
        let setup = vault.open_row_setup(tenant, &row).map_err(internal)?.ok_or_else(empty)?;
        if setup.setup_type().needs_authorization() && row.tokens_sealed.is_none() {
            return Err(empty());
        }
        let setup = Arc::new(setup);
        if setup.setup_type().grant().is_none() {
            let secrets = KnownSecrets::of_credentials(&setup, None);
            let opened = Opened { setup: setup.clone(), token: None, secrets: secrets.clone() };
            self.inner.opened.put(tenant, &row, Arc::new(opened));
            return Ok((Credentials { setup, token: None, granted_scopes }, secrets));
        }
        if row.token.problem == Some(TokenProblem::NeedsReauth) {
            return Err(needs_reauth(&row));
        }
        let stored = open_tokens(vault, tenant, &row)?;
        let (token, kept) = match stored {
            Some(set) if set.valid_for(now, margin) => (Fresh::from_set(&set), true),
            _ => (self.refresh_shared(tenant, id, Reason::Use).await?, false),
        };
        let secrets = KnownSecrets::of_credentials(&setup, Some(token.expose()));
        // Only a token read from this row is kept with it (a refreshed one is in the row the
        // next use reads).
        if kept {
            let opened = Opened {
                setup: setup.clone(),
                token: Some(token.clone()),
                secrets: secrets.clone(),
            };
            self.inner.opened.put(tenant, &row, Arc::new(opened));
        }
        Ok((Credentials { setup, token: Some(token), granted_scopes }, secrets))
    }

    /// Runs (or joins) the one refresh of this connection in this process.
    pub(crate) async fn refresh_shared(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        reason: Reason,
    ) -> Result<Arc<Fresh>, RefreshError> {
        let key = (tenant.clone(), id.clone());
        let flight = {
            let mut inflight = self.inner.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, flight)) = inflight.get(&key) {
                flight.clone()
            } else {
                let generation =
                    self.inner.next_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let inner = self.inner.clone();
                let (t, i) = key.clone();
                // The refresh runs as its own task: a caller that gives up does not cancel it
                // (cancelling after the provider answered would lose a rotated refresh token).
                // It removes its own entry when done; the lock held here orders that removal
                // after this insertion.
                let task = tokio::spawn(async move {
                    // A refresh that panics (a bug, or a provider answer nobody foresaw) must not
                    // leave its entry behind: every later refresh would join a failed flight.
                    let run = std::panic::AssertUnwindSafe(run_refresh(&inner, &t, &i, reason));
                    let result = match run.catch_unwind().await {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::error!(connection = %i, "token refresh panicked; its lease is released");
                            inner.metrics.refresh(RefreshResult::Failed);
                            let _ = inner.vault.store().release_lease(&t, &i, &inner.owner).await;
                            Err(RefreshError::Internal)
                        }
                    };
                    let mut inflight =
                        inner.inflight.lock().unwrap_or_else(PoisonError::into_inner);
                    if inflight.get(&(t.clone(), i.clone())).is_some_and(|(g, _)| *g == generation)
                    {
                        inflight.remove(&(t, i));
                    }
                    result
                });
                let flight = task
                    .map(|joined| joined.unwrap_or(Err(RefreshError::Internal)))
                    .boxed()
                    .shared();
                inflight.insert(key, (generation, flight.clone()));
                flight
            }
        };
        flight.await
    }
}

/// Takes a connection whose stored token state can't be read out of the schedule, so it can't
/// hold up anything else, and says why on the connection.
async fn unreadable(
    inner: &Inner,
    tenant: &TenantId,
    id: &ConnectionId,
    why: &str,
) -> RefreshError {
    tracing::error!(connection = %id, why, "token state unreadable: connection taken out of the refresh schedule");
    let message =
        format!("the stored token state can't be read ({why}): update or reconnect the connection");
    if let Err(e) = inner.vault.store().mark_unreadable(tenant, id, &message).await {
        tracing::error!(connection = %id, error = %e, "cannot mark a connection unreadable");
    }
    inner.metrics.refresh(RefreshResult::Failed);
    RefreshError::Failed { name: id.to_string(), message }
}

fn internal(e: impl std::fmt::Display) -> RefreshError {
    tracing::error!(error = %e, "token refresh: internal error");
    RefreshError::Internal
}

fn needs_reauth(row: &ConnectionRow) -> RefreshError {
    RefreshError::NeedsReauth {
        name: row.name.to_string(),
        message: row
            .token
            .last_error
            .clone()
            .unwrap_or_else(|| "the provider refused the grant".to_owned()),
    }
}

pub(crate) fn open_tokens(
    vault: &Vault,
    tenant: &TenantId,
    row: &ConnectionRow,
) -> Result<Option<TokenSet>, RefreshError> {
    match vault.open_row_tokens(tenant, row) {
        // Token bytes that don't parse count as no tokens: the refresh that follows takes the
        // connection out of the schedule and says why on it.
        Ok(Some(bytes)) => Ok(TokenSet::from_bytes(&bytes).ok()),
        Ok(None) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

/// Takes the lease (waiting while another process holds it, and using that process's tokens if
/// it produces fresh ones), then refreshes.
async fn run_refresh(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    id: &ConnectionId,
    reason: Reason,
) -> Result<Arc<Fresh>, RefreshError> {
    let store = inner.vault.store();
    let give_up = tokio::time::Instant::now() + inner.policy.lease + Duration::from_secs(5);
    let mut seen_version = None;
    let row = loop {
        let now = inner.vault.now();
        match store.lease(tenant, id, &inner.owner, now, after(now, inner.policy.lease)).await {
            Ok(Some(row)) => break row,
            Ok(None) => {
                let current = store
                    .connection(tenant, id)
                    .await
                    .map_err(internal)?
                    .ok_or(RefreshError::NotFound)?;
                let version = current.token.tokens_version;
                if seen_version.is_some_and(|seen| seen != version)
                    && let Some(set) = open_tokens(&inner.vault, tenant, &current)?
                    && set.valid_for(now, inner.policy.margin)
                {
                    inner.metrics.refresh(RefreshResult::Reused);
                    return Ok(Fresh::from_set(&set));
                }
                seen_version.get_or_insert(version);
                if tokio::time::Instant::now() >= give_up {
                    return Err(RefreshError::Busy { name: current.name.to_string() });
                }
                tokio::time::sleep(LEASE_POLL).await;
            }
            Err(StoreError::NotFound) => return Err(RefreshError::NotFound),
            Err(StoreError::Corrupt(what)) => {
                return Err(unreadable(
                    inner,
                    tenant,
                    id,
                    &format!("stored data is damaged: {what}"),
                )
                .await);
            }
            Err(e) => return Err(internal(e)),
        }
    };
    let result = refresh_leased(inner, tenant, &row, reason).await;
    if result.as_ref().is_err_and(|e| {
        matches!(
            e,
            RefreshError::Internal
                | RefreshError::Empty { .. }
                | RefreshError::NotTokenBased { .. }
                | RefreshError::Conflict { .. }
        )
    }) || matches!(result, Ok((_, false)))
    {
        // Nothing was written: give the lease back now rather than let it run out.
        let _ = store.release_lease(tenant, id, &inner.owner).await;
    }
    result.map(|(fresh, _)| fresh)
}

/// Refreshes a leased row. `Ok((fresh, true))` if the outcome was written (which releases the
/// lease), `Ok((fresh, false))` if existing tokens were good enough.
async fn refresh_leased(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    row: &ConnectionRow,
    reason: Reason,
) -> Result<(Arc<Fresh>, bool), RefreshError> {
    let vault = &inner.vault;
    let now = vault.now();
    let name = row.name.to_string();
    let current = match vault.open_row_tokens(tenant, row) {
        Ok(Some(bytes)) => match TokenSet::from_bytes(&bytes) {
            Ok(set) => Some(set),
            Err(e) => return Err(unreadable(inner, tenant, &row.id, &e.to_string()).await),
        },
        Ok(None) => None,
        Err(e) => return Err(internal(e)),
    };
    // After taking the lease, look again: someone may have refreshed while we waited.
    if let Some(set) = &current {
        let usable = set.valid_for(now, inner.policy.margin);
        let skip = match reason {
            Reason::Use => usable,
            Reason::Scheduled => usable && row.token.refresh_at.is_none_or(|at| at > now),
            Reason::Forced => false,
        };
        if skip {
            inner.metrics.refresh(RefreshResult::Reused);
            return Ok((Fresh::from_set(set), false));
        }
    }
    if row.token.problem == Some(TokenProblem::NeedsReauth) && reason != Reason::Forced {
        let _ = vault.store().release_lease(tenant, &row.id, &inner.owner).await;
        return Err(needs_reauth(row));
    }
    let setup = vault
        .open_row_setup(tenant, row)
        .map_err(internal)?
        .ok_or_else(|| RefreshError::Empty { name: name.clone(), id: row.id.clone() })?;
    if setup.setup_type().grant().is_none() {
        return Err(RefreshError::NotTokenBased { name });
    }
    if reason == Reason::Scheduled
        && let Some(due) = row.token.refresh_at
    {
        inner.metrics.lag(between(due, now).as_secs_f64());
    }

    let provider = inner.providers.get(row.app_id);
    let ctx = GrantContext {
        transport: inner.transport.as_ref(),
        provider: &provider,
        app: row.app_id,
        now,
        timeout: inner.policy.request_timeout,
    };
    // The lease is renewed while the provider answers: a slow provider must not let another
    // process take the lease and present the same (single-use) refresh token.
    let obtain = grants::obtain(&ctx, &setup, current.as_ref());
    let renew = keep_lease(inner, tenant, &row.id);
    tokio::pin!(obtain, renew);
    let outcome = tokio::select! {
        outcome = &mut obtain => outcome,
        () = &mut renew => obtain.await,
    };
    let (write, result) = match outcome {
        Ok(obtained) => {
            let plain = obtained.tokens.seal_bytes().map_err(internal)?;
            let sealed =
                vault.seal_tokens(tenant, &row.id, row.app_id, &plain).map_err(internal)?;
            let write = TokenWrite::Tokens {
                sealed,
                expires_at: obtained.tokens.expires_at(),
                refresh_at: obtained.tokens.next_refresh(&inner.policy, now),
                granted_scopes: obtained.granted_scopes.clone(),
                account_name: obtained
                    .account_name
                    .as_deref()
                    .and_then(|a| AccountName::parse(a).ok()),
                refreshed_at: now,
                authorized: false,
            };
            (write, Ok(Fresh::from_set(&obtained.tokens)))
        }
        Err(GrantError::Transient { message, retry_after }) => {
            let delay =
                inner.policy.backoff(row.token.attempts + 1).max(retry_after.unwrap_or_default());
            tracing::warn!(connection = %row.id, %message, retry_in_secs = delay.as_secs(), "token refresh failed; will retry");
            inner.metrics.refresh(RefreshResult::TransientError);
            let write =
                TokenWrite::Retry { last_error: message.clone(), retry_at: after(now, delay) };
            (write, Err(RefreshError::Transient { name, message }))
        }
        Err(GrantError::Rejected { message }) => {
            tracing::warn!(connection = %row.id, %message, "token refresh refused: connection needs reauthorization");
            inner.metrics.refresh(RefreshResult::NeedsReauth);
            (
                TokenWrite::NeedsReauth { last_error: message.clone() },
                Err(RefreshError::NeedsReauth { name, message }),
            )
        }
        Err(GrantError::Failed { message }) => {
            tracing::warn!(connection = %row.id, %message, "token refresh failed");
            inner.metrics.refresh(RefreshResult::Failed);
            let write = TokenWrite::Retry {
                last_error: message.clone(),
                retry_at: after(now, inner.policy.backoff_max),
            };
            (write, Err(RefreshError::Failed { name, message }))
        }
    };
    match write_outcome(inner, tenant, row, &write).await {
        Ok(()) => {
            if result.is_ok() {
                inner.metrics.refresh(RefreshResult::Ok);
            }
            result.map(|fresh| (fresh, true))
        }
        Err(StoreError::VersionConflict { .. }) => {
            // The tokens were replaced meanwhile (new credentials, or a refresh elsewhere that
            // stored first): what we got is stale.
            tracing::warn!(connection = %row.id, "connection changed during a token refresh; result discarded");
            Err(RefreshError::Conflict { name: row.name.to_string() })
        }
        Err(e) => {
            let TokenWrite::Tokens { .. } = write else { return Err(internal(e)) };
            // New tokens that could not be stored: if the provider rotated the refresh token,
            // the stored one is spent. Say so everywhere it can be seen, and hand the access
            // token to whoever waits for it: it is valid.
            // One last try of the tokens themselves (a store that recovered enough to take a
            // note would take them).
            tokio::time::sleep(Duration::from_secs(1)).await;
            let store = vault.store();
            let version = row.token.tokens_version;
            if store.finish_refresh(tenant, &row.id, &inner.owner, version, &write).await.is_ok() {
                inner.metrics.refresh(RefreshResult::Ok);
                return result.map(|fresh| (fresh, true));
            }
            tracing::error!(connection = %row.id, error = %e, "a refreshed token could not be saved; if the provider rotated its refresh token, the connection will need to be reconnected");
            inner.metrics.refresh(RefreshResult::Unsaved);
            let note = TokenWrite::Retry {
                last_error: format!(
                    "a refreshed token could not be saved ({e}); the connection may need to be reconnected"
                ),
                retry_at: after(vault.now(), inner.policy.backoff(row.token.attempts + 1)),
            };
            let _ = vault
                .store()
                .finish_refresh(tenant, &row.id, &inner.owner, row.token.tokens_version, &note)
                .await;
            result.map(|fresh| (fresh, false))
        }
    }
}

/// How often a refresh's write is tried before it is given up.
const WRITE_ATTEMPTS: u32 = 6;

/// Stores a refresh's outcome, retrying a failing store with backoff (100 ms, doubling) and
/// renewing the lease meanwhile. A version conflict is final.
async fn write_outcome(
    inner: &Inner,
    tenant: &TenantId,
    row: &ConnectionRow,
    write: &TokenWrite,
) -> Result<(), StoreError> {
    let store = inner.vault.store();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match store
            .finish_refresh(tenant, &row.id, &inner.owner, row.token.tokens_version, write)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e @ StoreError::VersionConflict { .. }) => return Err(e),
            Err(e) if attempt >= WRITE_ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(connection = %row.id, attempt, error = %e, "cannot store a token refresh; retrying");
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
                let now = inner.vault.now();
                let until = after(now, inner.policy.lease);
                let _ = store.lease(tenant, &row.id, &inner.owner, now, until).await;
            }
        }
    }
}

/// Renews `owner`'s lease on a connection every third of the lease time; returns when it can't
/// any more — someone else holds it, or the store kept failing until the lease ran out —
/// leaving the refresh to finish on its own. A failed renewal is retried: one busy moment of
/// the database must not let another process present the same refresh token.
async fn keep_lease(inner: &Inner, tenant: &TenantId, id: &ConnectionId) {
    let every = (inner.policy.lease / 3).max(Duration::from_millis(10));
    let mut held_until = after(inner.vault.now(), inner.policy.lease);
    loop {
        tokio::time::sleep(every).await;
        let now = inner.vault.now();
        let until = after(now, inner.policy.lease);
        match inner.vault.store().lease(tenant, id, &inner.owner, now, until).await {
            Ok(Some(_)) => held_until = until,
            Ok(None) => {
                tracing::warn!(connection = %id, "lost the refresh lease during a token request");
                return;
            }
            Err(e) if now < held_until => {
                tracing::warn!(connection = %id, error = %e, "cannot renew the refresh lease; retrying");
            }
            Err(e) => {
                tracing::error!(connection = %id, error = %e, "the refresh lease ran out: the store kept failing");
                return;
            }
        }
    }
}

impl From<VaultError> for RefreshError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound => RefreshError::NotFound,
            other => internal(other),
        }
    }
}
