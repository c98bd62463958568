-- When a request reached its end (SQLite). The same version exists under migrations/postgres.
--
-- Set by the transition into CLOSED or WITHDRAWN; for the requests that ended before this version,
-- taken from the event that ended them. Indexed for the closed-time range of the request list.
ALTER TABLE requests ADD COLUMN close_time INTEGER;
UPDATE requests SET close_time = (
    SELECT max(time) FROM events
    WHERE events.request_id = requests.id AND events.to_state = requests.state
      AND events.from_state IS NOT events.to_state
) WHERE state IN ('CLOSED', 'WITHDRAWN');
CREATE INDEX requests_closed ON requests (close_time);
