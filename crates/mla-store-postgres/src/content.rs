//! Documents' content in PostgreSQL, so that every replica reads what any replica received (tables
//! `content_chunks` and `contents`, migration 0006). Chunks are written in short transactions of their
//! own under a fresh upload id (an upload session's own id, for a resumable upload); the content
//! exists once its `contents` row commits.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use mla_domain::document::Sha256;
use mla_store::content::{ContentError, ContentResult, ContentStore, ContentStream, ContentWriter};
use sqlx::PgPool;
use uuid::Uuid;

use crate::PgDialect;

/// Bytes per stored chunk: large enough that a gigabyte is a thousand rows, small enough to hold in
/// memory while it is written or read.
const CHUNK_BYTES: usize = 1024 * 1024;

fn unavailable(what: &str, error: impl std::fmt::Display) -> ContentError {
    ContentError::Unavailable(format!("{what}: {error}"))
}

/// A failed write: a full disk said as such (`disk_full`), anything else worth a retry.
fn write_failed(what: &str, error: sqlx::Error) -> ContentError {
    match mla_store_sql::errors::db_error::<PgDialect>(error) {
        mla_store::StoreError::StorageFull(why) => ContentError::StorageFull(format!("{what}: {why}")),
        other => unavailable(what, other),
    }
}

/// The content store of a PostgreSQL deployment.
#[derive(Debug, Clone)]
pub struct PgContent {
    pool: PgPool,
}

impl PgContent {
    /// Content in the database behind `pool` (migrated), after sweeping the chunks of uploads that
    /// never finished.
    pub async fn open(pool: PgPool) -> ContentResult<PgContent> {
        // Older than a day: no upload of a running replica pauses that long between two chunks. An
        // upload session's chunks wait for the session, which expires on its own.
        sqlx::query(
            "DELETE FROM content_chunks c WHERE c.create_time < now() - interval '1 day' \
             AND NOT EXISTS (SELECT 1 FROM contents WHERE contents.upload_id = c.upload_id) \
             AND NOT EXISTS (SELECT 1 FROM upload_sessions s WHERE s.id = c.upload_id)",
        )
        .execute(&pool)
        .await
        .map_err(|e| unavailable("sweeping unfinished uploads", e))?;
        Ok(PgContent { pool })
    }
}

#[async_trait]
impl ContentStore for PgContent {
    async fn writer(&self) -> ContentResult<Box<dyn ContentWriter>> {
        Ok(Box::new(PgWriter {
            pool: self.pool.clone(),
            upload_id: Uuid::now_v7(),
            buffer: Vec::with_capacity(CHUNK_BYTES),
            written: 0,
            keep: false,
        }))
    }

    async fn resume(&self, upload: Uuid) -> ContentResult<Box<dyn ContentWriter>> {
        let (written,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(max(start_offset + octet_length(data)), 0)::BIGINT FROM content_chunks \
             WHERE upload_id = $1",
        )
        .bind(upload)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unavailable("reading an upload's content", e))?;
        Ok(Box::new(PgWriter {
            pool: self.pool.clone(),
            upload_id: upload,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            written,
            keep: true,
        }))
    }

    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>> {
        let upload: Option<(Uuid,)> = sqlx::query_as("SELECT upload_id FROM contents WHERE sha256 = $1")
            .bind(sha256.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("reading content", e))?;
        let Some((upload_id,)) = upload else { return Ok(None) };
        Ok(Some(self.chunks_of(upload_id, offset)?))
    }

    async fn read_partial(&self, upload: Uuid) -> ContentResult<ContentStream> {
        self.chunks_of(upload, 0)
    }

    async fn discard(&self, upload: Uuid) -> ContentResult<()> {
        sqlx::query(
            "DELETE FROM content_chunks WHERE upload_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM contents WHERE upload_id = $1)",
        )
        .bind(upload)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("removing an upload's content", e))?;
        Ok(())
    }
}

