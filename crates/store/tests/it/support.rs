//! Shared fixtures.

use std::path::PathBuf;
use std::sync::Arc;

use flowvault_core::{NewConnection, SystemClock, TenantId, TenantName, validate_create};
use flowvault_crypto::MasterKey;
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault};
use serde_json::{Value, json};
use tempfile::TempDir;

pub(crate) const KEY_A: [u8; 32] = [0xA5; 32];

pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) vault: Vault,
    pub(crate) tenant: TenantId,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        let (store, vault) = open(&dir.path().join("vault.db"), &KEY_A).await;
        let tenant = vault
            .ensure_tenant(&TenantName::default_tenant())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id;
        Self { dir, store, vault, tenant }
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.path().join("vault.db")
    }
}

pub(crate) async fn open(path: &std::path::Path, key: &[u8; 32]) -> (Arc<SqliteStore>, Vault) {
    let store = Arc::new(SqliteStore::open(path).await.unwrap_or_else(|e| panic!("{e}")));
    let master = MasterKey::from_bytes(key).unwrap_or_else(|e| panic!("{e}"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let (vault, _) = Vault::open(dyn_store, MasterKeySource::Key(master), Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (store, vault)
}

pub(crate) fn twilio_setup(api_key: &str) -> Value {
    json!({"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": api_key})
}

pub(crate) fn new_connection(body: Value) -> NewConnection {
    validate_create(&body).unwrap_or_else(|e| panic!("{e}"))
}
