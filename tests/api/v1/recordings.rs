//! Call recordings: stored by `PUT` on their call in the tenant's `recordingFormat`, served
//! with Range, replaced by the next `PUT` (whose old object goes), deleted, listed with their
//! call, and held to `recordingEnabled` and `maxRecordingsGb`.

use std::path::PathBuf;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::domain::ids::CallId;

use crate::both;
use crate::support::blobs::{generated, in_chunks, sha256, stalled_after, CHUNK, MIB};
use crate::support::{Answer, Client, TenantFixture};

const MB: usize = 1_000_000;

/// The recording path of a call.
fn recording_path(tenant: &TenantFixture, call_id: &str) -> String {
    tenant.path(&format!("/calls/{call_id}/recording"))
}

/// `PUT` of `body` to a recording `path`, by `client`.
async fn put_as(client: &Client, path: &str, content_type: &str, body: reqwest::Body) -> Answer {
    let request = client
        .request(Method::PUT, path)
        .header("content-type", content_type)
        .body(body);
    client.send(request).await
}

/// `PUT` of `body` as the recording of the tenant's call `call_id`, with the tenant's key.
async fn put(
    tenant: &TenantFixture,
    call_id: &str,
    content_type: &str,
    body: reqwest::Body,
) -> Answer {
    let path = recording_path(tenant, call_id);
    put_as(&tenant.client, &path, content_type, body).await
}

/// A call of the tenant, started through the calls API; returns its id.
async fn call(tenant: &TenantFixture) -> String {
    tenant.admit("phone").await["id"]
        .as_str()
        .expect("a call id")
        .to_owned()
}

