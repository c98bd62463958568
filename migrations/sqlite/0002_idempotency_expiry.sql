-- Idempotency records expire (SQLite). The same version exists under migrations/postgres.

-- The purge deletes the records made before a cut: by creation time (the time of the write that made
-- the record, in microseconds like every time here).
CREATE INDEX idempotency_create_time ON idempotency (create_time);

