//! Integrations: a tenant's connections to outside systems. Each kind has a small schema of
//! its configuration; the keys it names as secret are write-only.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::agent::Metadata;
use crate::domain::ids::IntegrationId;
use crate::domain::policy::act;
use crate::domain::resource::{is_variant, ResourceKind, ResourceSpec};
use crate::domain::validation::Violations;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    Crm,
    Calendar,
    Http,
}

/// The configuration keys of a kind.
pub struct ConfigSchema {
    pub required: &'static [&'static str],
    /// Write-only keys: sealed at rest, masked on read.
    pub secret: &'static [&'static str],
}

impl IntegrationKind {
    pub fn schema(self) -> ConfigSchema {
        match self {
            IntegrationKind::Crm => ConfigSchema {
                required: &["provider"],
                secret: &["apiKey", "clientSecret"],
            },
            IntegrationKind::Calendar => ConfigSchema {
                required: &["provider"],
                secret: &["accessToken", "refreshToken"],
            },
            IntegrationKind::Http => ConfigSchema {
                required: &["url"],
                secret: &["authorization", "signingSecret"],
            },
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Crm => "crm",
            IntegrationKind::Calendar => "calendar",
            IntegrationKind::Http => "http",
        }
    }
}

/// The most bytes a configuration takes as JSON.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = IntegrationFields)]
pub struct Integration {
    /// `crm` (config: `provider`, secret `apiKey`, `clientSecret`), `calendar` (`provider`,
    /// secret `accessToken`, `refreshToken`) or `http` (`url`, secret `authorization`,
    /// `signingSecret`).
    pub kind: IntegrationKind,
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Metadata,
}

impl ResourceSpec for Integration {
    const KIND: ResourceKind = ResourceKind::Integration;
    type Id = IntegrationId;
    type Read = act::ReadIntegrations;
    type Manage = act::ManageIntegrations;

    fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        let schema = self.kind.schema();
        for key in schema.required {
            match self.config.get(*key) {
                Some(serde_json::Value::String(value)) if !value.is_empty() => {}
                _ => violations.add(
                    format!("config.{key}"),
                    "required",
                    format!("a {} integration needs it, as a string", self.kind.as_str()),
                ),
            }
        }
        for key in schema.secret {
            if let Some(value) = self.config.get(*key) {
                if !matches!(value, serde_json::Value::String(text) if !text.is_empty() && text.len() <= 4096)
                {
                    violations.add(
                        format!("config.{key}"),
                        "invalid_secret",
                        "must be a string of 1 to 4096 characters",
                    );
                }
            }
        }
        if let Some(serde_json::Value::String(url)) = self.config.get("url") {
            if !matches!(url::Url::parse(url), Ok(parsed) if matches!(parsed.scheme(), "http" | "https"))
            {
                violations.add("config.url", "invalid_url", "must be an http or https URL");
            }
        }
        let size = serde_json::to_vec(&self.config).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_CONFIG_BYTES {
            violations.add(
                "config",
                "too_large",
                format!("must be at most {MAX_CONFIG_BYTES} bytes as JSON"),
            );
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn is_category(value: &str) -> bool {
        is_variant::<IntegrationKind>(value)
    }

    fn category(&self) -> Option<String> {
        Some(self.kind.as_str().to_owned())
    }

    fn secret_paths(&self) -> Vec<String> {
        self.kind
            .schema()
            .secret
            .iter()
            .filter(|key| self.config.contains_key(**key))
            .map(|key| format!("/config/{key}"))
            .collect()
    }
}