fn id(body: &Value) -> &str {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// Every recording of the tenant.
async fn recordings(tenant: &TenantFixture) -> Vec<Value> {
    tenant
        .client
        .walk(&tenant.path("/recordings?limit=100"))
        .await
}

both!(
    a_recording_is_stored_on_its_call_replaced_and_deleted,
    |app| async move {
        let tenant = app.tenant().create().await;
        let call_id = call(&tenant).await;
        let path = recording_path(&tenant, &call_id);
        let audio = generated(30, 2 * MIB + 777);

        let stored = put(&tenant, &call_id, "audio/mp4", in_chunks(audio.clone())).await;
        stored.assert_status(StatusCode::CREATED);
        let recording = stored.body.clone();
        assert!(id(&recording).starts_with("rec_"), "{recording}");
        assert_eq!(recording["tenantId"], tenant.id.as_str());
        assert_eq!(recording["callId"], call_id.as_str());
        assert_eq!(recording["contentType"], "audio/mp4");
        assert_eq!(recording["sizeBytes"], audio.len() as u64);
        assert_eq!(recording["sha256"], sha256(&audio));
        let first_object = app.object_path(&tenant.id, "recordings", id(&recording));
        assert!(first_object.is_file(), "{}", first_object.display());

        // Served whole, and by range.
        let whole = tenant.client.download(&path, &[]).await;
        whole.assert_status(StatusCode::OK);
        assert!(whole.bytes == audio, "the recording as stored");
        assert_eq!(whole.header("content-type"), Some("audio/mp4"));
        let length = audio.len().to_string();
        assert_eq!(whole.header("content-length"), Some(length.as_str()));
        assert_eq!(whole.header("accept-ranges"), Some("bytes"));
        assert!(whole.header("etag").is_some());
        let part = tenant
            .client
            .download(&path, &[("range", "bytes=1000-1999")])
            .await;
        part.assert_status(StatusCode::PARTIAL_CONTENT);
        let expected = format!("bytes 1000-1999/{}", audio.len());
        assert_eq!(part.header("content-range"), Some(expected.as_str()));
        assert_eq!(part.header("content-length"), Some("1000"));
        assert!(part.bytes == audio[1000..2000], "the range's bytes");
        let tail = tenant
            .client
            .download(&path, &[("range", "bytes=-10")])
            .await;
        tail.assert_status(StatusCode::PARTIAL_CONTENT);
        assert!(tail.bytes == audio[audio.len() - 10..]);
        let past = format!("bytes={}-", audio.len());
        let refused = tenant.client.download(&path, &[("range", &past)]).await;
        refused.assert_status(StatusCode::RANGE_NOT_SATISFIABLE);
        let unsatisfied = format!("bytes */{}", audio.len());
        assert_eq!(refused.header("content-range"), Some(unsatisfied.as_str()));

        // Listed with its call, and readable by its own id.
        assert_eq!(recordings(&tenant).await, vec![recording.clone()]);
        let by_id = tenant
            .client
            .get(&tenant.path(&format!("/recordings/{}", id(&recording))))
            .await;
        by_id.assert_status(StatusCode::OK);
        assert_eq!(by_id.body, recording);

        // A second PUT replaces it; the first object goes.
        let again = generated(31, MIB + 5);
        let replaced = put(&tenant, &call_id, "audio/x-m4a", again.clone().into()).await;
        replaced.assert_status(StatusCode::CREATED);
        let second = replaced.body.clone();
        assert_ne!(id(&second), id(&recording));
        assert_eq!(second["callId"], call_id.as_str());
        assert_eq!(second["sizeBytes"], again.len() as u64);
        assert_eq!(second["sha256"], sha256(&again));
        let second_object = app.object_path(&tenant.id, "recordings", id(&second));
        assert!(
            !first_object.exists(),
            "the replaced object is still on disk"
        );
        assert_eq!(app.objects_of(&tenant.id), vec![second_object.clone()]);
        let whole = tenant.client.download(&path, &[]).await;
        assert!(whole.bytes == again, "the new recording");
        assert_eq!(whole.header("content-type"), Some("audio/x-m4a"));
        assert_eq!(recordings(&tenant).await, vec![second.clone()]);

        // Deleting it removes the object; then there is nothing to serve or delete.
        tenant
            .client
            .delete(&path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        assert!(
            !second_object.exists(),
            "the deleted object is still on disk"
        );
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());
        for gone in [
            tenant.client.get(&path).await,
            tenant.client.delete(&path).await,
        ] {
            gone.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        assert_eq!(recordings(&tenant).await, Vec::<Value>::new());
    }
);

both!(
    a_recording_must_be_in_the_tenants_recording_format,
    |app| async move {
        let tenant = app.tenant().create().await;
        let call_id = call(&tenant).await;
        let audio = Bytes::from_static(b"ID3 not really an mp3");

        // The default format is mp4.
        for wrong in [
            "audio/mpeg",
            "audio/wav",
            "text/plain",
            "application/octet-stream",
        ] {
            let refused = put(&tenant, &call_id, wrong, audio.clone().into()).await;
            refused.assert_invalid("Content-Type");
            assert_eq!(
                refused.field_code("Content-Type").as_deref(),
                Some("unsupported_media_type"),
                "{}",
                refused.text
            );
        }
        let unnamed = tenant
            .client
            .request(Method::PUT, &recording_path(&tenant, &call_id))
            .body(audio.clone());
        tenant
            .client
            .send(unnamed)
            .await
            .assert_invalid("Content-Type");
        assert_eq!(recordings(&tenant).await, Vec::<Value>::new());
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

        // Parameters of a matching type do not matter.
        put(
            &tenant,
            &call_id,
            "audio/mp4; codecs=\"mp4a.40.2\"",
            audio.clone().into(),
        )
        .await
        .assert_status(StatusCode::CREATED);

        // Once the format is mp3, mp3 is what a recording must be.
        tenant
            .client
            .patch(
                &tenant.path(""),
                &json!({ "settings": { "recordingFormat": "mp3" } }),
            )
            .await
            .assert_status(StatusCode::OK);
        put(&tenant, &call_id, "audio/mp4", audio.clone().into())
            .await
            .assert_invalid("Content-Type");
        let mp3 = put(&tenant, &call_id, "audio/mpeg", audio.clone().into()).await;
        mp3.assert_status(StatusCode::CREATED);
        assert_eq!(mp3.body["contentType"], "audio/mpeg");
        assert_eq!(recordings(&tenant).await, vec![mp3.body.clone()]);
        assert_eq!(app.objects_of(&tenant.id).len(), 1);
    }
);

both!(a_tenant_with_recording_off_stores_none, |app| async move {
    let tenant = app
        .tenant()
        .field("settings", json!({ "recordingEnabled": false }))
        .create()
        .await;
    let call_id = call(&tenant).await;
    put(&tenant, &call_id, "audio/mp4", generated(32, MIB).into())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(recordings(&tenant).await, Vec::<Value>::new());
    assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

    // Switched on, the same recording is stored.
    tenant
        .client
        .patch(
            &tenant.path(""),
            &json!({ "settings": { "recordingEnabled": true } }),
        )
        .await
        .assert_status(StatusCode::OK);
    put(&tenant, &call_id, "audio/mp4", generated(32, MIB).into())
        .await
        .assert_status(StatusCode::CREATED);
});

both!(
    recordings_of_unknown_or_foreign_calls_are_not_found,
    |app| async move {
        let tenant = app.tenant().name("Mine").create().await;
        let other = app.tenant().name("Theirs").create().await;
        let audio = generated(33, 4096);

        let unknown = CallId::generate().to_string();
        put(&tenant, &unknown, "audio/mp4", audio.clone().into())
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        // Another tenant's call, through this tenant's path.
        let theirs = call(&other).await;
        put(&tenant, &theirs, "audio/mp4", audio.clone().into())
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.objects_of(&tenant.id), Vec::<PathBuf>::new());

        // Another tenant's recording, through either path.
        let stored = put(&other, &theirs, "audio/mp4", audio.clone().into()).await;
        stored.assert_status(StatusCode::CREATED);
        let rec_id = id(&stored.body).to_owned();
        for path in [
            recording_path(&tenant, &theirs),
            recording_path(&other, &theirs),
        ] {
            for answer in [
                tenant.client.get(&path).await,
                tenant.client.delete(&path).await,
                put_as(&tenant.client, &path, "audio/mp4", audio.clone().into()).await,
            ] {
                answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
            }
        }
        for path in [
            tenant.path(&format!("/recordings/{rec_id}")),
            other.path(&format!("/recordings/{rec_id}")),
        ] {
            tenant
                .client
                .get(&path)
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        assert_eq!(recordings(&tenant).await, Vec::<Value>::new());

        // Nothing happened to it.
        let theirs_now = other
            .client
            .download(&recording_path(&other, &theirs), &[])
            .await;
        theirs_now.assert_status(StatusCode::OK);
        assert!(theirs_now.bytes == audio);
        assert_eq!(recordings(&other).await, vec![stored.body.clone()]);
    }
);

both!(
    recordings_together_stay_within_max_recordings_gb,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxRecordingsGb": 0.003 }))
            .create()
            .await;
        let (first, second, third) = (
            call(&tenant).await,
            call(&tenant).await,
            call(&tenant).await,
        );
        put(&tenant, &first, "audio/mp4", generated(34, 2 * MB).into())
            .await
            .assert_status(StatusCode::CREATED);
        put(&tenant, &second, "audio/mp4", in_chunks(generated(35, MB)))
            .await
            .assert_status(StatusCode::CREATED);

        // Full: not one more byte, declared or streamed.
        let refused = |answer: Answer| {
            answer.assert_problem(StatusCode::FORBIDDEN, "storage_limit_reached");
            assert_eq!(answer.body["limit"], "maxRecordingsGb", "{}", answer.text);
        };
        refused(
            put(
                &tenant,
                &third,
                "audio/mp4",
                Bytes::from_static(b"x").into(),
            )
            .await,
        );
        refused(
            put(
                &tenant,
                &third,
                "audio/mp4",
                stalled_after(generated(36, CHUNK)),
            )
            .await,
        );
        assert_eq!(app.objects_of(&tenant.id).len(), 2);

        // A recording replaced by one of the same size still fits: the old one's bytes go.
        let replacement = generated(37, 2 * MB);
        let replaced = put(&tenant, &first, "audio/mp4", replacement.clone().into()).await;
        replaced.assert_status(StatusCode::CREATED);
        assert_eq!(replaced.body["sha256"], sha256(&replacement));
        // But not by a larger one.
        refused(
            put(
                &tenant,
                &first,
                "audio/mp4",
                generated(38, 2 * MB + 1).into(),
            )
            .await,
        );

        let held = recordings(&tenant).await;
        let total: u64 = held
            .iter()
            .map(|r| r["sizeBytes"].as_u64().expect("a size"))
            .sum();
        assert_eq!(total, 3 * MB as u64);
        let mut expected: Vec<PathBuf> = held
            .iter()
            .map(|r| app.object_path(&tenant.id, "recordings", id(r)))
            .collect();
        expected.sort();
        assert_eq!(
            app.objects_of(&tenant.id),
            expected,
            "one object per recording"
        );
        let calls: Vec<&str> = held.iter().filter_map(|r| r["callId"].as_str()).collect();
        assert_eq!(calls, [second.as_str(), first.as_str()], "in storing order");

        // Deleting a recording makes room again.
        tenant
            .client
            .delete(&recording_path(&tenant, &second))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        put(&tenant, &third, "audio/mp4", generated(39, MB).into())
            .await
            .assert_status(StatusCode::CREATED);
        assert_eq!(app.objects_of(&tenant.id).len(), 2);
    }
);
