//! The guard against a real DNS server on loopback: a tiny UDP responder answering the A and
//! AAAA records each test chooses, and NXDOMAIN for any other name.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA};
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use url::Url;

use super::{DestinationGuard, GuardSettings, Refused};

/// A DNS server on 127.0.0.1 that stops when dropped.
struct Responder {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl Responder {
    /// Answers each name (lowercase, no final dot) with its addresses.
    async fn start(zone: &[(&str, &[&str])]) -> Responder {
        let zone: HashMap<String, Vec<IpAddr>> = zone
            .iter()
            .map(|(name, addrs)| {
                let addrs = addrs.iter().map(|a| a.parse().expect("an address"));
                (name.to_string(), addrs.collect())
            })
            .collect();
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let address = socket.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
                let Ok(query) = Message::from_vec(&buffer[..len]) else {
                    continue;
                };
                let answer = answer(&query, &zone).to_vec().expect("encode an answer");
                let _ = socket.send_to(&answer, from).await;
            }
        });
        Responder { address, task }
    }

    /// `url` checked by a guard that asks this server.
    async fn check(&self, allow_private: bool, url: &str) -> Result<Vec<SocketAddr>, Refused> {
        let guard = DestinationGuard::new(GuardSettings {
            allow_private,
            nameserver: Some(self.address),
        })
        .expect("a guard");
        guard.check(&Url::parse(url).expect("a URL")).await
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The records of `zone` that answer `query`: NXDOMAIN for an unknown name, and an empty
/// answer for a known name without addresses of the asked family.
fn answer(query: &Message, zone: &HashMap<String, Vec<IpAddr>>) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(question.clone());
    let name = question.name.to_ascii().to_lowercase();
    let Some(addrs) = zone.get(name.trim_end_matches('.')) else {
        response.metadata.response_code = ResponseCode::NXDomain;
        return response;
    };
    for addr in addrs {
        let rdata = match (question.query_type, addr) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(*v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        response.add_answer(Record::from_rdata(question.name.clone(), 60, rdata));
    }
    response
}

fn socket(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

#[tokio::test]
async fn a_name_with_public_addresses_passes_with_all_of_them_pinned() {
    let dns = Responder::start(&[(
        "hooks.example.com",
        &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    )])
    .await;
    let addrs = dns.check(false, "https://hooks.example.com/in").await;
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
    let dns = Responder::start(&[("internal.example.com", &["10.0.0.7"])]).await;
    let refused = dns
        .check(false, "http://internal.example.com:8080/")
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
    let dns = Responder::start(&[(
        "mixed.example.com",
        &["93.184.215.14", "8.8.8.8", "fd00:ec2::254"],
    )])
    .await;
    let refused = dns.check(false, "https://mixed.example.com/").await;
    let Err(Refused::PrivateAddress { addr, range, .. }) = refused else {
        panic!("a mixed answer is refused, not {refused:?}");
    };
    assert_eq!(addr, "fd00:ec2::254".parse::<IpAddr>().unwrap());
    assert_eq!(range.reason, "the AWS metadata service");
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_unresolvable() {
    let dns = Responder::start(&[("hooks.example.com", &["93.184.215.14"])]).await;
    let refused = dns
        .check(false, "https://missing.example.com/")
        .await
        .expect_err("an unknown name is refused");
    assert_eq!(refused.code(), "unresolvable");
    assert!(refused
        .to_string()
        .starts_with("missing.example.com does not resolve"));
}

#[tokio::test]
async fn allowing_private_destinations_lets_a_private_name_through() {
    let dns = Responder::start(&[("receiver.test", &["127.0.0.1", "::1"])]).await;
    let target = "http://receiver.test:9000/hook";
    let refused = dns.check(false, target).await;
    assert_eq!(refused.map_err(|r| r.code()), Err("private_address"));
    let mut addrs = dns.check(true, target).await.expect("allowed");
    addrs.sort();
    assert_eq!(addrs, [socket("127.0.0.1:9000"), socket("[::1]:9000")]);
}

#[tokio::test]
async fn allowing_private_destinations_still_refuses_the_unspecified_address() {
    let dns = Responder::start(&[("nowhere.test", &["0.0.0.0"])]).await;
    let refused = dns.check(true, "http://nowhere.test/").await;
    assert_eq!(refused.map_err(|r| r.code()), Err("private_address"));
}

#[tokio::test]
async fn only_http_and_https_are_destinations() {
    let dns = Responder::start(&[]).await;
    for text in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        let refused = dns.check(true, text).await;
        assert_eq!(refused.map_err(|r| r.code()), Err("scheme"), "{text}");
    }
    let refused = dns.check(true, "ftp://example.com/").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "webhooks are sent over http or https, not ftp"
    );
}

#[tokio::test]
async fn address_literals_are_judged_without_resolving() {
    // No name is in the zone: an address literal that were resolved would be unresolvable.
    let dns = Responder::start(&[]).await;
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
        let reason = match dns.check(false, text).await {
            Ok(_) => None,
            Err(Refused::PrivateAddress { range, .. }) => Some(range.reason),
            Err(other) => panic!("{text}: {other}"),
        };
        assert_eq!(reason, expected, "{text}");
    }
}

#[tokio::test]
async fn the_pinned_port_is_the_url_port_or_the_scheme_default() {
    let dns = Responder::start(&[]).await;
    let http = dns.check(false, "http://8.8.8.8/").await.unwrap();
    let https = dns.check(false, "https://8.8.8.8/").await.unwrap();
    let given = dns
        .check(false, "https://[2606:4700::1]:8443/")
        .await
        .unwrap();
    assert_eq!(http, [socket("8.8.8.8:80")]);
    assert_eq!(https, [socket("8.8.8.8:443")]);
    assert_eq!(given, [socket("[2606:4700::1]:8443")]);
}
