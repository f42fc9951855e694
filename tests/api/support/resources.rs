//! A tenant's resources as stored, read below the API: the `document` and `sealed` columns of
//! one row, and the plaintext of a sealed secret, opened with the servers' key.

use serde_json::Value;
use sqlx::types::Json;
use tenantry::domain::ids::{decode_suffix, TenantId};
use tenantry::secrets::{KeySource, Keyring};
use tenantry::store::query;

use super::{Database, TestApp};

/// The stored columns of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// What readers see, less its secrets.
    pub document: Value,
    /// JSON pointer into the document → sealed secret; `None` when it holds none.
    pub sealed: Option<Value>,
}

impl StoredResource {
    /// The sealed text of the secret at `pointer` (`/password`, `/config/apiKey`).
    pub fn sealed_at(&self, pointer: &str) -> Option<&str> {
        self.sealed.as_ref()?.get(pointer)?.as_str()
    }

    /// Both columns as the text they hold.
    pub fn text(&self) -> String {
        format!(
            "{} {}",
            self.document,
            self.sealed.clone().unwrap_or_default()
        )
    }
}

/// The UUID of a typed id such as `pn_01…`.
#[track_caller]
fn uuid_of(id: &str) -> uuid::Uuid {
    let (_, suffix) = id
        .split_once('_')
        .unwrap_or_else(|| panic!("{id} is not a typed id"));
    decode_suffix(suffix).unwrap_or_else(|| panic!("{id} is not a typed id"))
}

impl Database {
    /// The stored row of the resource `id` (any kind), or `None` when there is none.
    pub async fn resource(&self, id: &str) -> Option<StoredResource> {
        let row: Option<(Json<Value>, Option<Json<Value>>)> = self
            .store()
            .reader()
            .fetch_optional(
                query("SELECT document, sealed FROM resources WHERE id = $1").bind(uuid_of(id)),
            )
            .await
            .expect("read the resource's row");
        row.map(|(document, sealed)| StoredResource {
            document: document.0,
            sealed: sealed.map(|sealed| sealed.0),
        })
    }
}

impl TestApp {
    /// Opens a sealed secret of the resource `id` of `tenant_id` with the servers' key. The
    /// context binds it to its tenant, row and pointer, as the service seals it.
    pub fn open_sealed(&self, tenant_id: &str, id: &str, pointer: &str, sealed: &str) -> String {
        let keyring = Keyring::load(&KeySource::File(self.data_dir().join("secret.key")))
            .expect("the servers' key");
        let tenant: TenantId = tenant_id.parse().expect("a tenant id");
        let context = format!("{tenant}/{}{pointer}", uuid_of(id));
        let plaintext = keyring
            .open(sealed, context.as_bytes())
            .unwrap_or_else(|error| panic!("open {pointer} of {id}: {error:?}"));
        String::from_utf8(plaintext).expect("a secret is text")
    }
}
