-- Nothing to change in SQLite: this version exists so that both folders keep the same version numbers.
-- PostgreSQL's 0003 gives event cursors from transaction ids instead of a locked sequence; SQLite's
-- single writer already gives cursors (the largest plus one) in commit order.
SELECT 1;
