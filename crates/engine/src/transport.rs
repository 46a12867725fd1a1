//! How the engine sends HTTP requests: the [`Transport`] trait, and [`HttpTransport`], the real
//! one (reqwest over rustls, with the SSRF guard, timeouts, a redirect limit and a response size
//! cap). Tests swap in an in-process transport that calls fakes directly.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::net::{NetPolicy, Refused};

/// One outbound request. `Debug` shows the method, the URL without its query, the header names
/// and the body's length: the rest may carry credentials.
#[derive(Clone)]
pub struct OutboundRequest {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Headers (may carry credentials: never log them).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The request carries credentials: refuse plain `http` (unless to an allowed private
    /// address), and follow redirects only within the request's origin.
    pub https_only: bool,
    /// Overall time limit for this request, if not the transport's default.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_password(None);
        let _ = url.set_username("");
        let headers: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &url.as_str())
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .field("https_only", &self.https_only)
            .finish_non_exhaustive()
    }
}

impl OutboundRequest {
    /// A request without body or headers.
    #[must_use]
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            https_only: false,
            timeout: None,
        }
    }
}

/// One response, read completely (within the size cap).
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why a request got no response.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The destination is not allowed (SSRF guard).
    #[error("refused: {0}")]
    Refused(#[from] Refused),
    /// No answer in time.
    #[error("the request timed out")]
    Timeout,
    /// Could not connect (DNS, TCP, TLS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The response body is larger than allowed.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// Anything else (protocol errors, redirect loops).
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// Whether trying again later might work.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout | TransportError::Connect(_) | TransportError::Other(_)
        )
    }
}

/// Sends requests.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends one request and reads the whole response.
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, TransportError>;

    /// The addresses of `host` a connection that is not HTTP (SMTP) may use, with `port`:
    /// resolved and checked by the same guard as HTTP requests. The caller connects to one of
    /// these addresses, never to the name again, so the address checked is the address used.
    /// By default the strictest policy (no private networks) and the system resolver.
    ///
    /// # Errors
    /// [`TransportError::Refused`] when no address is allowed; [`TransportError::Connect`] when
    /// the name does not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, TransportError> {
        resolve_guarded(NetPolicy::default(), &HashMap::new(), host, port).await
    }
}

/// Resolves `host` (through `hosts` first, like curl's `--resolve`, else DNS) and keeps the
/// addresses `policy` allows, with `port`: the one rule for every outbound connection.
///
/// # Errors
/// [`TransportError::Refused`] with the first refusal when every address is refused;
/// [`TransportError::Connect`] when the name does not resolve.
pub async fn resolve_guarded(
    policy: NetPolicy,
    hosts: &HashMap<String, Vec<IpAddr>>,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, TransportError> {
    let addrs: Vec<SocketAddr> = match hosts.get(&host.to_ascii_lowercase()) {
        Some(fixed) => fixed.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
        None => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| TransportError::Connect(format!("{host} does not resolve: {e}")))?
            .collect(),
    };
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match policy.check_ip(host, a.ip()) {
            Ok(()) => true,
            Err(e) => {
                first_refusal.get_or_insert(e);
                false
            }
        })
        .collect();
    match first_refusal {
        Some(r) if allowed.is_empty() => Err(TransportError::Refused(r)),
        None if allowed.is_empty() => {
            Err(TransportError::Connect(format!("{host} does not resolve")))
        }
        _ => Ok(allowed),
    }
}

/// Limits of [`HttpTransport`].
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, by default.
    pub timeout: Duration,
    /// The largest response body read.
    pub max_response_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_response_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
        }
    }
}

/// The real transport.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    /// For requests without credentials: follows redirects (each checked).
    client: reqwest::Client,
    /// For requests that carry credentials (`https_only`): follows redirects only within the
    /// origin, and only to `https`.
    credentialed: reqwest::Client,
    policy: NetPolicy,
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
    limits: HttpLimits,
}

impl HttpTransport {
    /// A transport that enforces `policy`.
    ///
    /// # Errors
    /// If the TLS backend can't be set up.
    pub fn new(policy: NetPolicy, limits: HttpLimits) -> Result<Self, TransportError> {
        Self::with_hosts(policy, limits, HashMap::new())
    }

