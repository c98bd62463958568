-- The search form now unifies Arabic spellings (alef, yeh and ta marbuta forms; diacritics and the
-- tatweel dropped) besides folding case (SQLite). The store computes it (`mla_domain::search::fold`),
-- so the rows stored before are marked for folding again: the store folds every row whose partner's
-- reference is not folded when it opens the database (see `fold_search_columns`).
UPDATE requests SET partner_reference_folded = NULL;
