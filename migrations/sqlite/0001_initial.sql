-- The register of mutual legal-assistance requests, the partner registry and the audit trail (SQLite).
--
-- Times are INTEGER microseconds since the Unix epoch (UTC): both the audit hash and PostgreSQL work at
-- microsecond precision, and integers compare and round-trip exactly. Request ids are hyphenated
-- lower-case UUIDs as TEXT, whose byte order is the UUIDv7 time order. The same version numbers exist
-- under migrations/postgres, so both backends are always at the same schema.

CREATE TABLE partners (
    code        TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    country     TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('STATE_AUTHORITY', 'INTERNATIONAL_MECHANISM')),
    -- JSON array of strings.
    legal_bases TEXT    NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    version     INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL
) STRICT;

-- The last registry number given per direction and year; a rolled-back registration rolls its number
-- back too, so references have no gaps.
CREATE TABLE reference_counters (
    direction TEXT    NOT NULL,
    year      INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    PRIMARY KEY (direction, year)
) STRICT, WITHOUT ROWID;

CREATE TABLE requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    direction        TEXT    NOT NULL CHECK (direction IN ('INCOMING', 'OUTGOING')),
    year             INTEGER NOT NULL,
    number           INTEGER NOT NULL,
    -- The registry reference as people write it (`IN-2026-000042`), for the text query.
    reference        TEXT    NOT NULL,
    partner_code     TEXT    NOT NULL REFERENCES partners (code),
    state            TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    request_type     TEXT,
    title            TEXT    NOT NULL,
    -- The title lower-cased by the store (Unicode case folding, which SQLite's LIKE lacks).
    title_folded     TEXT    NOT NULL,
    assignee         TEXT    NOT NULL,
    due_at           INTEGER,
    clock_stopped_at INTEGER,
    create_time      INTEGER NOT NULL,
    update_time      INTEGER NOT NULL,
    submit_time      INTEGER,
    received_time    INTEGER,
    -- The rest of the request as JSON: the content the requesting side wrote, and the conditions.
    content          TEXT    NOT NULL,
    conditions       TEXT    NOT NULL
) STRICT;

CREATE UNIQUE INDEX requests_reference ON requests (direction, year, number);
-- Each list filter with the newest-first order, so that a page reads 50 index entries, not the table.
CREATE INDEX requests_partner ON requests (partner_code, id DESC);
CREATE INDEX requests_state ON requests (state, id DESC);
CREATE INDEX requests_direction ON requests (direction, id DESC);
CREATE INDEX requests_type ON requests (request_type, id DESC);
CREATE INDEX requests_assignee ON requests (assignee, id DESC);
-- Overdue: active, the clock running, due before the instant asked about.
CREATE INDEX requests_overdue ON requests (due_at)
    WHERE clock_stopped_at IS NULL AND due_at IS NOT NULL
      AND state NOT IN ('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED');

CREATE TABLE events (
    -- The global feed position, given by the store under the write lock: strictly increasing.
    cursor             INTEGER NOT NULL PRIMARY KEY,
    request_id         TEXT    NOT NULL REFERENCES requests (id),
    partner_code       TEXT    NOT NULL,
    seq                INTEGER NOT NULL,
    time               INTEGER NOT NULL,
    actor_subject      TEXT    NOT NULL,
    -- JSON array of role names.
    actor_roles        TEXT    NOT NULL,
    actor_partner_code TEXT,
    action             TEXT    NOT NULL,
    from_state         TEXT,
    to_state           TEXT    NOT NULL,
    -- The JSON text exactly as hashed: never re-encoded.
    details            TEXT    NOT NULL,
    visible_to_ncijc   INTEGER NOT NULL CHECK (visible_to_ncijc IN (0, 1)),
    visible_to_partner INTEGER NOT NULL CHECK (visible_to_partner IN (0, 1)),
    prev_hash          TEXT    NOT NULL,
    hash               TEXT    NOT NULL,
    UNIQUE (request_id, seq)
) STRICT;

CREATE INDEX events_ncijc ON events (cursor) WHERE visible_to_ncijc = 1;
CREATE INDEX events_partner ON events (partner_code, cursor) WHERE visible_to_partner = 1;

-- The audit trail is append-only: the database itself refuses to change or remove an event, so that
-- only a deliberate schema change (dropping these triggers) could, and the hash chain would show it.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END;

-- Idempotency keys per principal (scope), with the fingerprint of the payload they came with and the
-- outcome to replay. The row is claimed first in a write's transaction, so retries converge on it.
CREATE TABLE idempotency (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    -- The serialized outcome (a request or a partner as JSON); set before the claiming write commits.
    response    TEXT,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
