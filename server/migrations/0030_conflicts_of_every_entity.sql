-- A conflict may be about any entity a device changes. 0002 listed the entities of its day;
-- allergies and catalogue items came later, so a same-field conflict on one of them could not
-- be recorded and the device's change was rejected as invalid (stuck on its Unsent changes
-- screen) instead of being applied with its conflict in the inbox. The list is every
-- `EntityKind` (tests/server/policies.rs checks it against the registry).
ALTER TABLE vaidya.sync_conflicts DROP CONSTRAINT sync_conflicts_entity_check;
ALTER TABLE vaidya.sync_conflicts ADD CONSTRAINT sync_conflicts_entity_check
    CHECK (entity IN ('patient', 'appointment', 'encounter', 'addendum', 'prescription', 'invoice',
                      'payment', 'conflict', 'allergy', 'credit_note', 'catalogue_item'));
