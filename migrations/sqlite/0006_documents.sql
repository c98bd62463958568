-- The documents of requests and their custody (SQLite). The same version exists under
-- migrations/postgres, which also keeps the content itself; here the content is files under the data
-- directory, named by their SHA-256.

-- Custody events (a document's upload, download, release) are chained with the request's events but
-- do not change the request, so they leave its version (its etag) alone; the row counts them here so
-- that the audit verifier can measure the chain's custody events as it measures its changes.
ALTER TABLE requests ADD COLUMN custody_events INTEGER NOT NULL DEFAULT 0;

CREATE TABLE documents (
    id                  TEXT    NOT NULL PRIMARY KEY,
    request_id          TEXT    NOT NULL REFERENCES requests (id),
    kind                TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    -- As the uploader named the file: never used as a path.
    file_name           TEXT    NOT NULL,
    media_type          TEXT    NOT NULL,
    detected_media_type TEXT    NOT NULL,
    size_bytes          INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256              TEXT    NOT NULL,
    language            TEXT    NOT NULL,
    translation_of      TEXT    REFERENCES documents (id),
    audience            TEXT    NOT NULL CHECK (audience IN ('SHARED', 'INTERNAL')),
    release_state       TEXT    NOT NULL CHECK (release_state IN ('NOT_APPLICABLE', 'WITHHELD', 'RELEASED')),
    -- JSON array of strings.
    use_restrictions    TEXT    NOT NULL,
    -- JSON: the actor (subject, roles, partner_code).
    uploaded_by         TEXT    NOT NULL,
    uploader_side       TEXT    NOT NULL CHECK (uploader_side IN ('requesting', 'requested')),
    create_time         INTEGER NOT NULL
) STRICT;

-- A request's documents in upload order (ids are UUIDv7).
CREATE INDEX documents_request ON documents (request_id, id);
