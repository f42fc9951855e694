//! The addresses a webhook may not be sent to, as one table with the reason for each range.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `--allow-private-webhooks` lifts a range's refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifted {
    /// Allowed with the flag: a receiver on this machine or network is what tests and local
    /// development use.
    ByFlag,
    /// Never a destination: nothing listens on the unspecified address.
    Never,
}

/// A range of addresses that is refused, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Range {
    pub network: IpAddr,
    pub prefix: u8,
    pub reason: &'static str,
    pub lifted: Lifted,
}

impl Range {
    /// Whether `addr` lies in this range (never across families).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(network), IpAddr::V4(addr)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(addr) & mask == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(addr) & mask == u128::from(network)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.reason, self.network, self.prefix)
    }
}

const fn v4(octets: [u8; 4], prefix: u8, reason: &'static str) -> Range {
    let [a, b, c, d] = octets;
    Range {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix,
        reason,
        lifted: Lifted::ByFlag,
    }
}

const fn v6(segments: [u16; 8], prefix: u8, reason: &'static str) -> Range {
    let [a, b, c, d, e, f, g, h] = segments;
    Range {
        network: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
        prefix,
        reason,
        lifted: Lifted::ByFlag,
    }
}

const fn never(range: Range) -> Range {
    Range {
        lifted: Lifted::Never,
        ..range
    }
}

