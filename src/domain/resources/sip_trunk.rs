//! SIP trunks: where a tenant's calls enter and leave the telephone network. The password is
//! write-only.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::SipTrunkId;
use crate::domain::policy::act;
use crate::domain::resource::{is_variant, ResourceKind, ResourceSpec};
use crate::domain::validation::Violations;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

fn default_port() -> u16 {
    5060
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SipTrunkFields)]
pub struct SipTrunk {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The registrar's host name or address.
    #[schema(example = "sip.carrier.example")]
    pub domain: String,
    #[serde(default = "default_port")]
    #[schema(minimum = 1, maximum = 65535, default = 5060)]
    pub port: u16,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub username: Option<String>,
    /// Write-only: reads show `********` when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255, write_only)]
    pub password: Option<String>,
}

/// Whether `host` is a DNS name or an IPv4 or IPv6 address.
pub fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl ResourceSpec for SipTrunk {
    const KIND: ResourceKind = ResourceKind::SipTrunk;
    type Id = SipTrunkId;
    type Read = act::ReadTelephony;
    type Manage = act::ManageTelephony;

    fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        if !is_host(&self.domain) {
            violations.add(
                "domain",
                "invalid_host",
                "must be a host name or an IP address",
            );
        }
        if self.port == 0 {
            violations.add("port", "out_of_range", "must be between 1 and 65535");
        }
        if let Some(username) = &self.username {
            violations.length("username", username, 1, 255);
        }
        if let Some(password) = &self.password {
            violations.length("password", password, 1, 255);
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn is_category(value: &str) -> bool {
        is_variant::<Transport>(value)
    }

    fn category(&self) -> Option<String> {
        Some(self.transport.as_str().to_owned())
    }

    fn secret_paths(&self) -> Vec<String> {
        self.password
            .as_ref()
            .map(|_| "/password".to_owned())
            .into_iter()
            .collect()
    }
}
