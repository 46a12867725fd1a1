//! Running one action against fakes, without a flow.

use std::sync::Arc;
use std::time::Duration;

use flowvault_core::{
    ActionSpec, AppId, Clock, DeliverySettings, Setup, SystemClock, TenantId, TenantName,
    Timestamp, validate_setup,
};
use flowvault_crypto::MasterKey;
use flowvault_engine::{ActionError, Call, Credentials, Fresh, Http, Providers, invoke};
use flowvault_store::{MasterKeySource, MemoryStore, Vault};
use flowvault_testkit::{InProcess, StaticMx};
use secrecy::SecretString;
use serde_json::Value;

/// Fakes by host, and the providers' base URLs pointing at them; a vault in memory for actions
/// that keep state (one-time codes); MX answers from a table (none unless a test sets some).
pub(crate) struct Harness {
    pub(crate) transport: InProcess,
    pub(crate) providers: Providers,
    pub(crate) mx: StaticMx,
    pub(crate) vault: Vault,
    pub(crate) tenant: TenantId,
    /// The delivery settings handed to every action (the runner reads them from the vault).
    pub(crate) delivery: Option<DeliverySettings>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// With the vault on `clock` (a `TokioClock` lets a paused test move the time one-time
    /// codes expire by).
    pub(crate) fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(MemoryStore::new());
        // Opening a vault in memory awaits nothing that can pend: drive it to completion here.
        let (vault, _) =
            futures_lite_block_on(Vault::open(store, MasterKeySource::Key(key), clock))
                .unwrap_or_else(|e| panic!("{e}"));
        let tenant = futures_lite_block_on(vault.ensure_tenant(&TenantName::default_tenant()))
            .unwrap_or_else(|e| panic!("{e}"))
            .id;
        Self {
            transport: InProcess::new(),
            providers: Providers::default(),
            mx: StaticMx::new(),
            vault,
            tenant,
            delivery: None,
        }
    }

    /// Serves `app`'s API from `router` at `https://{host}` (its base URL points there).
    pub(crate) fn serve(&mut self, app: AppId, host: &str, router: axum::Router) -> &mut Self {
        self.transport.route(host, router);
        self.providers
            .configure(app, |p| p.base_url = url::Url::parse(&format!("https://{host}")).ok());
        self
    }

    /// Serves a host without changing any base URL (webhook URLs, token endpoints).
    pub(crate) fn host(&mut self, host: &str, router: axum::Router) -> &mut Self {
        self.transport.route(host, router);
        self
    }

    /// Runs `kind`/`action` with `params` and, if given, a connection of `app` with `setup`
    /// (and an access token for OAuth setups).
    pub(crate) async fn run(
        &self,
        kind: &str,
        action: &str,
        params: Value,
        connection: Option<(AppId, Value)>,
        token: Option<&str>,
    ) -> Result<Value, ActionError> {
        let credentials = connection.map(|(app, setup)| Credentials {
            setup: Arc::new(setup_of(app, &setup)),
            token: token.map(|t| {
                Arc::new(Fresh {
                    access_token: SecretString::from(t.to_owned()),
                    token_type: "Bearer".to_owned(),
                    expires_at: None,
                    api_base: None,
                })
            }),
            granted_scopes: None,
        });
        self.run_with(kind, action, params, credentials.as_ref()).await
    }

    /// Runs `kind`/`action` with `params` and the credentials the engine resolved for a
    /// connection (tokens from a real grant against the fake OAuth server).
    pub(crate) async fn run_with(
        &self,
        kind: &str,
        action: &str,
        params: Value,
        credentials: Option<&Credentials>,
    ) -> Result<Value, ActionError> {
        let spec =
            ActionSpec::find(kind, action).unwrap_or_else(|| panic!("no action {kind} {action}"));
        let http = Http::new(&self.transport, &self.providers, Duration::from_secs(10));
        let now: Timestamp = "2026-11-26T12:00:00.000Z".parse().unwrap_or_else(|_| unreachable!());
        let call = Call {
            spec,
            params: &params,
            credentials,
            delivery: self.delivery.as_ref(),
            http: &http,
            mx: &self.mx,
            now,
            tenant: &self.tenant,
            vault: &self.vault,
        };
        invoke(&call).await
    }
}

pub(crate) fn setup_of(app: AppId, setup: &Value) -> Setup {
    validate_setup(app, setup).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a future that never waits on anything outside itself (the in-memory store) to its end.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_util::FutureExt::now_or_never(future)
        .unwrap_or_else(|| panic!("an in-memory vault operation waited on something"))
}
