//! Stored files and call recordings: bytes kept in an object store (a local folder, or S3 and
//! S3-compatible stores such as MinIO), streamed in and out with bounded memory.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};

/// Bytes per uploaded part. S3 refuses parts below 5 MiB (except the last), and every part
/// but the last has this size, as R2 demands.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts uploading at once. With the part being filled, one upload holds at most
/// `(PARTS_IN_FLIGHT + 1) * PART_BYTES` in memory, whatever the size of the body.
const PARTS_IN_FLIGHT: usize = 2;

/// Where blobs live. Cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    description: Arc<str>,
}

/// What [`BlobStore::put_stream`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

/// Why [`BlobStore::put_stream`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    /// The body ran past the limit; the rest of it was not read.
    #[error("the body is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    /// The body failed while being read, e.g. the client went away.
    #[error("reading the body failed")]
    Body(#[source] E),
    /// The object store failed.
    #[error("the object store failed")]
    Store(#[source] object_store::Error),
}

/// A blob being read: the bytes served and where they lie in the whole.
pub struct BlobRead {
    /// Size of the whole blob, for `Content-Range`.
    pub size: u64,
    /// The bytes served, half-open: the requested range clamped to the blob.
    pub range: Range<u64>,
    /// The served bytes, in order.
    pub body: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobRead")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlobStore").field(&self.description).finish()
    }
}

impl BlobStore {
    /// Opens the store named by `url`: `s3://bucket/prefix` (credentials, region and endpoint
    /// from the `AWS_*` environment, e.g. `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for MinIO) or
    /// `file:///absolute/path`. Without a url, blobs go to `<data_dir>/objects`.
    pub fn open(url: Option<&str>, data_dir: &Path) -> anyhow::Result<BlobStore> {
        let Some(url) = url else {
            return Self::local(&data_dir.join("objects"));
        };
        let parsed = url::Url::parse(url)
            .map_err(|error| anyhow::anyhow!("blob store url {url:?} is not a url: {error}"))?;
        match parsed.scheme() {
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|bucket| !bucket.is_empty())
                    .ok_or_else(|| anyhow::anyhow!("blob store url {url:?} names no bucket"))?;
                let s3 = AmazonS3Builder::from_env().with_url(url).build()?;
                // The builder takes only the bucket from the url; the prefix is ours to apply.
                let prefix = ObjectPath::from_url_path(parsed.path())?;
                // Built from the parts, so that nothing else in the url reaches the logs.
                let (description, store): (String, Arc<dyn ObjectStore>) =
                    if prefix.as_ref().is_empty() {
                        (format!("s3://{bucket}"), Arc::new(s3))
                    } else {
                        let description = format!("s3://{bucket}/{prefix}");
                        (description, Arc::new(PrefixStore::new(s3, prefix)))
                    };
                Ok(BlobStore {
                    store,
                    description: description.into(),
                })
            }
            "file" => {
                let folder = parsed.to_file_path().map_err(|()| {
                    anyhow::anyhow!("blob store url {url:?} is not an absolute local path")
                })?;
                Self::local(&folder)
            }
            scheme => anyhow::bail!(
                "blob store url {url:?} has scheme {scheme:?}; expected s3:// or file://"
            ),
        }
    }

    fn local(folder: &Path) -> anyhow::Result<BlobStore> {
        std::fs::create_dir_all(folder).map_err(|error| {
            anyhow::anyhow!("cannot create blob folder {}: {error}", folder.display())
        })?;
        Ok(BlobStore {
            store: Arc::new(LocalFileSystem::new_with_prefix(folder)?),
            description: format!("local folder {}", folder.display()).into(),
        })
    }

    /// Where the blobs live, for logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Streams `body` to `key`, hashing and counting it on the way. The blob appears whole or
    /// not at all: on any error, including a body over `max_bytes`, the upload is aborted.
    /// Dropping the future also aborts it, in the background.
    pub async fn put_stream<E>(
        &self,
        key: &str,
        body: impl Stream<Item = Result<Bytes, E>>,
        max_bytes: u64,
    ) -> Result<StoredBlob, PutError<E>> {
        let location = object_path(key).map_err(PutError::Store)?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(PutError::Store)?;
        let mut upload = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(
            upload, PART_BYTES,
        )));
        let written = write_body(upload.writer(), body, max_bytes).await;
        let writer = upload.disarm();
        match written {
            // `finish` aborts by itself when completing fails.
            Ok(blob) => match writer.finish().await {
                Ok(_) => Ok(blob),
                Err(error) => Err(PutError::Store(error)),
            },
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    // The first error is the one to report; an S3 lifecycle rule sweeps up.
                    tracing::warn!(store = %self.description, key, error = %abort,
                        "aborting an upload failed; its parts may linger");
                }
                Err(error)
            }
        }
    }

    /// Reads `key`, or only `range` of it (non-empty, start within the blob; the end is
    /// clamped). See [`crate::http::byte_range::parse_range`].
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobRead, object_store::Error> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&object_path(key)?, options).await?;
        Ok(BlobRead {
            size: result.meta.size,
            range: result.range.clone(),
            body: result.into_stream(),
        })
    }

    /// The size of `key`, or `None` when there is no such blob.
    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, object_store::Error> {
        match self.store.head(&object_path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Deletes `key`; deleting a missing blob succeeds, so retries are safe.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&object_path(key)?).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}

/// Feeds the body to the upload part by part, never holding more than the parts in flight.
async fn write_body<E>(
    writer: &mut WriteMultipart,
    body: impl Stream<Item = Result<Bytes, E>>,
    max_bytes: u64,
) -> Result<StoredBlob, PutError<E>> {
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(PutError::Body)?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(PutError::TooLarge { max_bytes });
        }
        hasher.update(&chunk);
        // At most one part per write, so that even a huge chunk cannot start parts past the cap.
        for piece in chunk.chunks(PART_BYTES) {
            // Wait before buffering more: a slow store slows the reader instead of filling memory.
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(PutError::Store)?;
            // `write` copies into the part; `put` would keep each chunk's whole allocation
            // alive, which can be far larger than the chunk.
            writer.write(piece);
        }
    }
    Ok(StoredBlob {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Aborts an unfinished upload if the future driving it is dropped, so S3 keeps no orphan parts.
struct AbortOnDrop(Option<WriteMultipart>);

impl AbortOnDrop {
    fn writer(&mut self) -> &mut WriteMultipart {
        self.0.as_mut().expect("the upload is still armed")
    }

    fn disarm(&mut self) -> WriteMultipart {
        self.0.take().expect("the upload is disarmed once")
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(writer) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = writer.abort().await {
                    tracing::warn!(%error, "aborting a dropped upload failed");
                }
            });
        }
    }
}

/// The store path of a key. Keys are built by the caller from ids, never taken from a client.
fn object_path(key: &str) -> Result<ObjectPath, object_store::Error> {
    let path = ObjectPath::parse(key)?;
    if path.as_ref().is_empty() {
        // The root would name the whole store, not one blob.
        return Err(object_store::Error::Generic {
            store: "blobs",
            source: "a blob key cannot be empty".into(),
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests;
