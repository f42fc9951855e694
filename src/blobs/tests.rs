use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{stream, TryStreamExt};
use object_store::{MultipartUpload, PutPayload, PutResult, UploadPart};
use tempfile::TempDir;
use tokio::sync::oneshot;

use super::*;

const NO_LIMIT: u64 = u64::MAX;
/// SHA-256 of no bytes.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn local_store() -> (TempDir, BlobStore) {
    let dir = TempDir::new().unwrap();
    let store = BlobStore::open(None, dir.path()).unwrap();
    (dir, store)
}

/// Deterministic bytes that do not repeat with any short period.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect()
}

/// `data` in chunks of awkward sizes, none lining up with a part.
fn odd_chunks(data: &[u8]) -> Vec<Result<Bytes, io::Error>> {
    let sizes = [1, 7, 4093, 65_537, 333_331, 1_048_573];
    let mut chunks = Vec::new();
    let mut rest = data;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(Ok(Bytes::copy_from_slice(chunk)));
        rest = tail;
    }
    chunks
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn read_all(read: BlobRead) -> Vec<u8> {
    let chunks: Vec<Bytes> = read.body.try_collect().await.unwrap();
    chunks.concat()
}

/// Every file under the store's folder, staged uploads included.
fn files_under(dir: &TempDir) -> Vec<PathBuf> {
    fn walk(folder: &std::path::Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir.path(), &mut found);
    found
}

