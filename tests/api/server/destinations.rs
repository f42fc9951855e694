//! The webhook destination guard against a real DNS server on loopback
//! ([`LoopbackDns`]): each story has a zone of its own, NXDOMAIN for any other name.

use std::net::{IpAddr, SocketAddr};

use tenantry::outbound::{DestinationGuard, GuardSettings, Refused};
use url::Url;

use crate::support::dns::LoopbackDns;

/// A DNS server answering each name (lowercase, no final dot) with its addresses.
fn zone(names: &[(&str, &[&str])]) -> LoopbackDns {
    let dns = LoopbackDns::start();
    for (name, addrs) in names {
        dns.set_addresses(name, addrs);
    }
    dns
}

/// `url` checked by a guard that asks `dns`.
async fn check(
    dns: &LoopbackDns,
    allow_private: bool,
    url: &str,
) -> Result<Vec<SocketAddr>, Refused> {
    let guard = DestinationGuard::new(GuardSettings {
        allow_private,
        nameserver: Some(dns.address()),
    })
    .expect("a guard");
    guard.check(&Url::parse(url).expect("a URL")).await
}

fn socket(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

#[tokio::test]
async fn a_name_with_public_addresses_passes_with_all_of_them_pinned() {
    let dns = zone(&[(
        "hooks.example.com",
        &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    )]);
    let addrs = check(&dns, false, "https://hooks.example.com/in").await;
    let mut addrs = addrs.expect("a public destination passes");
    addrs.sort();
    assert_eq!(
        addrs,
        [
            socket("93.184.215.14:443"),
            socket("[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443"),
        ]
    );
}

#[tokio::test]
async fn a_name_with_a_private_address_is_refused() {
    let dns = zone(&[("internal.example.com", &["10.0.0.7"])]);
    let refused = check(&dns, false, "http://internal.example.com:8080/")
        .await
        .expect_err("a private destination is refused");
    assert_eq!(refused.code(), "private_address");
    assert_eq!(
        refused.to_string(),
        "internal.example.com resolves to 10.0.0.7, which is a private network (10.0.0.0/8)"
    );
}

#[tokio::test]
async fn a_name_with_one_private_address_among_public_ones_is_refused() {
    let dns = zone(&[(
        "mixed.example.com",
        &["93.184.215.14", "8.8.8.8", "fd00:ec2::254"],
    )]);
    let refused = check(&dns, false, "https://mixed.example.com/").await;
    let Err(Refused::PrivateAddress { addr, range, .. }) = refused else {
        panic!("a mixed answer is refused, not {refused:?}");
    };
    assert_eq!(addr, "fd00:ec2::254".parse::<IpAddr>().unwrap());
    assert_eq!(range.reason, "the AWS metadata service");
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_unresolvable() {
    let dns = zone(&[("hooks.example.com", &["93.184.215.14"])]);
    let refused = check(&dns, false, "https://missing.example.com/")
        .await
        .expect_err("an unknown name is refused");
    assert_eq!(refused.code(), "unresolvable");
    assert!(refused
        .to_string()
        .starts_with("missing.example.com does not resolve"));
}

#[tokio::test]
async fn allowing_private_destinations_lets_a_private_name_through() {
    let dns = zone(&[("receiver.test", &["127.0.0.1", "::1"])]);
    let target = "http://receiver.test:9000/hook";
    let refused = check(&dns, false, target).await;
    assert_eq!(refused.map_err(|r| r.code()), Err("private_address"));
    let mut addrs = check(&dns, true, target).await.expect("allowed");
    addrs.sort();
    assert_eq!(addrs, [socket("127.0.0.1:9000"), socket("[::1]:9000")]);
}

#[tokio::test]
async fn allowing_private_destinations_still_refuses_the_unspecified_address() {
    let dns = zone(&[("nowhere.test", &["0.0.0.0"])]);
    let refused = check(&dns, true, "http://nowhere.test/").await;
    assert_eq!(refused.map_err(|r| r.code()), Err("private_address"));
}

#[tokio::test]
async fn only_http_and_https_are_destinations() {
    let dns = zone(&[]);
    for text in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        let refused = check(&dns, true, text).await;
        assert_eq!(refused.map_err(|r| r.code()), Err("scheme"), "{text}");
    }
    let refused = check(&dns, true, "ftp://example.com/").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "webhooks are sent over http or https, not ftp"
    );
}

#[tokio::test]
async fn address_literals_are_judged_without_resolving() {
    // No name is in the zone: an address literal that were resolved would be unresolvable.
    let dns = zone(&[]);
    let cases = [
        ("http://127.0.0.1/", Some("loopback")),
        // WHATWG URL parsing reads these as 127.0.0.1 too.
        ("http://2130706433/", Some("loopback")),
        ("http://0x7f.1/", Some("loopback")),
        ("http://[::1]:8080/", Some("loopback")),
        (
            "http://169.254.169.254/latest/meta-data/",
            Some("the cloud metadata service"),
        ),
        (
            "http://[::ffff:169.254.169.254]/",
            Some("the cloud metadata service"),
        ),
        ("http://[64:ff9b::a00:1]/", Some("a private network")),
        ("https://8.8.8.8/", None),
        ("https://[2606:4700:4700::1111]/", None),
    ];
    for (text, expected) in cases {
        let reason = match check(&dns, false, text).await {
            Ok(_) => None,
            Err(Refused::PrivateAddress { range, .. }) => Some(range.reason),
            Err(other) => panic!("{text}: {other}"),
        };
        assert_eq!(reason, expected, "{text}");
    }
}

#[tokio::test]
async fn the_pinned_port_is_the_url_port_or_the_scheme_default() {
    let dns = zone(&[]);
    let http = check(&dns, false, "http://8.8.8.8/").await.unwrap();
    let https = check(&dns, false, "https://8.8.8.8/").await.unwrap();
    let given = check(&dns, false, "https://[2606:4700::1]:8443/")
        .await
        .unwrap();
    assert_eq!(http, [socket("8.8.8.8:80")]);
    assert_eq!(https, [socket("8.8.8.8:443")]);
    assert_eq!(given, [socket("[2606:4700::1]:8443")]);
}
