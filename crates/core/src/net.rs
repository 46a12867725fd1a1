//! Which IP addresses are public. Outbound calls go only to public addresses unless the
//! operator allows private networks; validation uses the same rule to decide where plain
//! `http` may be configured.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of a non-public address, or `None` for a public one.
#[must_use]
pub fn ip_class(ip: IpAddr) -> Option<&'static str> {
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
        // AWS (and most clouds), ECS task credentials, EKS pod identity, Azure's wire server,
        // Alibaba Cloud.
        [169, 254, 169, 254]
        | [169, 254, 170, 2]
        | [169, 254, 170, 23]
        | [168, 63, 129, 16]
        | [100, 100, 100, 200] => Some("cloud metadata"),
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
        // Local-use NAT64 (RFC 8215) translates into the operator's own network.
        [0x64, 0xff9b, 1, ..] => Some("NAT64 (local use)"),
        // 6to4: the IPv4 address is in the second and third groups.
        [0x2002, hi, lo, ..] => {
            classify_v4(Ipv4Addr::from(u32::from(hi) << 16 | u32::from(lo))).or(Some("6to4"))
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

/// Whether a URL host (a name or an address literal) is certainly not public: a loopback,
/// private, link-local, … address, or `localhost`.
#[must_use]
pub fn is_private_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(v4) => ip_class(IpAddr::V4(*v4)).is_some(),
        url::Host::Ipv6(v6) => ip_class(IpAddr::V6(*v6)).is_some(),
        url::Host::Domain(d) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
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
            ("64:ff9b:1::a00:1", "NAT64 (local use)"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "cloud metadata"),
            ("2002:808:808::", "6to4"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fc00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(ip_class(ip(addr)), Some(class), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(ip_class(ip(public)), None, "{public}");
        }
    }
}
