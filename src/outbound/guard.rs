//! Where a webhook may be sent: `http` or `https` to addresses outside the refused ranges.
//!
//! A name is resolved here and every address it resolves to must be allowed; the caller
//! connects only to the addresses returned, so a second lookup cannot rebind the name to a
//! private address between the check and the connection.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::TokioResolver;
use url::{Host, Url};

use super::ranges::{self, Range};

/// How the guard judges and resolves destinations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardSettings {
    /// `--allow-private-webhooks`: loopback, private and link-local destinations pass.
    pub allow_private: bool,
    /// A DNS server to ask (UDP) instead of the system's resolver configuration.
    pub nameserver: Option<SocketAddr>,
}

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("webhooks are sent over http or https, not {scheme}")]
    Scheme { scheme: String },
    #[error("the webhook URL names no host")]
    NoHost,
    #[error("{host} does not resolve: {detail}")]
    Unresolvable { host: String, detail: String },
    #[error("{host} resolves to {addr}, which is {range}")]
    PrivateAddress {
        host: String,
        addr: IpAddr,
        range: &'static Range,
    },
}

impl Refused {
    /// A stable name of the refusal, for logs and delivery records.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::Scheme { .. } => "scheme",
            Refused::NoHost => "no_host",
            Refused::Unresolvable { .. } => "unresolvable",
            Refused::PrivateAddress { .. } => "private_address",
        }
    }
}

/// Checks webhook destinations; holds the resolver (and its cache) between checks.
#[derive(Clone)]
pub struct DestinationGuard {
    allow_private: bool,
    resolver: TokioResolver,
}

impl DestinationGuard {
    /// A guard resolving through `settings.nameserver`, or the system's configuration.
    pub fn new(settings: GuardSettings) -> anyhow::Result<Self> {
        let mut builder = super::dns::resolver_builder(settings.nameserver)?;
        // Both families, so that a private address in either is seen.
        builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        let resolver = builder
            .build()
            .map_err(|e| anyhow::anyhow!("starting the DNS resolver: {e}"))?;
        Ok(DestinationGuard {
            allow_private: settings.allow_private,
            resolver,
        })
    }

    /// The addresses `url` may be delivered to, each with the URL's port; the caller must
    /// connect to one of these rather than resolve the host again.
    pub async fn check(&self, url: &Url) -> Result<Vec<SocketAddr>, Refused> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(Refused::Scheme {
                scheme: scheme.to_owned(),
            });
        }
        let port = url.port_or_known_default().ok_or(Refused::NoHost)?;
        let (host, addrs) = match url.host() {
            None => return Err(Refused::NoHost),
            Some(Host::Ipv4(v4)) => (v4.to_string(), vec![IpAddr::V4(v4)]),
            Some(Host::Ipv6(v6)) => (v6.to_string(), vec![IpAddr::V6(v6)]),
            Some(Host::Domain(name)) => (name.to_owned(), self.resolve(name).await?),
        };
        for &addr in &addrs {
            if let Some(range) = ranges::refusing(addr, self.allow_private) {
                return Err(Refused::PrivateAddress { host, addr, range });
            }
        }
        Ok(addrs
            .into_iter()
            .map(|addr| SocketAddr::new(addr, port))
            .collect())
    }

    /// The addresses of the host `name`, if every one is allowed: what a connection to it may
    /// use.
    pub async fn allowed(&self, name: &str) -> Result<Vec<IpAddr>, Refused> {
        let addrs = match name.parse::<IpAddr>() {
            Ok(addr) => vec![addr],
            Err(_) => self.resolve(name).await?,
        };
        for &addr in &addrs {
            if let Some(range) = ranges::refusing(addr, self.allow_private) {
                let host = name.to_owned();
                return Err(Refused::PrivateAddress { host, addr, range });
            }
        }
        Ok(addrs)
    }

    /// Every address `name` resolves to, without repeats; none is `Unresolvable`.
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, Refused> {
        let unresolvable = |detail: String| Refused::Unresolvable {
            host: name.to_owned(),
            detail,
        };
        let lookup = self
            .resolver
            .lookup_ip(name)
            .await
            .map_err(|e| unresolvable(e.to_string()))?;
        let mut addrs: Vec<IpAddr> = Vec::new();
        for addr in lookup.iter() {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(unresolvable("no address".to_owned()));
        }
        Ok(addrs)
    }
}
