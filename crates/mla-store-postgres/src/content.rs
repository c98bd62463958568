//! Documents' content in PostgreSQL, so that every replica reads what any replica received (tables
//! `content_chunks` and `contents`, migration 0006). Chunks are written in short transactions of their
//! own under a fresh upload id; the content exists once its `contents` row commits.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use mla_domain::document::Sha256;
use mla_store::content::{ContentError, ContentResult, ContentStore, ContentStream, ContentWriter};
use sqlx::PgPool;
use uuid::Uuid;

/// Bytes per stored chunk: large enough that a gigabyte is a thousand rows, small enough to hold in
/// memory while it is written or read.
const CHUNK_BYTES: usize = 1024 * 1024;

fn unavailable(what: &str, error: impl std::fmt::Display) -> ContentError {
    ContentError::Unavailable(format!("{what}: {error}"))
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
        // Older than a day: no upload of a running replica pauses that long between two chunks.
        sqlx::query(
            "DELETE FROM content_chunks c WHERE c.create_time < now() - interval '1 day' \
             AND NOT EXISTS (SELECT 1 FROM contents WHERE contents.upload_id = c.upload_id)",
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
            committed: false,
        }))
    }

    async fn read(&self, sha256: &Sha256, offset: u64) -> ContentResult<Option<ContentStream>> {
        let upload: Option<(Uuid,)> = sqlx::query_as("SELECT upload_id FROM contents WHERE sha256 = $1")
            .bind(sha256.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("reading content", e))?;
        let Some((upload_id,)) = upload else { return Ok(None) };
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
        Ok(Some(pieces.boxed()))
    }
}

#[derive(Debug)]
struct PgWriter {
    pool: PgPool,
    upload_id: Uuid,
    buffer: Vec<u8>,
    /// Bytes already in committed chunks.
    written: i64,
    committed: bool,
}

impl PgWriter {
    async fn flush(&mut self) -> ContentResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        sqlx::query("INSERT INTO content_chunks (upload_id, start_offset, data) VALUES ($1, $2, $3)")
            .bind(self.upload_id)
            .bind(self.written)
            .bind(&self.buffer)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("writing content", e))?;
        self.written += self.buffer.len() as i64;
        self.buffer.clear();
        Ok(())
    }
}

#[async_trait]
impl ContentWriter for PgWriter {
    async fn write(&mut self, mut chunk: &[u8]) -> ContentResult<()> {
        while !chunk.is_empty() {
            let room = CHUNK_BYTES - self.buffer.len();
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.buffer.extend_from_slice(now);
            chunk = later;
            if self.buffer.len() == CHUNK_BYTES {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, sha256: &Sha256) -> ContentResult<()> {
        self.flush().await?;
        let stored = sqlx::query(
            "INSERT INTO contents (sha256, upload_id, size_bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.as_str())
        .bind(self.upload_id)
        .bind(self.written)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("storing content", e))?;
        // Stored once: when the digest was there already, dropping the writer removes this copy.
        self.committed = stored.rows_affected() == 1;
        Ok(())
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if self.committed || (self.written == 0 && self.buffer.is_empty()) {
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
