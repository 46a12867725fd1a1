//! An in-process transport: the engine's requests go straight to fake routers, chosen by the
//! URL's authority (`idp.test`, `127.0.0.1:9000`). No sockets, so tests can pause tokio time and
//! nothing else moves it. Connections that are not HTTP (SMTP, to [`FakeSmtp`](crate::FakeSmtp))
//! are real ones: their names are resolved through the engine's guard under the transport's
//! [`NetPolicy`] (strict unless a test allows private networks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use flowvault_engine::{
    NetPolicy, OutboundRequest, OutboundResponse, Transport, TransportError, resolve_guarded,
};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// Fakes by host; anything else fails to connect.
#[derive(Clone, Default)]
pub struct InProcess {
    routes: Arc<Mutex<HashMap<String, Router>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
    latency: Arc<Mutex<std::time::Duration>>,
    policy: Arc<Mutex<NetPolicy>>,
}

/// A request the transport carried (without its body or headers, which may hold secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> =
            self.routes.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        f.debug_struct("InProcess").field("hosts", &hosts).finish()
    }
}

impl InProcess {
    /// No fakes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `host` (as in a URL: `name` or `name:port`) with `router`.
    pub fn route(&self, host: &str, router: Router) -> &Self {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(host.to_owned(), router);
        self
    }

    /// Makes every request take `latency` (tokio time) before it reaches the fake, as a network
    /// would: concurrent requests then really overlap.
    pub fn set_latency(&self, latency: std::time::Duration) {
        *self.latency.lock().unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// The guard's policy for connections that are not HTTP (default: no private networks).
    pub fn set_net_policy(&self, policy: NetPolicy) {
        *self.policy.lock().unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// Every request carried so far.
    #[must_use]
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl Transport for InProcess {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        // As the real transport: what must go over https does not go over plain http.
        if request.https_only && request.url.scheme() != "https" {
            return Err(TransportError::Refused(flowvault_engine::Refused::Scheme(
                request.url.origin().ascii_serialization(),
            )));
        }
        let host = request.url.host_str().unwrap_or_default().to_owned();
        let authority = match request.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let router = {
            let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            routes.get(&authority).or_else(|| routes.get(&host)).cloned()
        };
        let router =
            router.ok_or_else(|| TransportError::Connect(format!("no fake serves {authority}")))?;
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Sent { method: request.method.to_string(), url: request.url.to_string() });
        let path = match request.url.query() {
            Some(q) => format!("{}?{q}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        let mut builder = http::Request::builder().method(request.method).uri(path);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = builder.header(http::header::HOST, authority);
        let req = builder
            .body(Body::from(request.body))
            .map_err(|e| TransportError::Other(e.to_string()))?;
        let latency = *self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let call = async {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response =
                router.oneshot(req).await.map_err(|e| TransportError::Other(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body =
                body.collect().await.map_err(|e| TransportError::Other(e.to_string()))?.to_bytes();
            Ok(OutboundResponse { status: parts.status, headers: parts.headers, body })
        };
        match request.timeout {
            Some(t) => tokio::time::timeout(t, call).await.map_err(|_| TransportError::Timeout)?,
            None => call.await,
        }
    }

    async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, TransportError> {
        let policy = *self.policy.lock().unwrap_or_else(PoisonError::into_inner);
        resolve_guarded(policy, &HashMap::new(), host, port).await
    }
}
