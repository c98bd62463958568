-- Idempotency records expire, and the text query also matches the partner's own reference (SQLite).
-- The same version exists under migrations/postgres.

-- The purge deletes the records made before a cut: by creation time (the time of the write that made
-- the record, in microseconds like every time here).
CREATE INDEX idempotency_create_time ON idempotency (create_time);

-- The partner's reference lower-cased by the store (Unicode case folding, which SQLite's lower()
-- lacks), as for the title. Rows stored before this version hold NULL until the store, on opening the
-- database, folds them; the partial index finds those rows without reading the table.
ALTER TABLE requests ADD COLUMN partner_reference_folded TEXT;
CREATE INDEX requests_unfolded ON requests (id) WHERE partner_reference_folded IS NULL;
