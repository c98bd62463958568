-- Resumable uploads (SQLite). The same version exists under migrations/postgres.
--
-- An upload session records a document's metadata and whole size at its start; its content arrives
-- over as many calls as the link needs, as a file under the data directory's `content/uploads/`
-- named by the session's id. Once complete, the content is committed and the document saved like
-- any other; the session stays until it expires, so that a retried last call still finds its document.
CREATE TABLE upload_sessions (
    id              TEXT    NOT NULL PRIMARY KEY,
    request_id      TEXT    NOT NULL REFERENCES requests (id),
    -- Whose session it is: an idempotency scope (a JSON array naming the principal).
    owner           TEXT    NOT NULL,
    -- JSON: the document as described at the start (kind, title, file name, media type, language...).
    document        TEXT    NOT NULL,
    expected_sha256 TEXT,
    size_bytes      INTEGER NOT NULL CHECK (size_bytes >= 0),
    create_time     INTEGER NOT NULL,
    expire_time     INTEGER NOT NULL
) STRICT;

CREATE INDEX upload_sessions_expiry ON upload_sessions (expire_time);
