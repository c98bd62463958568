-- Strict confidentiality (SQLite). The same version exists under migrations/postgres.
--
-- Among staff, a strictly confidential request is seen by its assignee, supervisors and auditors only.
-- The flag is a column (kept from the content by every write) so that lists and the event feed
-- filter on it in the query.
ALTER TABLE requests ADD COLUMN strictly_confidential INTEGER NOT NULL DEFAULT 0;
UPDATE requests SET strictly_confidential = 1
    WHERE json_extract(content, '$.confidentiality') = 'STRICTLY_CONFIDENTIAL';

-- The feed leaves out the events of the strictly confidential requests a reader does not handle: a
-- small set, read from this index.
CREATE INDEX requests_strictly_confidential ON requests (assignee) WHERE strictly_confidential = 1;
