//! Knowledge-base files: uploaded raw or as a multipart form, recorded with their size, type
//! and SHA-256, served back byte for byte (whole or one range), renamed, deleted with their
//! stored object, and never visible to another tenant.

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::blobs::{generated, in_chunks, sha256, MIB};
use crate::support::TenantFixture;

/// A few MiB and an odd remainder, so that no chunk or part boundary lines up with the end.
const SIZE: usize = 3 * MIB + 12_345;

/// Checks what a stored file says of its bytes.
#[track_caller]
fn assert_describes(file: &Value, tenant: &TenantFixture, name: &str, kind: &str, bytes: &[u8]) {
    let id = file["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {file}"));
    assert!(id.starts_with("fil_"), "{id}");
    assert_eq!(file["tenantId"], tenant.id.as_str(), "{file}");
    assert_eq!(file["name"], name, "{file}");
    assert_eq!(file["contentType"], kind, "{file}");
    assert_eq!(file["sizeBytes"], bytes.len() as u64, "{file}");
    assert_eq!(file["sha256"], sha256(bytes), "{file}");
    assert_eq!(file["version"], 1, "{file}");
}

/// Reads a file's content whole and checks it and its headers against `bytes`.
async fn assert_serves(tenant: &TenantFixture, file: &Value, kind: &str, bytes: &[u8]) {
    let id = file["id"].as_str().expect("a file id");
    let path = tenant.path(&format!("/files/{id}"));
    let described = tenant.client.get(&path).await;
    described.assert_status(StatusCode::OK);
    let content = tenant
        .client
        .download(&format!("{path}/content"), &[])
        .await;
    content.assert_status(StatusCode::OK);
    assert_eq!(content.bytes.len(), bytes.len());
    assert!(
        content.bytes == bytes,
        "the content differs from the upload"
    );
    assert_eq!(content.header("content-type"), Some(kind));
    let length = bytes.len().to_string();
    assert_eq!(content.header("content-length"), Some(length.as_str()));
    assert_eq!(content.header("accept-ranges"), Some("bytes"));
    assert_eq!(content.header("content-range"), None);
    let etag = content.header("etag").expect("an ETag");
    assert_eq!(Some(etag), described.header("etag"), "one version, one tag");
}

both!(
    a_raw_upload_is_recorded_and_served_byte_for_byte,
    |app| async move {
        let tenant = app.tenant().create().await;
        let bytes = generated(1, SIZE);

        // Sent in chunks, with no length given.
        let chunked = tenant
            .upload_raw(
                "Price list.pdf",
                "application/pdf",
                in_chunks(bytes.clone()),
            )
            .await;
        chunked.assert_status(StatusCode::CREATED);
        assert_describes(
            &chunked.body,
            &tenant,
            "Price list.pdf",
            "application/pdf",
            &bytes,
        );
        assert!(chunked.header("etag").is_some(), "{}", chunked.text);
        assert_serves(&tenant, &chunked.body, "application/pdf", &bytes).await;

        // Sent whole, with its Content-Length; other bytes, another hash.
        let other = generated(2, SIZE);
        let sized = tenant
            .upload("Menu.txt", "text/plain; charset=utf-8", other.clone())
            .await;
        assert_describes(
            &sized,
            &tenant,
            "Menu.txt",
            "text/plain; charset=utf-8",
            &other,
        );
        assert_ne!(sized["sha256"], chunked.body["sha256"]);
        assert_serves(&tenant, &sized, "text/plain; charset=utf-8", &other).await;

        // Each object lies on disk under its tenant and id, holding exactly the bytes.
        for (file, expected) in [(&chunked.body, &bytes), (&sized, &other)] {
            let id = file["id"].as_str().expect("an id");
            let object = app.object_path(&tenant.id, "files", id);
            let on_disk = std::fs::read(&object).expect("the stored object");
            assert!(on_disk == **expected, "{} differs", object.display());
        }
        assert_eq!(app.objects_of(&tenant.id).len(), 2);
    }
);

both!(
    a_raw_upload_needs_a_name_and_a_media_type,
    |app| async move {
        let tenant = app.tenant().create().await;
        let nameless = tenant
            .client
            .request(Method::POST, &tenant.path("/files"))
            .header("content-type", "text/plain")
            .body("hello");
        tenant.client.send(nameless).await.assert_invalid("name");
        tenant
            .upload_raw(
                "notes",
                "not a media type",
                Bytes::from_static(b"hello").into(),
            )
            .await
            .assert_invalid("contentType");
        assert_eq!(tenant.files().await, Vec::<Value>::new());
        assert_eq!(app.objects_of(&tenant.id), Vec::<std::path::PathBuf>::new());
    }
);

