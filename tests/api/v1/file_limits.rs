//! The byte limits of files: `maxFileSizeMb` bounds each file and `maxFilesGb` all of a
//! tenant's files together. A refused upload leaves no object behind, whether its declared
//! length gave it away or its bytes ran past the limit, and under races exactly as many
//! uploads win as fit, on one server of either database and across three servers on one
//! PostgreSQL. Limits count decimal megabytes (1 MB = 1,000,000 bytes).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::both;
use crate::support::blobs::{generated, in_chunks, sha256, stalled_after, CHUNK};
use crate::support::process::Replicas;
use crate::support::{Answer, Client, TenantFixture, TestApp};

const MB: usize = 1_000_000;

/// `POST …/files` of a body that declares `length` bytes but stalls before sending any.
async fn declare_and_stall(tenant: &TenantFixture, length: usize) -> Answer {
    let request = tenant
        .client
        .request(Method::POST, &tenant.path("/files"))
        .query(&[("name", "declared")])
        .header("content-type", "application/octet-stream")
        .header("content-length", length.to_string())
        .body(stalled_after(Bytes::new()));
    tenant.client.send(request).await
}

/// `POST …/files` of a body with no declared length that sends `sent` bytes and then stalls.
async fn send_and_stall(tenant: &TenantFixture, sent: usize) -> Answer {
    let body = stalled_after(generated(sent as u64, sent));
    tenant
        .upload_raw("stalled", "application/octet-stream", body)
        .await
}

/// The stored objects and the file rows agree: one object per file, each holding the bytes
/// its row describes, and nothing else on disk (no orphans, no unfinished uploads).
async fn assert_objects_match_files(app: &TestApp, tenant: &TenantFixture) -> Vec<Value> {
    let files = tenant.files().await;
    let mut expected: Vec<PathBuf> = files
        .iter()
        .map(|file| app.object_path(&tenant.id, "files", file["id"].as_str().expect("an id")))
        .collect();
    expected.sort();
    assert_eq!(app.objects_of(&tenant.id), expected, "objects on disk");
    for file in &files {
        let object = app.object_path(&tenant.id, "files", file["id"].as_str().expect("an id"));
        let bytes = std::fs::read(&object).expect("the object");
        assert_eq!(file["sizeBytes"], bytes.len() as u64, "{file}");
        assert_eq!(file["sha256"], sha256(&bytes), "{file}");
    }
    files
}

fn stored_bytes(files: &[Value]) -> u64 {
    files
        .iter()
        .map(|f| f["sizeBytes"].as_u64().expect("a size"))
        .sum()
}

/// A refusal by a byte limit; with `gigabytes`, the limit and the stored total it reports,
/// both in the limit's own unit.
#[track_caller]
fn assert_storage_refused(answer: &Answer, limit: &str, gigabytes: Option<(f64, f64)>) {
    answer.assert_problem(StatusCode::FORBIDDEN, "storage_limit_reached");
    assert_eq!(answer.body["limit"], limit, "{}", answer.text);
    if let Some((value, current)) = gigabytes {
        assert_eq!(
            answer.body["limitValue"].as_f64(),
            Some(value),
            "{}",
            answer.text
        );
        assert_eq!(
            answer.body["current"].as_f64(),
            Some(current),
            "{}",
            answer.text
        );
    }
}

both!(
    a_file_over_max_file_size_is_refused_and_leaves_nothing,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxFileSizeMb": 1 }))
            .create()
            .await;

        // A declared length over the limit is refused before a byte of the body arrives.
        declare_and_stall(&tenant, 2 * MB).await.assert_limit(
            StatusCode::FORBIDDEN,
            "file_too_large",
            "maxFileSizeMb",
            1,
            2,
        );
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

        // A body of unknown length is refused once it runs past the limit, without waiting
        // for the rest.
        send_and_stall(&tenant, MB + CHUNK).await.assert_limit(
            StatusCode::FORBIDDEN,
            "file_too_large",
            "maxFileSizeMb",
            1,
            2,
        );
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

        // Whole bodies one byte over, declared or not.
        let over = generated(10, MB + 1);
        tenant
            .upload_raw("over.bin", "application/octet-stream", over.clone().into())
            .await
            .assert_limit(
                StatusCode::FORBIDDEN,
                "file_too_large",
                "maxFileSizeMb",
                1,
                2,
            );
        tenant
            .upload_raw("over.bin", "application/octet-stream", in_chunks(over))
            .await
            .assert_limit(
                StatusCode::FORBIDDEN,
                "file_too_large",
                "maxFileSizeMb",
                1,
                2,
            );
        assert_eq!(tenant.files().await, Vec::<Value>::new());
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

        // The limit itself is allowed, declared or not.
        let exact = generated(11, MB);
        tenant
            .upload("exact.bin", "application/octet-stream", exact.clone())
            .await;
        tenant
            .upload_raw("exact.bin", "application/octet-stream", in_chunks(exact))
            .await
            .assert_status(StatusCode::CREATED);
        let files = assert_objects_match_files(&app, &tenant).await;
        assert_eq!(files.len(), 2);
    }
);

