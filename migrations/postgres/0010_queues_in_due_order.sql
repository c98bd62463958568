-- Work queues in due order (PostgreSQL). The same version exists under migrations/sqlite.
--
-- A queue is a few (direction, state) ranges; in due order each range reads its first page from
-- here (earliest due date first, the requests without one last, ties by id), and the store merges
-- the pages (mla-store-sql's `list_page`).
CREATE INDEX requests_state_due ON requests (state, direction, due_at, id);