both!(
    a_multipart_upload_is_named_by_its_name_part_or_its_filename,
    |app| async move {
        let tenant = app.tenant().create().await;
        let upload = |form: Form| {
            let request = tenant
                .client
                .request(Method::POST, &tenant.path("/files"))
                .multipart(form);
            tenant.client.send(request)
        };

        // A name part before the file names it; the file part streams in chunks.
        let bytes = generated(3, SIZE);
        let file = Part::stream(in_chunks(bytes.clone()))
            .file_name("notes-v3.txt")
            .mime_str("text/plain")
            .expect("a media type");
        let named = upload(Form::new().text("name", "Meeting notes").part("file", file)).await;
        named.assert_status(StatusCode::CREATED);
        assert_describes(&named.body, &tenant, "Meeting notes", "text/plain", &bytes);
        assert_serves(&tenant, &named.body, "text/plain", &bytes).await;

        // Without a name part, the filename names it.
        let other = generated(4, SIZE);
        let file = Part::bytes(other.to_vec())
            .file_name("handbook.md")
            .mime_str("text/markdown")
            .expect("a media type");
        let by_filename = upload(Form::new().part("file", file)).await;
        by_filename.assert_status(StatusCode::CREATED);
        assert_describes(
            &by_filename.body,
            &tenant,
            "handbook.md",
            "text/markdown",
            &other,
        );
        assert_serves(&tenant, &by_filename.body, "text/markdown", &other).await;

        // A form without a file part stores nothing.
        upload(Form::new().text("name", "Nothing"))
            .await
            .assert_invalid("file");
        assert_eq!(tenant.files().await.len(), 2);
        assert_eq!(app.objects_of(&tenant.id).len(), 2);
    }
);

/// `Range: bytes=…` on a file of `bytes`: a 206 with the slice `from..to` and its
/// `Content-Range`.
async fn assert_range(
    tenant: &TenantFixture,
    content: &str,
    range: &str,
    bytes: &[u8],
    from: usize,
    to: usize,
) {
    let header = format!("bytes={range}");
    let part = tenant.client.download(content, &[("range", &header)]).await;
    part.assert_status(StatusCode::PARTIAL_CONTENT);
    let expected_range = format!("bytes {from}-{}/{}", to - 1, bytes.len());
    assert_eq!(
        part.header("content-range"),
        Some(expected_range.as_str()),
        "{range}"
    );
    let length = (to - from).to_string();
    assert_eq!(
        part.header("content-length"),
        Some(length.as_str()),
        "{range}"
    );
    assert_eq!(part.header("accept-ranges"), Some("bytes"), "{range}");
    assert!(part.bytes == bytes[from..to], "{range}: the wrong bytes");
}

both!(a_file_is_served_by_range, |app| async move {
    let tenant = app.tenant().create().await;
    let bytes = generated(5, SIZE);
    let file = tenant
        .upload("Recording.bin", "application/octet-stream", bytes.clone())
        .await;
    let content = tenant.path(&format!("/files/{}/content", file["id"].as_str().unwrap()));
    let size = bytes.len();

    assert_range(&tenant, &content, "0-0", &bytes, 0, 1).await;
    assert_range(&tenant, &content, "10-99", &bytes, 10, 100).await;
    assert_range(&tenant, &content, "100-", &bytes, 100, size).await;
    assert_range(&tenant, &content, "-500", &bytes, size - 500, size).await;
    assert_range(
        &tenant,
        &content,
        &format!("{}-{}", size - 10, size + 1000),
        &bytes,
        size - 10,
        size,
    )
    .await;

    // A range that starts past the end cannot be served.
    for past in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 5, size + 9),
    ] {
        let refused = tenant.client.download(&content, &[("range", &past)]).await;
        refused.assert_status(StatusCode::RANGE_NOT_SATISFIABLE);
        let unsatisfied = format!("bytes */{size}");
        assert_eq!(
            refused.header("content-range"),
            Some(unsatisfied.as_str()),
            "{past}"
        );
        let problem: Value = serde_json::from_slice(&refused.bytes).expect("a problem");
        assert_eq!(problem["code"], "range_not_satisfiable", "{problem}");
    }

    // Several ranges are answered with the whole file.
    let whole = tenant
        .client
        .download(&content, &[("range", "bytes=0-0,100-199")])
        .await;
    whole.assert_status(StatusCode::OK);
    assert_eq!(whole.header("content-range"), None);
    assert!(whole.bytes == bytes, "the whole file");
});

