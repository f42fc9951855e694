//! A DNS server on 127.0.0.1: it answers the A, AAAA and CNAME records a story sets,
//! NXDOMAIN for a name it does not know, and an empty answer for a known name without records
//! of the asked type. Every test server asks the [`shared`] one (`--dns-server`), so no story
//! reaches the machine's resolver; stories use names of their own in it. A story that needs a
//! zone to itself starts one ([`LoopbackDns::start`]), which stops when dropped.
//!
//! It runs on a thread of its own with a blocking socket, so that it outlives the runtime of
//! the test that first asked for it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// What the zone holds for one name.
#[derive(Debug, Clone, Default)]
struct Records {
    addrs: Vec<IpAddr>,
    cname: Option<String>,
}

type Zone = Arc<Mutex<HashMap<String, Records>>>;

/// A running DNS server and its zone.
pub struct LoopbackDns {
    address: SocketAddr,
    zone: Zone,
    stop: Arc<AtomicBool>,
}

static SHARED: LazyLock<LoopbackDns> = LazyLock::new(LoopbackDns::start);

/// The server every test server asks.
pub fn shared() -> &'static LoopbackDns {
    &SHARED
}

/// A name of this story's own (`<label>.<random>.test`), so that stories sharing the
/// server never see each other's records.
pub fn unique_name(label: &str) -> String {
    format!("{label}.n{}.test", uuid::Uuid::new_v4().simple())
}

impl LoopbackDns {
    pub fn start() -> LoopbackDns {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let address = socket.local_addr().expect("a local address");
        let zone = Zone::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (serving, stopping) = (zone.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buffer) {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(query) = Message::from_vec(&buffer[..len]) else {
                    continue;
                };
                let zone = serving.lock().expect("the zone").clone();
                let answer = answer(&query, &zone).to_vec().expect("encode an answer");
                let _ = socket.send_to(&answer, from);
            }
        });
        LoopbackDns {
            address,
            zone,
            stop,
        }
    }

    /// Where it listens: what `--dns-server` names.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn edit(&self, name: &str, change: impl FnOnce(&mut Records)) {
        let mut zone = self.zone.lock().expect("the zone");
        change(zone.entry(name.to_lowercase()).or_default());
    }

    /// `name` (lowercase, no final dot) has these addresses.
    pub fn set_addresses(&self, name: &str, addrs: &[&str]) {
        let addrs = addrs
            .iter()
            .map(|a| a.parse().expect("an address"))
            .collect();
        self.edit(name, |records| records.addrs = addrs);
    }

    /// `name` is a CNAME of `target`.
    pub fn set_cname(&self, name: &str, target: &str) {
        self.edit(name, |records| records.cname = Some(target.to_owned()));
    }
}

impl Drop for LoopbackDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the thread from its wait, to see the flag.
        if let Ok(waker) = UdpSocket::bind("127.0.0.1:0") {
            let _ = waker.send_to(&[0], self.address);
        }
    }
}

/// The records of `zone` that answer `query`. A name with a CNAME answers it for any type,
/// followed by its target's addresses of the asked family when the zone has them.
fn answer(query: &Message, zone: &HashMap<String, Records>) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(question.clone());
    let name = question.name.to_ascii().to_lowercase();
    let Some(records) = zone.get(name.trim_end_matches('.')) else {
        response.metadata.response_code = ResponseCode::NXDomain;
        return response;
    };
    let mut owner = question.name.clone();
    let mut addrs = &records.addrs;
    if let Some(target) = &records.cname {
        let target_name = Name::from_ascii(format!("{target}.")).expect("a target name");
        let rdata = RData::CNAME(CNAME(target_name.clone()));
        response.add_answer(Record::from_rdata(owner, 60, rdata));
        if question.query_type == RecordType::CNAME {
            return response;
        }
        owner = target_name;
        addrs = match zone.get(target.as_str()) {
            Some(target) => &target.addrs,
            None => return response,
        };
    }
    for addr in addrs {
        let rdata = match (question.query_type, addr) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(*v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        response.add_answer(Record::from_rdata(owner.clone(), 60, rdata));
    }
    response
}
