//! A running server with a fresh vault, clients and tokens.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowvault_core::{ClientName, Scopes, SystemClock, TenantId, TenantName};
use flowvault_crypto::MasterKey;
use flowvault_server::{App, Config};
use flowvault_store::{MasterKeySource, SqliteStore, Store, Vault};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A secret that must never come back out of the API.
pub(crate) const CANARY: &str = "CANARY-api-5ecr3t-93bd";

pub(crate) struct Server {
    _dir: TempDir,
    pub(crate) base: String,
    pub(crate) vault: Arc<Vault>,
    pub(crate) http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A management client and a token for it.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) tenant: TenantId,
    pub(crate) token: String,
}

/// One answer, read completely.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Server {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(tune: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(tune, flowvault_engine::Providers::default()).await
    }

    /// A server whose engine uses `providers` (pointing at local fakes).
    pub(crate) async fn start_full(
        tune: impl FnOnce(&mut Config),
        providers: flowvault_engine::Providers,
    ) -> Self {
        let transport = flowvault_engine::HttpTransport::new(
            flowvault_engine::NetPolicy { allow_private_network: true },
            flowvault_engine::HttpLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Self::start_with_transport(tune, providers, transport).await
    }

    /// A server whose engine sends its requests through `transport`.
    pub(crate) async fn start_with_transport(
        tune: impl FnOnce(&mut Config),
        providers: flowvault_engine::Providers,
        transport: flowvault_engine::HttpTransport,
    ) -> Self {
        let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("vault.db")).await.unwrap_or_else(|e| panic!("{e}")),
        );
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let (vault, _) = Vault::open(store, MasterKeySource::Key(key), Arc::new(SystemClock))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let vault = Arc::new(vault);
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let base = format!("http://{addr}");
        let mut config = Config::new(url::Url::parse(&base).unwrap_or_else(|e| panic!("{e}")));
        tune(&mut config);
        let engine = flowvault_engine::Engine::new(
            vault.clone(),
            Arc::new(transport),
            flowvault_engine::EngineConfig {
                providers,
                ..flowvault_engine::EngineConfig::default()
            },
        );
        let app = App::new(engine, config).await.unwrap_or_else(|e| panic!("{e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            flowvault_server::run(listener, app, shutdown).await.unwrap_or_else(|e| panic!("{e}"));
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Self { _dir: dir, base, vault, http, stop: Some(stop), task: Some(task) }
    }

    pub(crate) fn audience(&self) -> String {
        format!("{}/api/v2/", self.base)
    }

    pub(crate) async fn tenant(&self, name: &str) -> TenantId {
        let name: TenantName = name.parse().unwrap_or_else(|e| panic!("{e}"));
        self.vault.ensure_tenant(&name).await.unwrap_or_else(|e| panic!("{e}")).id
    }

    /// A client of `tenant` with `scopes`, and a token for it.
    pub(crate) async fn client(&self, tenant: &str, scopes: &str) -> Client {
        let tenant = self.tenant(tenant).await;
        let scopes: Scopes = scopes.parse().unwrap_or_else(|e| panic!("{e}"));
        let name = ClientName::parse("test").unwrap_or_else(|e| panic!("{e:?}"));
        let (c, secret) =
            self.vault.create_client(&tenant, name, scopes).await.unwrap_or_else(|e| panic!("{e}"));
        let mut client = Client {
            id: c.id.to_string(),
            secret: secret.expose_secret().to_owned(),
            tenant,
            token: String::new(),
        };
        let answer = self
            .form(
                "/oauth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client.id),
                    ("client_secret", &client.secret),
                    ("audience", &self.audience()),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        client.token = answer.json()["access_token"].as_str().unwrap_or_default().to_owned();
        client
    }

    /// A client with every scope, in tenant `default`.
    pub(crate) async fn admin(&self) -> Client {
        self.client("default", &Scopes::all().to_string()).await
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Answer { status, headers, text }
    }

    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.request(method, path, Some(token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub(crate) async fn form(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.send(self.request(Method::POST, path, None).form(params)).await
    }

    /// Creates a TWILIO connection whose auth token is `api_key`; returns its id.
    pub(crate) async fn twilio(&self, client: &Client, name: &str, api_key: &str) -> String {
        let body = json!({"name": name, "app_id": "TWILIO", "setup": twilio_setup(api_key)});
        let a = self.call(Method::POST, CONNECTIONS, &client.token, Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json()["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Signs arbitrary claims with the server's own key (for tokens the server did not issue:
    /// expired ones, other audiences…), or with a stranger's key when `forged`.
    pub(crate) async fn sign(&self, claims: &Value, forged: bool) -> String {
        let keys = self.vault.signing_keys().await.unwrap_or_else(|e| panic!("{e}"));
        let key = &keys[0];
        let pair = if forged {
            KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"))
        } else {
            KeyPair::from_pkcs8(&key.private_der).unwrap_or_else(|e| panic!("{e}"))
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap_or_else(|e| panic!("{e}"));
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Claims as the server would issue them for `client`, valid for an hour.
    pub(crate) fn claims(&self, client: &Client) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        json!({
            "iss": format!("{}/", self.base), "sub": format!("{}@clients", client.id), "aud": self.audience(),
            "iat": now, "exp": now + 3600, "scope": Scopes::all().to_string(), "gty": "client-credentials",
            "azp": client.id, "tenant": client.tenant.to_string(), "jti": "test",
        })
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

pub(crate) const CONNECTIONS: &str = "/api/v2/flows/vault/connections";

pub(crate) fn twilio_setup(api_key: &str) -> Value {
    json!({"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": api_key})
}

/// Asserts an Auth0-shaped error.
pub(crate) fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    let body = a.json();
    assert_eq!(body["statusCode"], status, "{}", a.text);
    assert_eq!(body["errorCode"], code, "{}", a.text);
    assert!(body["error"].is_string() && body["message"].is_string(), "{}", a.text);
}
