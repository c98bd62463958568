-- Idempotency records expire, and the text query also matches the partner's own reference
-- (PostgreSQL). The same version exists under migrations/sqlite.

-- The purge deletes the records made before a cut: by creation time (the time of the write that made
-- the record, which the store now sets itself; the column's default is no longer used).
CREATE INDEX idempotency_create_time ON idempotency (create_time);

-- The partner's own reference, copied out of the content by the store on every write so that a
-- trigram index can serve `ILIKE '%text%'` on it, as on the title. Rows stored before this version are
-- filled from their JSON content here.
ALTER TABLE requests ADD COLUMN partner_reference TEXT NOT NULL DEFAULT '';
UPDATE requests SET partner_reference = COALESCE(content ->> 'partner_reference', '');
ALTER TABLE requests ALTER COLUMN partner_reference DROP DEFAULT;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX requests_partner_reference_trgm ON requests USING gin (partner_reference gin_trgm_ops);
    END IF;
END
$$;