async fn assert_nothing_stored(dir: &TempDir, store: &BlobStore, key: &str) {
    assert_eq!(store.size_of(key).await.unwrap(), None);
    let listed: Vec<_> = store.store.list(None).try_collect().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    assert_eq!(files_under(dir), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_streamed_body_round_trips_byte_for_byte() {
    let (_dir, store) = local_store();
    // Over two parts, so the upload has a full part, another, and a short last one.
    let data = noise(2 * PART_BYTES + 12_345);

    let stored = store
        .put_stream(
            "recordings/call-1.wav",
            stream::iter(odd_chunks(&data)),
            NO_LIMIT,
        )
        .await
        .unwrap();

    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.sha256, sha256_hex(&data));
    let read = store.get("recordings/call-1.wav", None).await.unwrap();
    assert_eq!(read.size, data.len() as u64);
    assert_eq!(read.range, 0..data.len() as u64);
    let read_back = read_all(read).await;
    assert_eq!(read_back.len(), data.len());
    assert!(read_back == data, "the bytes read back differ");
}

#[tokio::test]
async fn one_chunk_of_several_parts_round_trips() {
    let (_dir, store) = local_store();
    let data = noise(2 * PART_BYTES + 5);

    let stored = store
        .put_stream(
            "files/one-chunk",
            stream::iter([Ok::<_, io::Error>(Bytes::from(data.clone()))]),
            NO_LIMIT,
        )
        .await
        .unwrap();

    assert_eq!(stored.sha256, sha256_hex(&data));
    assert!(read_all(store.get("files/one-chunk", None).await.unwrap()).await == data);
}

#[tokio::test]
async fn an_empty_body_stores_an_empty_blob() {
    let (_dir, store) = local_store();

    let stored = store
        .put_stream(
            "files/empty",
            stream::empty::<Result<Bytes, io::Error>>(),
            0,
        )
        .await
        .unwrap();

    assert_eq!(stored.size, 0);
    assert_eq!(stored.sha256, EMPTY_SHA256);
    assert_eq!(store.size_of("files/empty").await.unwrap(), Some(0));
    let read = store.get("files/empty", None).await.unwrap();
    assert_eq!((read.size, read.range.clone()), (0, 0..0));
    assert!(read_all(read).await.is_empty());
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_stored() {
    let (_dir, store) = local_store();
    let data = noise(10_000);

    let stored = store
        .put_stream("files/exact", stream::iter(odd_chunks(&data)), 10_000)
        .await
        .unwrap();

    assert_eq!(stored.size, 10_000);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_unread_and_leaves_nothing() {
    let (dir, store) = local_store();
    let pulled = AtomicUsize::new(0);
    let chunks = (0..100).map(|_| Ok::<_, io::Error>(Bytes::from(vec![7u8; 4096])));
    let body = stream::iter(chunks).inspect(|_| {
        pulled.fetch_add(1, Ordering::Relaxed);
    });

    let refused = store.put_stream("files/big", body, 10_000).await;

    assert!(matches!(
        refused,
        Err(PutError::TooLarge { max_bytes: 10_000 })
    ));
    // The third chunk crosses 10,000 bytes; nothing after it is read.
    assert_eq!(pulled.load(Ordering::Relaxed), 3);
    assert_nothing_stored(&dir, &store, "files/big").await;
}

#[tokio::test]
async fn a_failing_body_leaves_nothing() {
    let (dir, store) = local_store();
    let body = stream::iter(vec![
        Ok(Bytes::from(noise(PART_BYTES + 1))),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        )),
        Ok(Bytes::from_static(b"never read")),
    ]);

    let failed = store.put_stream("files/broken", body, NO_LIMIT).await;

    match failed {
        Err(PutError::Body(error)) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected a body error, got {other:?}"),
    }
    assert_nothing_stored(&dir, &store, "files/broken").await;
}

#[tokio::test]
async fn a_ranged_read_serves_exactly_the_slice() {
    let (_dir, store) = local_store();
    let data = noise(1000);
    store
        .put_stream("files/ranged", stream::iter(odd_chunks(&data)), NO_LIMIT)
        .await
        .unwrap();

    let read = store.get("files/ranged", Some(100..200)).await.unwrap();
    assert_eq!((read.size, read.range.clone()), (1000, 100..200));
    assert_eq!(read_all(read).await, &data[100..200]);

    // As parse_range gives it for `bytes=999-`.
    let read = store.get("files/ranged", Some(999..1000)).await.unwrap();
    assert_eq!(read.range, 999..1000);
    assert_eq!(read_all(read).await, &data[999..]);

    let read = store.get("files/ranged", Some(990..5000)).await.unwrap();
    assert_eq!(read.range, 990..1000);
    assert_eq!(read_all(read).await, &data[990..]);
}

#[tokio::test]
async fn reading_a_missing_blob_is_not_found() {
    let (_dir, store) = local_store();

    let missing = store.get("files/none", None).await.unwrap_err();

    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn deleting_is_idempotent() {
    let (dir, store) = local_store();
    store
        .put_stream("files/gone", stream::iter(odd_chunks(b"bye")), NO_LIMIT)
        .await
        .unwrap();

    store.delete("files/gone").await.unwrap();
    store.delete("files/gone").await.unwrap();
    store.delete("files/never-there").await.unwrap();

    assert_nothing_stored(&dir, &store, "files/gone").await;
}

#[tokio::test]
async fn a_new_body_replaces_the_blob_whole() {
    let (_dir, store) = local_store();
    let key = "files/replaced";
    store
        .put_stream(key, stream::iter(odd_chunks(&noise(5000))), NO_LIMIT)
        .await
        .unwrap();

    store
        .put_stream(key, stream::iter(odd_chunks(b"short")), NO_LIMIT)
        .await
        .unwrap();

    assert_eq!(
        read_all(store.get(key, None).await.unwrap()).await,
        b"short"
    );
}

#[tokio::test]
async fn keys_that_name_no_single_blob_are_refused() {
    let (_dir, store) = local_store();
    for key in ["", "/", "a//b", "a/../b"] {
        let refused = store
            .put_stream(key, stream::iter(odd_chunks(b"x")), NO_LIMIT)
            .await;
        assert!(matches!(refused, Err(PutError::Store(_))), "{key:?}");
    }
}

#[test]
fn open_accepts_a_local_folder_url_and_an_s3_url() {
    let dir = TempDir::new().unwrap();
    let folder = dir.path().join("blobs");
    let url = url::Url::from_directory_path(&folder).unwrap();

    let local = BlobStore::open(Some(url.as_str()), dir.path()).unwrap();
    assert!(folder.is_dir());
    assert!(local.description().contains("blobs"), "{local:?}");

    let s3 = BlobStore::open(Some("s3://recordings/tenantry/prod"), dir.path()).unwrap();
    assert_eq!(s3.description(), "s3://recordings/tenantry/prod");
}

#[test]
fn open_without_a_url_uses_the_objects_folder() {
    let dir = TempDir::new().unwrap();

    BlobStore::open(None, dir.path()).unwrap();

    assert!(dir.path().join("objects").is_dir());
}

#[test]
fn open_refuses_other_schemes() {
    let dir = TempDir::new().unwrap();
    for url in [
        "gs://bucket/x",
        "https://example.com/x",
        "not a url",
        "s3:///x",
    ] {
        assert!(BlobStore::open(Some(url), dir.path()).is_err(), "{url}");
    }
}

/// A multipart upload that only reports whether it was aborted.
#[derive(Debug)]
struct WatchedUpload {
    aborted: Option<oneshot::Sender<()>>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// Written out by hand: the trait is declared with `async_trait`, which tenantry does not use.
impl MultipartUpload for WatchedUpload {
    fn put_part(&mut self, _data: PutPayload) -> UploadPart {
        Box::pin(async { Ok(()) })
    }

    fn complete<'a, 'b>(&'a mut self) -> Boxed<'b, object_store::Result<PutResult>>
    where
        'a: 'b,
    {
        Box::pin(async {
            Ok(PutResult {
                e_tag: None,
                version: None,
            })
        })
    }

    fn abort<'a, 'b>(&'a mut self) -> Boxed<'b, object_store::Result<()>>
    where
        'a: 'b,
    {
        if let Some(aborted) = self.aborted.take() {
            let _ = aborted.send(());
        }
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn an_upload_dropped_midway_is_aborted() {
    let (aborted_tx, aborted_rx) = oneshot::channel();
    let upload = WatchedUpload {
        aborted: Some(aborted_tx),
    };
    let mut guard = AbortOnDrop(Some(WriteMultipart::new(Box::new(upload))));
    guard.writer().write(b"half a recording");

    drop(guard);

    aborted_rx.await.expect("the dropped upload was aborted");
}
