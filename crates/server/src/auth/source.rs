//! Where a request comes from: the peer's address, or — when the peer is a reverse proxy the
//! operator trusts — the client address the proxy reports in `X-Forwarded-For`. Nobody else
//! can set it: from an untrusted peer the header is ignored, so a client can't pick the address
//! it is throttled (or logged) under.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address: `peer`, unless `peer` is in `trusted`; then the rightmost address of
/// `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address it was
/// reached from, so the entries left of the first untrusted one may be forged).
pub(crate) fn source_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut source = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) => {
                source = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A malformed entry: nothing left of it can be believed.
            Err(_) => break,
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))];
        let mut headers = HeaderMap::new();
        headers
            .insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.9"));
        // From the trusted proxy: the rightmost untrusted entry, not the forgeable leftmost.
        assert_eq!(source_address(ip("10.0.0.1"), &headers, &trusted), ip("203.0.113.7"));
        // From anyone else the header is ignored.
        assert_eq!(source_address(ip("198.51.100.1"), &headers, &trusted), ip("198.51.100.1"));
        assert_eq!(source_address(ip("10.0.0.1"), &headers, &[]), ip("10.0.0.1"));
        // No header, or a malformed one: the proxy itself, or what is right of the junk.
        assert_eq!(source_address(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("junk, 10.0.0.3"));
        assert_eq!(source_address(ip("10.0.0.1"), &headers, &trusted), ip("10.0.0.3"));
    }
}
