-- The register in figures (PostgreSQL). The same version exists under migrations/sqlite.
--
-- When the requested side's decision was reached (ACCEPTED or REFUSED) and on which grounds it
-- refused, and when the execution was completed: set by those transitions, and for the requests
-- that got there before this version taken from the events that took them there.
ALTER TABLE requests ADD COLUMN decided_time TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN executed_time TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN refusal_grounds JSONB NOT NULL DEFAULT '[]';
UPDATE requests SET decided_time = (
    SELECT min(time) FROM events
    WHERE events.request_id = requests.id AND events.action IN ('ACCEPT', 'ACCEPT_CONDITIONS', 'REFUSE')
) WHERE state IN ('ACCEPTED', 'IN_EXECUTION', 'POSTPONED', 'EXECUTED', 'REFUSED', 'CLOSED', 'WITHDRAWN');
UPDATE requests SET executed_time = (
    SELECT min(time) FROM events
    WHERE events.request_id = requests.id AND events.action = 'COMPLETE_EXECUTION'
) WHERE state IN ('EXECUTED', 'CLOSED');
UPDATE requests SET refusal_grounds = COALESCE((
    SELECT details::jsonb -> 'refusal_grounds' FROM events
    WHERE events.request_id = requests.id AND events.action = 'REFUSE'
    ORDER BY seq DESC LIMIT 1
), '[]') WHERE state IN ('REFUSED', 'CLOSED');

-- The statistics count the requests submitted in a period: one index range, with every column the
-- counts, the scope, the durations and the overdue test read beside the key, so that PostgreSQL
-- answers from the index alone (an index-only scan).
CREATE INDEX requests_submitted ON requests (submit_time)
    INCLUDE (direction, state, partner_code, request_type, strictly_confidential, assignee,
             received_time, decided_time, executed_time, due_at, clock_stopped_at);
-- The few requests with conditions, or refused, whose JSON the breakdowns by condition kind and by
-- refusal ground read.
CREATE INDEX requests_conditioned ON requests (submit_time) WHERE conditions <> '[]';
CREATE INDEX requests_refused ON requests (submit_time) WHERE refusal_grounds <> '[]';
