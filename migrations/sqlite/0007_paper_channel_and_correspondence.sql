-- The paper channel and the correspondence around requests (SQLite). The same version exists under
-- migrations/postgres.

-- How a partner exchanges requests: SYSTEM (it calls the API) or PAPER (NCIJC staff record its acts).
ALTER TABLE partners ADD COLUMN channel TEXT NOT NULL DEFAULT 'SYSTEM' CHECK (channel IN ('SYSTEM', 'PAPER'));

-- The paper partner whose act the actor, a staff member, recorded on its behalf; NULL otherwise.
ALTER TABLE events ADD COLUMN actor_on_behalf_of TEXT;

-- Messages and internal case notes. Posting one and reading the other side's are events of the
-- request's chain that change nothing of the request: `requests.custody_events` counts them beside
-- the version, as it counts the documents' custody.
CREATE TABLE messages (
    id             TEXT    NOT NULL PRIMARY KEY,
    request_id     TEXT    NOT NULL REFERENCES requests (id),
    -- JSON: the actor (subject, roles, partner_code).
    author         TEXT    NOT NULL,
    author_side    TEXT    NOT NULL CHECK (author_side IN ('requesting', 'requested')),
    audience       TEXT    NOT NULL CHECK (audience IN ('SHARED', 'INTERNAL')),
    -- Byte for byte as written.
    body           TEXT    NOT NULL,
    -- JSON array of document ids of the same request.
    attachment_ids TEXT    NOT NULL,
    create_time    INTEGER NOT NULL,
    -- When the other side first read it.
    read_time      INTEGER
) STRICT;

-- A request's thread in posting order (ids are UUIDv7).
CREATE INDEX messages_request ON messages (request_id, id);
