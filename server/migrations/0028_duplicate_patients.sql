-- Duplicate patients (issue 11, item 4): a new patient who is probably one the clinic has
-- already registered (`rules::duplicates`: the same ABHA number, or the same mobile number
-- with a similar name and a compatible date of birth) raises a `duplicate_patient`
-- conflict in the clinic's inbox instead of passing silently.
ALTER TABLE vaidya.sync_conflicts DROP CONSTRAINT sync_conflicts_kind_check;
ALTER TABLE vaidya.sync_conflicts ADD CONSTRAINT sync_conflicts_kind_check
    CHECK (kind IN ('same_field', 'deleted', 'double_booking', 'immutable', 'duplicate_patient'));
