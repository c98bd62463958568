-- Work queues (SQLite). The same version exists under migrations/postgres.

-- The received-time range of the request list (a week's receipts, someone's queue within them).
CREATE INDEX requests_received ON requests (received_time);

-- Someone's queue within a range of receipts (`assignee=me` with received times).
CREATE INDEX requests_assignee_received ON requests (assignee, received_time);
