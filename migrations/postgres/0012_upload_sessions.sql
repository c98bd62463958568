-- Resumable uploads (PostgreSQL). The same version exists under migrations/sqlite.
--
-- An upload session records a document's metadata and whole size at its start; its content arrives
-- over as many calls as the link needs, as chunks in `content_chunks` under the session's id (which
-- the sweep of unfinished uploads leaves alone while the session lives). Once complete, the content
-- is committed and the document saved like any other; the session stays until it expires, so that
-- a retried last call still finds its document.
CREATE TABLE upload_sessions (
    id              UUID        NOT NULL PRIMARY KEY,
    request_id      UUID        NOT NULL REFERENCES requests (id),
    -- Whose session it is: an idempotency scope (a JSON array naming the principal).
    owner           TEXT        NOT NULL,
    -- The document as described at the start (kind, title, file name, media type, language...).
    document        JSONB       NOT NULL,
    expected_sha256 TEXT,
    size_bytes      BIGINT      NOT NULL CHECK (size_bytes >= 0),
    create_time     TIMESTAMPTZ NOT NULL,
    expire_time     TIMESTAMPTZ NOT NULL
);

CREATE INDEX upload_sessions_expiry ON upload_sessions (expire_time);

-- Documents' content is mostly compressed already (images, archives, phone extractions): stored out
-- of line without PostgreSQL trying to compress each chunk again (new chunks; old ones stay as they are).
ALTER TABLE content_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
