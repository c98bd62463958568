-- The register of mutual legal-assistance requests, the partner registry and the audit trail
-- (PostgreSQL). The same version numbers exist under migrations/sqlite.
--
-- Codes and other keys that are listed in order use the "C" collation: byte order, the same as the
-- SQLite backend and as Rust sorts, whatever the database's default locale.

CREATE TABLE partners (
    code        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT        NOT NULL,
    country     TEXT        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('STATE_AUTHORITY', 'INTERNATIONAL_MECHANISM')),
    legal_bases JSONB       NOT NULL,
    active      BOOLEAN     NOT NULL,
    version     BIGINT      NOT NULL,
    create_time TIMESTAMPTZ NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);

-- The last registry number given per direction and year. Registrations take the row's lock with an
-- upsert and hold it until they commit, so numbers are unique and, since a rolled-back registration
-- rolls its increment back, gap-free.
CREATE TABLE reference_counters (
    direction TEXT    NOT NULL,
    year      INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    PRIMARY KEY (direction, year)
);

CREATE TABLE requests (
    id               UUID        NOT NULL PRIMARY KEY,
    direction        TEXT        NOT NULL CHECK (direction IN ('INCOMING', 'OUTGOING')),
    year             INTEGER     NOT NULL,
    number           INTEGER     NOT NULL,
    -- The registry reference as people write it (`IN-2026-000042`), for the text query.
    reference        TEXT COLLATE "C" NOT NULL,
    partner_code     TEXT COLLATE "C" NOT NULL REFERENCES partners (code),
    state            TEXT        NOT NULL,
    version          BIGINT      NOT NULL,
    request_type     TEXT,
    title            TEXT        NOT NULL,
    assignee         TEXT COLLATE "C" NOT NULL,
    due_at           TIMESTAMPTZ,
    clock_stopped_at TIMESTAMPTZ,
    create_time      TIMESTAMPTZ NOT NULL,
    update_time      TIMESTAMPTZ NOT NULL,
    submit_time      TIMESTAMPTZ,
    received_time    TIMESTAMPTZ,
    -- The rest of the request: the content the requesting side wrote, and the conditions.
    content          JSONB       NOT NULL,
    conditions       JSONB       NOT NULL
);

CREATE UNIQUE INDEX requests_reference ON requests (direction, year, number);
-- Each list filter with the newest-first order, so that a page reads 50 index entries, not the table.
CREATE INDEX requests_partner ON requests (partner_code, id DESC);
CREATE INDEX requests_state ON requests (state, id DESC);
CREATE INDEX requests_direction ON requests (direction, id DESC);
CREATE INDEX requests_type ON requests (request_type, id DESC);
CREATE INDEX requests_assignee ON requests (assignee, id DESC);
-- Overdue: active, the clock running, due before the instant asked about. Two partial indexes over
-- the running requests only: by due date (how many are overdue), and newest first with the due date
-- beside the id, so that the overdue ids page out of the index alone (see the backend's
-- `list_requests`).
CREATE INDEX requests_overdue ON requests (due_at)
    WHERE clock_stopped_at IS NULL AND due_at IS NOT NULL
      AND state NOT IN ('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED');
CREATE INDEX requests_running ON requests (id DESC, due_at)
    WHERE clock_stopped_at IS NULL AND due_at IS NOT NULL
      AND state NOT IN ('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED');

-- Substring search over titles and references: trigram indexes serve `ILIKE '%text%'`. pg_trgm ships
-- with PostgreSQL's contrib and is a trusted extension (a database owner may create it); where it is
-- missing the query still works, by scanning.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): the text query will scan', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX requests_title_trgm ON requests USING gin (title gin_trgm_ops);
        CREATE INDEX requests_reference_trgm ON requests USING gin (reference gin_trgm_ops);
    END IF;
END
$$;

-- Cursors come from a sequence, taken under a transaction-scoped advisory lock just before the event
-- is inserted, so that they are given in commit order (see the backend's `append_event`).
CREATE SEQUENCE events_cursor AS BIGINT;

CREATE TABLE events (
    cursor             BIGINT      NOT NULL PRIMARY KEY,
    request_id         UUID        NOT NULL REFERENCES requests (id),
    partner_code       TEXT COLLATE "C" NOT NULL,
    seq                BIGINT      NOT NULL,
    time               TIMESTAMPTZ NOT NULL,
    actor_subject      TEXT        NOT NULL,
    actor_roles        TEXT[]      NOT NULL,
    actor_partner_code TEXT,
    action             TEXT        NOT NULL,
    from_state         TEXT,
    to_state           TEXT        NOT NULL,
    -- The JSON text exactly as hashed: TEXT, not JSONB, which would re-encode it.
    details            TEXT        NOT NULL,
    visible_to_ncijc   BOOLEAN     NOT NULL,
    visible_to_partner BOOLEAN     NOT NULL,
    prev_hash          TEXT        NOT NULL,
    hash               TEXT        NOT NULL,
    UNIQUE (request_id, seq)
);

CREATE INDEX events_ncijc ON events (cursor) WHERE visible_to_ncijc;
CREATE INDEX events_partner ON events (partner_code, cursor) WHERE visible_to_partner;

-- The audit trail is append-only: the database itself refuses to change or remove events, so that
-- only a deliberate schema change (disabling these triggers) could, and the hash chain would show it.
CREATE FUNCTION events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Idempotency keys per principal (scope), with the fingerprint of the payload they came with and the
-- outcome to replay. The row is claimed first in a write's transaction: a concurrent retry's insert
-- waits on the unique index until the first commits, then finds the key taken and replays.
CREATE TABLE idempotency (
    scope       TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    -- The serialized outcome (a request or a partner); set before the claiming write commits.
    response    JSONB,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
