//! A vault in memory, the fake OAuth server at `idp.test`, and engines wired to them.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_core::{
    AppId, Clock, ConnectionId, TenantId, TenantName, Timestamp, validate_create,
};
use flowvault_crypto::MasterKey;
use flowvault_engine::{
    Engine, EngineConfig, OutboundRequest, Providers, RefreshPolicy, TokioClock, Transport,
};
use flowvault_store::{MasterKeySource, MemoryStore, Vault};
use flowvault_testkit::{FakeOAuth, InProcess};
use serde_json::json;
use url::Url;

pub(crate) const REDIRECT: &str = "https://vault.test/connect/callback";

pub(crate) struct World {
    pub(crate) vault: Arc<Vault>,
    /// The store under the vault, for tests that make it fail.
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) fake: FakeOAuth,
    pub(crate) transport: InProcess,
    pub(crate) clock: Arc<TokioClock>,
    pub(crate) tenant: TenantId,
}

impl World {
    /// Must run with tokio's clock paused (`#[tokio::test(start_paused = true)]`).
    pub(crate) async fn new() -> Self {
        let clock = Arc::new(TokioClock::new());
        let store = Arc::new(MemoryStore::new());
        let key = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let (vault, _) = Vault::open(store.clone(), MasterKeySource::Key(key), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let tenant = vault
            .ensure_tenant(&TenantName::default_tenant())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id;
        let fake = FakeOAuth::new(clock.clone());
        fake.register_client("service", "service-secret");
        fake.register_client("fv-app", "fv-app-secret");
        let transport = InProcess::new();
        transport.route("idp.test", fake.router());
        Self { vault: Arc::new(vault), store, fake, transport, clock, tenant }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Salesforce's OAuth app pointed at the fake, with `scopes`.
    pub(crate) fn providers(scopes: &[&str]) -> Providers {
        let mut p = Providers::default();
        p.configure(AppId::Salesforce, |c| {
            c.authorize_url = Url::parse("https://idp.test/authorize").ok();
            c.token_url = Url::parse("https://idp.test/token").ok();
            c.client_id = Some("fv-app".to_owned());
            c.client_secret = Some(secrecy::SecretString::from("fv-app-secret".to_owned()));
            c.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        });
        p
    }

    pub(crate) fn engine(&self, owner: &str) -> Engine {
        self.engine_with(owner, Self::providers(&["api", "refresh_token"]))
    }

    pub(crate) fn engine_with(&self, owner: &str, providers: Providers) -> Engine {
        self.engine_from(EngineConfig {
            policy: RefreshPolicy::default(),
            providers,
            owner: Some(owner.to_owned()),
            ..EngineConfig::default()
        })
    }

    pub(crate) fn engine_from(&self, config: EngineConfig) -> Engine {
        Engine::new(self.vault.clone(), Arc::new(self.transport.clone()), config)
    }

    /// An HTTP connection with the client credentials grant against the fake.
    pub(crate) async fn client_credentials(&self, secret: &str) -> ConnectionId {
        let body = json!({"name": "Service", "app_id": "HTTP", "setup": {
            "type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://idp.test/token",
            "client_id": "service", "client_secret": secret, "scope": "read"}});
        let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
        self.vault.create_connection(&self.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id
    }

    /// An empty Salesforce connection.
    pub(crate) async fn salesforce(&self) -> ConnectionId {
        let new = validate_create(&json!({"name": "CRM", "app_id": "SALESFORCE"}))
            .unwrap_or_else(|e| panic!("{e}"));
        self.vault.create_connection(&self.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id
    }

    /// Follows an authorization URL at the fake: the `(code, state)` it redirects with, or its
    /// `error`.
    pub(crate) async fn authorize(&self, url: &Url) -> Result<(String, String), String> {
        let response = self
            .transport
            .send(OutboundRequest::new(http::Method::GET, url.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status.as_u16(), 302, "{}", String::from_utf8_lossy(&response.body));
        let location =
            response.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let location = Url::parse(location).unwrap_or_else(|e| panic!("{e}"));
        assert!(location.as_str().starts_with(REDIRECT), "{location}");
        let get =
            |k: &str| location.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        match (get("code"), get("state"), get("error")) {
            (Some(code), Some(state), None) => Ok((code, state)),
            (_, _, Some(error)) => Err(error),
            _ => panic!("odd redirect {location}"),
        }
    }

    /// Connects a connection through the whole "Connect" dance.
    pub(crate) async fn connect(
        &self,
        engine: &Engine,
        id: &ConnectionId,
    ) -> flowvault_core::Connection {
        let url = engine
            .begin_connect(&self.tenant, id, REDIRECT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (code, state) = self.authorize(&url).await.unwrap_or_else(|e| panic!("{e}"));
        engine.complete_connect(&state, &code, REDIRECT).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) async fn row(&self, id: &ConnectionId) -> flowvault_store::ConnectionRow {
        self.vault
            .store()
            .connection(&self.tenant, id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no row"))
    }
}

/// Runs the refresher of `engine` in the background until the returned sender is dropped.
pub(crate) fn run_refresher(engine: &Engine) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = engine.clone();
    tokio::spawn(async move {
        engine
            .run_refresher(async move {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `der` as a PEM block labelled `label` (`PRIVATE KEY`, `PUBLIC KEY`).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}
