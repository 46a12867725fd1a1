//! Where flowvault may send requests: the SSRF guard.
//!
//! Every outbound request of the engine — token endpoints, provider APIs, the HTTP action — goes
//! to a public address unless the operator allows private networks. "Public" is decided on the
//! IP addresses a name resolves to, at connection time (so a name that resolves to a public
//! address when checked and to 127.0.0.1 when used can't slip through), and on literal IPs in
//! URLs and redirects.

use std::net::{IpAddr, Ipv4Addr};

pub use flowvault_core::ip_class as classify;
use url::{Host, Url};

/// The operator's choice about private networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetPolicy {
    /// Allow loopback, private, link-local and CGNAT addresses, and plain `http` to them where
    /// `https` is otherwise required (local fakes, demos, tests). Cloud metadata addresses stay
    /// refused: they hand out the host's own credentials.
    pub allow_private_network: bool,
}

/// The class [`classify`] gives cloud metadata services.
const METADATA: &str = "cloud metadata";

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The address is not public and private networks are not allowed.
    #[error(
        "{host} is a {class} address; flowvault does not call those unless the operator allows private networks (--allow-private-network)"
    )]
    PrivateAddress {
        /// The host as written (or the address).
        host: String,
        /// What kind of address.
        class: &'static str,
    },
    /// The address is a cloud metadata service, which flowvault never calls.
    #[error(
        "{host} is a cloud metadata address; flowvault never calls those (they hand out the host's own credentials), whatever the network settings"
    )]
    Metadata {
        /// The host as written (or the address).
        host: String,
    },
    /// The URL's scheme is not allowed here.
    #[error("{0} is not an allowed URL: only https (or http to an allowed private address) is")]
    Scheme(String),
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
}

impl NetPolicy {
    /// Checks one resolved (or literal) address.
    ///
    /// # Errors
    /// [`Refused::PrivateAddress`].
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match classify(ip) {
            None => Ok(()),
            Some(METADATA) => Err(Refused::Metadata { host: host.to_owned() }),
            Some(_) if self.allow_private_network => Ok(()),
            Some(class) => Err(Refused::PrivateAddress { host: host.to_owned(), class }),
        }
    }

    /// Checks a URL before any request: its scheme, and its host if that is a literal address.
    /// Names are checked again on the addresses they resolve to, when connecting.
    ///
    /// `https_only`: plain `http` is refused, except to a private address when private networks
    /// are allowed (for local fakes of token endpoints).
    ///
    /// # Errors
    /// [`Refused`].
    pub fn check_url(&self, url: &Url, https_only: bool) -> Result<(), Refused> {
        let host = url.host().ok_or(Refused::NoHost)?;
        let literal = match host {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(d) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            Host::Domain(_) => None,
        };
        if let Some(ip) = literal {
            self.check_ip(&host.to_string(), ip)?;
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if !https_only => Ok(()),
            // Plain http is acceptable only where it can't leave the machine or the private
            // network the operator vouched for.
            "http"
                if self.allow_private_network
                    && literal.is_some_and(|ip| classify(ip).is_some()) =>
            {
                Ok(())
            }
            "http" if self.allow_private_network && literal.is_none() => Ok(()),
            other => Err(Refused::Scheme(format!("{other}://{host}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_by_scheme_and_literal_host() {
        let strict = NetPolicy::default();
        let open = NetPolicy { allow_private_network: true };
        let url = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert!(strict.check_url(&url("https://api.twilio.com/x"), true).is_ok());
        assert!(strict.check_url(&url("http://169.254.169.254/latest/meta-data"), false).is_err());
        assert!(strict.check_url(&url("http://127.0.0.1:8080/"), false).is_err());
        assert!(strict.check_url(&url("http://localhost/"), false).is_err());
        assert!(strict.check_url(&url("http://[::1]/"), false).is_err());
        assert!(
            strict.check_url(&url("http://0x7f.1/"), false).is_err(),
            "WHATWG parses 0x7f.1 as 127.0.0.1"
        );
        assert!(strict.check_url(&url("http://2130706433/"), false).is_err(), "decimal 127.0.0.1");
        assert!(
            strict.check_url(&url("http://example.com/"), true).is_err(),
            "http where https is required"
        );
        assert!(strict.check_url(&url("ftp://example.com/"), false).is_err());
        assert!(open.check_url(&url("http://127.0.0.1:8080/token"), true).is_ok());
        assert!(open.check_url(&url("http://10.1.2.3/"), false).is_ok());
        // Cloud metadata stays out of reach even when private networks are allowed.
        for metadata in [
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://168.63.129.16/",
            "http://169.254.170.2/v2/credentials",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            let err = open.check_url(&url(metadata), false).err();
            assert!(matches!(err, Some(Refused::Metadata { .. })), "{metadata}: {err:?}");
        }
        let err = strict
            .check_url(&url("http://10.0.0.1/"), false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("private") && err.contains("--allow-private-network"), "{err}");
    }
}
