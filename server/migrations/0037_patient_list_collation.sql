-- The patient list's order no longer depends on the database's locale.
--
-- The list and search order patients by `lower(name), id` (0020), as the device does
-- (SQLite's `lower` and byte order), so a desk sees the same list online and offline. That
-- held only in a database made with the C locale, as the embedded PostgreSQL's is: on a
-- group server whose cluster was made with another (a distribution's default, `en_US.UTF-8`,
-- or an ICU locale), `lower` folds non-ASCII letters and the sort follows the language
-- ("Éva" among the E's, where the device puts it after "Zoya"). Lowering and sorting the
-- name under the C collation makes the server's order the device's on any database.
DROP INDEX vaidya.patients_by_name;
CREATE INDEX patients_by_name ON vaidya.patients
    (clinic_id, lower(name COLLATE pg_catalog."C"), id) WHERE deleted_at IS NULL;
