//! Trieve's published Python client (`trieve-py-client` 0.12.12) against a real `tenantry
//! serve`: it must parse every answer. `.ci/run` installs the client in a virtual environment
//! and names its Python in `TRIEVE_PYTHON`; without it the story is skipped with a notice,
//! unless `CI=true`, where it fails.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::both;
use crate::support::people::person;
use crate::support::process::Served;

use super::uuid_of;

/// The client version the dialect is checked against.
const CLIENT_VERSION: &str = "0.12.12";

/// A Python that imports the client: `TRIEVE_PYTHON`, or the virtual environment `.ci/run`
/// makes.
fn client_python() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("TRIEVE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target/pyenv/bin/python"));
    let installed = std::process::Command::new(&python)
        .args([
            "-c",
            "import trieve_py_client, sys; sys.stdout.write(trieve_py_client.__version__)",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned());
    match installed {
        Some(version) if version == CLIENT_VERSION => Some(python),
        found => {
            let why = match found {
                Some(version) => format!("it has trieve-py-client {version}"),
                None => "it cannot import trieve_py_client".to_owned(),
            };
            let notice = format!(
                "{} is no Python with trieve-py-client {CLIENT_VERSION} ({why}); \
                 .ci/run installs it, or set TRIEVE_PYTHON",
                python.display()
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{notice}");
            eprintln!("skipping the Trieve client story: {notice}");
            None
        }
    }
}

both!(
    the_published_python_client_round_trips_an_organization,
    |app| async move {
        let Some(python) = client_python() else {
            return;
        };
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let member_org = app.tenant().name("Members").of(&agency).create().await;
        person(
            &app,
            &mailbox,
            &agency.client,
            &member_org.path("/users/invite"),
            "owner@roundtrip.example",
            "TenantOwner",
        )
        .await;
        // Names the person, as the client shows them.
        let members = agency.client.get(&member_org.path("/users")).await;
        let owner = members.body["data"][0]["id"]
            .as_str()
            .expect("the owner")
            .to_owned();
        agency
            .client
            .patch(
                &member_org.path(&format!("/users/{owner}")),
                &json!({ "firstName": "Jo", "lastName": "Owner" }),
            )
            .await
            .assert_status(reqwest::StatusCode::OK);

        let served = Served::start(&app).await;
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/trieve/organization_roundtrip.py");
        let ran = tokio::process::Command::new(&python)
            .arg(&script)
            .env("TRIEVE_BASE_URL", &served.base_url)
            .env("TRIEVE_API_KEY", agency.client.key())
            .env("TRIEVE_MEMBER_ORG", uuid_of(&member_org.id))
            .output()
            .await
            .expect("the client's script runs");
        assert!(
            ran.status.success(),
            "the client failed:\n{}\n{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        assert!(
            String::from_utf8_lossy(&ran.stdout).contains("organization roundtrip passed"),
            "the script ran to its end"
        );
        served.stop().await;
    }
);
