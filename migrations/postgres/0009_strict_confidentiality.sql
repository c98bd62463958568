-- Strict confidentiality (PostgreSQL). The same version exists under migrations/sqlite.
--
-- Among staff, a strictly confidential request is seen by its assignee, supervisors and auditors only.
-- The flag is a column (kept from the content by every write) so that lists and the event feed
-- filter on it in the query.
ALTER TABLE requests ADD COLUMN strictly_confidential BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE requests SET strictly_confidential = TRUE
    WHERE content ->> 'confidentiality' = 'STRICTLY_CONFIDENTIAL';

-- The feed leaves out the events of the strictly confidential requests a reader does not handle: a
-- small set, read from this index.
CREATE INDEX requests_strictly_confidential ON requests (assignee) WHERE strictly_confidential;
