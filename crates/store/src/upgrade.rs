//! The one-time upgrade of a vault written by an earlier build, done when a process first opens
//! it with its master key:
//!
//! - the keyring gains an integrity key and is re-sealed in the current format (which is how a
//!   later open knows the upgrade happened: a keyring is wholly one format or the other);
//! - management clients get a keyed secret hash and a MAC, flows a MAC;
//! - connection setups and tokens are re-sealed for a context that names their app, and their
//!   fingerprints are bound to the connection;
//! - execution records are re-sealed for a context that names their flow.
//!
//! All of it happens in one write transaction ([`crate::Store::upgrade_rows`]), so a crash
//! leaves the vault as it was, and a second process waits and then opens the upgraded vault.
//! A row that does not open with the earlier context (it was already tampered with) is left as
//! it is, and stays refused. A legacy keyring beside rows that already carry MACs means the
//! keyring was replaced after an upgrade: the upgrade is refused and nothing is written.

use flowvault_core::{Setup, TenantId};
use flowvault_crypto::{Keyring, SealContext, SealedKey};

use crate::clients::client_mac;
use crate::flow_records::{ExecutionRow, FlowRow};
use crate::flows::{execution_context, flow_mac};
use crate::records::{ClientRow, ConnectionRow, ResealedConnection, RowUpgrade};
use crate::vault::{
    LEGACY_PURPOSE_SETUP, LEGACY_PURPOSE_TOKENS, fingerprint, setup_context, tokens_context,
};

/// Why an upgrade is refused when rows already carry what it would write: re-keying a secret
/// hash twice would lock every client out, so nothing is changed.
pub(crate) const ALREADY_UPGRADED: &str = "the keyring is in the earlier format but management \
     clients or flows already carry a MAC: the keyring rows were replaced (restored from an \
     older backup?) after the vault was upgraded; restore the keyring that matches the rest of \
     the database";

/// Earlier builds sealed execution records under this purpose alone.
const LEGACY_PURPOSE_EXECUTION: &str = "execution";

/// What an upgrade writes, computed row by row from the upgraded keyring (whose keys are the
/// ones every earlier envelope was sealed with).
pub(crate) struct Plan<'a> {
    keyring: &'a Keyring,
    /// The keyring as it was read before the upgrade.
    expected: Vec<SealedKey>,
    /// The keyring to store.
    resealed: Vec<SealedKey>,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(
        keyring: &'a Keyring,
        expected: Vec<SealedKey>,
        resealed: Vec<SealedKey>,
    ) -> Self {
        Self { keyring, expected, resealed }
    }

    fn reopen(
        &self,
        tenant: &TenantId,
        object: &str,
        purpose: &str,
        sealed: &[u8],
        to: &SealContext,
    ) -> Option<Vec<u8>> {
        let from = SealContext::new(tenant.as_str(), object, purpose).ok()?;
        let plain = self.keyring.open(&from, sealed).ok()?;
        self.keyring.seal(to, &plain).ok()
    }
}

impl RowUpgrade for Plan<'_> {
    fn keyring(&self, stored: &[SealedKey]) -> Option<Vec<SealedKey>> {
        let mut stored = stored.to_vec();
        let mut expected = self.expected.clone();
        let key = |k: &SealedKey| (k.kind, k.term);
        stored.sort_by_key(key);
        expected.sort_by_key(key);
        (stored == expected).then(|| self.resealed.clone())
    }

    fn connection(&self, tenant: &TenantId, row: &ConnectionRow) -> Option<ResealedConnection> {
        let (id, app) = (&row.id, row.app_id);
        let mut out = ResealedConnection {
            setup_sealed: None,
            tokens_sealed: None,
            fingerprint: row.fingerprint.clone(),
        };
        match &row.setup {
            None => out.fingerprint = fingerprint(self.keyring, tenant, id, app, b""),
            Some(sealed) => {
                let from =
                    SealContext::new(tenant.as_str(), id.as_str(), LEGACY_PURPOSE_SETUP).ok()?;
                let plain = self.keyring.open(&from, &sealed.sealed).ok()?;
                // Only credentials that still read as this app's are re-bound to it.
                Setup::from_canonical_json(app, &plain).ok()?;
                out.setup_sealed =
                    Some(self.keyring.seal(&setup_context(tenant, id, app).ok()?, &plain).ok()?);
                out.fingerprint = fingerprint(self.keyring, tenant, id, app, &plain);
            }
        }
        if let Some(tokens) = &row.tokens_sealed {
            let to = tokens_context(tenant, id, app).ok()?;
            out.tokens_sealed =
                Some(self.reopen(tenant, id.as_str(), LEGACY_PURPOSE_TOKENS, tokens, &to)?);
        }
        Some(out)
    }

    fn client(&self, row: &ClientRow) -> Option<(Vec<u8>, Vec<u8>)> {
        let hash = self.keyring.keyed_secret_digest(&row.secret_hash).ok()?.to_vec();
        let mac = client_mac(self.keyring, &row.id, &row.tenant_id, &row.scopes, &hash).ok()?;
        Some((hash, mac))
    }

    fn flow(&self, tenant: &TenantId, row: &FlowRow) -> Option<Vec<u8>> {
        flow_mac(self.keyring, tenant, &row.id, row.version, &row.actions).ok()
    }

    fn execution(&self, tenant: &TenantId, row: &ExecutionRow) -> Option<Vec<u8>> {
        let sealed = row.record_sealed.as_ref()?;
        let to = execution_context(tenant, &row.id, &row.flow_id).ok()?;
        self.reopen(tenant, row.id.as_str(), LEGACY_PURPOSE_EXECUTION, sealed, &to)
    }
}
