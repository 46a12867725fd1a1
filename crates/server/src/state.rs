//! What every handler can reach.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use flowvault_engine::Engine;
use flowvault_store::Vault;

use crate::auth::Auth;
use crate::config::Config;

/// Shared state of the server; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The vault.
    pub vault: Arc<Vault>,
    /// The engine: tokens, refreshes, "Connect", verification.
    pub engine: Engine,
    pub(crate) auth: Auth,
    pub(crate) dashboard: crate::dashboard::DashboardState,
    /// The configuration.
    pub config: Config,
    /// Set when shutdown begins, so `/readyz` turns away new traffic.
    pub(crate) shutting_down: AtomicBool,
}

impl AppState {
    pub(crate) fn new(engine: Engine, auth: Auth, config: Config) -> Self {
        let vault = engine.vault().clone();
        let dashboard =
            crate::dashboard::DashboardState::new(config.sessions, config.sign_in_delay);
        Self(Arc::new(Inner {
            vault,
            engine,
            auth,
            dashboard,
            config,
            shutting_down: AtomicBool::new(false),
        }))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
