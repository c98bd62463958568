-- Nothing to change in PostgreSQL: this version exists so that both folders keep the same version
-- numbers. SQLite's 0005 indexes the text query with FTS5 trigrams; PostgreSQL's trigram indexes on
-- the search columns (0004) already serve it.
SELECT 1;