    /// A transport that resolves the names in `hosts` to the given addresses instead of asking
    /// DNS (like curl's `--resolve`). Those addresses are checked by the guard like any other.
    ///
    /// # Errors
    /// If the TLS backend can't be set up.
    pub fn with_hosts(
        policy: NetPolicy,
        limits: HttpLimits,
        hosts: HashMap<String, Vec<IpAddr>>,
    ) -> Result<Self, TransportError> {
        let hosts = Arc::new(hosts);
        let resolver = Arc::new(GuardedResolver { policy, hosts: hosts.clone() });
        let build = |credentialed: bool| {
            let max_redirects = limits.max_redirects;
            reqwest::Client::builder()
                .dns_resolver(resolver.clone())
                // A proxy would resolve names itself, out of the guard's sight.
                .no_proxy()
                // The previous URL may hold a credential (an API key in the query, a bot token
                // in the path).
                .referer(false)
                .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= max_redirects {
                        return attempt.error(format!("more than {max_redirects} redirects"));
                    }
                    if credentialed {
                        // Credentials (in headers, query or body) stay with the origin they were
                        // meant for: a redirect elsewhere is answered as is, not followed.
                        let same_origin = attempt
                            .previous()
                            .first()
                            .is_some_and(|first| first.origin() == attempt.url().origin());
                        if !same_origin {
                            return attempt.stop();
                        }
                    }
                    // Names are checked by the resolver; literal addresses and schemes here.
                    match policy.check_url(attempt.url(), credentialed) {
                        Ok(()) => attempt.follow(),
                        Err(e) => attempt.error(e.to_string()),
                    }
                }))
                .connect_timeout(limits.connect_timeout)
                .timeout(limits.timeout)
                .user_agent(concat!("flowvault/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| TransportError::Other(format!("cannot build the HTTP client: {e}")))
        };
        let client = build(false)?;
        let credentialed = build(true)?;
        Ok(Self { client, credentialed, policy, hosts, limits })
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        self.policy.check_url(&request.url, request.https_only)?;
        let client = if request.https_only { &self.credentialed } else { &self.client };
        let mut builder =
            client.request(request.method, request.url).headers(request.headers).body(request.body);
        if let Some(t) = request.timeout {
            builder = builder.timeout(t);
        }
        let mut response = builder.send().await.map_err(map_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.limits.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(TransportError::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_error)? {
            if body.len() + chunk.len() > limit {
                return Err(TransportError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, headers, body: Bytes::from(body) })
    }

    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, TransportError> {
        let lookup = resolve_guarded(self.policy, &self.hosts, host, port);
        tokio::time::timeout(self.limits.connect_timeout, lookup)
            .await
            .map_err(|_| TransportError::Timeout)?
    }
}

fn map_error(e: reqwest::Error) -> TransportError {
    // The guard's refusals surface as connect or redirect errors; find them in the chain.
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<RefusedError>() {
            return TransportError::Refused(r.0.clone());
        }
        let text = s.to_string();
        if text.contains("flowvault does not call those") {
            return TransportError::Refused(Refused::PrivateAddress {
                host: String::from("redirect target"),
                class: "non-public",
            });
        }
        if text.contains("flowvault never calls those") {
            return TransportError::Refused(Refused::Metadata {
                host: String::from("redirect target"),
            });
        }
        source = s.source();
    }
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(without_url(&e))
    } else {
        TransportError::Other(without_url(&e))
    }
}

/// reqwest's messages include the URL, which may carry a credential in its query (API keys in
/// the query string): drop it.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = std::error::Error::source(e)
        .map_or_else(|| "request failed".to_owned(), ToString::to_string);
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<url>");
    }
    s
}

/// Resolves names and keeps only the addresses the policy allows, so the connection goes to an
/// address that was checked (no DNS rebinding between check and use).
#[derive(Debug)]
struct GuardedResolver {
    policy: NetPolicy,
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

#[derive(Debug)]
struct RefusedError(Refused);

impl std::fmt::Display for RefusedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for RefusedError {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, hosts) = (self.policy, self.hosts.clone());
        Box::pin(async move {
            let allowed = resolve_guarded(policy, &hosts, name.as_str(), 0).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    match e {
                        TransportError::Refused(r) => Box::new(RefusedError(r)),
                        other => other.to_string().into(),
                    }
                },
            )?;
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(allow_private_network: bool) -> HttpTransport {
        let policy = NetPolicy { allow_private_network };
        let hosts = HashMap::from([("mail.test".to_owned(), vec![IpAddr::from([10, 0, 0, 7])])]);
        HttpTransport::with_hosts(policy, HttpLimits::default(), hosts)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn raw_connections_get_only_addresses_the_guard_allows() {
        let strict = transport(false);
        for host in ["127.0.0.1", "localhost", "mail.test", "169.254.169.254"] {
            let refused = strict.resolve(host, 25).await;
            assert!(matches!(refused, Err(TransportError::Refused(_))), "{host}: {refused:?}");
        }
        let open = transport(true);
        let addrs = open.resolve("mail.test", 587).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(addrs, [SocketAddr::from(([10, 0, 0, 7], 587))]);
        let local = open.resolve("127.0.0.1", 2525).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(local, [SocketAddr::from(([127, 0, 0, 1], 2525))]);
        let metadata = open.resolve("169.254.169.254", 25).await;
        assert!(matches!(metadata, Err(TransportError::Refused(Refused::Metadata { .. }))));
    }
}
