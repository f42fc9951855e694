//! DNS as tenantry asks it: one resolver configuration for every lookup (the system's, or
//! the one server `--dns-server` names), and the CNAME lookups that verify custom domains.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::rdata::CNAME;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolverBuilder, TokioResolver};

/// A resolver asking `nameserver` (UDP) alone, or, without one, as the system's
/// configuration says.
pub fn resolver_builder(
    nameserver: Option<SocketAddr>,
) -> anyhow::Result<ResolverBuilder<TokioRuntimeProvider>> {
    let provider = TokioRuntimeProvider::default();
    Ok(match nameserver {
        Some(server) => {
            let mut config = NameServerConfig::udp(server.ip());
            for connection in &mut config.connections {
                connection.port = server.port();
            }
            let servers = ResolverConfig::from_name_servers(vec![config]);
            let mut builder = TokioResolver::builder_with_config(servers, provider);
            // Only the given server answers: not /etc/hosts.
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        }
        None => TokioResolver::builder(provider)
            .map_err(|e| anyhow::anyhow!("reading the system's DNS configuration: {e}"))?,
    })
}

/// Looks up the CNAME records of custom domains, afresh each time: nothing is cached, so a
/// record just created is seen at the next check.
#[derive(Clone)]
pub struct CnameResolver {
    resolver: TokioResolver,
}

impl CnameResolver {
    pub fn new(nameserver: Option<SocketAddr>) -> anyhow::Result<Self> {
        let mut builder = resolver_builder(nameserver)?;
        let options = builder.options_mut();
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        options.timeout = Duration::from_secs(3);
        options.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| anyhow::anyhow!("starting the DNS resolver: {e}"))?;
        Ok(CnameResolver { resolver })
    }

    /// The name `host`'s CNAME record points at (as DNS writes it, with its final dot), or
    /// `None` when it has none; `Err` says why DNS did not answer.
    pub async fn cname(&self, host: &str) -> Result<Option<String>, String> {
        // Fully qualified, so that no search domain is tried.
        let name = format!("{host}.");
        match self.resolver.lookup(name.as_str(), RecordType::CNAME).await {
            Ok(lookup) => Ok(lookup.answers().iter().find_map(|record| {
                let RData::CNAME(CNAME(target)) = &record.data else {
                    return None;
                };
                Some(target.to_ascii())
            })),
            Err(error) if error.is_no_records_found() => Ok(None),
            Err(error) => Err(format!("the DNS lookup failed: {error}")),
        }
    }
}
