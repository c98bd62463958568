-- The text query served by an index (SQLite): an FTS5 table with the trigram tokenizer indexes every
-- three-character window of the search columns, so a substring query of three characters or more reads
-- the index, not the register. It is an external-content table over `requests` (it stores only the
-- index; the text stays in the row), kept in step by the triggers below, and keyed by the row's rowid,
-- which nothing in the broker changes (the store never runs VACUUM; after one, run
-- `INSERT INTO request_search (request_search) VALUES ('rebuild')`). The columns are those the query
-- matches: the title and the partner's reference in their search form, and the registry reference.
CREATE VIRTUAL TABLE request_search USING fts5 (
    title_folded, reference, partner_reference_folded,
    content = 'requests', content_rowid = 'rowid', tokenize = 'trigram'
);

INSERT INTO request_search (request_search) VALUES ('rebuild');

CREATE TRIGGER request_search_insert AFTER INSERT ON requests BEGIN
    INSERT INTO request_search (rowid, title_folded, reference, partner_reference_folded)
    VALUES (new.rowid, new.title_folded, new.reference, new.partner_reference_folded);
END;

CREATE TRIGGER request_search_delete AFTER DELETE ON requests BEGIN
    INSERT INTO request_search (request_search, rowid, title_folded, reference, partner_reference_folded)
    VALUES ('delete', old.rowid, old.title_folded, old.reference, old.partner_reference_folded);
END;

-- Only when a searched text changes: a transition rewrites the row but not its text.
CREATE TRIGGER request_search_update
AFTER UPDATE OF title_folded, reference, partner_reference_folded ON requests
WHEN old.title_folded IS NOT new.title_folded OR old.reference IS NOT new.reference
    OR old.partner_reference_folded IS NOT new.partner_reference_folded
BEGIN
    INSERT INTO request_search (request_search, rowid, title_folded, reference, partner_reference_folded)
    VALUES ('delete', old.rowid, old.title_folded, old.reference, old.partner_reference_folded);
    INSERT INTO request_search (rowid, title_folded, reference, partner_reference_folded)
    VALUES (new.rowid, new.title_folded, new.reference, new.partner_reference_folded);
END;
