//! Credentials opened recently, for the runs that use them next.
//!
//! Opening a connection's credentials — the envelope, the setup's JSON, the stored tokens — and
//! preparing the automaton that scrubs their every form from a run's record cost more than the
//! rest of a one-action run together (docs/benchmarks.md). A connection's credentials are used
//! again and again unchanged, so what was opened is kept for a short time, in memory that is
//! zeroed when it is dropped ([`Setup`] and [`Fresh`] hold their values as `SecretString`s).
//!
//! An entry is used only for a row whose sealed bytes are exactly those it was opened from
//! (with the same app, which the envelopes are bound to): the row is read on every use, so a
//! change made anywhere — this process, the CLI on the same file, another replica — is seen by
//! the very next use, and a row edited in the database goes through the envelope again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flowvault_core::{AppId, ConnectionId, KnownSecrets, Setup, TenantId};
use flowvault_store::ConnectionRow;

use crate::credentials::Fresh;

/// How long opened credentials are kept after they were opened.
const KEEP: Duration = Duration::from_secs(60);

/// The most connections kept.
const MAX_KEPT: usize = 10_000;

/// One connection's credentials as opened from one version of its row.
pub(crate) struct Opened {
    /// The setup.
    pub(crate) setup: Arc<Setup>,
    /// The stored access token, for token-based setups that had one.
    pub(crate) token: Option<Arc<Fresh>>,
    /// The setup's secrets and the token's, ready to scrub.
    pub(crate) secrets: Arc<KnownSecrets>,
}

struct Entry {
    app: AppId,
    setup_sealed: Vec<u8>,
    tokens_sealed: Option<Vec<u8>>,
    opened: Arc<Opened>,
    at: Instant,
}

impl Entry {
    fn is_for(&self, row: &ConnectionRow, now: Instant) -> bool {
        now.duration_since(self.at) < KEEP
            && self.app == row.app_id
            && row.setup.as_ref().is_some_and(|s| s.sealed == self.setup_sealed)
            && row.tokens_sealed == self.tokens_sealed
    }
}

/// Opened credentials by connection.
#[derive(Default)]
pub(crate) struct OpenedCache {
    entries: Mutex<HashMap<(TenantId, ConnectionId), Entry>>,
}

impl OpenedCache {
    /// What was opened from exactly this row, if it is still kept.
    pub(crate) fn get(&self, tenant: &TenantId, row: &ConnectionRow) -> Option<Arc<Opened>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&(tenant.clone(), row.id.clone()))?;
        entry.is_for(row, Instant::now()).then(|| entry.opened.clone())
    }

    /// Keeps what was opened from `row`.
    pub(crate) fn put(&self, tenant: &TenantId, row: &ConnectionRow, opened: Arc<Opened>) {
        let Some(setup) = &row.setup else { return };
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_KEPT {
            entries.retain(|_, e| now.duration_since(e.at) < KEEP);
            if entries.len() >= MAX_KEPT {
                entries.clear();
            }
        }
        entries.insert(
            (tenant.clone(), row.id.clone()),
            Entry {
                app: row.app_id,
                setup_sealed: setup.sealed.clone(),
                tokens_sealed: row.tokens_sealed.clone(),
                opened,
                at: now,
            },
        );
    }
}
