-- The paper channel and the correspondence around requests (PostgreSQL). The same version exists
-- under migrations/sqlite.

-- How a partner exchanges requests: SYSTEM (it calls the API) or PAPER (NCIJC staff record its acts).
ALTER TABLE partners ADD COLUMN channel TEXT NOT NULL DEFAULT 'SYSTEM' CHECK (channel IN ('SYSTEM', 'PAPER'));

-- The paper partner whose act the actor, a staff member, recorded on its behalf; NULL otherwise.
ALTER TABLE events ADD COLUMN actor_on_behalf_of TEXT;

-- Messages and internal case notes. Posting one and reading the other side's are events of the
-- request's chain that change nothing of the request: `requests.custody_events` counts them beside
-- the version, as it counts the documents' custody.
CREATE TABLE messages (
    id             UUID        NOT NULL PRIMARY KEY,
    request_id     UUID        NOT NULL REFERENCES requests (id),
    author         JSONB       NOT NULL,
    author_side    TEXT        NOT NULL CHECK (author_side IN ('requesting', 'requested')),
    audience       TEXT        NOT NULL CHECK (audience IN ('SHARED', 'INTERNAL')),
    -- Byte for byte as written.
    body           TEXT        NOT NULL,
    attachment_ids JSONB       NOT NULL,
    create_time    TIMESTAMPTZ NOT NULL,
    -- When the other side first read it.
    read_time      TIMESTAMPTZ
);

-- A request's thread in posting order (ids are UUIDv7).
CREATE INDEX messages_request ON messages (request_id, id);
