-- The documents of requests, their custody and their content (PostgreSQL). The same version exists
-- under migrations/sqlite.

-- Custody events (a document's upload, download, release) are chained with the request's events but
-- do not change the request, so they leave its version (its etag) alone; the row counts them here so
-- that the audit verifier can measure the chain's custody events as it measures its changes.
ALTER TABLE requests ADD COLUMN custody_events BIGINT NOT NULL DEFAULT 0;

CREATE TABLE documents (
    id                  UUID        NOT NULL PRIMARY KEY,
    request_id          UUID        NOT NULL REFERENCES requests (id),
    kind                TEXT        NOT NULL,
    title               TEXT        NOT NULL,
    -- As the uploader named the file: never used as a path.
    file_name           TEXT        NOT NULL,
    media_type          TEXT        NOT NULL,
    detected_media_type TEXT        NOT NULL,
    size_bytes          BIGINT      NOT NULL CHECK (size_bytes >= 0),
    sha256              TEXT        NOT NULL,
    language            TEXT        NOT NULL,
    translation_of      UUID        REFERENCES documents (id),
    audience            TEXT        NOT NULL CHECK (audience IN ('SHARED', 'INTERNAL')),
    release_state       TEXT        NOT NULL CHECK (release_state IN ('NOT_APPLICABLE', 'WITHHELD', 'RELEASED')),
    use_restrictions    TEXT[]      NOT NULL,
    uploaded_by         JSONB       NOT NULL,
    uploader_side       TEXT        NOT NULL CHECK (uploader_side IN ('requesting', 'requested')),
    create_time         TIMESTAMPTZ NOT NULL
);

-- A request's documents in upload order (ids are UUIDv7).
CREATE INDEX documents_request ON documents (request_id, id);

-- Content, so that every replica reads what any replica received. An upload writes its bytes as
-- chunks under an upload id of its own, each in a short transaction (a long one would hold back the
-- event feed, which waits for the oldest running transaction); the content becomes visible only when
-- its row in `contents` commits, naming the upload whose chunks hold it. Identical content is stored
-- once: a second upload of the same digest drops its chunks. Chunks that no content names are an
-- upload that never finished, swept once they are old.
CREATE TABLE content_chunks (
    upload_id    UUID        NOT NULL,
    start_offset BIGINT      NOT NULL,
    data         BYTEA       NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, start_offset)
);

CREATE TABLE contents (
    sha256      TEXT        NOT NULL PRIMARY KEY,
    upload_id   UUID        NOT NULL UNIQUE,
    size_bytes  BIGINT      NOT NULL,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
