-- Idempotency records expire (PostgreSQL). The same version exists under migrations/sqlite.

-- The purge deletes the records made before a cut: by creation time (the time of the write that made
-- the record, which the store now sets itself; the column's default is no longer used).
CREATE INDEX idempotency_create_time ON idempotency (create_time);