both!(
    files_are_listed_renamed_and_deleted_with_their_object,
    |app| async move {
        let tenant = app.tenant().create().await;
        let first_bytes = generated(6, MIB + 1);
        let first = tenant
            .upload("FAQ.txt", "text/plain", first_bytes.clone())
            .await;
        let second = tenant
            .upload("Prices.csv", "text/csv", generated(7, 1000))
            .await;
        let first_id = first["id"].as_str().expect("an id").to_owned();
        let second_id = second["id"].as_str().expect("an id").to_owned();
        let path = tenant.path(&format!("/files/{first_id}"));

        let listed = tenant.files().await;
        let ids: Vec<&str> = listed.iter().filter_map(|f| f["id"].as_str()).collect();
        assert_eq!(
            ids,
            [first_id.as_str(), second_id.as_str()],
            "in upload order"
        );
        assert_eq!(listed[0], first);
        let csv = tenant
            .client
            .get(&tenant.path("/files?contentType=text/csv"))
            .await;
        csv.assert_status(StatusCode::OK);
        assert_eq!(csv.body["data"], json!([second]));
        let read = tenant.client.get(&path).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, first);

        // Only the name may change; the bytes it describes stay as they are.
        let renamed = tenant
            .client
            .patch(&path, &json!({ "name": "Questions.txt" }))
            .await;
        renamed.assert_status(StatusCode::OK);
        assert_eq!(renamed.body["name"], "Questions.txt");
        assert_eq!(renamed.body["version"], 2);
        for same in ["id", "contentType", "sizeBytes", "sha256", "createdAt"] {
            assert_eq!(renamed.body[same], first[same], "{same}");
        }
        for field in ["sizeBytes", "sha256", "contentType", "callId"] {
            let refused = tenant
                .client
                .patch(&path, &json!({ field: "x", "name": "Other" }))
                .await;
            refused.assert_invalid(field);
            assert_eq!(
                refused.field_code(field).as_deref(),
                Some("read_only"),
                "{}",
                refused.text
            );
        }
        tenant
            .client
            .patch(&path, &json!({ "name": "" }))
            .await
            .assert_invalid("name");
        let now = tenant.client.get(&path).await;
        assert_eq!(now.body, renamed.body, "refused changes change nothing");
        let content = tenant
            .client
            .download(&format!("{path}/content"), &[])
            .await;
        assert!(content.bytes == first_bytes, "renaming keeps the bytes");
        assert_eq!(content.header("etag"), renamed.header("etag"));

        // Deleting removes the object from disk, and the file is gone.
        let object = app.object_path(&tenant.id, "files", &first_id);
        assert!(object.is_file(), "{} is stored", object.display());
        tenant
            .client
            .delete(&path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        assert!(!object.exists(), "{} is still on disk", object.display());
        for gone in [
            tenant.client.get(&path).await,
            tenant.client.get(&format!("{path}/content")).await,
            tenant.client.patch(&path, &json!({ "name": "Back" })).await,
            tenant.client.delete(&path).await,
        ] {
            gone.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        let left: Vec<Value> = tenant.files().await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["id"], second_id.as_str());
        assert_eq!(
            app.objects_of(&tenant.id),
            [app.object_path(&tenant.id, "files", &second_id)]
        );
    }
);

both!(another_tenants_files_are_not_found, |app| async move {
    let owner = app.tenant().name("Owner").create().await;
    let other = app.tenant().name("Other").create().await;
    let bytes = generated(8, 4096);
    let file = owner
        .upload("Secret plan.txt", "text/plain", bytes.clone())
        .await;
    let id = file["id"].as_str().expect("an id");

    // Through the other tenant's own path, and through the owner's path with the other's key.
    for path in [
        other.path(&format!("/files/{id}")),
        owner.path(&format!("/files/{id}")),
    ] {
        for answer in [
            other.client.get(&path).await,
            other.client.get(&format!("{path}/content")).await,
            other.client.patch(&path, &json!({ "name": "Mine" })).await,
            other.client.delete(&path).await,
        ] {
            answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
    }
    assert_eq!(other.files().await, Vec::<Value>::new());

    // Nothing happened to it.
    let read = owner.client.get(&owner.path(&format!("/files/{id}"))).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(read.body, file);
    let content = owner
        .client
        .download(&owner.path(&format!("/files/{id}/content")), &[])
        .await;
    assert!(content.bytes == bytes);
    assert!(app.object_path(&owner.id, "files", id).is_file());
});
