-- Work queues in due order (SQLite). The same version exists under migrations/postgres.
--
-- A queue is a few (direction, state) ranges; in due order each range reads its first page from
-- here (earliest due date first, the requests without one last, ties by id), and the store merges
-- the pages (mla-store-sql's `list_page`). SQLite sorts NULLs first, so the undated go last by the
-- expression `due_at IS NULL`, which the order (the dialect's `DUE_ORDER`) names the same way.
CREATE INDEX requests_state_due ON requests (state, direction, due_at IS NULL, due_at, id);
