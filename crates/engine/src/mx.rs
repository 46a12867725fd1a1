//! Mail exchanger lookups, for `EMAIL VERIFY_EMAIL`'s `require_mx_record`: the narrow trait an
//! action calls through [`Call`](crate::Call), and the system's resolver behind it in production
//! (tests put a table there). A lookup is one DNS question: nothing connects to the hosts it
//! names, so the HTTP transport's SSRF guard has nothing to guard here.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, ResolverBuilder, TokioResolver};

/// Looks up a domain's mail exchangers.
#[async_trait::async_trait]
pub trait MxResolver: Send + Sync {
    /// The mail exchangers of `domain` (no trailing dot), most preferred first. Empty when the
    /// domain receives no mail: it has no MX record, only a "null MX" (RFC 7505), or does not
    /// exist.
    ///
    /// # Errors
    /// [`MxError`] when there is no answer to go by (no DNS configuration, a timeout, a server
    /// failure).
    async fn mail_exchangers(&self, domain: &str) -> Result<Vec<String>, MxError>;
}

/// Why a lookup had no answer, readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MxError(pub String);

/// The system's resolver (`/etc/resolv.conf`), made on first use so that an engine that never
/// checks MX records never reads the DNS configuration. Answers are cached for their TTL.
pub struct SystemMx {
    resolver: OnceLock<TokioResolver>,
    timeout: Duration,
    /// A name server to ask instead of the system's (the tests' own, on loopback).
    server: Option<SocketAddr>,
}

/// How long one lookup may take, retries included: a sign-up form is waiting.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

impl SystemMx {
    /// A resolver whose lookups give up after `timeout`.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        Self { resolver: OnceLock::new(), timeout, server: None }
    }

    /// Asks the name server at `server` (UDP) instead of the system's.
    #[cfg(test)]
    fn at(server: SocketAddr, timeout: Duration) -> Self {
        Self { resolver: OnceLock::new(), timeout, server: Some(server) }
    }

    fn builder(&self) -> Result<ResolverBuilder<TokioRuntimeProvider>, MxError> {
        let Some(server) = self.server else {
            return TokioResolver::builder_tokio().map_err(|e| {
                MxError(format!("the system's DNS configuration could not be read: {e}"))
            });
        };
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.ip(),
            true,
            vec![udp],
        )]);
        Ok(Resolver::builder_with_config(config, TokioRuntimeProvider::default()))
    }

    fn resolver(&self) -> Result<&TokioResolver, MxError> {
        if let Some(r) = self.resolver.get() {
            return Ok(r);
        }
        let mut builder = self.builder()?;
        let options = builder.options_mut();
        options.timeout = self.timeout / 2;
        options.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| MxError(format!("the DNS resolver could not be set up: {e}")))?;
        // Two first lookups may race here; the loser's resolver is dropped unused.
        Ok(self.resolver.get_or_init(|| resolver))
    }
}

impl Default for SystemMx {
    fn default() -> Self {
        Self::new(LOOKUP_TIMEOUT)
    }
}

impl std::fmt::Debug for SystemMx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemMx").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl MxResolver for SystemMx {
    async fn mail_exchangers(&self, domain: &str) -> Result<Vec<String>, MxError> {
        let resolver = self.resolver()?;
        // A final dot: the name as given, never completed with the host's search domains.
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let lookup = match tokio::time::timeout(self.timeout, resolver.mx_lookup(fqdn)).await {
            Err(_) => return Err(MxError("the DNS lookup timed out".to_owned())),
            Ok(Err(e)) if e.is_no_records_found() => return Ok(Vec::new()),
            Ok(Err(e)) => return Err(MxError(format!("the DNS lookup failed: {e}"))),
            Ok(Ok(lookup)) => lookup,
        };
        let mut found: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                _ => None,
            })
            .map(|(preference, host)| (preference, host.trim_end_matches('.').to_owned()))
            // The root as exchange is RFC 7505's "this domain accepts no mail".
            .filter(|(_, host)| !host.is_empty())
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, host)| host).collect())
    }
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
    use hickory_resolver::proto::rr::rdata::MX;
    use hickory_resolver::proto::rr::{Name, Record};
    use tokio::net::UdpSocket;

    use super::*;

    /// A name server on loopback with a few zones' answers written by hand: what the real
    /// resolver makes of each kind of answer, without the network.
    async fn name_server() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = socket.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let Some(question) = query.queries.first().cloned() else { continue };
                let name = question.name().to_ascii();
                let mut answer =
                    Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                answer.add_query(question.clone());
                let mx = |preference, host: &str| {
                    let host = Name::from_ascii(host).unwrap_or_else(|e| panic!("{e}"));
                    Record::from_rdata(
                        question.name().clone(),
                        300,
                        RData::MX(MX::new(preference, host)),
                    )
                };
                match name.as_str() {
                    "mail.test." => {
                        answer.add_answer(mx(20, "backup.mail.test."));
                        answer.add_answer(mx(10, "primary.mail.test."));
                    }
                    "null.test." => {
                        answer.add_answer(mx(0, "."));
                    }
                    "nodata.test." => {}
                    "gone.test." => answer.metadata.response_code = ResponseCode::NXDomain,
                    "broken.test." => answer.metadata.response_code = ResponseCode::ServFail,
                    // No answer at all: the lookup times out.
                    _ => continue,
                }
                let bytes = answer.to_vec().unwrap_or_else(|e| panic!("{e}"));
                let _ = socket.send_to(&bytes, from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn answers_are_read_as_the_rfcs_say() {
        let mx = SystemMx::at(name_server().await, Duration::from_millis(600));
        let hosts = mx.mail_exchangers("mail.test").await;
        assert_eq!(hosts, Ok(vec!["primary.mail.test".to_owned(), "backup.mail.test".to_owned()]));
        assert_eq!(mx.mail_exchangers("null.test").await, Ok(Vec::new()), "RFC 7505 null MX");
        assert_eq!(mx.mail_exchangers("nodata.test").await, Ok(Vec::new()), "no MX record");
        assert_eq!(mx.mail_exchangers("gone.test").await, Ok(Vec::new()), "NXDOMAIN");
        let broken = mx.mail_exchangers("broken.test").await;
        assert!(broken.is_err(), "SERVFAIL is no answer: {broken:?}");
        let silent = mx.mail_exchangers("silent.test").await;
        assert!(silent.is_err(), "a timeout is no answer: {silent:?}");
    }
}