both!(files_together_stay_within_max_files_gb, |app| async move {
    let tenant = app
        .tenant()
        .limits(json!({ "maxFilesGb": 0.003 }))
        .create()
        .await;
    for seed in 20..22 {
        tenant
            .upload("part.bin", "application/octet-stream", generated(seed, MB))
            .await;
    }

    // 1 MB is left: more than that is refused, however it is sent.
    let two_of_three = Some((0.003, 0.002));
    assert_storage_refused(
        &declare_and_stall(&tenant, MB + 1).await,
        "maxFilesGb",
        two_of_three,
    );
    assert_storage_refused(
        &send_and_stall(&tenant, MB + CHUNK).await,
        "maxFilesGb",
        two_of_three,
    );
    let over = generated(22, MB + 1);
    assert_storage_refused(
        &tenant
            .upload_raw("over.bin", "application/octet-stream", in_chunks(over))
            .await,
        "maxFilesGb",
        two_of_three,
    );
    assert_eq!(assert_objects_match_files(&app, &tenant).await.len(), 2);

    // What is left fits exactly; then not one byte more.
    tenant
        .upload_raw(
            "last.bin",
            "application/octet-stream",
            in_chunks(generated(23, MB)),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let one_byte = Bytes::from_static(b"x");
    assert_storage_refused(
        &tenant
            .upload_raw("byte.txt", "text/plain", one_byte.clone().into())
            .await,
        "maxFilesGb",
        Some((0.003, 0.003)),
    );
    let files = assert_objects_match_files(&app, &tenant).await;
    assert_eq!(stored_bytes(&files), 3 * MB as u64);
    let limits = tenant.limits().await;
    let report = &limits["limits"]["maxFilesGb"];
    assert_eq!(report["value"], 0.003, "{limits}");
    assert_eq!(report["used"], 0.003, "{limits}");
    assert_eq!(report["exceeded"], true, "{limits}");

    // Deleting a file makes room again.
    let first = files[0]["id"].as_str().expect("an id");
    tenant
        .client
        .delete(&tenant.path(&format!("/files/{first}")))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    tenant.upload("again.txt", "text/plain", one_byte).await;
    let files = assert_objects_match_files(&app, &tenant).await;
    assert_eq!(stored_bytes(&files), 2 * MB as u64 + 1);
});

/// Uploads racing for the `maxFilesGb` room of one tenant.
const RACERS: usize = 12;
/// How many of the racers' 1 MB uploads fit.
const FIT: usize = 3;
/// Races per run; each on a fresh tenant.
const TRIALS: usize = 3;

/// Starts `RACERS` uploads of 1 MB at once, spread over `clients`, against a fresh tenant
/// with room for `FIT` of them, and checks that exactly those won and nothing else is kept.
async fn race(app: &TestApp, servers: &[&str]) {
    let tenant = app
        .tenant()
        .limits(json!({ "maxFilesGb": FIT as f64 / 1000.0 }))
        .create()
        .await;
    let clients: Vec<Client> = servers
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let path = tenant.path("/files");
            let start = start.clone();
            let bytes = generated(100 + i as u64, MB);
            tokio::spawn(async move {
                let request = client
                    .request(Method::POST, &path)
                    .query(&[("name", format!("racer {i}"))])
                    .header("content-type", "application/octet-stream")
                    .body(bytes);
                start.wait().await;
                client.send(request).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for racer in racers {
        let answer = racer.await.expect("the racer runs");
        if answer.status == StatusCode::CREATED {
            won.push(answer.id());
        } else {
            assert_storage_refused(&answer, "maxFilesGb", None);
        }
    }
    assert_eq!(won.len(), FIT, "uploads stored");

    let files = assert_objects_match_files(app, &tenant).await;
    assert_eq!(files.len(), FIT, "file rows");
    assert!(stored_bytes(&files) <= (FIT * MB) as u64);
    let mut listed: Vec<String> = files
        .iter()
        .map(|f| f["id"].as_str().expect("an id").to_owned())
        .collect();
    listed.sort();
    won.sort();
    assert_eq!(listed, won, "the winners are the files");
}

both!(
    racing_uploads_store_exactly_as_many_as_fit,
    |app| async move {
        let url = app.base_url().to_owned();
        for _ in 0..TRIALS {
            race(&app, &[&url]).await;
        }
    }
);

#[tokio::test]
async fn racing_uploads_store_exactly_as_many_as_fit_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls = replicas.urls();
    for _ in 0..TRIALS {
        race(&app, &urls).await;
    }
    replicas.kill().await;
    app.finish().await;
}
