//! Where documents' bytes live: a [`ContentStore`] addresses content by its SHA-256, so identical
//! content is stored once, and makes new content visible only once it is durable. The caller hashes
//! while it writes (the digest is known only at the end) and names the digest at commit.
//!
//! An upload session's content is partial content kept under the session's id: it outlives the
//! writer, a restart and a crash, so that an interrupted upload goes on from its last durable byte
//! ([`ContentStore::resume`]) and is committed like any other once complete.
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
use uuid::Uuid;

/// Content read back, in pieces.
pub type ContentStream = BoxStream<'static, Result<Bytes, ContentError>>;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The storage cannot be used now (a disk, a connection); the caller may retry.
    #[error("content storage failure: {0}")]
    Unavailable(String),
    /// The disk that holds the content is full: nothing of the content was kept.
    #[error("content storage full: {0}")]
    StorageFull(String),
}

pub type ContentResult<T> = Result<T, ContentError>;

fn unavailable(what: &str, error: std::io::Error) -> ContentError {
    if error.kind() == std::io::ErrorKind::StorageFull {
        return ContentError::StorageFull(format!("{what}: {error}"));
    }
    ContentError::Unavailable(format!("{what}: {error}"))
}

#[async_trait]
pub trait ContentStore: Send + Sync + Debug + 'static {
    /// Starts new content. Nothing of it is visible until [`ContentWriter::commit`]; a writer dropped
    /// before that leaves nothing behind.
    async fn writer(&self) -> ContentResult<Box<dyn ContentWriter>>;

    /// Goes on with the partial content of upload session `upload` (empty if there is none yet). What
    /// [`ContentWriter::sync`] made durable stays for the next writer of the session, whatever happens
    /// to this one, until the content is committed or [`ContentStore::discard`]ed.
    async fn resume(&self, upload: Uuid) -> ContentResult<Box<dyn ContentWriter>>;

    /// The content stored under `sha256` from byte `offset` on; `None` if there is none.
    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>>;

    /// The partial content of upload session `upload`, from its start (what its writers made durable).
    async fn read_partial(&self, upload: Uuid) -> ContentResult<ContentStream>;

    /// Removes the partial content of upload session `upload`, if any (a cancelled or expired session);
    /// content committed from it stays.
    async fn discard(&self, upload: Uuid) -> ContentResult<()>;
}

#[async_trait]
pub trait ContentWriter: Send {
    /// How many bytes the content holds: what a resumed session held, and what was written since.
    fn size(&self) -> u64;

    /// Appends the next bytes.
    async fn write(&mut self, chunk: &[u8]) -> ContentResult<()>;

    /// Makes what was written durable: an upload session's offset to resume from.
    async fn sync(&mut self) -> ContentResult<()>;

    /// Makes what was written durable under `sha256`, which the caller computed over exactly those
    /// bytes. Content already stored under that digest stays as it is, and this copy is dropped.
    async fn commit(self: Box<Self>, sha256: &Sha256) -> ContentResult<()>;
}

/// How many bytes a read hands out at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// Content as files: `<root>/<first two hex digits>/<sha256>`, written under `<root>/tmp/` first, or
/// under `<root>/uploads/<session id>` for an upload session.
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
        std::fs::create_dir_all(root.join("uploads"))
            .map_err(|e| unavailable("creating the content folder", e))?;
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

    fn partial_path(&self, upload: Uuid) -> PathBuf {
        self.root.join("uploads").join(upload.to_string())
    }
}

/// A file's pieces from byte `offset` on.
async fn file_pieces(mut file: tokio::fs::File, offset: u64) -> ContentResult<ContentStream> {
    file.seek(SeekFrom::Start(offset)).await.map_err(|e| unavailable("reading content", e))?;
    let pieces = stream::try_unfold(file, |mut file| async move {
        let mut buffer = vec![0; READ_CHUNK];
        let read = file.read(&mut buffer).await.map_err(|e| unavailable("reading content", e))?;
        buffer.truncate(read);
        Ok((read > 0).then(|| (Bytes::from(buffer), file)))
    });
    Ok(pieces.boxed())
}

