-- The statistics' indexes hold what their queries read (SQLite). The same version exists under
-- migrations/postgres.
--
-- requests_submitted holds the submitted requests only: drafts have no submit time and the
-- statistics never count them. Every statistics query bounds submit_time, which SQLite takes to
-- imply it is not NULL, so it uses this index as it did the old one.
DROP INDEX requests_submitted;
CREATE INDEX requests_submitted ON requests (submit_time, direction, state, partner_code, request_type,
    strictly_confidential, assignee, received_time, decided_time, executed_time, due_at, clock_stopped_at)
    WHERE submit_time IS NOT NULL;

-- The refused and the conditioned requests' indexes carry their JSON and the scope's columns, so
-- that the breakdowns by refusal ground and by condition kind read them alone (covering indexes).
DROP INDEX requests_refused;
CREATE INDEX requests_refused ON requests (submit_time, refusal_grounds, direction, state,
    strictly_confidential, assignee) WHERE refusal_grounds <> '[]';
DROP INDEX requests_conditioned;
CREATE INDEX requests_conditioned ON requests (submit_time, conditions, direction, state,
    strictly_confidential, assignee) WHERE conditions <> '[]';
