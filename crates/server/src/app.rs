//! Building the router and serving it, over plain HTTP or TLS, until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use flowvault_engine::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::Service as _;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument as _;

use crate::auth::{Auth, KeyError, TokenKeys};
use crate::config::Config;
use crate::error::ApiError;
use crate::routes::{apps, connect, connections, delivery, flows, health, oauth, openapi};
use crate::state::AppState;
use crate::tls;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The token signing keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The TLS certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// Listening or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The dashboard's first-admin link could not be made.
    #[error("first-admin link: {0}")]
    Setup(String),
}

/// The server, ready to serve: the vault, the configuration and the token keys.
#[derive(Debug, Clone)]
pub struct App {
    state: AppState,
}

impl App {
    /// Prepares the server: loads (or, the first time, creates) the token signing key, and
    /// re-checks the scopes of OAuth connections against what their apps now ask for.
    ///
    /// # Errors
    /// [`ServerError::Keys`] if the signing key can't be loaded or created.
    pub async fn new(engine: Engine, config: Config) -> Result<Self, ServerError> {
        let vault = engine.vault().clone();
        let keys =
            TokenKeys::load(&vault, config.issuer(), config.audience(), config.token_lifetime)
                .await?;
        match engine.check_all_scopes().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                connections = n,
                "OAuth connections lack scopes their apps now ask for (status needs_update)"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot check the scopes of OAuth connections"),
        }
        Ok(Self { state: AppState::new(engine, Auth::new(keys), config) })
    }

    /// While the vault has no dashboard user: a one-time link (under the public URL) to the
    /// page that creates the first admin, made once per process and valid until used. `None`
    /// once any user exists.
    ///
    /// # Errors
    /// The store's, if it can't say whether a user exists; [`ServerError::Keys`] never.
    pub async fn first_admin_link(&self) -> Result<Option<url::Url>, ServerError> {
        let any =
            self.state.vault.any_user().await.map_err(|e| ServerError::Setup(e.to_string()))?;
        if any {
            return Ok(None);
        }
        let mut pending = self
            .state
            .dashboard
            .setup_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let token = match pending.as_ref() {
            Some(t) => t.clone(),
            None => {
                let mut bytes = [0u8; 24];
                getrandom::fill(&mut bytes)
                    .map_err(|_| ServerError::Setup("the random generator failed".to_owned()))?;
                let t = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    bytes,
                );
                *pending = Some(t.clone());
                t
            }
        };
        let mut url = self
            .state
            .config
            .public_url
            .join("setup")
            .map_err(|e| ServerError::Setup(e.to_string()))?;
        url.query_pairs_mut().append_pair("token", &token);
        Ok(Some(url))
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.state.engine
    }

    /// The whole HTTP API as one router.
    pub fn router(&self) -> Router {
        let timeout = self.state.config.request_timeout;
        Router::new()
            .merge(connections::router())
            .merge(apps::router())
            .merge(delivery::router())
            .merge(connect::router())
            .merge(flows::router())
            .merge(oauth::router())
            .merge(health::router())
            .merge(openapi::router())
            .route_layer(middleware::from_fn(crate::query::conform))
            .merge(crate::dashboard::router(self.state.clone()))
            .fallback(|| async { ApiError::not_found("Not Found") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method Not Allowed",
                )
            })
            .layer(middleware::from_fn(move |req, next| access_log(req, next, timeout)))
            .layer(CatchPanicLayer::custom(|_| {
                ApiError::internal(&"a request handler panicked").into_response()
            }))
            .with_state(self.state.clone())
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in flight.
///
/// # Errors
/// [`ServerError::Tls`] if the configured certificate or key can't be used, or an IO error.
pub async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = app.state.clone();
    let (stop_refresher, refresher_stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        state.shutting_down.store(true, Ordering::Relaxed);
        let _ = stop_refresher.send(());
        tracing::info!("shutting down: finishing requests in flight");
    };
    let refresher = app.state.config.run_refresher.then(|| {
        let engine = app.state.engine.clone();
        tokio::spawn(async move {
            engine
                .run_refresher(async move {
                    let _ = refresher_stopped.await;
                })
                .await;
        })
    });
    let sweeper = app
        .state
        .config
        .execution_retention
        .map(|keep| tokio::spawn(sweep_executions(app.state.clone(), keep)));
    let router = app.router();
    match &app.state.config.tls {
        None => {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some(files) => {
            let config = tls::server_config(files).map_err(ServerError::Tls)?;
            serve_tls(listener, router, config, shutdown).await;
        }
    }
    if let Some(r) = refresher {
        let _ = r.await;
    }
    if let Some(s) = sweeper {
        s.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The TLS accept loop: a handshake per connection (bounded in time), HTTP/1.1 or HTTP/2 by
/// ALPN, and a graceful drain of open connections at shutdown.
async fn serve_tls(
    listener: TcpListener,
    router: Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().call(req)
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One log line per request (method, path, status, time; never headers or bodies), a request
/// id, and the request timeout.
async fn access_log(req: Request, next: Next, timeout: Duration) -> Response {
    let started = Instant::now();
    let request_id = request_id();
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        client = tracing::field::Empty,
    );
    let mut response = match tokio::time::timeout(timeout, next.run(req).instrument(span.clone()))
        .await
    {
        Ok(r) => r,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "The request took too long")
                .into_response()
        }
    };
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(status, micros, "request"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// A request id: unique in this process and, with a random start, across processes. Not
/// secret and not meant to be unguessable (it names a request in the logs).
fn request_id() -> String {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        let mut b = [0u8; 8];
        let _ = aws_lc_rs::rand::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // An odd multiplier spreads consecutive requests over the whole range (and is a bijection,
    // so ids repeat only after 2^64 requests).
    format!("{:016x}", start.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Deletes executions older than `keep`, hourly.
async fn sweep_executions(state: AppState, keep: Duration) {
    loop {
        let now = state.vault.now();
        let cutoff = now.saturating_sub(keep);
        match state.vault.store().delete_executions_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "old executions deleted"),
            Err(e) => tracing::warn!(error = %e, "cannot delete old executions"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
