-- The server's patient list and search no longer read every patient of the clinic to
-- return a page (issue 15: 300 ms per list at 200k patients, a sort of the whole clinic).
--
-- * The list, in its stable order (lower(name), id), is an ordered scan of one index that
--   stops after the page; `after` (the last id of the previous page) continues from there.
-- * Search is PostgreSQL full-text search over the same terms a device's FTS5 index holds
--   (`vaidya_shared::search`): name words, phone digits as stored and as the 10-digit
--   national number, patient number, ABHA digits; every typed term a prefix. One GIN index
--   with the clinic as its first column (btree_gin, created by `migrate` before this runs)
--   answers "this clinic's live patients matching these prefixes" for a rare term; for a
--   common one the planner reads the name index in order instead (the server plans each
--   search with its term).

-- The searchable words of a patient, as `to_tsvector('simple', …)` splits them.
CREATE FUNCTION vaidya.patient_search_doc(p_name text, p_phone text, p_number bigint, p_abha text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,
        coalesce(p_name, '') || ' '
        || pg_catalog.regexp_replace(coalesce(p_phone, ''), '\D', '', 'g') || ' '
        || pg_catalog.right(pg_catalog.regexp_replace(coalesce(p_phone, ''), '\D', '', 'g'), 10) || ' '
        || coalesce(p_number::text, '') || ' '
        || pg_catalog.regexp_replace(coalesce(p_abha, ''), '\D', '', 'g'))
$$;
GRANT EXECUTE ON FUNCTION vaidya.patient_search_doc(text, text, bigint, text) TO vaidya_app;

-- Kept with the row, so that checking a candidate (a scan's filter, a lossy bitmap's
-- recheck) is a match against stored words, not a fresh parse of the name and phone.
ALTER TABLE vaidya.patients ADD COLUMN search_doc tsvector
    GENERATED ALWAYS AS (vaidya.patient_search_doc(name, phone, patient_number, abha_number)) STORED;
CREATE INDEX patients_search ON vaidya.patients USING gin (clinic_id, search_doc)
    WHERE deleted_at IS NULL;
CREATE INDEX patients_by_name ON vaidya.patients (clinic_id, lower(name), id) WHERE deleted_at IS NULL;
