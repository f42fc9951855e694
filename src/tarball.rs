//! tar.gz streams written and read with bounded memory: ustar headers from the `tar` crate,
//! gzip from async-compression, over tokio's async IO. Only regular files, each written with
//! its size known up front, which is all a tenant's archive holds.

use std::io;

use async_compression::tokio::bufread::GzipDecoder;
use async_compression::tokio::write::GzipEncoder;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const BLOCK: u64 = 512;

/// Zero bytes up to the next block boundary after `size` bytes.
fn padding(size: u64) -> usize {
    ((BLOCK - size % BLOCK) % BLOCK) as usize
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Writes a tar.gz: entries one after the other, each begun with its size.
pub struct TarWriter<W: AsyncWrite + Unpin> {
    out: GzipEncoder<W>,
    mtime: u64,
}

impl<W: AsyncWrite + Unpin> TarWriter<W> {
    /// A writer whose entries are dated `mtime` (seconds since the epoch).
    pub fn new(out: W, mtime: u64) -> Self {
        TarWriter {
            out: GzipEncoder::new(out),
            mtime,
        }
    }

    /// Starts an entry of `size` bytes; send them with [`TarWriter::write`], then call
    /// [`TarWriter::end`].
    pub async fn begin(&mut self, path: &str, size: u64) -> io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.out.write_all(header.as_bytes()).await
    }

    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes).await
    }

    /// Ends an entry of `size` bytes.
    pub async fn end(&mut self, size: u64) -> io::Result<()> {
        self.out
            .write_all(&[0; BLOCK as usize][..padding(size)])
            .await
    }

    /// Writes a whole entry.
    pub async fn entry(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        self.begin(path, bytes.len() as u64).await?;
        self.write(bytes).await?;
        self.end(bytes.len() as u64).await
    }

    /// Ends the archive and the gzip stream.
    pub async fn finish(mut self) -> io::Result<()> {
        self.out.write_all(&[0; 2 * BLOCK as usize]).await?;
        self.out.shutdown().await
    }
}

/// One entry's header, as read.
#[derive(Debug, Clone)]
pub struct EntryHead {
    pub path: String,
    pub size: u64,
}

/// Reads a tar.gz an entry at a time.
pub struct TarReader<R: AsyncBufRead + Unpin> {
    input: GzipDecoder<R>,
    /// Bytes of the current entry not read yet, and its padding.
    left: u64,
    pad: usize,
}

impl<R: AsyncBufRead + Unpin> TarReader<R> {
    pub fn new(input: R) -> Self {
        TarReader {
            input: GzipDecoder::new(input),
            left: 0,
            pad: 0,
        }
    }

    /// The next entry, skipping what is left of the current one; `None` at the archive's end.
    /// Anything but a regular file is an error.
    pub async fn next(&mut self) -> io::Result<Option<EntryHead>> {
        let mut skip = [0u8; 8192];
        while self.left > 0 {
            let n = self.read(&mut skip).await?;
            if n == 0 {
                return Err(invalid("the archive ends inside an entry"));
            }
        }
        let mut pad = [0u8; BLOCK as usize];
        self.input.read_exact(&mut pad[..self.pad]).await?;
        let mut block = [0u8; BLOCK as usize];
        self.input.read_exact(&mut block).await?;
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let header = tar::Header::from_byte_slice(&block);
        let stored = header.cksum().map_err(|_| invalid("a header is damaged"))?;
        let computed: u32 = block
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        if stored != computed {
            return Err(invalid("a header's checksum does not match"));
        }
        if header.entry_type() != tar::EntryType::Regular {
            return Err(invalid("the archive holds something other than files"));
        }
        let path = header
            .path()
            .map_err(|_| invalid("a file name is not readable"))?
            .to_str()
            .ok_or_else(|| invalid("a file name is not UTF-8"))?
            .to_owned();
        let size = header
            .size()
            .map_err(|_| invalid("a size is not readable"))?;
        self.left = size;
        self.pad = padding(size);
        Ok(Some(EntryHead { path, size }))
    }

    /// Reads from the current entry; 0 at its end.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.input.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(invalid("the archive ends inside an entry"));
        }
        self.left -= n as u64;
        Ok(n)
    }

    /// The rest of the current entry, if it holds at most `max` bytes.
    pub async fn read_all(&mut self, max: u64) -> io::Result<Vec<u8>> {
        if self.left > max {
            return Err(invalid(format!("an entry is over {max} bytes")));
        }
        let mut bytes = vec![0; self.left as usize];
        let mut filled = 0;
        while filled < bytes.len() {
            filled += self.read(&mut bytes[filled..]).await?;
        }
        Ok(bytes)
    }
}

/// Reads from `input` no more than `max` bytes: past them, an error of kind
/// [`io::ErrorKind::FileTooLarge`].
pub struct Capped<R> {
    input: R,
    left: u64,
}

impl<R> Capped<R> {
    pub fn new(input: R, max: u64) -> Self {
        Capped { input, left: max }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Capped<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.input).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            let read = (buf.filled().len() - before) as u64;
            if read > self.left {
                return std::task::Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "the body is over its limit",
                )));
            }
            self.left -= read;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_come_back_as_written() {
        let mut out = Vec::new();
        let mut writer = TarWriter::new(&mut out, 1_700_000_000);
        writer
            .entry("calls/part-0001.ndjson", b"{}\n")
            .await
            .unwrap();
        writer.entry("empty", b"").await.unwrap();
        writer.entry("big", &[7; 1500]).await.unwrap();
        writer.finish().await.unwrap();

        let mut reader = TarReader::new(&out[..]);
        let first = reader.next().await.unwrap().unwrap();
        assert_eq!(
            (first.path.as_str(), first.size),
            ("calls/part-0001.ndjson", 3)
        );
        assert_eq!(reader.read_all(10).await.unwrap(), b"{}\n");
        assert_eq!(reader.next().await.unwrap().unwrap().size, 0);
        // The third is skipped unread.
        assert_eq!(reader.next().await.unwrap().unwrap().path, "big");
        assert!(reader.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_changed_header_is_refused() {
        let mut out = Vec::new();
        let mut writer = TarWriter::new(&mut out, 0);
        writer.entry("a", b"x").await.unwrap();
        writer.finish().await.unwrap();
        let mut plain = Vec::new();
        GzipDecoder::new(&out[..])
            .read_to_end(&mut plain)
            .await
            .unwrap();
        plain[0] = b'b';
        let mut again = GzipEncoder::new(Vec::new());
        again.write_all(&plain).await.unwrap();
        again.shutdown().await.unwrap();
        let bytes = again.into_inner();
        let mut reader = TarReader::new(&bytes[..]);
        assert_eq!(
            reader.next().await.unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
