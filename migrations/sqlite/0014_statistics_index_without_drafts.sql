-- The statistics' covering index holds the submitted requests only (SQLite). The same version exists
-- under migrations/postgres.
--
-- Drafts have no submit time and the statistics never count them: every statistics query bounds
-- submit_time, which SQLite takes to imply it is not NULL, so it uses this index as it did the old
-- one, which also held an entry for every draft.
DROP INDEX requests_submitted;
CREATE INDEX requests_submitted ON requests (submit_time, direction, state, partner_code, request_type,
    strictly_confidential, assignee, received_time, decided_time, executed_time, due_at, clock_stopped_at)
    WHERE submit_time IS NOT NULL;