/// The refused ranges. A narrower range comes before the wider one holding it, so that an
/// address is named by its most specific reason (the metadata service before link-local).
pub static REFUSED: &[Range] = &[
    never(v4([0, 0, 0, 0], 32, "the unspecified address")),
    v4([0, 0, 0, 0], 8, "\"this network\""),
    v4([10, 0, 0, 0], 8, "a private network"),
    v4([100, 64, 0, 0], 10, "carrier-grade NAT"),
    v4([127, 0, 0, 0], 8, "loopback"),
    v4([169, 254, 169, 254], 32, "the cloud metadata service"),
    v4([169, 254, 0, 0], 16, "link-local"),
    v4([172, 16, 0, 0], 12, "a private network"),
    v4([192, 0, 0, 0], 24, "IETF protocol assignments"),
    v4([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
    v4([192, 168, 0, 0], 16, "a private network"),
    v4([198, 18, 0, 0], 15, "benchmarking"),
    v4([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
    v4([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
    v4([224, 0, 0, 0], 4, "multicast"),
    v4([255, 255, 255, 255], 32, "broadcast"),
    v4([240, 0, 0, 0], 4, "reserved"),
    never(v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "the unspecified address")),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    // Tunnels whose far end is an IPv4 host the address names: they could reach a private one.
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        32,
        "Teredo (a tunnel to an IPv4 host)",
    ),
    v6(
        [0x2002, 0, 0, 0, 0, 0, 0, 0],
        16,
        "6to4 (a tunnel to an IPv4 host)",
    ),
    v6(
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        "the AWS metadata service",
    ),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// IPv6 ranges whose last 32 bits are an IPv4 address that the packet really goes to: such an
/// address is judged by the IPv4 address it holds.
static EMBEDDING_V4: &[Range] = &[
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
];

/// The IPv4 address that `addr` stands for, when it is IPv4-mapped or NAT64.
pub fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let embeds = EMBEDDING_V4.iter().any(|r| r.contains(IpAddr::V6(addr)));
    // The low 32 bits; truncation is the point.
    embeds.then(|| Ipv4Addr::from(u128::from(addr) as u32))
}

/// The range that refuses `addr`, or `None` when it may be a destination. With
/// `allow_private`, only the ranges that the flag cannot lift refuse.
pub fn refusing(addr: IpAddr, allow_private: bool) -> Option<&'static Range> {
    let addr = match addr {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    };
    REFUSED
        .iter()
        .find(|range| range.contains(addr))
        .filter(|range| !allow_private || range.lifted == Lifted::Never)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(addr: &str, allow_private: bool) -> Option<&'static str> {
        let addr: IpAddr = addr.parse().expect("an address");
        refusing(addr, allow_private).map(|range| range.reason)
    }

    /// Each range's first and last address, and the addresses just outside it.
    const EDGES: &[(&str, Option<&str>)] = &[
        ("0.0.0.0", Some("the unspecified address")),
        ("0.0.0.1", Some("\"this network\"")),
        ("0.255.255.255", Some("\"this network\"")),
        ("1.0.0.0", None),
        ("9.255.255.255", None),
        ("10.0.0.0", Some("a private network")),
        ("10.255.255.255", Some("a private network")),
        ("11.0.0.0", None),
        ("100.63.255.255", None),
        ("100.64.0.0", Some("carrier-grade NAT")),
        ("100.127.255.255", Some("carrier-grade NAT")),
        ("100.128.0.0", None),
        ("126.255.255.255", None),
        ("127.0.0.0", Some("loopback")),
        ("127.0.0.1", Some("loopback")),
        ("127.255.255.255", Some("loopback")),
        ("128.0.0.0", None),
        ("169.253.255.255", None),
        ("169.254.0.0", Some("link-local")),
        ("169.254.169.253", Some("link-local")),
        ("169.254.169.254", Some("the cloud metadata service")),
        ("169.254.169.255", Some("link-local")),
        ("169.254.255.255", Some("link-local")),
        ("169.255.0.0", None),
        ("172.15.255.255", None),
        ("172.16.0.0", Some("a private network")),
        ("172.31.255.255", Some("a private network")),
        ("172.32.0.0", None),
        ("191.255.255.255", None),
        ("192.0.0.0", Some("IETF protocol assignments")),
        ("192.0.0.255", Some("IETF protocol assignments")),
        ("192.0.1.0", None),
        ("192.0.1.255", None),
        ("192.0.2.0", Some("documentation (TEST-NET-1)")),
        ("192.0.2.255", Some("documentation (TEST-NET-1)")),
        ("192.0.3.0", None),
        ("192.167.255.255", None),
        ("192.168.0.0", Some("a private network")),
        ("192.168.255.255", Some("a private network")),
        ("192.169.0.0", None),
        ("198.17.255.255", None),
        ("198.18.0.0", Some("benchmarking")),
        ("198.19.255.255", Some("benchmarking")),
        ("198.20.0.0", None),
        ("198.51.99.255", None),
        ("198.51.100.0", Some("documentation (TEST-NET-2)")),
        ("198.51.100.255", Some("documentation (TEST-NET-2)")),
        ("198.51.101.0", None),
        ("203.0.112.255", None),
        ("203.0.113.0", Some("documentation (TEST-NET-3)")),
        ("203.0.113.255", Some("documentation (TEST-NET-3)")),
        ("203.0.114.0", None),
        ("223.255.255.255", None),
        ("224.0.0.0", Some("multicast")),
        ("239.255.255.255", Some("multicast")),
        ("240.0.0.0", Some("reserved")),
        ("255.255.255.254", Some("reserved")),
        ("255.255.255.255", Some("broadcast")),
        ("8.8.8.8", None),
        ("::", Some("the unspecified address")),
        ("::1", Some("loopback")),
        ("::2", None),
        ("64:ff9b:1::", Some("local-use NAT64")),
        (
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
            Some("local-use NAT64"),
        ),
        ("64:ff9b:2::", None),
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001::", Some("Teredo (a tunnel to an IPv4 host)")),
        (
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("Teredo (a tunnel to an IPv4 host)"),
        ),
        ("2001:1::", None),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001:db8::", Some("documentation")),
        (
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("documentation"),
        ),
        ("2001:db9::", None),
        ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2002::", Some("6to4 (a tunnel to an IPv4 host)")),
        (
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("6to4 (a tunnel to an IPv4 host)"),
        ),
        ("2003::", None),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("fc00::", Some("unique-local")),
        ("fd00:ec2::253", Some("unique-local")),
        ("fd00:ec2::254", Some("the AWS metadata service")),
        (
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("unique-local"),
        ),
        ("fe00::", None),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("fe80::", Some("link-local")),
        (
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("link-local"),
        ),
        ("fec0::", Some("site-local (deprecated)")),
        (
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("site-local (deprecated)"),
        ),
        ("ff00::", Some("multicast")),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("multicast")),
        ("2606:4700:4700::1111", None),
    ];

    fn assert_reasons(cases: &[(&str, Option<&str>)]) {
        for (addr, expected) in cases {
            assert_eq!(reason(addr, false), *expected, "{addr}");
        }
    }

    #[test]
    fn every_range_is_refused_inside_and_ends_at_its_edges() {
        assert_reasons(EDGES);
    }

    #[test]
    fn the_edge_table_holds_both_ends_of_every_range() {
        for range in REFUSED {
            for end in [first(range), last(range)] {
                let listed = EDGES.iter().any(|(addr, _)| addr.parse() == Ok(end));
                assert!(listed, "{end}, an end of {range}, is not in the edge table");
            }
        }
    }

    fn first(range: &Range) -> IpAddr {
        range.network
    }

    fn last(range: &Range) -> IpAddr {
        match range.network {
            IpAddr::V4(net) => {
                let host = u32::MAX.checked_shr(u32::from(range.prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(net) | host))
            }
            IpAddr::V6(net) => {
                let host = u128::MAX.checked_shr(u32::from(range.prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(net) | host))
            }
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_judged_by_the_ipv4_they_hold() {
        assert_reasons(&[
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("a private network")),
            ("::ffff:169.254.169.254", Some("the cloud metadata service")),
            ("::ffff:0.0.0.0", Some("the unspecified address")),
            ("::ffff:8.8.8.8", None),
            // Just outside ::ffff:0:0/96, the last 32 bits no longer count.
            ("::fffe:ffff:ffff", None),
            ("::1:0:0:0", None),
        ]);
    }

    #[test]
    fn nat64_addresses_are_judged_by_the_ipv4_they_hold() {
        assert_reasons(&[
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::a9fe:a9fe", Some("the cloud metadata service")),
            ("64:ff9b::c0a8:101", Some("a private network")),
            ("64:ff9b::808:808", None),
            // Just outside 64:ff9b::/96.
            ("64:ff9b::1:0:7f00:1", None),
            ("64:ff9a:ffff:ffff:ffff:ffff:7f00:1", None),
        ]);
    }

    #[test]
    fn allowing_private_destinations_lifts_all_but_the_unspecified_addresses() {
        for (addr, expected) in EDGES {
            let unspecified = *expected == Some("the unspecified address");
            let still = reason(addr, true);
            assert_eq!(still.is_some(), unspecified, "{addr} with private allowed");
        }
        assert_eq!(
            reason("::ffff:0.0.0.0", true),
            Some("the unspecified address")
        );
        assert_eq!(reason("64:ff9b::", true), Some("the unspecified address"));
        assert_eq!(reason("::ffff:127.0.0.1", true), None);
    }

    #[test]
    fn a_range_renders_its_reason_and_network() {
        let range = refusing("169.254.169.254".parse().unwrap(), false).unwrap();
        assert_eq!(
            range.to_string(),
            "the cloud metadata service (169.254.169.254/32)"
        );
    }
}
