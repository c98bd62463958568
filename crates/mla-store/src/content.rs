//! Where documents' bytes live: a [`ContentStore`] addresses content by its SHA-256, so identical
//! content is stored once, and makes new content visible only once it is durable. The caller hashes
//! while it writes (the digest is known only at the end) and names the digest at commit.
//!
//! [`FileContent`] is the embedded default: files under the data directory, written to a temporary
//! file, fsynced and renamed into place. The PostgreSQL backend has its own, which every replica reads.

use std::fmt::Debug;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use mla_domain::document::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Content read back, in pieces.
pub type ContentStream = BoxStream<'static, Result<Bytes, ContentError>>;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The storage cannot be used now (a disk, a connection); the caller may retry.
    #[error("content storage failure: {0}")]
    Unavailable(String),
}

pub type ContentResult<T> = Result<T, ContentError>;

fn unavailable(what: &str, error: impl std::fmt::Display) -> ContentError {
    ContentError::Unavailable(format!("{what}: {error}"))
}

#[async_trait]
pub trait ContentStore: Send + Sync + Debug + 'static {
    /// Starts new content. Nothing of it is visible until [`ContentWriter::commit`]; a writer dropped
    /// before that leaves nothing behind.
    async fn writer(&self) -> ContentResult<Box<dyn ContentWriter>>;

    /// The content stored under `sha256` from byte `offset` on; `None` if there is none.
    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>>;
}

#[async_trait]
pub trait ContentWriter: Send {
    /// Appends the next bytes.
    async fn write(&mut self, chunk: &[u8]) -> ContentResult<()>;

    /// Makes what was written durable under `sha256`, which the caller computed over exactly those
    /// bytes. Content already stored under that digest stays as it is, and this copy is dropped.
    async fn commit(self: Box<Self>, sha256: &Sha256) -> ContentResult<()>;
}

/// How many bytes a read hands out at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// Content as files: `<root>/<first two hex digits>/<sha256>`, written under `<root>/tmp/` first.
#[derive(Debug, Clone)]
pub struct FileContent {
    root: PathBuf,
}

impl FileContent {
    /// Content under `root` (created if needed). Temporary files left by uploads that never finished
    /// (a crash, a kill) are removed: no upload of this process is running yet.
    pub fn open(root: impl Into<PathBuf>) -> ContentResult<FileContent> {
        let root = root.into();
        let temporary = root.join("tmp");
        std::fs::create_dir_all(&temporary).map_err(|e| unavailable("creating the content folder", e))?;
        let leftovers =
            std::fs::read_dir(&temporary).map_err(|e| unavailable("reading the content folder", e))?;
        for leftover in leftovers.flatten() {
            let _ = std::fs::remove_file(leftover.path());
        }
        Ok(FileContent { root })
    }

    fn path_of(&self, sha256: &Sha256) -> PathBuf {
        self.root.join(&sha256.as_str()[..2]).join(sha256.as_str())
    }
}

#[async_trait]
impl ContentStore for FileContent {
    async fn writer(&self) -> ContentResult<Box<dyn ContentWriter>> {
        // The temporary name is the broker's own: a file name from a caller never becomes a path.
        let temporary = self.root.join("tmp").join(uuid::Uuid::now_v7().to_string());
        let file =
            tokio::fs::File::create_new(&temporary).await.map_err(|e| unavailable("creating content", e))?;
        Ok(Box::new(FileWriter { file, temporary, root: self.clone(), committed: false }))
    }

    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>> {
        let mut file = match tokio::fs::File::open(self.path_of(sha256)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable("opening content", e)),
        };
        file.seek(SeekFrom::Start(offset)).await.map_err(|e| unavailable("reading content", e))?;
        let pieces = stream::try_unfold(file, |mut file| async move {
            let mut buffer = vec![0; READ_CHUNK];
            let read = file.read(&mut buffer).await.map_err(|e| unavailable("reading content", e))?;
            buffer.truncate(read);
            Ok((read > 0).then(|| (Bytes::from(buffer), file)))
        });
        Ok(Some(pieces.boxed()))
    }
}

#[derive(Debug)]
struct FileWriter {
    file: tokio::fs::File,
    temporary: PathBuf,
    root: FileContent,
    committed: bool,
}

#[async_trait]
impl ContentWriter for FileWriter {
    async fn write(&mut self, chunk: &[u8]) -> ContentResult<()> {
        self.file.write_all(chunk).await.map_err(|e| unavailable("writing content", e))
    }

    async fn commit(mut self: Box<Self>, sha256: &Sha256) -> ContentResult<()> {
        self.file.flush().await.map_err(|e| unavailable("writing content", e))?;
        self.file.sync_all().await.map_err(|e| unavailable("syncing content", e))?;
        let target = self.root.path_of(sha256);
        let folder = target.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&folder).await.map_err(|e| unavailable("creating a content folder", e))?;
        // Stored once: the same digest is the same bytes, so an existing file is kept as it is.
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Ok(()); // dropping the writer removes the temporary copy
        }
        tokio::fs::rename(&self.temporary, &target).await.map_err(|e| unavailable("storing content", e))?;
        self.committed = true;
        // The rename is durable once the folder's entry is.
        tokio::task::spawn_blocking(move || std::fs::File::open(&folder).and_then(|dir| dir.sync_all()))
            .await
            .map_err(|e| unavailable("syncing the content folder", e))?
            .map_err(|e| unavailable("syncing the content folder", e))
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}
