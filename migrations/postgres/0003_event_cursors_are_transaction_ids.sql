-- Event cursors no longer wait for each other (PostgreSQL only: the SQLite backend's single writer
-- already gives cursors in commit order, so migrations/sqlite has no 0003; the next migration of both
-- should take the next number free in both folders).
--
-- Until now every append took a global advisory lock from its cursor to its commit, so that cursors
-- became visible in commit order. Instead an event's cursor is now the id of the transaction that
-- writes it (one event per transaction), and the feed returns only the cursors below its snapshot's
-- `xmin`: every transaction with a smaller id has ended, and every transaction still to come gets a
-- larger one, so no cursor below it can appear later (see the backend's `push_settled`).
--
-- Cursors are `pg_current_xact_id() + event_cursor_base()`: the base puts the first new cursor after
-- the cursors given so far by the sequence (zero where transaction ids are already past them).
DO $$
DECLARE
    base BIGINT := GREATEST(0, (SELECT COALESCE(max(cursor), 0) FROM events) + 1
        - pg_snapshot_xmax(pg_current_snapshot())::text::bigint);
BEGIN
    EXECUTE format(
        'CREATE FUNCTION event_cursor_base() RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
        'SELECT ' || base || '::bigint');
END
$$;

DROP SEQUENCE events_cursor;
