//! Stored bytes stream through the server: a 100 MiB file uploaded to a real `tenantry serve`
//! process and downloaded back grows the server's peak resident memory (`VmHWM`) by a bounded
//! amount, far below the size of the file. The test sends and reads the file in chunks, so it
//! never holds it whole either.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::both;
use crate::support::blobs::{generated_sha256, generated_stream, MIB};
use crate::support::process::Served;

/// The file: 100 MiB.
const SIZE: u64 = 100 * MIB as u64;
const SEED: u64 = 100;

/// How much the server's peak RSS may grow over the upload and the download of `SIZE` bytes.
/// The object store holds at most three 5 MiB parts of an upload (the one being filled and two
/// in flight); the rest is room for hyper's buffers and the allocator. A server that buffered
/// the file would grow by at least its 100 MiB (one that kept the chunks it read grew by
/// 108 MiB). Measured on a debug build: 7 MiB on either database (VmHWM 38 to 40 MiB before
/// the upload, 45 to 47 MiB after the upload and after the download).
const BOUND: u64 = 64 * MIB as u64;

/// The peak resident set size of a process, in bytes (`VmHWM` in `/proc/<pid>/status`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    let kilobytes: u64 = line
        .trim()
        .strip_suffix("kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("VmHWM is {line:?}"));
    kilobytes * 1024
}

both!(
    a_100_mib_file_streams_through_a_server_in_bounded_memory,
    |app| async move {
        let tenant = app.tenant().create().await;
        let server = Served::start(&app).await;
        let client = server.client(tenant.client.key());
        // One request through the whole stack first (keys, database pool), so that the
        // baseline is that of a server at work.
        client
            .get(&tenant.path("/files"))
            .await
            .assert_status(StatusCode::OK);
        let before = peak_rss(server.pid());

        let upload = client
            .request(Method::POST, &tenant.path("/files"))
            .query(&[("name", "call-archive.bin")])
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(generated_stream(SEED, SIZE)));
        let stored = client.send(upload).await;
        stored.assert_status(StatusCode::CREATED);
        let expected = generated_sha256(SEED, SIZE);
        assert_eq!(stored.body["sizeBytes"], SIZE, "{}", stored.text);
        assert_eq!(stored.body["sha256"], expected.as_str(), "{}", stored.text);
        let after_upload = peak_rss(server.pid());

        let content = tenant.path(&format!("/files/{}/content", stored.id()));
        let response = client
            .request(Method::GET, &content)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.content_length(), Some(SIZE));
        let mut body = response.bytes_stream();
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.expect("the download goes on");
            received += chunk.len() as u64;
            hasher.update(&chunk);
        }
        assert_eq!(received, SIZE);
        assert_eq!(hex::encode(hasher.finalize()), expected);
        let after_download = peak_rss(server.pid());

        let mib = |bytes: u64| bytes as f64 / MIB as f64;
        eprintln!(
            "server VmHWM: {:.1} MiB before, {:.1} MiB after the upload, {:.1} MiB after the \
             download; growth {:.1} MiB, bound {:.0} MiB",
            mib(before),
            mib(after_upload),
            mib(after_download),
            mib(after_download - before),
            mib(BOUND),
        );
        assert!(
            after_upload - before < BOUND,
            "the upload grew the server's peak RSS from {before} to {after_upload} bytes"
        );
        assert!(
            after_download - before < BOUND,
            "the download grew the server's peak RSS from {before} to {after_download} bytes"
        );
        server.kill().await;
    }
);