#[async_trait]
impl ContentStore for FileContent {
    async fn writer(&self) -> ContentResult<Box<dyn ContentWriter>> {
        // The temporary name is the broker's own: a file name from a caller never becomes a path.
        let temporary = self.root.join("tmp").join(uuid::Uuid::now_v7().to_string());
        let file =
            tokio::fs::File::create_new(&temporary).await.map_err(|e| unavailable("creating content", e))?;
        Ok(Box::new(FileWriter::new(file, 0, temporary, self.clone(), false)))
    }

    async fn resume(&self, upload: Uuid) -> ContentResult<Box<dyn ContentWriter>> {
        let partial = self.partial_path(upload);
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .map_err(|e| unavailable("opening an upload's content", e))?;
        // Bytes a killed process wrote are in the file; syncing makes its length a durable offset.
        file.sync_all().await.map_err(|e| unavailable("syncing an upload's content", e))?;
        let len = file.metadata().await.map_err(|e| unavailable("reading an upload's content", e))?.len();
        Ok(Box::new(FileWriter::new(file, len, partial, self.clone(), true)))
    }

    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>> {
        match tokio::fs::File::open(self.path_of(sha256)).await {
            Ok(file) => Ok(Some(file_pieces(file, offset).await?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable("opening content", e)),
        }
    }

    async fn read_partial(&self, upload: Uuid) -> ContentResult<ContentStream> {
        match tokio::fs::File::open(self.partial_path(upload)).await {
            Ok(file) => file_pieces(file, 0).await,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(stream::empty().boxed()),
            Err(e) => Err(unavailable("opening an upload's content", e)),
        }
    }

    async fn discard(&self, upload: Uuid) -> ContentResult<()> {
        match tokio::fs::remove_file(self.partial_path(upload)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(unavailable("removing an upload's content", e))
            }
            _ => Ok(()),
        }
    }
}

/// How many bytes a file writer gathers before it writes them: few large writes, each on the
/// blocking pool while the next ones arrive.
const WRITE_BUFFER: usize = 1024 * 1024;

#[derive(Debug)]
struct FileWriter {
    file: tokio::io::BufWriter<tokio::fs::File>,
    len: u64,
    /// The file being written: a temporary one, or an upload session's partial content.
    temporary: PathBuf,
    root: FileContent,
    /// Whether the file stays when the writer is dropped uncommitted: an upload session's does.
    keep: bool,
}

impl FileWriter {
    fn new(file: tokio::fs::File, len: u64, temporary: PathBuf, root: FileContent, keep: bool) -> Self {
        let file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        FileWriter { file, len, temporary, root, keep }
    }
}

#[async_trait]
impl ContentWriter for FileWriter {
    fn size(&self) -> u64 {
        self.len
    }

    async fn write(&mut self, chunk: &[u8]) -> ContentResult<()> {
        self.file.write_all(chunk).await.map_err(|e| unavailable("writing content", e))?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    async fn sync(&mut self) -> ContentResult<()> {
        self.file.flush().await.map_err(|e| unavailable("writing content", e))?;
        self.file.get_mut().sync_all().await.map_err(|e| unavailable("syncing content", e))
    }

    async fn commit(mut self: Box<Self>, sha256: &Sha256) -> ContentResult<()> {
        self.sync().await?;
        let target = self.root.path_of(sha256);
        let folder = target.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&folder).await.map_err(|e| unavailable("creating a content folder", e))?;
        // Stored once: the same digest is the same bytes, so an existing file is kept as it is.
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            self.keep = false; // dropping the writer removes this copy
            return Ok(());
        }
        tokio::fs::rename(&self.temporary, &target).await.map_err(|e| unavailable("storing content", e))?;
        self.keep = true;
        // The rename is durable once the folder's entry is.
        tokio::task::spawn_blocking(move || std::fs::File::open(&folder).and_then(|dir| dir.sync_all()))
            .await
            .map_err(|e| unavailable("syncing the content folder", e.into()))?
            .map_err(|e| unavailable("syncing the content folder", e))
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}
