-- Search that reads Arabic (PostgreSQL): the text query matches titles and partners' references in
-- their search form, where the spellings of Arabic script that vary from one writer or keyboard to the
-- next meet: diacritics (harakat, tanwin, shadda, sukun, the superscript alef) and the tatweel are
-- dropped, hamzated and madda alefs become a bare alef, alef maksura, the Persian/Kurdish yeh and hamza
-- on yeh become yeh, ta marbuta becomes heh, hamza on waw becomes waw, and the keheh becomes kaf. Case
-- is left to ILIKE, as before. The store folds the query the same way (`mla_domain::search::unify_arabic`);
-- the conformance scenarios hold the two together.
CREATE FUNCTION mla_search_form(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT translate(
        regexp_replace($1, '[\u064B-\u065F\u0670\u0640]', '', 'g'),
        'أإآٱىیئةؤک',
        'اااايييهوك'
    )
$$;

-- Stored, so that existing rows get their search form now and every write keeps it.
ALTER TABLE requests
    ADD COLUMN title_search TEXT GENERATED ALWAYS AS (mla_search_form(title)) STORED,
    ADD COLUMN partner_reference_search TEXT GENERATED ALWAYS AS (mla_search_form(partner_reference)) STORED;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        DROP INDEX IF EXISTS requests_title_trgm;
        DROP INDEX IF EXISTS requests_partner_reference_trgm;
        CREATE INDEX requests_title_search_trgm ON requests USING gin (title_search gin_trgm_ops);
        CREATE INDEX requests_partner_reference_search_trgm
            ON requests USING gin (partner_reference_search gin_trgm_ops);
    END IF;
END
$$;
