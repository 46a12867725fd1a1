//! Where flowvault may send requests: the SSRF guard.
//!
//! Every outbound request of the engine — token endpoints, provider APIs, the HTTP action — goes
//! to a public address unless the operator allows private networks. "Public" is decided on the
//! IP addresses a name resolves to, at connection time (so a name that resolves to a public
//! address when checked and to 127.0.0.1 when used can't slip through), and on literal IPs in
//! URLs and redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// The operator's choice about private networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetPolicy {
    /// Allow loopback, private, link-local, CGNAT and metadata addresses, and plain `http` to
    /// them where `https` is otherwise required (local fakes, demos, tests).
    pub allow_private_network: bool,
}

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

/// The kind of a non-public address, or `None` for a public one.
#[must_use]
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    match o {
        [127, ..] => Some("loopback"),
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Some("private"),
        [169, 254, 169, 254] | [168, 63, 129, 16] | [100, 100, 100, 200] => Some("cloud metadata"),
        [169, 254, ..] => Some("link-local"),
        [100, 64..=127, ..] => Some("shared (CGNAT)"),
        [0, ..] => Some("unspecified"),
        [192, 0, 0, _] => Some("IETF protocol"),
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => Some("documentation"),
        [198, 18..=19, ..] => Some("benchmarking"),
        [224..=239, ..] => Some("multicast"),
        [240..=255, ..] => Some("reserved"),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    match s {
        [0, 0, 0, 0, 0, 0, 0, 1] => Some("loopback"),
        [0, 0, 0, 0, 0, 0, 0, 0] => Some("unspecified"),
        // NAT64: judge the IPv4 address inside.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            classify_v4(Ipv4Addr::from(u32::from(hi) << 16 | u32::from(lo))).or(Some("NAT64"))
        }
        // IPv4-compatible (deprecated) addresses embed an IPv4 address too.
        [0, 0, 0, 0, 0, 0, hi, lo] => {
            classify_v4(Ipv4Addr::from(u32::from(hi) << 16 | u32::from(lo))).or(Some("reserved"))
        }
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] => Some("cloud metadata"),
        [a, ..] if a & 0xfe00 == 0xfc00 => Some("private (unique local)"),
        [a, ..] if a & 0xffc0 == 0xfe80 => Some("link-local"),
        [a, ..] if a & 0xffc0 == 0xfec0 => Some("site-local"),
        [a, ..] if a & 0xff00 == 0xff00 => Some("multicast"),
        [0x2001, 0xdb8, ..] => Some("documentation"),
        [0x100, 0, 0, 0, ..] => Some("discard"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn non_public_addresses_are_classified() {
        for (addr, class) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.100.100.200", "cloud metadata"),
            ("168.63.129.16", "cloud metadata"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fc00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(classify(ip(addr)), Some(class), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

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
        assert!(open.check_url(&url("http://169.254.169.254/"), false).is_ok());
        let err = strict
            .check_url(&url("http://10.0.0.1/"), false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("private") && err.contains("--allow-private-network"), "{err}");
    }
}