impl PgContent {
    /// The chunks written under `upload_id`, from byte `offset` on.
    fn chunks_of(&self, upload_id: Uuid, offset: u64) -> ContentResult<ContentStream> {
        let position = i64::try_from(offset).map_err(|e| unavailable("reading content", e))?;
        let pool = self.pool.clone();
        // One chunk per step, from the one that holds `position`: memory stays at one chunk.
        let pieces = stream::try_unfold(position, move |position| {
            let pool = pool.clone();
            async move {
                let chunk: Option<(i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT start_offset, data FROM content_chunks WHERE upload_id = $1 \
                     AND start_offset + octet_length(data) > $2 ORDER BY start_offset LIMIT 1",
                )
                .bind(upload_id)
                .bind(position)
                .fetch_optional(&pool)
                .await
                .map_err(|e| unavailable("reading content", e))?;
                Ok(chunk.map(|(start, data)| {
                    let skip = usize::try_from(position - start).unwrap_or(0).min(data.len());
                    let piece = Bytes::from(data).slice(skip..);
                    let next = position + piece.len() as i64;
                    (piece, next)
                }))
            }
        });
        Ok(pieces.boxed())
    }
}

#[derive(Debug)]
struct PgWriter {
    pool: PgPool,
    upload_id: Uuid,
    buffer: Vec<u8>,
    /// Bytes already in committed chunks.
    written: i64,
    /// Whether the chunks stay when the writer is dropped: committed content's, an upload session's.
    keep: bool,
}

impl PgWriter {
    /// Writes the buffer as a chunk row in a transaction of its own. Only a `durable` one waits for
    /// its WAL to reach the disk: PostgreSQL flushes its WAL in order, so a durable commit (this, or
    /// the `contents` row's) makes every chunk before it durable as well, and the chunks between need
    /// not each wait for an fsync.
    async fn flush(&mut self, durable: bool) -> ContentResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let failed = |e| write_failed("writing content", e);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        if !durable {
            sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await.map_err(failed)?;
        }
        sqlx::query("INSERT INTO content_chunks (upload_id, start_offset, data) VALUES ($1, $2, $3)")
            .bind(self.upload_id)
            .bind(self.written)
            .bind(&self.buffer)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        self.written += self.buffer.len() as i64;
        self.buffer.clear();
        Ok(())
    }
}

#[async_trait]
impl ContentWriter for PgWriter {
    fn size(&self) -> u64 {
        u64::try_from(self.written).unwrap_or(0) + self.buffer.len() as u64
    }

    async fn sync(&mut self) -> ContentResult<()> {
        // The buffer holds bytes whenever a chunk committed without waiting (see `write`).
        self.flush(true).await
    }

    async fn write(&mut self, mut chunk: &[u8]) -> ContentResult<()> {
        while !chunk.is_empty() {
            // A full buffer is written once more bytes come, so that it is never empty after a
            // chunk that did not wait for the disk: `sync` then has a chunk to make durable.
            if self.buffer.len() == CHUNK_BYTES {
                self.flush(false).await?;
            }
            let room = CHUNK_BYTES - self.buffer.len();
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.buffer.extend_from_slice(now);
            chunk = later;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, sha256: &Sha256) -> ContentResult<()> {
        // The `contents` row's commit below waits for the disk, and with it every chunk before it.
        self.flush(false).await?;
        let stored = sqlx::query(
            "INSERT INTO contents (sha256, upload_id, size_bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.as_str())
        .bind(self.upload_id)
        .bind(self.written)
        .execute(&self.pool)
        .await
        .map_err(|e| write_failed("storing content", e))?;
        if stored.rows_affected() == 0 {
            // Stored once: the digest was there already, so this copy goes.
            sqlx::query("DELETE FROM content_chunks WHERE upload_id = $1")
                .bind(self.upload_id)
                .execute(&self.pool)
                .await
                .map_err(|e| unavailable("removing a second copy", e))?;
        }
        self.keep = true;
        Ok(())
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if self.keep || (self.written == 0 && self.buffer.is_empty()) {
            return;
        }
        // An unfinished upload's chunks go at once where a runtime is at hand; else the sweep takes them.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (pool, upload_id) = (self.pool.clone(), self.upload_id);
            runtime.spawn(async move {
                let _ = sqlx::query("DELETE FROM content_chunks WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&pool)
                    .await;
            });
        }
    }
}
